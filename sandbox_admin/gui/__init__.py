"""The PySide6 desktop app. Import PySide6 before pyqtgraph (ARCHITECTURE.md)."""

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
