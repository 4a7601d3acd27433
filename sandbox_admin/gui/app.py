"""Start the desktop app: ``sandbox-admin [DB] [--read-only] [--demo]``."""

from __future__ import annotations

import gc
import sys

from PySide6.QtWidgets import QApplication

from .. import __version__
from .main_window import MainWindow
from .resources import app_icon


def application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("sandbox-admin")
    app.setApplicationDisplayName("sandbox-admin")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("sandbox-admin")
    app.setDesktopFileName("org.sandboxrunner.SandboxAdmin")
    app.setWindowIcon(app_icon())
    return app  # type: ignore[return-value]


def start(db: str | None = None, read_only: bool = False, demo: bool = False) -> MainWindow:
    """Make the window and start opening what was asked for (the event loop delivers it)."""
    window = MainWindow()
    if demo:
        window.open_demo()
    elif db:
        window.open_database(db, read_only=read_only)
    else:
        window.open_default(read_only=read_only)
    return window


def settle_garbage_collector() -> None:
    """Keep Python's full garbage collections short: everything alive once the window is
    built (Qt wrappers, pyqtgraph, modules: most of the heap) is moved out of the
    collector's reach. A full collection holds Python's lock (GIL) while it walks every
    object; run by a worker thread listing 16,000 series it stalled the window 40–50 ms."""
    gc.collect()
    gc.freeze()


def run(db: str | None = None, read_only: bool = False, demo: bool = False) -> int:
    app = application()
    window = start(db, read_only=read_only, demo=demo)
    window.show()
    settle_garbage_collector()
    return app.exec()
