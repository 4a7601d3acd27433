"""The About dialog: versions of everything that matters, and where things live."""

from __future__ import annotations

import html
import platform
import sys

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from .. import __version__, paths
from ..storage import library_versions
from .resources import app_icon


def about_rows() -> list[tuple[str, str]]:
    libraries = library_versions()
    return [
        ("sandbox-admin", __version__),
        ("SQLite", libraries["SQLite"]),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("Peewee", libraries["Peewee"]),
        ("Python", f"{platform.python_version()} ({sys.platform})"),
        ("Default database", str(paths.default_database())),
        ("Data folder", str(paths.data_dir())),
        ("Backups", str(paths.backups_dir())),
        ("Settings", str(paths.settings_dir())),
        ("Logs", str(paths.logs_dir())),
    ]


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About sandbox-admin")
        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        title = QLabel("<h2>sandbox-admin</h2>"
                       "<p>Look after SandboxRunner databases: browse, search, chart, back up "
                       "and restore.</p>")
        title.setWordWrap(True)
        head.addWidget(icon)
        head.addWidget(title, 1)
        layout.addLayout(head)
        rows = "".join(
            f"<tr><td style='padding-right:12px'><b>{html.escape(k)}</b></td>"
            f"<td>{html.escape(v)}</td></tr>" for k, v in about_rows()
        )
        self.table = QLabel(f"<table>{rows}</table>")
        self.table.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)

    def text(self) -> str:
        return self.table.text()
