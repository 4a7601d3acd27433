"""Restore: the backup's content copied *into* the live database in one transaction.

Killed at any moment, the database holds the old or the new content, never a mix; the
backup is verified and a safety backup of the live database is taken before anything
changes. In a WAL database both run while the pages are written: those go into the
``-wal``, uncommitted (the database file, which the safety backup copies, does not
change), and the commit waits for both checks; anything that fails rolls the pages back.
The ``-wal`` is flushed to disk while the pages are written (:mod:`.wal_flush`), so the
commit's fsync has little left to wait for.
Used through :meth:`BackupManager.restore`.

Nothing is checked twice: a backup whose sha256 is still the one its description
recorded with a passing integrity_check is not integrity-checked again (its schema is
still read), and the safety backup's sha256, which only later verifications need, is
taken while the new pages are checkpointed, after the commit.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

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
    inspect_file,
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
from .wal_flush import WalFlusher

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
    #: how the backup was found sound: its own integrity_check, or the one recorded for
    #: these very bytes (their sha256 unchanged)
    backup_check: str = ""

    @property
    def backup_integrity_reused(self) -> bool:
        """The backup's integrity_check was not run again (its bytes had passed it)."""
        return self.backup_check == _REUSED

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
            "backup_check": self.backup_check,
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

        ``progress`` phases (from worker threads too): "backup checksum", "backup verify",
        "safety copy", "safety verify" side by side until the safety backup holds its
        snapshot; then "restore" (pages, written uncommitted while those checks finish),
        "checks" (waiting for them before the commit), "check", "checkpoint" (the safety
        backup's checksum meanwhile), "audit". Cancelling before "check" leaves the
        database as it was.
        Raises BackupInvalid (refused; nothing changed), DatabaseLocked, Cancelled, ReadOnly.
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
        checks = _Checks(self, source, safety_dir, progress, cancel, pages_per_step, lock_timeout_s)
        converted: Path | None = None
        try:
            live_page_size, live_mode = self._live_page_size_and_mode(lock_timeout_s)
            if live_mode == "wal" and _header_page_size(source) == live_page_size:
                # The pages are written (uncommitted, into the -wal: the database file the
                # safety backup copies does not change) while the backup is verified and
                # the safety backup taken; the commit waits for both.
                checks.wait_until_safety_reads(cancel)

                def before_commit() -> Path:
                    _, safety = checks.result()
                    self._unchanged(source, identity)
                    return safety.path

                checkpointed = self._copy_in(source, None, progress, cancel, pages_per_step,
                                             lock_timeout_s, verified=identity,
                                             before_commit=before_commit,
                                             after_commit=checks.start_checksum)
                report, safety = checks.result()  # both finished before the commit
            else:
                # A rollback-journal database is written in place during the transaction,
                # and the backup API cannot change a WAL database's page size: both checks
                # first, then (for another page size) a copy of the verified backup at the
                # live page size (a private file), checked again after the restore.
                report, safety = checks.result()
                copy_from, verified = source, identity
                if live_mode == "wal":
                    converted = safety.path.with_name("." + safety.path.name + PARTIAL_MARK
                                                      + f"{os.getpid()}-pagesize")
                    _convert_page_size(source, converted, live_page_size)
                    copy_from, verified = converted, None
                self._unchanged(source, identity)
                checkpointed = self._copy_in(copy_from, safety.path, progress, cancel,
                                             pages_per_step, lock_timeout_s, verified=verified,
                                             after_commit=checks.start_checksum)
        except errors.Cancelled as exc:
            kept = checks.abandon()
            note = "" if kept is None else f" (the safety backup {kept.name} was kept)"
            raise errors.Cancelled(f"Restore cancelled; the database was not changed{note}.") from exc
        except BaseException:
            checks.abandon()
            raise
        finally:
            if converted is not None:
                unlink_quietly(converted)
        self._refresh_connections()
        safety, unsummed = checks.safety_checksummed()
        result = self._after_restore(source, report, safety, previous, before_counts,
                                     checkpointed, user_id, started, progress, unsummed)
        return result

    def _unchanged(self, source: Path, identity: tuple[int, ...]) -> None:
        if _identity(source) != identity:
            raise errors.BackupInvalid(
                f"{source.name} changed while it was being verified; it was not restored. "
                f"The database {self.store.path.name} was not changed.")

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
        time, without restoring (see :class:`_Checks`)."""
        checks = _Checks(self, source, safety_dir, progress, cancel, pages_per_step, lock_timeout_s)
        report, _ = checks.result()
        return report, checks.safety_checksummed()[0]

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

    def _copy_in(self, source: Path, safety: Path | None, progress: ProgressFn | None,
                 cancel: CancelFn | None, pages_per_step: int, lock_timeout_s: float,
                 verified: tuple[int, ...] | None = None,
                 before_commit: Callable[[], Path] | None = None,
                 after_commit: Callable[[], None] | None = None) -> bool:
        """The backup API from ``source`` into the live database: one write transaction.

        ``before_commit`` is called before the step that would copy the last pages (and
        commit); it returns the safety backup's path or raises to roll everything back.
        ``after_commit`` is called once the new content is committed.
        ``verified`` = the file identity of a source whose integrity_check passed: when
        the file is still that one, the copy (the same pages) is checked cheaply (its
        page count and schema read back); otherwise fully."""
        live = str(self.store.path)
        src = raw_connection(sqlite_uri(source, read_only=True, immutable=True), timeout_s=lock_timeout_s)
        # A short busy wait per step: control comes back to the step watch, which cancels
        # promptly and enforces lock_timeout_s over the whole wait.
        dst = raw_connection(self.store.db.database, timeout_s=min(lock_timeout_s, 1.0))

        def hold() -> None:
            nonlocal safety
            if before_commit is not None:
                if progress is not None:
                    progress("checks", 0, 1)
                safety = before_commit()
                if progress is not None:
                    progress("checks", 1, 1)
            if cancel is not None and cancel():  # the last chance: the next step commits
                raise errors.Cancelled("Restore cancelled; the database was not changed.")

        flusher: WalFlusher | None = None
        try:
            dst.execute("PRAGMA synchronous=FULL")  # the commit survives a power cut too
            wal = str(dst.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
            if wal:
                # The checkpoint below, not one hidden in the first statement after the
                # commit (the backup API's commit skips the auto-checkpoint).
                dst.execute("PRAGMA wal_autocheckpoint=0")
                flusher = WalFlusher(self.store.path)
            watch = _HoldCommit(StepWatch("restore", progress, cancel, lock_timeout_s, live),
                                pages_per_step, hold, None if flusher is None else flusher.poke)
            if int(src.execute("PRAGMA page_count").fetchone()[0]) <= pages_per_step:
                watch.hold_now()  # the first step would copy everything and commit
            try:
                src.backup(dst, pages=pages_per_step, progress=watch, sleep=BUSY_SLEEP_S)
            except errors.Cancelled as exc:
                raise errors.Cancelled("Restore cancelled; the database was not changed.") from exc
            if after_commit is not None:
                after_commit()
            if progress is not None:
                progress("check", 0, 1)
            if verified is not None and _identity(source) == verified:
                problems = _same_pages(src, dst)
            else:
                problems = [r[0] for r in dst.execute("PRAGMA integrity_check(20)") if r[0] != "ok"]
            if problems:
                raise errors.CorruptDatabase(
                    f"After the restore, {live} fails its integrity check ({problems[0]}). "
                    f"Restore the safety backup {safety}.",
                    detail="\n".join(problems), cli_hint=f"sandbox-admin restore {live} {safety}",
                )
            if progress is not None:
                progress("check", 1, 1)
            busy = 1
            if progress is not None:
                progress("checkpoint", 0, 1)
            if wal:
                # Move the new pages into the main file and empty the -wal (best effort:
                # a reader elsewhere may hold on to it; SQLite finishes it later). Do not
                # wait long for readers: the restore itself is done.
                dst.execute("PRAGMA busy_timeout=500")
                busy = dst.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            return busy == 0
        except sqlite3.Error as exc:
            raise errors.translate(exc, live) from exc
        finally:
            if flusher is not None:  # however the copy ended (a flush after the commit is harmless)
                flusher.stop()
            src.close()
            dst.close()

    def _refresh_connections(self) -> None:
        """Close this process's idle pooled connections; forget sub-stores' caches."""
        self.store.db.close_idle_older_than(0)
        for name in ("sandboxes", "files", "metrics", "maintenance"):
            self.store.__dict__.pop(name, None)

    def _after_restore(self, source: Path, report: VerifyReport, safety: BackupResult,
                       previous: int | None, before_counts: dict[str, Any], checkpointed: bool, user_id: str,
                       started: float, progress: ProgressFn | None, unsummed: str = "") -> RestoreResult:
        store = self.store
        status = store.migration_status()
        notices: list[str] = [unsummed] if unsummed else []
        if status.pending:
            notices.append(
                f"The restored database has schema version {status.current}; this sandbox-admin "
                f"knows {latest_version()}: migrations {status.pending} are pending; upgrade "
                "its schema before writing to it."
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
                "backup_integrity": _backup_check(report),
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
            backup_check=_backup_check(report),
        )


_REUSED = "unchanged since its recorded integrity_check"


def _backup_check(report: VerifyReport) -> str:
    return _REUSED if report.integrity_reused else "integrity_check ok"


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


def _header_page_size(path: Path) -> int:
    """The page size a database file's header declares (0 when it cannot be read: the
    verification says why)."""
    try:
        return inspect_file(path).page_size
    except errors.StorageError:
        return 0


class _HoldCommit:
    """The backup API's progress callback around a :class:`StepWatch` that calls
    ``hold`` once, before the step that would copy the last pages: that step commits,
    and ``hold`` may still raise to roll everything back."""

    def __init__(self, watch: StepWatch, pages_per_step: int, hold: Callable[[], None],
                 after_step: Callable[[], None] | None = None) -> None:
        self.watch = watch
        self.pages_per_step = pages_per_step
        self.hold = hold
        self.after_step = after_step
        self.held = False

    def hold_now(self) -> None:
        if not self.held:
            self.held = True
            self.hold()

    def __call__(self, status: int, remaining: int, total: int) -> None:
        if status == sqlite3.SQLITE_DONE:
            # Committed: too late to cancel (raising now would say "not changed").
            if self.watch.progress is not None:
                self.watch.progress(self.watch.phase, total, total)
            return
        self.watch(status, remaining, total)
        if self.after_step is not None:
            self.after_step()
        if status == sqlite3.SQLITE_OK and remaining <= self.pages_per_step:
            self.hold_now()


class _Checks:
    """The backup's verification and the safety backup of the live database, both
    started at once in worker threads (they read different files).

    A restore writes its pages meanwhile: into the live database's ``-wal``, uncommitted,
    so the database file the safety backup copies does not change, and a crash or an
    error leaves the old content. :meth:`result` (both must succeed) comes before the
    commit. A refused backup leaves no safety backup behind (nor the folder made for it).
    """

    def __init__(self, restore: Restore, source: Path, safety_dir: str | os.PathLike[str] | None,
                 progress: ProgressFn | None, cancel: CancelFn | None, pages_per_step: int,
                 lock_timeout_s: float) -> None:
        self.restore = restore
        self.source = source
        self.cancel = cancel
        try:
            self.folder: Path | None = restore.manager.directory(safety_dir)
        except errors.StorageError:
            self.folder = None  # create() says why
        self.had_folder = self.folder is not None and self.folder.exists()
        self.reading = threading.Event()  # the safety backup's snapshot is taken
        self._quiet = threading.Event()  # the restore reports progress from now on
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="restore-checks")
        self.verifying = self._pool.submit(verify_backup, source, cancel=cancel, reuse_recorded_check=True,
                                           progress=self._relay(progress, "backup "))
        safety_progress = self._relay(progress, "safety ")

        def on_safety(phase: str, done: int, total: int) -> None:
            if phase == "copy":
                self.reading.set()
            if safety_progress is not None:
                safety_progress(phase, done, total)

        self.safety = self._pool.submit(
            restore.manager.create, safety_dir, kind="safety", progress=on_safety, cancel=cancel,
            pages_per_step=pages_per_step, lock_timeout_s=lock_timeout_s, checksum_later=True)
        self.safety.add_done_callback(lambda _: self.reading.set())
        self._pool.shutdown(wait=False)
        self._checksum: Future[BackupResult] | None = None

    def _relay(self, progress: ProgressFn | None, prefix: str) -> ProgressFn | None:
        """Their progress until the restore's own pages take over the bar."""
        if progress is None:
            return None

        def relay(phase: str, done: int, total: int) -> None:
            if not self._quiet.is_set():
                progress(prefix + phase, done, total)

        return relay

    def wait_until_safety_reads(self, cancel: CancelFn | None) -> None:
        """Until the safety backup holds its snapshot: its fast copy needs the write lock
        for a moment, which the restore then keeps until it commits."""
        while not self.reading.wait(0.02):
            if cancel is not None and cancel():
                raise errors.Cancelled("Restore cancelled; the database was not changed.")
        if self.safety.done() and self.safety.exception() is not None:
            self.result()  # no safety backup: say why now, before writing anything
        self._quiet.set()

    def _wait(self) -> None:
        """Until both have finished (each watches ``cancel`` itself)."""
        wait([self.verifying, self.safety])

    def result(self) -> tuple[VerifyReport, "BackupResult"]:
        """Both results (waiting for them); raises what refused the backup first, then
        what stopped the safety backup."""
        self._wait()
        if self.safety.exception() is not None:
            if self.verifying.exception() is None:
                self.restore._verified(self.verifying.result(), self.source)
            raise self.safety.exception()  # type: ignore[misc]
        safety = self.safety.result()
        try:
            return self.restore._verified(self.verifying.result(), self.source), safety
        except BaseException:
            self._discard(safety)
            raise

    def start_checksum(self) -> None:
        """Take the safety backup's sha256 in a thread of its own (once)."""
        if self._checksum is None:
            self._wait()
            if self.safety.exception() is None:
                pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="safety-sha256")
                self._checksum = pool.submit(self.restore.manager.record_checksum, self.safety.result())
                pool.shutdown(wait=False)

    def safety_checksummed(self) -> tuple["BackupResult", str]:
        """The safety backup with its sha256 recorded, and "" (or, when that failed, it
        without and a notice saying so: it is still a verified backup)."""
        self.start_checksum()
        safety = self.safety.result()
        assert self._checksum is not None
        try:
            return self._checksum.result(), ""
        except (errors.StorageError, OSError) as exc:
            return safety, (f"The safety backup {safety.path.name} is verified, but its checksum "
                            f"could not be recorded ({exc}); a later verification cannot tell "
                            "whether it changed, only whether it is sound.")

    def abandon(self) -> Path | None:
        """The restore stopped (before its commit, or failed after it): wait for both,
        discard the safety backup of a refused backup; the kept safety backup's path,
        if any (with its checksum recorded)."""
        self._wait()
        if self.safety.exception() is not None:
            return None
        safety = self.safety.result()
        if self.verifying.exception() is None and not self.verifying.result().restorable:
            self._discard(safety)  # the backup was refused
            return None
        self.safety_checksummed()
        return safety.path

    def _discard(self, safety: "BackupResult") -> None:
        unlink_quietly(safety.path)
        unlink_quietly(sidecar_path(safety.path))
        if self.folder is not None and not self.had_folder:
            try:
                self.folder.rmdir()
            except OSError:
                pass
