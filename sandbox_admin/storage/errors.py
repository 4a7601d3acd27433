"""The errors people see.

Every failure a person can cause is one of these classes, with a message that says
what happened and what to do. The CLI prints ``str(error)`` on one line; the GUI shows
it in its message bar with ``error.detail`` behind a "Details" button.
"""

from __future__ import annotations

import errno
import functools
import sqlite3
from contextlib import ContextDecorator
from typing import Any, Callable, TypeVar

import peewee


class StorageError(Exception):
    """Base class: a problem with a sandbox database that a person can act on."""

    #: CLI exit status: 1 = the operation ran and failed, 2 = cannot use this input.
    exit_code = 1

    def __init__(self, message: str, *, detail: str = "", cli_hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        #: how to do it on the command line (e.g. "--force"); the CLI shows it, the GUI
        #: never does (its own buttons and questions say what to do there)
        self.cli_hint = cli_hint

    def __str__(self) -> str:
        return self.message


class CannotOpen(StorageError):
    """The file cannot be used as a sandbox database at all."""

    exit_code = 2


class DatabaseNotFound(CannotOpen):
    pass


class NotASandboxDatabase(CannotOpen):
    """Not SQLite, empty, a directory, or SQLite without the SandboxRunner tables."""


class CorruptDatabase(CannotOpen):
    """SQLite says the file is damaged (truncated, malformed pages)."""


class ForeignWal(CannotOpen):
    """A -wal beside the database that cannot be its own (page size or salt differ)."""


class HotJournal(CannotOpen):
    """An interrupted transaction (a hot rollback journal) a read-only open cannot undo."""


class SchemaTooNew(StorageError):
    """The database was migrated by a newer program; only reading is safe."""


class MigrationChecksumMismatch(StorageError):
    """A recorded migration differs from the one this program would apply."""


class MigrationError(StorageError):
    pass


class ReadOnly(StorageError):
    """A write was asked of a database opened read-only (by request or of necessity)."""


class DatabaseLocked(StorageError):
    """Another process holds a lock on the database longer than we wait."""


class NotFound(StorageError):
    pass


class VersionConflict(StorageError):
    """Optimistic locking failed: somebody else changed the row first.

    ``current`` carries the row as it is now, so a UI can offer to reload.
    """

    def __init__(self, message: str, *, current: Any = None, detail: str = "") -> None:
        super().__init__(message, detail=detail)
        self.current = current


class InvalidInput(StorageError):
    exit_code = 2


class BackupInvalid(StorageError):
    """A backup file that must not be restored (broken, truncated, newer schema…)."""


class Cancelled(StorageError):
    """The person cancelled a long-running operation; nothing was changed."""


class NotEnoughSpace(StorageError):
    """A backup, restore or VACUUM needs more free disk space than there is."""


class ContentUnavailable(NotFound):
    """A file's metadata exists but its content was never stored (or its chunks are gone)."""


class ChecksumMismatch(StorageError):
    """Reconstructed content does not hash to the file's recorded checksum."""


class ConsentRequired(StorageError):
    """A step that loses or replaces data needs the person's explicit yes first."""

    exit_code = 2


class ForeignTriggers(StorageError):
    """The database carries triggers we did not create; writing would run them."""

    def __init__(self, message: str, *, triggers: list[str] | None = None, detail: str = "") -> None:
        super().__init__(message, detail=detail)
        self.triggers = list(triggers or [])


class AddressInUse(StorageError):
    """The address a metrics endpoint should listen on is taken or cannot be used."""


class UnsafePath(InvalidInput):
    """A stored path would lead outside the folder chosen for an export."""


def translate(exc: BaseException, path: str = "") -> StorageError:
    """Turn a low-level sqlite3/peewee/OS error into the error a person should see."""
    if isinstance(exc, StorageError):
        return exc
    where = f" ({path})" if path else ""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, (sqlite3.Error, peewee.PeeweeException)):
        if "database is locked" in low or "database table is locked" in low or "busy" in low:
            return DatabaseLocked(
                f"The database{where} is locked by another program. "
                "Wait for it to finish (or stop the SandboxRunner server) and try again.",
                detail=text,
            )
        if "readonly" in low or "read-only" in low:
            return ReadOnly(
                f"The database{where} cannot be written: it is read-only. "
                "Open it read-only, or check the file's permissions.",
                detail=text,
            )
        if "file is not a database" in low or "file is encrypted" in low:
            return NotASandboxDatabase(
                f"{path or 'This file'} is not an SQLite database. Choose a SandboxRunner .db file.",
                detail=text,
            )
        if "database or disk is full" in low or ("disk i/o error" in low and _nearly_full(path)):
            return disk_full(path, detail=text)
        if "disk i/o error" in low:
            return StorageError(
                f"The database{where} could not be read or written (disk I/O error). Check the "
                "disk and the file system, then try again.", detail=text)
        if "malformed" in low or "corrupt" in low:
            return CorruptDatabase(
                f"The database{where} is damaged ({text}). Restore it from a backup; a full "
                "integrity check lists what is damaged.",
                detail=text, cli_hint="`sandbox-admin check DB` lists it",
            )
        if "unable to open" in low:
            return CannotOpen(
                f"Cannot open the database{where}: {text}. Check the path and permissions.",
                detail=text,
            )
        if "interrupted" in low:
            return Cancelled("The operation was cancelled; nothing was changed.", detail=text)
        return StorageError(f"Database error{where}: {text}", detail=text)
    if isinstance(exc, IsADirectoryError):
        return NotASandboxDatabase(f"{path or exc.filename} is a folder, not a database file.")
    if isinstance(exc, FileNotFoundError):
        return DatabaseNotFound(f"{path or exc.filename} does not exist. Check the path.")
    if isinstance(exc, PermissionError):
        return ReadOnly(f"Permission denied{where}: {exc.strerror}. Check the file's permissions.")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_full(path or exc.filename or "", detail=text)
    if isinstance(exc, OSError):
        return StorageError(f"Cannot access{where}: {exc.strerror or exc}", detail=text)
    return StorageError(f"Unexpected error{where}: {text}", detail=repr(exc))


def _mib(n: float) -> str:
    return f"{n / (1024 * 1024):,.1f} MiB"


def _free_bytes(path: object) -> int | None:
    import os
    import shutil

    folder = os.path.dirname(os.path.abspath(str(path))) if path else os.getcwd()
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _nearly_full(path: object) -> bool:
    free = _free_bytes(path)
    return free is not None and free < 4 * 1024 * 1024


def disk_full(path: object, *, needed: int | None = None, detail: str = "") -> "NotEnoughSpace":
    """"Disk full: N MiB needed, M free" - and nothing else: the database is not damaged
    (SQLite rolled the change back)."""
    import os

    free = _free_bytes(path)
    if needed is None and path:
        try:  # a rebuild (migration, index, VACUUM) may need about the database's size again
            needed = os.path.getsize(str(path))
        except OSError:
            needed = None
    parts = []
    if needed:
        parts.append(f"up to about {_mib(needed)} needed")
    if free is not None:
        parts.append(f"{_mib(free)} free")
    where = f" on the disk holding {os.path.basename(str(path))}" if path else ""
    return NotEnoughSpace(
        f"Disk full{where}: {', '.join(parts) or 'no space left'}. Nothing was changed; free "
        "some space and try again.", detail=detail)


#: The low-level errors that :func:`translate` turns into ours.
DB_ERRORS = (sqlite3.Error, peewee.PeeweeException)

_F = TypeVar("_F", bound=Callable[..., Any])


class translated(ContextDecorator):
    """The one guard: database (and, with ``os_errors``, OS) errors raised inside become
    the :class:`StorageError` a person should see; ours pass through unchanged.

    ``with errors.translated(path): ...`` or ``@errors.translated(path)``; for methods of
    a store, :meth:`translated.method` takes the path from ``self.store.path``.
    """

    def __init__(self, path: object = "", *, os_errors: bool = False) -> None:
        self.path = path
        self.catch: tuple[type[BaseException], ...] = DB_ERRORS + ((OSError,) if os_errors else ())

    def __enter__(self) -> "translated":
        return self

    def __exit__(self, typ: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None and not isinstance(exc, StorageError) and isinstance(exc, self.catch):
            raise translate(exc, str(self.path)) from exc
        return False

    @staticmethod
    def method(func: _F) -> _F:
        """Decorate a store method (an object with ``self.store.path``)."""

        @functools.wraps(func)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with translated(self.store.path):
                return func(self, *args, **kwargs)

        return wrapper  # type: ignore[return-value]
