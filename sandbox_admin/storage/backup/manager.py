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
verified (integrity_check, schema version, row counts), hashed and fsynced - the
three side by side, each reading the file once - and only then renamed to a unique
``sandbox_runner_YYYYMMDD_HHMMSS[_NNN].db`` with a JSON description beside it. Never
a file copy of a live database; no SQL holds a path.

**Restore** (:meth:`BackupManager.restore`) verifies the backup completely (refusing
a broken, truncated, foreign or newer-schema file with the live database untouched)
while it takes a safety backup of the live database (both must succeed; a refused
backup leaves no safety backup), then copies the backup *into* the live database with
the backup API. The destination is written in one write transaction: in WAL mode the
commit is a single WAL frame, so a kill at any moment leaves the old or the new
content, other processes see the old or the new content (never a mix), and no file is
deleted or renamed under anybody's open connections. The price is writing the pages
twice (the WAL, then the checkpoint). Then a check - the pages came from a file that
passed integrity_check and is unchanged since, so its page count and schema are read
back; a full integrity_check when the file changed or was converted to another page
size - a checkpoint, an audit entry, and this process's idle pooled connections are
closed (the ones in use re-read the changed database by themselves).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import __version__
from .. import errors
from ..database import raw_connection
from ..fields import to_iso, utcnow
from . import snapshot
from .files import (
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
    sha256_of,
    sidecar_path,
    verify_backup,
    write_sidecar,
)
from .policy import (
    RetentionPlan,
    RetentionPolicy,
    Schedule,
    ScheduledRun,
    forget,
    future_backups,
    is_due,
    last_backup_time,
    next_due,
)
from .restore import Restore, RestoreResult
from .steps import (
    BUSY_SLEEP_S,
    DEFAULT_LOCK_TIMEOUT_S,
    DEFAULT_PAGES_PER_STEP,
    StepWatch,
    check_space,
    unlink_quietly,
)

if TYPE_CHECKING:
    from ..store import Store

__all__ = [
    "BackupManager", "BackupResult", "RestoreResult", "BackupInfo", "VerifyReport",
    "RetentionPolicy", "RetentionPlan", "Schedule", "ScheduledRun", "verify_backup",
    "list_backups", "describe_backup", "forget", "backup_name", "parse_backup_name",
    "VERIFIED", "UNVERIFIED", "BROKEN", "DEFAULT_PAGES_PER_STEP", "read_sidecar",
    "SNAPSHOT_COPY", "BACKUP_API",
]

SNAPSHOT_COPY = snapshot.SNAPSHOT_COPY
BACKUP_API = snapshot.BACKUP_API



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


class BackupManager:
    """Backups of one open store: create, list, verify, restore, retention, schedule."""

    def __init__(self, store: "Store") -> None:
        self.store = store

    # -- where ------------------------------------------------------------------------
    def directory(self, directory: str | os.PathLike[str] | None = None) -> Path:
        """``directory``, or the store's ``backups_dir`` (the caller's default)."""
        if directory is not None:
            return Path(directory).expanduser()
        if self.store.backups_dir is None:
            raise errors.InvalidInput("No backups folder was given; choose one.")
        return self.store.backups_dir

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
        checksum_later: bool = False,
    ) -> BackupResult:
        """A consistent online backup, verified and described, in ``directory``.

        ``keep`` applies a retention policy to this database's backups afterwards.
        ``checksum_later``: describe it without its sha256, which the caller then adds
        with :meth:`record_checksum` (a restore, so that its commit does not wait for it).
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
            folder.mkdir(parents=True, exist_ok=True)
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
            # Flushing (waits on the disk) runs while the file is verified (CPU): our
            # writing connection is closed and verification takes no locks, so another
            # descriptor is harmless. The file is published only after both.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fsync") as pool:
                flushed = pool.submit(fsync_file, tmp)
                try:
                    report = verify_backup(tmp, use_sidecar=False, checksum=not checksum_later,
                                           progress=progress, cancel=cancel)
                finally:
                    flushed.result()
            # A safety backup is kept even when the live database is damaged (that is
            # when people restore); it is described as damaged instead of verified.
            if not report.ok and kind != "safety":
                raise errors.BackupInvalid(
                    f"The new backup of {self.store.path.name} failed verification "
                    f"({report.reason()}); it was discarded. A full integrity check of the "
                    "database says what is wrong.", detail="\n".join(report.problems),
                    cli_hint=f"sandbox-admin check {self.store.path}",
                )
            final = _publish(tmp, folder, created_at)
        except BaseException:
            unlink_quietly(tmp)
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
        try:
            self._describe(final, result, report)
        except BaseException as exc:
            # A backup is published with its description or not at all.
            unlink_quietly(final)
            unlink_quietly(sidecar_path(final))
            if isinstance(exc, OSError):
                raise errors.translate(exc, str(final)) from exc
            raise
        if keep is not None and not keep.empty:
            plan = forget(folder, keep, source=result.source_path)
            result.removed = list(plan.removed)
        return result

    def record_checksum(self, result: BackupResult) -> BackupResult:
        """Add the sha256 to a backup described without it (``checksum_later``)."""
        try:
            sha256 = sha256_of(result.path)
            description = read_sidecar(result.path)
            if description is None or description.get("format") != SIDECAR_FORMAT:
                raise errors.StorageError(f"The description of {result.path.name} is missing or unreadable.")
            description["sha256"] = sha256
            write_sidecar(result.path, description)
        except OSError as exc:
            raise errors.translate(exc, str(result.path)) from exc
        return replace(result, sha256=sha256)

    def _describe(self, final: Path, result: BackupResult, report: Any) -> None:
        write_sidecar(final, {
            "format": SIDECAR_FORMAT,
            "created_at": to_iso(result.created_at),
            "kind": result.kind,
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
                unlink_quietly(tmp)
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
                                     immutable=db.immutable,
                                     connect=lambda uri, t: raw_connection(uri, timeout_s=t),
                                     lock_timeout_s=lock_timeout_s)
        except sqlite3.Error as exc:
            raise errors.translate(exc, str(self.store.path)) from exc
        try:
            check_space(tmp.parent, frozen.nbytes, "the backup")
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
        src = raw_connection(self.store.db.database, timeout_s=lock_timeout_s)
        try:
            src.execute("BEGIN")
            # The first read starts the transaction: from here on this connection sees
            # one snapshot, and the backup copies exactly it, however others write.
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
            page_count, page_size = src.execute(
                "SELECT page_count, page_size FROM pragma_page_count, pragma_page_size"
            ).fetchone()
            check_space(tmp.parent, page_count * page_size, "the backup")
            dst = sqlite3.connect(str(tmp), isolation_level=None)
            try:
                # A new private file: no journal, flushed once (fsync) after the copy.
                dst.execute("PRAGMA journal_mode=OFF")
                dst.execute("PRAGMA synchronous=OFF")
                watch = StepWatch("copy", progress, cancel, lock_timeout_s, str(self.store.path))
                src.backup(dst, pages=pages_per_step, progress=watch, sleep=BUSY_SLEEP_S)
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

    def last_backup_time(self, directory: str | os.PathLike[str] | None = None,
                         now: datetime | None = None) -> datetime | None:
        return last_backup_time(self.list(directory), str(self.store.path.resolve()), now)

    def future_backups(self, directory: str | os.PathLike[str] | None = None,
                       now: datetime | None = None) -> list[BackupInfo]:
        """Backups of this database stamped in the future (schedules ignore them)."""
        return future_backups(self.list(directory), str(self.store.path.resolve()), now)

    def due(self, schedule: Schedule, now: datetime | None = None,
            directory: str | os.PathLike[str] | None = None) -> bool:
        return is_due(self.last_backup_time(directory, now), schedule, now)

    def next_due(self, schedule: Schedule, now: datetime | None = None,
                 directory: str | os.PathLike[str] | None = None) -> datetime:
        return next_due(self.last_backup_time(directory, now), schedule, now)

    def run_if_due(self, schedule: Schedule, now: datetime | None = None,
                   directory: str | os.PathLike[str] | None = None, **kwargs: Any) -> ScheduledRun:
        """Back up when the newest backup is older than the interval, then apply retention.

        Drive it from a timer (GUI) or from cron (``sandbox-admin backup DB --every H``).
        """
        last = self.last_backup_time(directory, now)
        if not is_due(last, schedule, now):
            return ScheduledRun(False, next_due(last, schedule, now))
        result = self.create(directory, kind="scheduled", **kwargs)
        plan = self.forget(schedule.policy, directory) if not schedule.policy.empty else None
        if plan is not None:
            result.removed = list(plan.removed)
        return ScheduledRun(True, result.created_at + schedule.every, result, plan)

    # -- restore ---------------------------------------------------------------------
    def restore(self, backup: str | os.PathLike[str], **kwargs: Any) -> RestoreResult:
        """Replace the live database's content with ``backup``'s (see restore.py).

        Keywords: ``safety_dir``, ``progress``, ``cancel``, ``user_id``,
        ``pages_per_step``, ``lock_timeout_s``.
        """
        return Restore(self).run(backup, **kwargs)

# -- helpers ------------------------------------------------------------------------------

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


