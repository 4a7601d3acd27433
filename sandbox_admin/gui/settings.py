"""The app's settings: one ini file in ``paths.settings_dir()`` (isolated in tests)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QSplitter

from .. import paths

SETTINGS_FILE = "sandbox-admin.ini"
RECENT_KEY = "recent/databases"
MAX_RECENT = 10


def app_settings(directory: Path | None = None) -> QSettings:
    """QSettings backed by ``<settings_dir>/sandbox-admin.ini``."""
    folder = paths.ensure(directory or paths.settings_dir())
    return QSettings(str(folder / SETTINGS_FILE), QSettings.Format.IniFormat)


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # QSettings gives a bare string for a one-element list
        return [value] if value else []
    return [str(v) for v in value]  # type: ignore[union-attr]


def recent_databases(settings: QSettings) -> list[str]:
    return _as_list(settings.value(RECENT_KEY))


def add_recent(settings: QSettings, path: str | Path) -> list[str]:
    """Put ``path`` first (absolute, no duplicates, at most MAX_RECENT)."""
    text = str(Path(path).expanduser().resolve())
    items = [text] + [p for p in recent_databases(settings) if p != text]
    items = items[:MAX_RECENT]
    settings.setValue(RECENT_KEY, items)
    settings.sync()
    return items


def remove_recent(settings: QSettings, path: str | Path) -> list[str]:
    text = str(Path(path).expanduser().resolve())
    items = [p for p in recent_databases(settings) if p != text]
    settings.setValue(RECENT_KEY, items)
    settings.sync()
    return items


def clear_recent(settings: QSettings) -> None:
    settings.setValue(RECENT_KEY, [])
    settings.sync()


def persist_splitter(splitter: QSplitter, settings: QSettings, key: str) -> None:
    """Restore a splitter's sizes from ``key`` and save them there whenever it moves."""
    state = settings.value(key)
    if state is not None:
        splitter.restoreState(state)
    splitter.splitterMoved.connect(lambda *_: settings.setValue(key, splitter.saveState()))
