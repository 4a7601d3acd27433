"""Where things live on this machine (platformdirs), in one place.

``SANDBOX_ADMIN_HOME`` overrides the root of all of them; tests and the CI use it so
that they never touch a person's real data folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import platformdirs

APP_NAME = "sandbox-admin"
DEFAULT_DB_NAME = "sandbox_runner.db"


def _home() -> Path | None:
    value = os.environ.get("SANDBOX_ADMIN_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    home = _home()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_database() -> Path:
    """The database the app opens when none is given (created with demo data)."""
    return data_dir() / DEFAULT_DB_NAME


def backups_dir(database: str | Path | None = None) -> Path:
    """Where backups go by default: one folder per database (``backups/<name>-<hash>``,
    the hash of its full path, so two ``sandbox_runner.db`` of two servers stay apart);
    without a database, the folder that holds them all."""
    root = data_dir() / "backups"
    if database is None:
        return root
    resolved = Path(database).expanduser().resolve()
    digest = hashlib.sha256(str(resolved).encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return root / f"{resolved.stem or 'database'}-{digest}"


def logs_dir() -> Path:
    home = _home()
    return home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def settings_dir() -> Path:
    home = _home()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
