"""Restore: the backup's content copied *into* the live database in one transaction.

Killed at any moment, the database holds the old or the new content, never a mix; the
backup is verified first and a safety backup of the live database is taken before
anything changes. Used through :meth:`BackupManager.restore`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import peewee

from ... import __version__
from .. import errors
from ..database import raw_connection, sqlite_uri
from ..migrations import latest_version
from .files import (
    PARTIAL_MARK,
    CancelFn,
    ProgressFn,
    VerifyReport,
    read_sidecar,
    sidecar_path,
    verify_backup,
)
from .steps import (
    BUSY_SLEEP_S,
    DEFAULT_LOCK_TIMEOUT_S,
    DEFAULT_PAGES_PER_STEP,
    PAGE_SIZE_SQL,
    StepWatch,
    prefixed,
    unlink_quietly,
)

if TYPE_CHECKING:
    from .manager import BackupManager, BackupResult


@dataclass
class RestoreResult:
    restored_from: Path
    safety_backup: Path
    tables: dict[str, int]
    schema_version: int
    pending_migrations: list[int]
    previous_schema_version: int | None  # None: the damaged database could not say
    checkpointed: bool
    duration_s: float
    notices: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "restored_from": str(self.restored_from),
            "safety_backup": str(self.safety_backup),
            "tables": self.tables,
            "schema_version": self.schema_version,
            "previous_schema_version": self.previous_schema_version,
            "pending_migrations": self.pending_migrations,
            "checkpointed": self.checkpointed,
            "duration_s": round(self.duration_s, 3),
            "notices": self.notices,
        }


def other_database(backup: Path, database: Path) -> str:
    """The database a backup was made from, when its description names another one
    than ``database`` ("" when it is this one's, or nobody recorded it)."""
    sidecar = read_sidecar(backup)
    source = (sidecar or {}).get("source_path")
    if not source or not isinstance(source, str):
        return ""
    mine = os.path.normcase(os.path.abspath(database.resolve()))
    return "" if os.path.normcase(os.path.abspath(source)) == mine else source


class Restore:
    """One restore into the database of ``manager.store``."""

    def __init__(self, manager: "BackupManager") -> None:
        self.manager = manager
        self.store = manager.store

    def run(
        self,
        backup: str | os.PathLike[str],
        *,
        safety_dir: str | os.PathLike[str] | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
        user_id: str = "",
        pages_per_step: int = DEFAULT_PAGES_PER_STEP,
        lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
        allow_other_database: bool = False,
    ) -> RestoreResult:
        """Replace the live database's content with ``backup``'s; see the module docstring.

        ``progress`` phases: "backup checksum" and "backup verify" (from a worker
        thread) while "safety copy", "safety checksum", "safety verify" run, then
        "restore" (pages), "check", "checkpoint", "audit". Cancelling before "check" leaves the database as it was. Raises
        BackupInvalid (refused; nothing changed), DatabaseLocked, Cancelled, ReadOnly.
        """
        started = time.monotonic()
        store = self.store
        store.require_writable()
        source = Path(backup).expanduser()
        if source.exists() and store.path.exists() and os.path.samefile(source, store.path):
            raise errors.InvalidInput(f"{source} is the database itself; choose a backup file.")
        if store.db.in_transaction():
            raise errors.InvalidInput("Cannot restore inside a transaction; finish it first.")

        identity = _identity(source)
        origin = other_database(source, store.path)
        if origin and not allow_other_database:
            self._verified(verify_backup(source, progress=prefixed(progress, "backup "), cancel=cancel),
                           source)
            raise errors.ConsentRequired(
                f"{source.name} is a backup of another database ({origin}), not of "
                f"{store.path.name}: restoring it replaces this database with that one's content. "
                f"Confirm that this is what you want. The database {store.path.name} was not changed.")
        previous, before_counts = self._describe_live()
        report, safety = self._verify_and_keep_safety(source, safety_dir, progress, cancel,
                                                      pages_per_step, lock_timeout_s)
        converted: Path | None = None
        try:
            copy_from = source
            live_page_size, live_mode = self._live_page_size_and_mode(lock_timeout_s)
            if live_mode == "wal" and report.page_size != live_page_size:
                # The backup API cannot change a WAL database's page size: copy the
                # backup to the live page size first (a private file, then the same path).
                converted = safety.path.with_name("." + safety.path.name + PARTIAL_MARK
                                                  + f"{os.getpid()}-pagesize")
                _convert_page_size(source, converted, live_page_size)
                copy_from = converted
            if _identity(source) != identity:
                raise errors.BackupInvalid(
                    f"{source.name} changed while it was being verified; it was not restored. "
                    f"The database {store.path.name} was not changed.")
            # The copy of the verified, unchanged file needs no second integrity check;
            # a converted copy (made after the verification) gets one.
            verified = None if converted is not None else (identity, report.page_size)
            checkpointed = self._copy_in(copy_from, safety.path, progress, cancel, pages_per_step,
                                         lock_timeout_s, verified=verified)
        finally:
            if converted is not None:
                unlink_quietly(converted)
        self._refresh_connections()
        result = self._after_restore(source, report, safety, previous, before_counts,
                                     checkpointed, user_id, started, progress)
        return result

    def _verified(self, report: VerifyReport, source: Path) -> VerifyReport:
        if not report.restorable:
            raise errors.BackupInvalid(
                f"{source.name} cannot be restored: {report.reason().rstrip('.')}. "
                f"The database {self.store.path.name} was not changed.",
                detail="\n".join(report.problems),
            )
        return report

    def _verify_and_keep_safety(self, source: Path, safety_dir: str | os.PathLike[str] | None,
                                progress: ProgressFn | None, cancel: CancelFn | None,
                                pages_per_step: int, lock_timeout_s: float
                                ) -> tuple[VerifyReport, BackupResult]:
        """Verify the backup and take the safety backup of the live database at the same
        time (they read different files); both must succeed before anything changes. A
        refused backup leaves no safety backup behind (nor the folder made for it)."""
        try:
            folder: Path | None = self.manager.directory(safety_dir)
        except errors.StorageError:
            folder = None  # create() says why
        had_folder = folder is not None and folder.exists()
        safety: BackupResult | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify") as pool:
            verifying = pool.submit(verify_backup, source, progress=prefixed(progress, "backup "),
                                    cancel=cancel)
            try:
                safety = self.manager.create(safety_dir, kind="safety",
                                             progress=prefixed(progress, "safety "), cancel=cancel,
                                             pages_per_step=pages_per_step,
                                             lock_timeout_s=lock_timeout_s)
            except BaseException:
                verifying.exception()  # wait; a refusal of the backup speaks first
                if verifying.exception() is None:
                    self._verified(verifying.result(), source)
                raise
            try:
                return self._verified(verifying.result(), source), safety
            except BaseException:
                unlink_quietly(safety.path)
                unlink_quietly(sidecar_path(safety.path))
                if folder is not None and not had_folder:
                    try:
                        folder.rmdir()
                    except OSError:
                        pass
                raise

    def _describe_live(self) -> tuple[int | None, dict[str, Any]]:
        """Schema version and row counts before the restore; a damaged database may not
        be able to count (that is often why it is being restored)."""
        try:
            return self.store.schema_version(), dict(self.store.row_counts())
        except (sqlite3.Error, peewee.PeeweeException, errors.StorageError) as exc:
            return None, {"error": str(errors.translate(exc, str(self.store.path)))}

    def _live_page_size_and_mode(self, lock_timeout_s: float) -> tuple[int, str]:
        conn = raw_connection(self.store.db.database, timeout_s=lock_timeout_s)
        try:
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        finally:
            conn.close()
        return page_size, mode

    def _copy_in(self, source: Path, safety: Path, progress: ProgressFn | None,
                 cancel: CancelFn | None, pages_per_step: int, lock_timeout_s: float,
                 verified: tuple[tuple[int, ...], int] | None = None) -> bool:
        """The backup API from ``source`` into the live database: one write transaction.

        ``verified`` = (file identity, page size) of a source whose integrity_check just
        passed: when the file is still that one, the copy (the same pages) is checked
        cheaply (its page count and schema read back); otherwise fully."""
        live = str(self.store.path)
        src = raw_connection(sqlite_uri(source, read_only=True, immutable=True), timeout_s=lock_timeout_s)
        # A short busy wait per step: control comes back to the step watch, which cancels
        # promptly and enforces lock_timeout_s over the whole wait.
        dst = raw_connection(self.store.db.database, timeout_s=min(lock_timeout_s, 1.0))
        try:
            dst.execute("PRAGMA synchronous=FULL")  # the commit survives a power cut too
            watch = StepWatch("restore", progress, cancel, lock_timeout_s, live)
            try:
                src.backup(dst, pages=pages_per_step, progress=watch, sleep=BUSY_SLEEP_S)
            except errors.Cancelled as exc:
                raise errors.Cancelled(
                    f"Restore cancelled; the database was not changed (the safety backup "
                    f"{safety.name} was kept)."
                ) from exc
            if progress is not None:
                progress("check", 0, 1)
            if verified is not None and _identity(source) == verified[0]:
                problems = _same_pages(src, dst)
            else:
                problems = [r[0] for r in dst.execute("PRAGMA integrity_check(20)") if r[0] != "ok"]
            if problems:
                raise errors.CorruptDatabase(
                    f"After the restore, {live} fails its integrity check ({problems[0]}). "
                    f"Restore the safety backup {safety} with `sandbox-admin restore`.",
                    detail="\n".join(problems),
                )
            if progress is not None:
                progress("check", 1, 1)
            busy = 1
            if progress is not None:
                progress("checkpoint", 0, 1)
            if str(dst.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                # Move the new pages into the main file and empty the -wal (best effort:
                # a reader elsewhere may hold on to it; SQLite finishes it later). Do not
                # wait long for readers: the restore itself is done.
                dst.execute("PRAGMA busy_timeout=500")
                busy = dst.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            return busy == 0
        except sqlite3.Error as exc:
            raise errors.translate(exc, live) from exc
        finally:
            src.close()
            dst.close()

    def _refresh_connections(self) -> None:
        """Close this process's idle pooled connections; forget sub-stores' caches."""
        self.store.db.close_idle_older_than(0)
        for name in ("sandboxes", "files", "metrics", "maintenance"):
            self.store.__dict__.pop(name, None)

    def _after_restore(self, source: Path, report: VerifyReport, safety: BackupResult,
                       previous: int | None, before_counts: dict[str, Any], checkpointed: bool, user_id: str,
                       started: float, progress: ProgressFn | None) -> RestoreResult:
        store = self.store
        status = store.migration_status()
        notices: list[str] = []
        if status.pending:
            notices.append(
                f"The restored database has schema version {status.current}; this sandbox-admin "
                f"knows {latest_version()}: migrations {status.pending} are pending "
                "(apply them with `sandbox-admin migrate DB`)."
            )
        if not safety.verified:
            notices.append(
                f"The database was damaged before the restore; its safety backup "
                f"{safety.path.name} keeps that damaged content ({'; '.join(safety.problems[:2])})."
            )
        if not checkpointed:
            notices.append("Another connection is reading; the -wal file shrinks when it finishes.")
        store.notices.extend(notices)
        if progress is not None:
            progress("audit", 0, 1)
        # The audit entry goes through the sandboxes store (its Go-compatible writer).
        store.sandboxes.record_audit(
            "restore",
            store.path.name,
            entity_type="database",
            old={"schema_version": previous, "tables": before_counts},
            new={"schema_version": status.current, "tables": report.tables},
            user_id=user_id or "",
            metadata={
                "restored_from": str(source.resolve()),
                "backup_sha256": report.sha256,
                "safety_backup": str(safety.path),
                "safety_backup_verified": safety.verified,
                "database": str(store.path.resolve()),
                "tool": f"sandbox-admin {__version__}",
            },
        )
        return RestoreResult(
            restored_from=source,
            safety_backup=safety.path,
            tables=store.row_counts(),
            schema_version=status.current,
            pending_migrations=list(status.pending),
            previous_schema_version=previous,
            checkpointed=checkpointed,
            duration_s=time.monotonic() - started,
            notices=notices,
        )


def _convert_page_size(source: Path, target: Path, page_size: int) -> None:
    """Copy ``source`` to ``target`` with another page size (backup API, then VACUUM)."""
    src = raw_connection(sqlite_uri(source, read_only=True, immutable=True), timeout_s=5.0)
    dst = sqlite3.connect(str(target), isolation_level=None)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.execute(PAGE_SIZE_SQL[page_size])
        dst.execute("VACUUM")
    except sqlite3.Error as exc:
        raise errors.translate(exc, str(source)) from exc
    finally:
        src.close()
        dst.close()


def _identity(path: Path) -> tuple[int, ...]:
    """What changes when a file is replaced or written: device, inode, size, times."""
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _same_pages(src: sqlite3.Connection, dst: sqlite3.Connection) -> list[str]:
    """Problems if the restored database does not read back as the verified source:
    the page count and the schema (the content itself was integrity-checked in the
    source, and the backup API copies pages as they are)."""
    schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
    problems = []
    pages = [int(c.execute("PRAGMA page_count").fetchone()[0]) for c in (src, dst)]
    if pages[0] != pages[1]:
        problems.append(f"{pages[1]} pages where the backup has {pages[0]}")
    if src.execute(schema).fetchall() != dst.execute(schema).fetchall():
        problems.append("its schema differs from the backup's")
    return problems
