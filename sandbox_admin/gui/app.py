"""Start the desktop app (placeholder window until the main window lands)."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QLabel


def run(db: str | None = None, read_only: bool = False, demo: bool = False) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    label = QLabel(f"sandbox-admin\n{db or 'default database'}")
    label.resize(480, 200)
    label.show()
    return app.exec()
