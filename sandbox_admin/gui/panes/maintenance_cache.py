"""The Maintenance pane's file content cache box: what the Go server's cache holds, and
"Clear cache…" (asks first). The pane reads the statistics with its own statistics job
and runs the clear as a job; this module only shows and asks."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from .. import display

CLEAR_TIP = ("Delete every cached copy of file content (file_content_cache). The files "
             "themselves stay; the server caches them again when they are read.")


class CacheBox(QGroupBox):
    """``show_stats(stats)`` (a storage ``CacheStats`` or None), ``ask_clear(on_yes)``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("File content cache", parent)
        form = QFormLayout(self)
        form.setHorizontalSpacing(12)
        self.labels: dict[str, QLabel] = {}
        for name in ("Entries", "Reads", "Last read", "Oldest read"):
            label = QLabel("—")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.labels[name] = label
            form.addRow(name + ":", label)
        row = QHBoxLayout()
        self.clear_button = QPushButton("Clear cache…")
        self.clear_button.setToolTip(CLEAR_TIP)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        row.addWidget(self.clear_button)
        row.addWidget(self.result, 1)
        form.addRow(row)
        self.stats: Any = None
        self.dialog: QMessageBox | None = None

    def show_stats(self, stats: Any) -> None:
        self.stats = stats
        if stats is None:
            for label in self.labels.values():
                label.setText("—")
            return
        compressed = f", {stats.compressed:,} compressed" if stats.compressed else ""
        self.labels["Entries"].setText(f"{display.plural(stats.entries, 'file')}, "
                                       f"{display.size(stats.bytes)}{compressed}")
        self.labels["Entries"].setToolTip(f"{stats.bytes:,} bytes of cached content")
        self.labels["Reads"].setText(f"{stats.hits:,} served from the cache")
        for name, value in (("Last read", stats.newest_access), ("Oldest read", stats.oldest_access)):
            self.labels[name].setText(display.local_time(value) or "—")
            self.labels[name].setToolTip(display.utc_tooltip(value))

    def ask_clear(self, parent: QWidget, on_yes: Callable[[], None]) -> QMessageBox:
        stats = self.stats
        what = (f"{display.plural(stats.entries, 'cached file')} ({display.size(stats.bytes)})"
                if stats is not None else "every cached file")
        box = QMessageBox(QMessageBox.Icon.Warning, "Clear cache",
                          f"Delete {what} from the content cache?\n\nThe files themselves are not "
                          "touched; the server caches them again when they are read, a little "
                          "slower the first time.", QMessageBox.StandardButton.Cancel, parent)
        yes = box.addButton("Clear cache", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.dialog = box

        def answered() -> None:
            self.dialog = None
            if box.clickedButton() is yes:
                on_yes()

        box.finished.connect(lambda _: answered())
        box.open()
        return box
