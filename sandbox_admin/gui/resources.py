"""The app's resources (icons, desktop file, metainfo), found inside the package.

They live in ``sandbox_admin/resources/`` so that a checkout, an installed wheel and a
PyInstaller bundle find them the same way (``importlib.resources``); the top-level
``resources/`` folder of the repository links to them for packagers.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from PySide6.QtGui import QIcon

ICON_NAME = "sandbox-admin.svg"
DESKTOP_FILE = "org.sandboxrunner.SandboxAdmin.desktop"
METAINFO_FILE = "org.sandboxrunner.SandboxAdmin.metainfo.xml"


def resource_path(name: str) -> Path | None:
    """A resource file by its path inside ``sandbox_admin/resources`` (None if absent)."""
    candidate = resources.files("sandbox_admin").joinpath("resources", *name.split("/"))
    path = Path(str(candidate))
    return path if path.is_file() else None


def _icon(name: str) -> QIcon:
    path = resource_path(name)
    return QIcon(str(path)) if path is not None else QIcon()


def app_icon() -> QIcon:
    return _icon(ICON_NAME)


def pane_icon(key: str) -> QIcon:
    """The icon of a pane's tab (``sandboxes``, ``metrics``, ``files``, ``maintenance``)."""
    return _icon(f"icons/{key}.svg")
