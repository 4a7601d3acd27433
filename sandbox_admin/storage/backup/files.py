"""Backup files on disk: names, sidecar descriptions, checksums, verification, listing.

Everything here works on paths and needs no open store, so ``sandbox-admin verify``
and the listing can look at a backup without touching the live database.

Rules kept here:

- A backup is read only through ``immutable=1`` read-only connections (it is ours,
  nobody writes it), which never create ``-wal``/``-shm`` files beside it.
- A file is hashed or its header read *before* any SQLite connection to it exists
  (ARCHITECTURE.md: never open()/close() a database file this process has open).
- Names keep the Go server's pattern ``sandbox_runner_YYYYMMDD_HHMMSS.db`` (local time,
  as the Go server writes it). A second backup in the same second gets ``_001``,
  ``_002``… before ``.db``: ``.`` sorts before ``_``, so names still sort in time order.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import peewee

from .. import errors
from ..database import (
    PoolConfig,
    SandboxDatabase,
    inspect_file,
    row_counts,
    user_tables,
)
from ..fields import parse_timestamp, to_iso, to_utc, utcnow
from ..migrations import MigrationRunner, latest_version
from ..triggers import foreign_triggers

#: (phase, done, total): e.g. ("copy", 1200, 5000) pages, ("checksum", bytes, bytes).
ProgressFn = Callable[[str, int, int], None]
#: Asked now and then; returning True stops the operation (errors.Cancelled).
CancelFn = Callable[[], bool]

NAME_PREFIX = "sandbox_runner_"
NAME_RE = re.compile(r"^sandbox_runner_(\d{8})_(\d{6})(?:_(\d{3}))?\.db$")
SIDECAR_SUFFIX = ".json"
SIDECAR_FORMAT = "sandbox-admin-backup/1"
PARTIAL_MARK = ".partial-"
_HASH_CHUNK = 1 << 20
#: How many integrity_check messages are worth showing.
_INTEGRITY_LIMIT_SQL = "PRAGMA integrity_check(20)"
REQUIRED_TABLES = ("migrations", "sandboxes")

# Statuses in a listing.
VERIFIED = "verified"  # ours, with a description whose size still matches
UNVERIFIED = "unverified"  # opens, but nobody checked it (e.g. the Go server's)
BROKEN = "broken"  # does not open, or differs from its description


# -- names ----------------------------------------------------------------------------

def backup_name(when: datetime, seq: int = 0) -> str:
    """``sandbox_runner_YYYYMMDD_HHMMSS[_NNN].db`` in local time, as the Go server names them."""
    if not 0 <= seq <= 999:
        raise ValueError("backup sequence number must be 0..999")
    stamp = to_utc(when).astimezone().strftime("%Y%m%d_%H%M%S")
    return NAME_PREFIX + stamp + (f"_{seq:03d}" if seq else "") + ".db"


def parse_backup_name(name: str) -> tuple[datetime, int] | None:
    """(aware UTC time from the name, read as local time; sequence) or None."""
    match = NAME_RE.match(name)
    if not match:
        return None
    try:
        local = datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return to_utc(local.astimezone()), int(match.group(3) or 0)


def sidecar_path(backup: Path) -> Path:
    return backup.with_name(backup.name + SIDECAR_SUFFIX)


def read_sidecar(backup: Path) -> dict[str, Any] | None:
    """The description written beside one of our backups; None when there is none."""
    path = sidecar_path(backup)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"format": "unreadable", "error": str(exc)}
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        return {"format": "unreadable", "error": "not a sandbox-admin backup description"}
    return data


def write_sidecar(backup: Path, data: dict[str, Any]) -> Path:
    """Write the description atomically (temp file, fsync, rename)."""
    path = sidecar_path(backup)
    tmp = path.with_name("." + path.name + PARTIAL_MARK + str(os.getpid()))
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
    return path


def fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename is still atomic
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file we wrote through SQLite with synchronous=OFF. Call only when no
    connection to it is open."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path, progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> str:
    """Streamed sha256 of a file (call only while no SQLite connection to it holds locks:
    none, or an ``immutable=1`` one)."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with open(path, "rb", buffering=0) as handle:
        while True:
            chunk = handle.read(_HASH_CHUNK * 4)
            if not chunk:
                break
            digest.update(chunk)
            done += len(chunk)
            if cancel is not None and cancel():
                raise errors.Cancelled("Cancelled while computing the checksum; nothing was changed.")
            if progress is not None:
                progress("checksum", done, total)
    return digest.hexdigest()


# -- verification ------------------------------------------------------------------------

@dataclass
class VerifyReport:
    """Is this file a sound sandbox database, and may this program restore it?"""

    path: Path
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    restorable: bool = True
    refusal: str = ""  # why it must not be restored although it is sound (newer schema)
    schema_version: int | None = None
    pending_migrations: list[int] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    size_bytes: int = 0
    page_size: int = 0
    sha256: str = ""
    checksum_matches: bool | None = None  # None: no recorded checksum to compare with
    described: bool = False  # has one of our sidecar descriptions
    too_new: bool = False  # its schema is newer than this program knows
    #: integrity_check not run again: the file's sha256 is still the one its description
    #: recorded with a passing integrity_check (see ``reuse_recorded_check``)
    integrity_reused: bool = False

    def add(self, problem: str) -> None:
        self.ok = False
        self.restorable = False
        self.problems.append(problem)

    def reason(self) -> str:
        """One line saying why it cannot be restored."""
        if self.problems:
            return "; ".join(self.problems[:3]) + (" …" if len(self.problems) > 3 else "")
        return self.refusal

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ok": self.ok,
            "problems": self.problems,
            "restorable": self.restorable,
            "refusal": self.refusal,
            "schema_version": self.schema_version,
            "pending_migrations": self.pending_migrations,
            "tables": self.tables,
            "size_bytes": self.size_bytes,
            "page_size": self.page_size,
            "sha256": self.sha256,
            "checksum_matches": self.checksum_matches,
            "described": self.described,
            "integrity_reused": self.integrity_reused,
        }


def open_backup_readonly(path: Path) -> SandboxDatabase:
    """A backup file through an ``immutable=1`` read-only connection (close_all() it)."""
    return SandboxDatabase(path, read_only=True, immutable=True, pool=PoolConfig(max_open=2))


def _interrupt_handler(cancel: CancelFn | None) -> Callable[[], int] | None:
    if cancel is None:
        return None
    return lambda: 1 if cancel() else 0


def verify_backup(
    path: str | os.PathLike[str],
    *,
    expected_sha256: str | None = None,
    use_sidecar: bool = True,
    checksum: bool = True,
    reuse_recorded_check: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> VerifyReport:
    """Check a backup file completely: header, checksum, integrity_check, schema version.

    ``checksum=False`` leaves the sha256 out (a file just written, whose checksum is
    taken later). ``reuse_recorded_check`` (restore): when the description records a
    passing integrity_check and the file's sha256 is still the one recorded with it,
    these are the very bytes that passed, so the check is not run again; the schema
    (version, triggers, row counts) is still read. An explicit verification never
    reuses it.

    Never raises for a bad *file* (that is a finding, in ``problems``); raises
    :class:`errors.DatabaseNotFound` when there is no file, :class:`errors.Cancelled`.
    """
    p = Path(path).expanduser()
    report = VerifyReport(path=p)
    try:
        info = inspect_file(p)
    except errors.DatabaseNotFound:
        raise
    except errors.StorageError as exc:
        report.add(str(exc))
        return report
    report.size_bytes = info.size_bytes
    report.page_size = info.page_size
    wal = Path(f"{p}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        report.add(
            f"{wal.name} lies beside it: part of its content is in that file, which a backup "
            "must not need. Open it once with sqlite3 (to checkpoint) or use another backup."
        )
        return report

    sidecar = read_sidecar(p) if use_sidecar else None
    content = VerifyReport(path=p)
    recorded = _recorded_check(sidecar, report.size_bytes) if reuse_recorded_check else ""
    if recorded:
        report.sha256 = sha256_of(p, progress, cancel)
        content.integrity_reused = report.sha256 == recorded
        _verify_content(p, info, content, progress, cancel, integrity=not content.integrity_reused)
    elif checksum:
        # The checksum (a plain read of the file) and the content check (SQLite through
        # an immutable connection, which takes no locks, so a second descriptor is
        # harmless) read the same file at the same time: both release the GIL, the
        # slower one sets the pace. Findings are reported in the same order as one
        # after the other.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as pool:
            digest = pool.submit(sha256_of, p, progress, cancel)
            try:
                _verify_content(p, info, content, progress, cancel)
            finally:
                report.sha256 = digest.result()
    else:
        _verify_content(p, info, content, progress, cancel)
    report.integrity_reused = content.integrity_reused
    if sidecar is not None:
        report.described = True
        if sidecar.get("format") == "unreadable":
            report.add(f"its description {sidecar_path(p).name} is unreadable ({sidecar.get('error')})")
        else:
            expected_sha256 = expected_sha256 or sidecar.get("sha256")
            if sidecar.get("size_bytes") not in (None, report.size_bytes):
                report.add(
                    f"its size is {report.size_bytes:,} bytes but it was {sidecar['size_bytes']:,} "
                    "bytes when it was made: the file was changed or damaged."
                )
    if expected_sha256:
        report.checksum_matches = expected_sha256 == report.sha256
        if not report.checksum_matches:
            report.add(
                "its sha256 differs from the one recorded when it was made: the file was "
                "changed or damaged since. Use another backup."
            )
    sound_before = report.ok
    for problem in content.problems:
        report.add(problem)
    if not content.restorable:
        report.restorable = False
    # As when checked one after the other: a newer schema is always the refusal, foreign
    # triggers only for a file with no problem found before the content check.
    if content.too_new or sound_before:
        report.refusal = content.refusal
    report.schema_version = content.schema_version
    report.pending_migrations = content.pending_migrations
    report.tables = content.tables
    return report


def _recorded_check(sidecar: dict[str, Any] | None, size_bytes: int) -> str:
    """The sha256 a description recorded with a passing integrity_check of a file of
    this size ("" when it recorded none)."""
    if not sidecar or sidecar.get("format") != SIDECAR_FORMAT:
        return ""
    if not (sidecar.get("verified") is True and sidecar.get("integrity_check") == "ok"):
        return ""
    if sidecar.get("size_bytes") != size_bytes:
        return ""
    sha = sidecar.get("sha256")
    return sha if isinstance(sha, str) and len(sha) == 64 else ""


def _verify_content(
    p: Path, info: Any, report: VerifyReport, progress: ProgressFn | None, cancel: CancelFn | None,
    *, integrity: bool = True,
) -> None:
    db = open_backup_readonly(p)
    try:
        with db.connection_context():
            handler = _interrupt_handler(cancel)
            if handler is not None:
                db.connection().set_progress_handler(handler, 20000)
            if progress is not None:
                progress("verify", 0, 1)
            rows = db.execute_sql(_INTEGRITY_LIMIT_SQL).fetchall() if integrity else []
            bad = [str(r[0]) for r in rows if r[0] != "ok"]
            for line in bad:
                report.add(f"integrity_check: {line}")
            if bad:
                return
            names = set(user_tables(db))
            missing = [t for t in REQUIRED_TABLES if t not in names]
            if missing:
                report.add(
                    "it is an SQLite database but not a SandboxRunner one (no "
                    f"{' or '.join(missing)} table)"
                )
                return
            status = MigrationRunner(db).status()
            report.schema_version = status.current
            report.pending_migrations = list(status.pending)
            for problem in status.problems:
                report.add(f"migrations: {problem}")
            if status.too_new:
                report.too_new = True
                report.restorable = False
                report.refusal = (
                    f"its schema version {max(status.unknown)} is newer than this sandbox-admin "
                    f"knows ({latest_version()}); upgrade sandbox-admin to restore it"
                )
            strangers = foreign_triggers(db)
            if strangers and report.restorable:
                report.restorable = False
                report.refusal = (
                    f"it carries triggers this program did not create ({', '.join(strangers)}), "
                    "which would run on the restored database's next writes; drop them from a "
                    "copy of it, or use another backup")
            report.tables = row_counts(db)
            if progress is not None:
                progress("verify", 1, 1)
    except errors.Cancelled:
        raise
    except (sqlite3.Error, peewee.PeeweeException, errors.StorageError) as exc:
        translated = errors.translate(exc, str(p))
        if isinstance(translated, errors.Cancelled):
            raise translated from exc
        if isinstance(translated, errors.CorruptDatabase):
            report.add(f"it is damaged: SQLite says {translated.detail or exc!s}")
        else:
            report.add(str(translated))
    finally:
        db.close_all()


# -- listing ---------------------------------------------------------------------------

@dataclass
class BackupInfo:
    """One backup file in a folder, as cheaply as it can be described."""

    path: Path
    created_at: datetime
    size_bytes: int
    status: str  # VERIFIED / UNVERIFIED / BROKEN
    origin: str  # "sandbox-admin" (has our description) or "go" (the Go server's name only)
    kind: str = ""  # manual / scheduled / safety (ours)
    schema_version: int | None = None
    sha256: str = ""
    source_path: str = ""
    tables: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return self.status == VERIFIED

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "name": self.path.name,
            "created_at": to_iso(self.created_at),
            "size_bytes": self.size_bytes,
            "schema_version": self.schema_version,
            "status": self.status,
            "verified": self.verified,
            "origin": self.origin,
            "kind": self.kind,
            "sha256": self.sha256,
            "source_path": self.source_path,
            "tables": self.tables,
            "problems": self.problems,
        }


def describe_backup(path: Path) -> BackupInfo:
    """A cheap look at one backup file: its description, or its header and schema version.

    (Full checking - checksum and integrity_check - is :func:`verify_backup`.)
    """
    parsed = parse_backup_name(path.name)
    try:
        stat = path.stat()
    except OSError as exc:
        return BackupInfo(path, utcnow(), 0, BROKEN, "go", problems=[f"cannot read it: {exc}"])
    created = parsed[0] if parsed else datetime.fromtimestamp(stat.st_mtime).astimezone()
    sidecar = read_sidecar(path)
    if sidecar is not None and sidecar.get("format") == SIDECAR_FORMAT:
        entry = BackupInfo(
            path,
            parse_timestamp(sidecar.get("created_at")) or to_utc(created),
            stat.st_size,
            VERIFIED if sidecar.get("verified") else UNVERIFIED,
            "sandbox-admin",
            kind=str(sidecar.get("kind", "")),
            schema_version=sidecar.get("schema_version"),
            sha256=str(sidecar.get("sha256", "")),
            source_path=str(sidecar.get("source_path", "")),
            tables=dict(sidecar.get("tables") or {}),
        )
        if not sidecar.get("verified") and sidecar.get("problems"):
            entry.status = BROKEN  # e.g. a safety backup of a damaged database
            entry.problems.extend(str(p) for p in sidecar["problems"])
        elif sidecar.get("size_bytes") != stat.st_size:
            entry.status = BROKEN
            entry.problems.append(
                f"size is {stat.st_size:,} bytes, {sidecar.get('size_bytes')!r} when it was made"
            )
        else:
            problem = _header_problem(path)
            if problem is not None:
                entry.status = BROKEN
                entry.problems.append(problem)
        return entry
    entry = BackupInfo(path, to_utc(created), stat.st_size, UNVERIFIED, "go")
    if sidecar is not None:  # ours, but the description is unreadable
        entry.origin = "sandbox-admin"
        entry.problems.append(f"description unreadable: {sidecar.get('error')}")
    problem = _header_problem(path)
    if problem is not None:
        entry.status = BROKEN
        entry.problems.append(problem)
        return entry
    db = open_backup_readonly(path)
    try:
        with db.connection_context():
            entry.schema_version = MigrationRunner(db).status().current
    except (sqlite3.Error, peewee.PeeweeException, errors.StorageError) as exc:
        entry.status = BROKEN
        entry.problems.append(str(errors.translate(exc, str(path))))
    finally:
        db.close_all()
    return entry


def _header_problem(path: Path) -> str | None:
    try:
        inspect_file(path)
    except errors.StorageError as exc:
        return str(exc)
    return None


def list_backups(directory: str | os.PathLike[str]) -> list[BackupInfo]:
    """Our backups and the Go server's (``sandbox_runner_*.db``) in a folder, newest first."""
    folder = Path(directory).expanduser()
    if not folder.is_dir():
        return []
    entries = [describe_backup(p) for p in folder.iterdir() if NAME_RE.match(p.name) and p.is_file()]
    entries.sort(key=lambda e: (e.created_at, e.path.name), reverse=True)
    return entries


def remove_stale_partials(directory: Path, max_age_s: float = 86400.0) -> list[Path]:
    """Delete leftovers of backups that were interrupted (their process is gone)."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    now = utcnow().timestamp()
    for p in directory.iterdir():
        if not (p.name.startswith("." + NAME_PREFIX) and PARTIAL_MARK in p.name):
            continue
        pid_text = p.name.split(PARTIAL_MARK, 1)[1].split("-", 1)[0]
        alive = _process_alive(int(pid_text)) if pid_text.isdigit() else False
        try:
            old = now - p.stat().st_mtime > max_age_s
        except OSError:
            continue
        if not alive or old:
            try:
                p.unlink()
                removed.append(p)
            except FileNotFoundError:
                pass
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # cannot tell cheaply: rely on the age limit
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
