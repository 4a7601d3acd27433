"""Backups people can trust and a restore that is atomic even if the machine dies.

**Backup** (:meth:`BackupManager.create`) first tries the fast path of
:mod:`backup_snapshot`: a copy of the database file's bytes, made by a child process
while one of our read transactions keeps those bytes frozen and equal to its snapshot
(``method: "snapshot-copy"``). When that cannot be arranged (a reader of an older
snapshot keeps WAL frames out of the file, the write lock stays taken, the store is
read-only with a non-empty ``-wal``…) it uses SQLite's online backup API from a
connection that holds one read transaction for the whole copy (``"backup-api"``). In WAL mode a reader
does not block writers, and the backup copies that one snapshot: it is consistent,
and it never restarts when another process commits (a stepped backup without the
held snapshot starts over on every foreign commit and may never finish under
continuous writes). A rollback-journal database is consistent the same way; its
writers wait for the copy. The copy goes to a hidden ``.partial`` file that is
verified (integrity_check, schema version, row counts), hashed, fsynced and only
then renamed to a unique ``sandbox_runner_YYYYMMDD_HHMMSS[_NNN].db`` with a JSON
description beside it. Never a file copy of a live database; no SQL holds a path.

**Restore** (:meth:`BackupManager.restore`) verifies the backup completely (refusing
a broken, truncated, foreign or newer-schema file with the live database untouched),
takes a safety backup of the live database, then copies the backup *into* the live
database with the backup API. The destination is written in one write transaction:
in WAL mode the commit is a single WAL frame, so a kill at any moment leaves the old
or the new content, other processes see the old or the new content (never a mix),
and no file is deleted or renamed under anybody's open connections. Then an
integrity check, a checkpoint, an audit entry, and this process's idle pooled
connections are closed (the ones in use re-read the changed database by themselves).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import peewee

from .. import __version__, paths
from . import errors
from .backup_files import (
    BROKEN,
    PARTIAL_MARK,
    SIDECAR_FORMAT,
    UNVERIFIED,
    VERIFIED,
    BackupInfo,
    CancelFn,
    ProgressFn,
    VerifyReport,
    backup_name,
    describe_backup,
    fsync_dir,
    fsync_file,
    list_backups,
    parse_backup_name,
    read_sidecar,
    remove_stale_partials,
    sidecar_path,
    verify_backup,
    write_sidecar,
)
from . import backup_snapshot as snapshot
from .backup_policy import (
    RetentionPlan,
    RetentionPolicy,
    Schedule,
    ScheduledRun,
    forget,
    is_due,
    last_backup_time,
    next_due,
)
from .database import sqlite_uri
from .fields import to_iso, utcnow
from .migrations import latest_version

if TYPE_CHECKING:
    from . import Store

__all__ = [
    "BackupManager", "BackupResult", "RestoreResult", "BackupInfo", "VerifyReport",
    "RetentionPolicy", "RetentionPlan", "Schedule", "ScheduledRun", "verify_backup",
    "list_backups", "describe_backup", "forget", "backup_name", "parse_backup_name",
    "VERIFIED", "UNVERIFIED", "BROKEN", "DEFAULT_PAGES_PER_STEP", "read_sidecar",
    "SNAPSHOT_COPY", "BACKUP_API",
]

SNAPSHOT_COPY = snapshot.SNAPSHOT_COPY
BACKUP_API = snapshot.BACKUP_API

#: Pages copied per backup step: small enough for smooth progress and prompt
#: cancelling, large enough that the per-step cost vanishes (benchmarks/bench_backup.py).
DEFAULT_PAGES_PER_STEP = 4096
#: How long a restore waits for other writers of the live database before giving up.
DEFAULT_LOCK_TIMEOUT_S = 30.0
#: Sleep between retries when the destination is busy (Python's default is 0.25 s).
_BUSY_SLEEP_S = 0.05
_PAGE_SIZE_SQL = {n: "PRAGMA page_size=" + str(n) for n in (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)}


@dataclass
class BackupResult:
    path: Path
    size_bytes: int
    sha256: str
    schema_version: int | None
    tables: dict[str, int]
    created_at: datetime
    source_path: str
    kind: str
    duration_s: float
    verified: bool = True
    problems: list[str] = field(default_factory=list)  # only a safety backup may have some
    removed: list[Path] = field(default_factory=list)  # by retention, right after
    method: str = BACKUP_API  # how the bytes were copied: SNAPSHOT_COPY or BACKUP_API
    method_note: str = ""  # why the fast path was not taken, when it was not

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "verified": self.verified,
            "problems": self.problems,
            "sha256": self.sha256,
            "schema_version": self.schema_version,
            "tables": self.tables,
            "created_at": to_iso(self.created_at),
            "source_path": self.source_path,
            "kind": self.kind,
            "duration_s": round(self.duration_s, 3),
            "removed": [str(p) for p in self.removed],
            "method": self.method,
            "method_note": self.method_note,
        }


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


class _StepWatch:
    """The backup API's progress callback: reports, cancels, and bounds waiting on locks."""

    def __init__(self, phase: str, progress: ProgressFn | None, cancel: CancelFn | None,
                 lock_timeout_s: float, what: str) -> None:
        self.phase = phase
        self.progress = progress
        self.cancel = cancel
        self.lock_timeout_s = lock_timeout_s
        self.what = what
        self.steps = 0
        self._busy_since: float | None = None

    def __call__(self, status: int, remaining: int, total: int) -> None:
        self.steps += 1
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            now = time.monotonic()
            self._busy_since = self._busy_since or now
            if now - self._busy_since > self.lock_timeout_s:
                raise errors.DatabaseLocked(
                    f"{self.what} is locked by another program for more than "
                    f"{self.lock_timeout_s:.0f} s; nothing was changed. Stop the SandboxRunner "
                    "server (or wait for it) and try again."
                )
        else:
            self._busy_since = None
        if self.cancel is not None and self.cancel():
            raise errors.Cancelled(f"{self.phase} cancelled; nothing was changed.")
        if self.progress is not None:
            self.progress(self.phase, total - remaining, total)


def _prefixed(progress: ProgressFn | None, prefix: str) -> ProgressFn | None:
    if progress is None:
        return None
    return lambda phase, done, total: progress(prefix + phase, done, total)


def _raw_connect(uri: str, timeout_s: float) -> sqlite3.Connection:
    """A connection of our own (backup API and PRAGMAs: what Peewee cannot do)."""
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout_s,
                           check_same_thread=False)
    conn.execute("PRAGMA trusted_schema=OFF")
    return conn


def _check_space(directory: Path, needed: int, what: str) -> None:
    free = shutil.disk_usage(directory).free
    if free < needed + (16 << 20):
        raise errors.NotEnoughSpace(
            f"Not enough free space in {directory} for {what}: {needed:,} bytes needed, "
            f"{free:,} free. Free some space or choose another folder."
        )


class BackupManager:
    """Backups of one open store: create, list, verify, restore, retention, schedule."""

    def __init__(self, store: "Store") -> None:
        self.store = store

    # -- where ------------------------------------------------------------------------
    def directory(self, directory: str | os.PathLike[str] | None = None) -> Path:
        return Path(directory).expanduser() if directory is not None else paths.backups_dir()

    def list(self, directory: str | os.PathLike[str] | None = None) -> list[BackupInfo]:
        return list_backups(self.directory(directory))

    def verify(self, backup: str | os.PathLike[str], **kwargs: Any) -> VerifyReport:
        return verify_backup(backup, **kwargs)

    # -- backup -----------------------------------------------------------------------
    def create(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        kind: str = "manual",
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
        pages_per_step: int = DEFAULT_PAGES_PER_STEP,
        keep: RetentionPolicy | None = None,
        lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
        method: str = snapshot.AUTO,
    ) -> BackupResult:
        """A consistent online backup, verified and described, in ``directory``.

        ``keep`` applies a retention policy to this database's backups afterwards.
        ``method``: "auto" (the fast snapshot copy when possible, else the backup API),
        or force SNAPSHOT_COPY / BACKUP_API. ``pages_per_step`` applies to the backup API.
        Raises errors.Cancelled (nothing left behind), NotEnoughSpace, BackupInvalid.
        """
        if method not in snapshot.METHODS:
            raise errors.InvalidInput(
                f"Unknown backup method {method!r}; use one of {', '.join(snapshot.METHODS)}.")
        started = time.monotonic()
        created_at = utcnow()
        folder = self.directory(directory)
        if folder.exists() and not folder.is_dir():
            raise errors.InvalidInput(
                f"The backups folder {folder} is a file, not a folder. Choose another folder.")
        try:
            paths.ensure(folder)
        except OSError as exc:
            raise errors.StorageError(
                f"Cannot create the backups folder {folder}: {exc.strerror or exc}. "
                "Choose a folder you can write to.") from exc
        remove_stale_partials(folder)
        tmp = folder / ("." + backup_name(created_at) + PARTIAL_MARK
                        + f"{os.getpid()}-{secrets.token_hex(4)}")
        try:
            used, note = self._copy_out(tmp, progress, cancel, pages_per_step, lock_timeout_s,
                                        method)
            fsync_file(tmp)  # our connection to it is closed: safe to open/close
            report = verify_backup(tmp, use_sidecar=False, progress=progress, cancel=cancel)
            # A safety backup is kept even when the live database is damaged (that is
            # when people restore); it is described as damaged instead of verified.
            if not report.ok and kind != "safety":
                raise errors.BackupInvalid(
                    f"The new backup of {self.store.path.name} failed verification "
                    f"({report.reason()}); it was discarded. Run `sandbox-admin check` on the "
                    "database.", detail="\n".join(report.problems),
                )
            final = _publish(tmp, folder, created_at)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        result = BackupResult(
            path=final,
            size_bytes=report.size_bytes,
            sha256=report.sha256,
            schema_version=report.schema_version,
            tables=report.tables,
            created_at=created_at,
            source_path=str(self.store.path.resolve()),
            kind=kind,
            duration_s=time.monotonic() - started,
            verified=report.ok,
            problems=list(report.problems),
            method=used,
            method_note=note,
        )
        write_sidecar(final, {
            "format": SIDECAR_FORMAT,
            "created_at": to_iso(created_at),
            "kind": kind,
            "source_path": result.source_path,
            "size_bytes": result.size_bytes,
            "sha256": result.sha256,
            "page_size": report.page_size,
            "schema_version": result.schema_version,
            "tables": result.tables,
            "verified": result.verified,
            "verified_at": to_iso(utcnow()),
            "integrity_check": "ok" if result.verified else "failed",
            "problems": result.problems,
            "sqlite_version": sqlite3.sqlite_version,
            "sandbox_admin_version": __version__,
            "duration_seconds": round(result.duration_s, 3),
            "method": result.method,
            "method_note": result.method_note,
        })
        if keep is not None and not keep.empty:
            plan = forget(folder, keep, source=result.source_path)
            result.removed = list(plan.removed)
        return result

    def _copy_out(self, tmp: Path, progress: ProgressFn | None, cancel: CancelFn | None,
                  pages_per_step: int, lock_timeout_s: float,
                  method: str = snapshot.AUTO) -> tuple[str, str]:
        """Copy one snapshot of the live database into ``tmp``: (method used, why not the
        fast one)."""
        note = ""
        if method != BACKUP_API:
            try:
                self._snapshot_copy(tmp, progress, cancel, lock_timeout_s)
                return SNAPSHOT_COPY, ""
            except snapshot.SnapshotUnavailable as exc:
                _unlink_quietly(tmp)
                if method == SNAPSHOT_COPY:
                    raise errors.StorageError(
                        f"A snapshot copy of {self.store.path.name} is not possible now: {exc}. "
                        "Use the automatic method (it falls back to SQLite's backup API).") from exc
                note = str(exc)
        self._backup_api_copy(tmp, progress, cancel, pages_per_step, lock_timeout_s)
        return BACKUP_API, note

    def _snapshot_copy(self, tmp: Path, progress: ProgressFn | None, cancel: CancelFn | None,
                       lock_timeout_s: float, *, copier: str | None = None) -> None:
        """The fast path (backup_snapshot.py): raises SnapshotUnavailable to fall back."""
        db = self.store.db
        path = self.store.path.resolve()
        try:
            frozen = snapshot.freeze(db.database, path, read_only=db.read_only,
                                     immutable=db.immutable, connect=_raw_connect,
                                     lock_timeout_s=lock_timeout_s)
        except sqlite3.Error as exc:
            raise errors.translate(exc, str(self.store.path)) from exc
        try:
            _check_space(tmp.parent, frozen.nbytes, "the backup")
            total = frozen.page_count

            def on_chunk(done: int) -> None:
                if cancel is not None and cancel():
                    raise errors.Cancelled("copy cancelled; nothing was changed.")
                if progress is not None:
                    progress("copy", done // frozen.page_size, total)

            if progress is not None:
                progress("copy", 0, total)
            snapshot.copy_prefix(path, tmp, frozen.nbytes, on_chunk=on_chunk,
                                 chunk_bytes=snapshot.COPY_CHUNK_BYTES, copier=copier)
        finally:
            frozen.close()

    def _backup_api_copy(self, tmp: Path, progress: ProgressFn | None, cancel: CancelFn | None,
                         pages_per_step: int, lock_timeout_s: float) -> None:
        """Copy one snapshot of the live database into ``tmp`` with the backup API."""
        src = _raw_connect(self.store.db.database, lock_timeout_s)
        try:
            src.execute("BEGIN")
            # The first read starts the transaction: from here on this connection sees
            # one snapshot, and the backup copies exactly it, however others write.
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
            page_count, page_size = src.execute(
                "SELECT page_count, page_size FROM pragma_page_count, pragma_page_size"
            ).fetchone()
            _check_space(tmp.parent, page_count * page_size, "the backup")
            dst = sqlite3.connect(str(tmp), isolation_level=None)
            try:
                # A new private file: no journal, flushed once (fsync) after the copy.
                dst.execute("PRAGMA journal_mode=OFF")
                dst.execute("PRAGMA synchronous=OFF")
                watch = _StepWatch("copy", progress, cancel, lock_timeout_s, str(self.store.path))
                src.backup(dst, pages=pages_per_step, progress=watch, sleep=_BUSY_SLEEP_S)
            finally:
                dst.close()
        except sqlite3.Error as exc:
            raise errors.translate(exc, str(self.store.path)) from exc
        finally:
            if src.in_transaction:
                src.execute("ROLLBACK")
            src.close()

    # -- retention and schedule ------------------------------------------------------
    def forget(self, policy: RetentionPolicy, directory: str | os.PathLike[str] | None = None,
               *, dry_run: bool = False) -> RetentionPlan:
        """Apply a retention policy to this database's backups in ``directory``."""
        return forget(self.directory(directory), policy, source=str(self.store.path.resolve()),
                      dry_run=dry_run)

    def last_backup_time(self, directory: str | os.PathLike[str] | None = None) -> datetime | None:
        return last_backup_time(self.list(directory), str(self.store.path.resolve()))

    def due(self, schedule: Schedule, now: datetime | None = None,
            directory: str | os.PathLike[str] | None = None) -> bool:
        return is_due(self.last_backup_time(directory), schedule, now)

    def next_due(self, schedule: Schedule, now: datetime | None = None,
                 directory: str | os.PathLike[str] | None = None) -> datetime:
        return next_due(self.last_backup_time(directory), schedule, now)

    def run_if_due(self, schedule: Schedule, now: datetime | None = None,
                   directory: str | os.PathLike[str] | None = None, **kwargs: Any) -> ScheduledRun:
        """Back up when the newest backup is older than the interval, then apply retention.

        Drive it from a timer (GUI) or from cron (``sandbox-admin backup DB --every H``).
        """
        last = self.last_backup_time(directory)
        if not is_due(last, schedule, now):
            return ScheduledRun(False, next_due(last, schedule, now))
        result = self.create(directory, kind="scheduled", **kwargs)
        plan = self.forget(schedule.policy, directory) if not schedule.policy.empty else None
        if plan is not None:
            result.removed = list(plan.removed)
        return ScheduledRun(True, result.created_at + schedule.every, result, plan)

    # -- restore ---------------------------------------------------------------------
    def restore(
        self,
        backup: str | os.PathLike[str],
        *,
        safety_dir: str | os.PathLike[str] | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
        user_id: str = "",
        pages_per_step: int = DEFAULT_PAGES_PER_STEP,
        lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    ) -> RestoreResult:
        """Replace the live database's content with ``backup``'s; see the module docstring.

        ``progress`` phases, in order: "backup checksum", "backup verify", "safety copy",
        "safety checksum", "safety verify", "restore" (pages), "check", "checkpoint",
        "audit". Cancelling before "check" leaves the database as it was. Raises
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

        report = verify_backup(source, progress=_prefixed(progress, "backup "), cancel=cancel)
        if not report.restorable:
            raise errors.BackupInvalid(
                f"{source.name} cannot be restored: {report.reason().rstrip('.')}. "
                f"The database {store.path.name} was not changed.",
                detail="\n".join(report.problems),
            )
        previous, before_counts = self._describe_live()
        safety = self.create(safety_dir, kind="safety", progress=_prefixed(progress, "safety "),
                             cancel=cancel, pages_per_step=pages_per_step,
                             lock_timeout_s=lock_timeout_s)
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
            checkpointed = self._copy_in(copy_from, safety.path, progress, cancel, pages_per_step,
                                         lock_timeout_s)
        finally:
            if converted is not None:
                _unlink_quietly(converted)
        self._refresh_connections()
        result = self._after_restore(source, report, safety, previous, before_counts,
                                     checkpointed, user_id, started, progress)
        return result

    def _describe_live(self) -> tuple[int | None, dict[str, Any]]:
        """Schema version and row counts before the restore; a damaged database may not
        be able to count (that is often why it is being restored)."""
        try:
            return self.store.schema_version(), dict(self.store.row_counts())
        except (sqlite3.Error, peewee.PeeweeException, errors.StorageError) as exc:
            return None, {"error": str(errors.translate(exc, str(self.store.path)))}

    def _live_page_size_and_mode(self, lock_timeout_s: float) -> tuple[int, str]:
        conn = _raw_connect(self.store.db.database, lock_timeout_s)
        try:
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        finally:
            conn.close()
        return page_size, mode

    def _copy_in(self, source: Path, safety: Path, progress: ProgressFn | None,
                 cancel: CancelFn | None, pages_per_step: int, lock_timeout_s: float) -> bool:
        """The backup API from ``source`` into the live database: one write transaction."""
        live = str(self.store.path)
        src = _raw_connect(sqlite_uri(source, read_only=True, immutable=True), lock_timeout_s)
        # A short busy wait per step: control comes back to the step watch, which cancels
        # promptly and enforces lock_timeout_s over the whole wait.
        dst = _raw_connect(self.store.db.database, min(lock_timeout_s, 1.0))
        try:
            dst.execute("PRAGMA synchronous=FULL")  # the commit survives a power cut too
            watch = _StepWatch("restore", progress, cancel, lock_timeout_s, live)
            try:
                src.backup(dst, pages=pages_per_step, progress=watch, sleep=_BUSY_SLEEP_S)
            except errors.Cancelled as exc:
                raise errors.Cancelled(
                    f"Restore cancelled; the database was not changed (the safety backup "
                    f"{safety.name} was kept)."
                ) from exc
            if progress is not None:
                progress("check", 0, 1)
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


# -- helpers ------------------------------------------------------------------------------

def _unlink_quietly(path: Path) -> None:
    for p in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _publish(tmp: Path, folder: Path, created_at: datetime) -> Path:
    """Give the verified file its final, unique name, atomically (never overwrites)."""
    for seq in range(1000):
        target = folder / backup_name(created_at, seq)
        if target.exists() or sidecar_path(target).exists():
            continue
        try:
            os.link(tmp, target)  # fails if the name was taken meanwhile
        except FileExistsError:
            continue
        except OSError:  # no hard links here: reserve the name, then replace it
            try:
                fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                continue
            os.close(fd)
            os.replace(tmp, target)
        else:
            tmp.unlink()
        fsync_dir(folder)
        return target
    raise errors.StorageError(
        f"More than 1000 backups named for the same second in {folder}; try again in a second."
    )


def _convert_page_size(source: Path, target: Path, page_size: int) -> None:
    """Copy ``source`` to ``target`` with another page size (backup API, then VACUUM)."""
    src = _raw_connect(sqlite_uri(source, read_only=True, immutable=True), 5.0)
    dst = sqlite3.connect(str(target), isolation_level=None)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.execute(_PAGE_SIZE_SQL[page_size])
        dst.execute("VACUUM")
    except sqlite3.Error as exc:
        raise errors.translate(exc, str(source)) from exc
    finally:
        src.close()
        dst.close()

