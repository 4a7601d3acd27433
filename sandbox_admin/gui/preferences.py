"""Preferences (Edit → Preferences…, Ctrl+,): kept in the settings file, applied at once.

Backups (folder, automatic schedule, retention), how many rows a table loads at a time,
times in local time or UTC, and the theme. The backup keys are the Maintenance pane's
own (``maintenance/...``), so the pane and this dialog always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .. import paths
from .theme import THEMES

TIME_ZONES = {"local": "Local time (UTC in tooltips)", "utc": "UTC"}

#: field -> settings key
KEYS = {
    "backup_dir": "maintenance/backup_dir",
    "auto_enabled": "maintenance/auto_enabled",
    "auto_hours": "maintenance/auto_hours",
    "keep_last": "maintenance/auto_keep",
    "keep_daily": "maintenance/keep_daily",
    "keep_weekly": "maintenance/keep_weekly",
    "page_size": "view/page_size",
    "time_zone": "view/time_zone",
    "theme": "view/theme",
}
LIMITS = {"auto_hours": (1, 24 * 30), "keep_last": (0, 1000), "keep_daily": (0, 365),
          "keep_weekly": (0, 520), "page_size": (20, 1000)}


@dataclass
class Preferences:
    backup_dir: str = ""  # "": the default folder
    auto_enabled: bool = False
    auto_hours: int = 24
    keep_last: int = 10
    keep_daily: int = 0
    keep_weekly: int = 0
    page_size: int = 50
    time_zone: str = "local"
    theme: str = "system"

    @classmethod
    def load(cls, settings: QSettings) -> "Preferences":
        """What the settings file says; a hand-edited bad value falls back to the default."""
        prefs = cls()
        for f in fields(cls):
            raw = settings.value(KEYS[f.name])
            if raw is None:
                continue
            default = getattr(prefs, f.name)
            try:
                if isinstance(default, bool):
                    value: Any = str(raw).lower() in ("true", "1", "yes")
                elif isinstance(default, int):
                    low, high = LIMITS[f.name]
                    value = min(high, max(low, int(raw)))
                else:
                    value = str(raw)
            except (TypeError, ValueError):
                continue
            if f.name == "time_zone" and value not in TIME_ZONES:
                continue
            if f.name == "theme" and value not in THEMES:
                continue
            setattr(prefs, f.name, value)
        return prefs

    def save(self, settings: QSettings) -> None:
        for f in fields(self):
            settings.setValue(KEYS[f.name], getattr(self, f.name))
        settings.sync()

    def backups_folder(self, database: str | Path | None = None) -> Path:
        """The chosen folder, or by default the database's own folder of backups."""
        return Path(self.backup_dir).expanduser() if self.backup_dir else paths.backups_dir(database)


class PreferencesDialog(QDialog):
    """Edits a :class:`Preferences`; ``applied`` carries the new values (OK or Apply)."""

    applied = Signal(object)

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)

        backups = QGroupBox("Backups")
        form = QFormLayout(backups)
        self.folder_edit = QLineEdit(prefs.backup_dir)
        self.folder_edit.setPlaceholderText(f"a folder per database in {paths.backups_dir()}")
        self.folder_edit.setToolTip("Where backups go. Empty: each database gets a folder of its own "
                                    f"in {paths.backups_dir()}, named after it")
        choose = QPushButton("Choose…")
        choose.clicked.connect(self._choose_folder)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(choose)
        form.addRow("Folder", row)
        self.auto_check = QCheckBox("Back up automatically while the app runs, every")
        self.auto_check.setChecked(prefs.auto_enabled)
        self.auto_hours = self._spin("auto_hours", prefs.auto_hours, " h")
        auto_row = QHBoxLayout()
        auto_row.addWidget(self.auto_check)
        auto_row.addWidget(self.auto_hours)
        auto_row.addStretch(1)
        form.addRow(auto_row)
        self.keep_last = self._spin("keep_last", prefs.keep_last, " backups", "all")
        self.keep_daily = self._spin("keep_daily", prefs.keep_daily, " days", "none")
        self.keep_weekly = self._spin("keep_weekly", prefs.keep_weekly, " weeks", "none")
        form.addRow("Keep the last", self.keep_last)
        form.addRow("Keep one a day for", self.keep_daily)
        form.addRow("Keep one a week for", self.keep_weekly)
        layout.addWidget(backups)

        view = QGroupBox("Tables and times")
        vform = QFormLayout(view)
        self.page_size = self._spin("page_size", prefs.page_size, " rows")
        self.page_size.setToolTip("How many rows a list loads at a time (more load as you scroll)")
        vform.addRow("Load at a time", self.page_size)
        self.time_zone = self._combo(TIME_ZONES, prefs.time_zone)
        vform.addRow("Show times in", self.time_zone)
        layout.addWidget(view)

        look = QGroupBox("Appearance")
        lform = QFormLayout(look)
        self.theme = self._combo(THEMES, prefs.theme)
        lform.addRow("Theme", self.theme)
        layout.addWidget(look)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.Apply)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(
            lambda: self.applied.emit(self.preferences()))
        self.buttons = buttons
        layout.addWidget(buttons)

    def _spin(self, name: str, value: int, suffix: str, zero_text: str = "") -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(*LIMITS[name])
        spin.setValue(value)
        spin.setSuffix(suffix)
        if zero_text:
            spin.setSpecialValueText(zero_text)
        return spin

    @staticmethod
    def _combo(choices: dict[str, str], current: str) -> QComboBox:
        combo = QComboBox()
        for key, text in choices.items():
            combo.addItem(text, key)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        return combo

    def _choose_folder(self) -> None:
        start = self.folder_edit.text() or str(paths.backups_dir())
        folder = QFileDialog.getExistingDirectory(self, "Backups folder", start)
        if folder:
            self.folder_edit.setText(folder)

    def preferences(self) -> Preferences:
        return Preferences(
            backup_dir=self.folder_edit.text().strip(),
            auto_enabled=self.auto_check.isChecked(),
            auto_hours=self.auto_hours.value(),
            keep_last=self.keep_last.value(),
            keep_daily=self.keep_daily.value(),
            keep_weekly=self.keep_weekly.value(),
            page_size=self.page_size.value(),
            time_zone=str(self.time_zone.currentData()),
            theme=str(self.theme.currentData()),
        )

    def accept(self) -> None:
        self.applied.emit(self.preferences())
        super().accept()
