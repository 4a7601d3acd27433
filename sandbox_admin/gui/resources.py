"""Find the app's resources (icons) in a checkout or an installed package."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

ICON_NAME = "sandbox-admin.svg"


def resource_dirs() -> list[Path]:
    here = Path(__file__).resolve()
    return [here.parents[2] / "resources", here.parents[1] / "resources"]


def resource_path(name: str) -> Path | None:
    for folder in resource_dirs():
        candidate = folder / name
        if candidate.exists():
            return candidate
    return None


def app_icon() -> QIcon:
    path = resource_path(ICON_NAME)
    return QIcon(str(path)) if path is not None else QIcon()
