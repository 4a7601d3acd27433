"""The storage core: open a SandboxRunner database safely and work with it.

``open_store(path)`` is the only way in. It checks the file before SQLite touches it,
refuses what is not a sandbox database with a clear error, opens read-only when the
schema is newer than we know, and never writes unless a write is asked for.

Thread use: the database is pooled; each thread gets its own connection. A worker
thread should wrap its work in ``with store.connection():`` so that its connection
goes back to the pool afterwards.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import peewee

from . import errors
from .database import (
    FileInfo,
    PoolConfig,
    SandboxDatabase,
    _writable_on_disk,
    check_orphan_wal,
    connect,
    create_new,
    inspect_file,
    row_counts,
    user_tables,
)
from .migrations import MigrationRunner, MigrationStatus, ProgressFn, latest_version
from .models import Models, build_models

if TYPE_CHECKING:  # the sub-stores import this module; import them lazily
    from .backup.manager import BackupManager, BackupResult
    from .files.cache import ContentCache
    from .files.store import FileStore
    from .maintenance import Maintenance
    from .metrics.store import MetricsStore
    from .sandboxes.store import SandboxStore
    from .templates.store import TemplateStore
    from .workflows.store import WorkflowStore

__all__ = ["Store", "open_store", "create_store", "errors", "PoolConfig", "latest_version"]

#: Tables every SandboxRunner database has; without them a file is not one.
REQUIRED_TABLES = ("migrations", "sandboxes")


@dataclass(frozen=True)
class SafeMigration:
    """What :meth:`Store.migrate_safely` did."""

    schema_before: int
    schema_after: int
    applied: list[int]
    safety_backup: Path | None  # None: there was nothing to keep (a reset database)

    def as_dict(self) -> dict[str, Any]:
        return {"current": self.schema_after, "previous": self.schema_before,
                "applied": self.applied,
                "safety_backup": str(self.safety_backup) if self.safety_backup else None}


class Store:
    """One open sandbox database and the stores that work on it."""

    def __init__(self, path: Path, db: SandboxDatabase, file_info: FileInfo | None) -> None:
        self.path = path
        self.db = db
        self.file_info = file_info
        self.models: Models = build_models(db)
        self.notices: list[str] = []  # things to tell the person (e.g. why read-only)
        #: where backups go when no folder is named (set by the app or the CLI)
        self.backups_dir: Path | None = None

    # -- identity -----------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self.db.read_only

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"<Store {self.path} {mode}>"

    # -- connections and transactions ---------------------------------------------
    @contextmanager
    def connection(self) -> Iterator[None]:
        """Use (and afterwards give back) this thread's pooled connection."""
        if self.db.is_closed():
            with self.db.connection_context():
                yield
        else:
            yield

    def transaction(self):  # type: ignore[no-untyped-def]
        """``with store.transaction():`` - one transaction, rolled back on any error."""
        return self.db.write_transaction()

    def require_writable(self) -> None:
        if self.read_only:
            reason = f" ({self.notices[0]})" if self.notices else ""
            raise errors.ReadOnly(
                f"{self.path.name} is open read-only{reason}; reopen it for writing to change it."
            )

    def close(self) -> None:
        self.db.close_all()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------
    @property
    def migrations(self) -> MigrationRunner:
        return MigrationRunner(self.db)

    def migration_status(self) -> MigrationStatus:
        return self.migrations.status()

    def schema_version(self) -> int:
        return self.migration_status().current

    def migrate(self, target: int | None = None, progress: ProgressFn | None = None) -> list[int]:
        self.require_writable()
        try:
            return self.migrations.migrate_to(target, progress)
        except (sqlite3.Error, peewee.PeeweeException) as exc:
            raise errors.translate(exc, str(self.path)) from exc

    def _safety_backup(self, safety_dir: str | Path | None, progress: Any, cancel: Any,
                       unchanged: str) -> "BackupResult":
        """A verified backup before a step that changes the schema (BackupInvalid if not)."""
        safety = self.backups.create(safety_dir, kind="safety", progress=progress, cancel=cancel)
        if not safety.verified:
            raise errors.BackupInvalid(
                f"The safety backup {safety.path.name} did not verify ({'; '.join(safety.problems[:2])}); "
                f"{unchanged} Run a check on the database first.")
        return safety

    def migrate_safely(self, target: int | None = None, *, safety_dir: str | Path | None = None,
                       progress: Any = None, cancel: Any = None) -> "SafeMigration":
        """A verified safety backup first (in ``safety_dir``, or the store's backups
        folder), then :meth:`migrate`. If the backup cannot be made or does not verify,
        nothing is migrated. A database reset to version 0 holds nothing to keep: no
        backup then. ``progress(phase, done, total)``."""
        self.require_writable()
        before = self.schema_version()
        safety = (self._safety_backup(safety_dir, progress, cancel, f"{self.path.name} was not changed.")
                  if before > 0 else None)
        applied = self.migrate(target, None if progress is None else
                               (lambda version, text: progress("migrate", version, 0)))
        return SafeMigration(before, self.schema_version(), applied, safety.path if safety else None)

    def migrate_down(self, target: int, *, safety_dir: str | Path | None = None, backup: bool = True,
                     progress: ProgressFn | None = None) -> tuple[list[int], "BackupResult | None"]:
        """Roll back to ``target`` (0 = a reset that empties the database), after a verified
        safety backup in ``safety_dir`` (default: ``backups_dir``): rolling back drops
        tables and columns, whose data is then only in that backup. ``backup=False`` only
        when the person said so. Returns (versions rolled back, the safety backup)."""
        self.require_writable()
        current = self.schema_version()
        if not 0 <= target < current:
            raise errors.InvalidInput(
                f"Rolling back goes to a version below the current one ({current}), not {target}.")
        safety = self._safety_backup(safety_dir, None, None, "nothing was rolled back.") if backup else None
        return self.migrate(target, progress), safety

    def table_names(self) -> list[str]:
        return list(user_tables(self.db))

    def row_counts(self) -> dict[str, int]:
        return row_counts(self.db)

    def journal_mode(self) -> str:
        if self.db.immutable:  # immutable=1 hides the mode; the header has it
            return "wal" if self.file_info and self.file_info.wal_mode else "delete"
        return str(self.db.execute_sql("PRAGMA journal_mode").fetchone()[0]).lower()

    def has_fts5(self) -> bool:
        row = self.db.execute_sql(
            "SELECT 1 FROM pragma_compile_options WHERE compile_options = 'ENABLE_FTS5'"
        ).fetchone()
        return row is not None

    def size_bytes(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def info(self) -> dict[str, Any]:
        """What this database is (``sandbox-admin info``)."""
        status = self.migration_status()
        return {
            "path": str(self.path),
            "schema_version": status.current,
            "known_schema_version": latest_version(),
            "pending_migrations": status.pending,
            "tables": self.row_counts(),
            "journal_mode": self.journal_mode(),
            "size_bytes": self.size_bytes(),
            "sqlite_version": sqlite3.sqlite_version,
            "fts5": self.has_fts5(),
            "read_only": self.read_only,
            "notices": list(self.notices),
            "problems": status.problems,
        }

    # -- the stores (imported lazily: they are built on this module) -------------------
    @cached_property
    def sandboxes(self) -> "SandboxStore":
        from .sandboxes.store import SandboxStore

        return SandboxStore(self)

    @cached_property
    def files(self) -> "FileStore":
        from .files.store import FileStore

        return FileStore(self)

    @cached_property
    def templates(self) -> "TemplateStore":
        from .templates.store import TemplateStore

        return TemplateStore(self)

    @cached_property
    def workflows(self) -> "WorkflowStore":
        from .workflows.store import WorkflowStore

        return WorkflowStore(self)

    @cached_property
    def cache(self) -> "ContentCache":
        from .files.cache import ContentCache

        return ContentCache(self)

    @cached_property
    def metrics(self) -> "MetricsStore":
        from .metrics.store import MetricsStore

        return MetricsStore(self)

    @cached_property
    def backups(self) -> "BackupManager":
        from .backup.manager import BackupManager

        return BackupManager(self)

    @cached_property
    def maintenance(self) -> "Maintenance":
        from .maintenance import Maintenance

        return Maintenance(self)


def _check_is_sandbox_db(store: Store) -> None:
    try:
        names = set(store.table_names())
    except (sqlite3.Error, peewee.PeeweeException) as exc:
        raise errors.translate(exc, str(store.path)) from exc
    missing = [t for t in REQUIRED_TABLES if t not in names]
    if missing and _is_reset(store, names):
        store.notices.append(
            "schema version 0: this sandbox database was reset (emptied); migrate it up to "
            "use it again.")
        return
    if missing:
        what = "an empty SQLite database" if not names else "an SQLite database"
        raise errors.NotASandboxDatabase(
            f"{store.path} is {what} but not a SandboxRunner one (no "
            f"{' or '.join(missing)} table). Choose the server's sandbox_runner.db."
        )


def _is_reset(store: Store, names: set[str]) -> bool:
    """A database rolled back to version 0: only the Go ``migrations`` table, empty."""
    if names != {"migrations"}:
        return False
    columns = {row[1] for row in store.db.execute_sql("PRAGMA table_info(migrations)").fetchall()}
    if columns != {"id", "version", "applied_at", "description"}:
        return False
    return store.db.execute_sql("SELECT count(*) FROM migrations").fetchone()[0] == 0


def open_store(
    path: str | Path,
    *,
    read_only: bool = False,
    create: bool = False,
    pool: PoolConfig = PoolConfig(),
) -> Store:
    """Open a sandbox database; see the module docstring for the guarantees.

    ``create=True`` makes a new database at the latest schema when ``path`` does not
    exist. A database whose schema is newer than ours opens read-only, with a notice.
    """
    p = Path(path).expanduser()
    if create and not p.exists():
        return create_store(p, pool=pool)
    info = inspect_file(p)
    if not read_only and not (_writable_on_disk(p) and _writable_on_disk(p.parent)):
        raise errors.ReadOnly(
            f"{p} is read-only on disk (or its folder is), so it cannot be opened for "
            "writing. Open it read-only, or make it writable.",
            cli_hint="--read-only opens it read-only"
        )
    if not read_only:
        check_orphan_wal(info)  # SQLite would checkpoint a stranger's WAL into the file
    store = _open_checked(p, info, read_only=read_only, pool=pool)
    status = store.migration_status()
    if status.too_new and not read_only:
        store.close()
        store = _open_checked(p, info, read_only=True, pool=pool)
        store.notices.append(
            f"schema version {max(status.unknown)} is newer than this sandbox-admin knows "
            f"({latest_version()}): opened read-only. Upgrade sandbox-admin to change it."
        )
    elif status.too_new:
        store.notices.append(
            f"schema version {max(status.unknown)} is newer than this sandbox-admin knows "
            f"({latest_version()}); only reading is safe."
        )
    if status.problems:
        store.notices.extend(status.problems)
    return store


def _open_checked(p: Path, info: FileInfo, *, read_only: bool, pool: PoolConfig) -> Store:
    db = connect(info, read_only=read_only, pool=pool)
    store = Store(p, db, info)
    if read_only and info.orphan_wal:
        store.notices.append(
            f"{p.name}-wal holds changes that were not checkpointed and there is no "
            f"{p.name}-shm: opened read-only without them (reading them would create files). "
            "Open it for writing once to bring them into the database.")
    try:
        db.connect()
        _check_is_sandbox_db(store)
        store.migration_status()  # reads the migrations table: fails early if unreadable
    except (sqlite3.Error, peewee.PeeweeException) as exc:
        db.close_all()
        translated = errors.translate(exc, str(p))
        if read_only and info.hot_journal and isinstance(translated, errors.ReadOnly):
            raise errors.HotJournal(
                f"{p} has an interrupted transaction in {p.name}-journal (a program writing it "
                "was stopped). Opening it read-only cannot roll that back; open it for writing "
                "once (SQLite then rolls it back), or restore a backup.", detail=str(exc)) from exc
        raise translated from exc
    except BaseException:
        db.close_all()
        raise
    return store


def create_store(path: str | Path, *, pool: PoolConfig = PoolConfig()) -> Store:
    """A new database at ``path`` with every migration applied."""
    p = Path(path).expanduser()
    db = create_new(p, pool=pool)
    store = Store(p, db, None)
    try:
        store.migrate()
    except BaseException:
        db.close_all()
        raise
    return store
