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


def keep_gui_responsive() -> None:
    """Two interpreter settings for a GUI thread that shares Python with busy workers.

    - Everything alive once the window is built (Qt wrappers, pyqtgraph, modules: most
      of the heap) is frozen out of the garbage collector's full passes. A full pass
      holds Python's lock (GIL) while it walks every object; run by a worker listing
      16,000 series it stalled the window 40-50 ms.
    - The GIL is handed over after 1 ms instead of 5: each of the GUI thread's many
      short visits to Python (every slot, every pyqtgraph paint callback) waits at most
      that long for a worker to let go. Measured on the 20k-sandbox demo, the event-loop
      gaps spent waiting for the GIL fell from 10-15 to 1-2 per session of clicks."""
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(0.001)


def run(db: str | None = None, read_only: bool = False, demo: bool = False) -> int:
    app = application()
    window = start(db, read_only=read_only, demo=demo)
    window.show()
    keep_gui_responsive()
    return app.exec()
