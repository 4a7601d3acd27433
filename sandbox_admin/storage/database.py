"""Connections: pragmas, pooling, read-only and defensive opening, query statistics.

Nothing here knows about sandboxes. :func:`inspect_file` reads a file's header
*before* any connection to it exists (ARCHITECTURE.md: never open()/close() a
database file this process already has open), and :func:`connect` returns a pooled
Peewee database configured for the way the file is to be used.
"""

from __future__ import annotations

import functools
import heapq
import os
import sqlite3
import stat
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import peewee
from playhouse.pool import PooledSqliteDatabase

from . import errors

SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class PoolConfig:
    """The seed's pool defaults: 10 open, 5 idle, 1 h lifetime, 10 min idle."""

    max_open: int = 10
    max_idle: int = 5
    max_lifetime_s: int = 3600
    max_idle_time_s: int = 600
    busy_timeout_ms: int = 5000


@dataclass(frozen=True)
class FileInfo:
    """What a database file's 100-byte header says, read without SQLite."""

    path: Path
    size_bytes: int
    page_size: int
    page_count: int
    wal_mode: bool
    has_wal_file: bool
    has_shm_file: bool
    #: a rollback journal with content: a transaction interrupted by a kill or a crash
    hot_journal: bool = False
    #: a -wal with frames but no -shm: nobody has the database open, and reading the WAL
    #: would create -shm (read-only opens read the main file alone and say so)
    orphan_wal: bool = False


def _writable_on_disk(path: Path) -> bool:
    """Respect the write bits even for root, who os.access() says may write anything."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(path, os.W_OK)


def not_a_regular_file(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)", "a device"...), or None."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _refuse_non_regular(p: Path, mode: int) -> None:
    kind = not_a_regular_file(mode)
    if kind is not None:
        raise errors.NotASandboxDatabase(
            f"{p} is {kind}, not a database file; nothing was read from it. "
            "Choose a SandboxRunner .db file.")


def _read_header(p: Path) -> tuple[bytes, int]:
    """The first 100 bytes and the size of a regular file. Opened non-blocking and
    checked with fstat before any read, so a FIFO or a device is refused at once
    instead of waiting for a writer forever."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        _refuse_non_regular(p, os.stat(p).st_mode)  # sockets cannot even be opened
        fd = os.open(p, flags)
    except PermissionError as exc:
        raise errors.CannotOpen(f"{p} cannot be read: {exc.strerror}. Check its permissions.") from exc
    except OSError as exc:
        raise errors.CannotOpen(f"{p} cannot be opened: {exc.strerror or exc}.") from exc
    try:
        st = os.fstat(fd)
        _refuse_non_regular(p, st.st_mode)
        header = os.pread(fd, 100, 0) if hasattr(os, "pread") else os.read(fd, 100)
        return header, st.st_size
    except errors.StorageError:
        raise
    except OSError as exc:
        raise errors.CannotOpen(f"{p} cannot be read: {exc.strerror or exc}.") from exc
    finally:
        os.close(fd)


def inspect_file(path: str | os.PathLike[str]) -> FileInfo:
    """Check that ``path`` looks like a whole SQLite file; raise a person-readable error if not."""
    p = Path(path)
    if p.is_dir():
        raise errors.NotASandboxDatabase(f"{p} is a folder, not a database file. Choose a .db file.")
    if not p.exists():
        raise errors.DatabaseNotFound(f"{p} does not exist. Check the path, or create a new database.")
    header, size = _read_header(p)
    if size == 0:
        raise errors.NotASandboxDatabase(f"{p} is empty (0 bytes): it is not a sandbox database.")
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise errors.NotASandboxDatabase(
            f"{p} is not an SQLite database (its first bytes are not an SQLite header). "
            "Choose a SandboxRunner .db file."
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise errors.CorruptDatabase(f"{p} has a damaged header (page size {page_size}).")
    page_count = int.from_bytes(header[28:32], "big")
    counter_valid = header[24:28] == header[92:96]
    wal = Path(f"{p}-wal")
    wal_has_frames = wal.exists() and wal.stat().st_size > 32
    if wal_has_frames:
        # A checkpoint interrupted by a crash can leave page 1 (with the new page count)
        # written before the file was extended; the pages are still in the -wal and
        # SQLite's recovery completes the file. Only SQLite can judge such a file.
        pass
    elif counter_valid and page_count and size < page_size * page_count:
        raise errors.CorruptDatabase(
            f"{p} is truncated: {size:,} bytes where its header promises "
            f"{page_size * page_count:,}. Restore it from a backup."
        )
    if size % page_size and not wal_has_frames:
        raise errors.CorruptDatabase(
            f"{p} is truncated or damaged: {size:,} bytes is not a whole number of "
            f"{page_size}-byte pages. Restore it from a backup."
        )
    shm = Path(f"{p}-shm")
    if wal_has_frames:
        _check_wal_belongs(p, wal, shm, page_size)
    return FileInfo(
        path=p,
        size_bytes=size,
        page_size=page_size,
        page_count=page_count if counter_valid else size // page_size,
        wal_mode=header[18] == 2 or header[19] == 2,
        has_wal_file=wal.exists(),
        has_shm_file=shm.exists(),
        hot_journal=_hot_journal(Path(f"{p}-journal")),
        orphan_wal=wal_has_frames and not shm.exists(),
    )


_WAL_MAGIC = (0x377F0682, 0x377F0683)
_JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


def _read_start(path: Path, n: int) -> bytes:
    """The first ``n`` bytes of a regular file (b"" for anything else or on error)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return os.read(fd, n)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _hot_journal(journal: Path) -> bool:
    return _read_start(journal, 8) == _JOURNAL_MAGIC


def _salt_matches(wal: Path, shm: Path, header: bytes, tries: int = 3) -> bool:
    """Does the -shm's WAL index describe this -wal (same salt)? A live writer may be
    between two updates (the -shm is read without locks): a mismatch is read again."""
    for attempt in range(tries):
        index = _read_start(shm, 48)
        if len(index) < 40 or index[12] != 1:  # no -shm, or it describes no WAL yet
            return True
        mx_frame = int.from_bytes(index[16:20], sys.byteorder)
        # SQLite copies the salt bytes from the WAL header into the -shm as they are
        if not mx_frame or index[32:40] == header[16:24]:
            return True
        if attempt + 1 < tries:
            time.sleep(0.05)
            header = _read_start(wal, 32) or header
    return False


def _check_wal_belongs(p: Path, wal: Path, shm: Path, page_size: int) -> None:
    """Refuse a -wal that cannot be this database's: SQLite would copy its pages into the
    database at the next checkpoint. Its header must be a WAL header with the database's
    page size and, when a -shm is there, the salt the -shm recorded for it."""
    header = _read_start(wal, 32)
    if len(header) < 32:
        return
    magic, _version, wal_page_size = (int.from_bytes(header[i:i + 4], "big") for i in (0, 4, 8))
    if magic not in _WAL_MAGIC:
        return  # not a valid WAL header: SQLite ignores such a file
    why = ""
    if wal_page_size != page_size:
        why = f"its page size is {wal_page_size}, the database's is {page_size}"
    elif not _salt_matches(wal, shm, header):
        why = f"its salt differs from the one {shm.name} recorded for the database's WAL"
    if why:
        raise errors.ForeignWal(
            f"{wal.name} beside {p.name} does not belong to it ({why}): it may come from another "
            "database. Nothing was opened or changed. If the database's own WAL was lost, move "
            f"{wal.name} (and {shm.name}) away and open it again, or restore a backup.")


#: An orphan WAL is tried on a private copy only up to this size (database + WAL).
ORPHAN_WAL_TRIAL_LIMIT = 512 * 1024 * 1024


def check_orphan_wal(info: FileInfo) -> None:
    """Before a writable open of a database whose ``-wal`` has no ``-shm`` (nobody has it
    open; SQLite will replay the WAL and checkpoint it into the database): replay it on a
    private copy first. If the database alone is sound and with the WAL it is not, the
    WAL is not this database's: refuse, changing nothing. Call before any connection."""
    import shutil
    import tempfile

    if not info.orphan_wal:
        return
    p, wal = info.path, Path(f"{info.path}-wal")
    try:
        if p.stat().st_size + wal.stat().st_size > ORPHAN_WAL_TRIAL_LIMIT:
            return
    except OSError:
        return

    def sound(uri: str) -> bool:
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error:
            return False
        try:
            conn.execute("PRAGMA trusted_schema=OFF")
            if conn.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok":
                return False
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            return "migrations" in names
        except sqlite3.Error:
            return False
        finally:
            conn.close()

    try:
        with tempfile.TemporaryDirectory(prefix="sandbox-admin-wal-") as folder:
            copy = Path(folder) / "trial.db"
            shutil.copyfile(p, copy)
            shutil.copyfile(wal, Path(f"{copy}-wal"))
            with_wal = sound(sqlite_uri(copy, read_only=False))
    except OSError:
        return  # no room for a trial: SQLite's own checks are all there is
    if not with_wal and sound(sqlite_uri(p, read_only=True, immutable=True)):
        raise errors.ForeignWal(
            f"{wal.name} beside {p.name} does not belong to it: the database is sound without "
            "it and damaged with it (it may come from another database). Nothing was opened or "
            f"changed. Move {wal.name} away and open the database again.")


def other_users(path: str | os.PathLike[str], *, recent_s: float = 60.0) -> list[str]:
    """Signs that other programs use the database now: a process holding its WAL index
    (``-shm``) open, or a write within ``recent_s`` seconds. Call it only while this
    process has no connection to the database: it opens and closes the ``-shm`` file,
    and closing a file drops every POSIX lock this process holds on it."""
    p = Path(path)
    signs: list[str] = []
    shm = Path(f"{p}-shm")
    pid = _shm_holder(shm)
    if pid:
        signs.append(f"process {pid} has it open")
    now = time.time()
    for name in (Path(f"{p}-wal"), Path(f"{p}-journal")):  # a closed database has neither
        try:
            st = name.stat()
        except OSError:
            continue
        age = now - st.st_mtime
        if st.st_size > 0 and 0 <= age < recent_s:
            signs.append(f"{name.name} was written {age:.0f} s ago")
            break
    return signs


def _shm_holder(shm: Path) -> int | None:
    """The pid of a process holding SQLite's lock on a ``-shm`` file (every connection
    to a WAL database keeps a shared lock on its byte 128), asked with F_GETLK, which
    takes no lock. Linux only; None elsewhere or when nobody holds it."""
    if not sys.platform.startswith("linux"):
        return None
    import fcntl
    import struct

    try:
        fd = os.open(shm, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        layout = "hhqqi4x"  # struct flock on 64-bit Linux
        query = struct.pack(layout, fcntl.F_WRLCK, os.SEEK_SET, 128, 1, 0)
        answer = struct.unpack(layout, fcntl.fcntl(fd, fcntl.F_GETLK, query))
        return answer[4] if answer[0] != fcntl.F_UNLCK else None
    except (OSError, struct.error):
        return None
    finally:
        os.close(fd)


def sqlite_uri(path: Path, *, read_only: bool, immutable: bool = False) -> str:
    """A ``file:`` URI with the path percent-encoded (no string formatting into SQL)."""
    uri = "file:" + quote(str(path.resolve()))
    params = []
    if read_only:
        params.append("mode=ro")
    if immutable:
        params.append("immutable=1")
    return uri + ("?" + "&".join(params) if params else "")


#: A text factory that never fails: invalid UTF-8 becomes U+FFFD.
lenient_text = functools.partial(str, encoding="utf-8", errors="replace")


@dataclass
class QueryStats:
    """The seed's "storage metrics": counts of queries, transactions and errors."""

    queries: int = 0
    errors: int = 0
    transactions: int = 0
    rollbacks: int = 0
    query_seconds: float = 0.0
    slowest_seconds: float = 0.0
    slowest_sql: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, event: peewee.QueryEvent) -> None:  # type: ignore[name-defined]
        with self._lock:
            self.queries += 1
            self.query_seconds += event.duration
            if event.exception is not None:
                self.errors += 1
            if event.duration > self.slowest_seconds:
                self.slowest_seconds = event.duration
                self.slowest_sql = event.sql[:200]

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "queries": self.queries,
            "errors": self.errors,
            "transactions": self.transactions,
            "rollbacks": self.rollbacks,
            "query_seconds": round(self.query_seconds, 6),
            "slowest_seconds": round(self.slowest_seconds, 6),
            "slowest_sql": self.slowest_sql,
        }


class SandboxDatabase(PooledSqliteDatabase):
    """A pooled SQLite database that knows how it was opened and counts what it does."""

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool,
        immutable: bool = False,
        pool: PoolConfig = PoolConfig(),
    ) -> None:
        self.path = path
        self.read_only = read_only
        self.immutable = immutable
        self.pool_config = pool
        self.stats = QueryStats()
        pragmas = [
            ("foreign_keys", 1),
            ("cache_size", -64000),
            ("temp_store", "MEMORY"),
            ("busy_timeout", pool.busy_timeout_ms),
            ("trusted_schema", "OFF"),  # untrusted files: no SQL functions from the schema
            ("cell_size_check", "ON"),
        ]
        if not read_only:
            pragmas.append(("synchronous", "NORMAL"))
        super().__init__(
            sqlite_uri(path, read_only=read_only, immutable=immutable),
            uri=True,
            pragmas=pragmas,
            max_connections=pool.max_open,
            stale_timeout=pool.max_lifetime_s,
            timeout=pool.busy_timeout_ms / 1000,
            check_same_thread=False,
        )
        self._timeout = pool.busy_timeout_ms / 1000  # sqlite3.connect's own busy wait
        self.query_hooks.append(self.stats.record)
        self._idle_since: dict[int, float] = {}

    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()
        # Text that is not UTF-8 (a hostile or damaged row) reads as U+FFFD instead of
        # failing the whole query: the row stays visible, the rest of the page works.
        conn.text_factory = lenient_text
        # Extensions stay off: Python's sqlite3 never enables load_extension by default,
        # and we never call enable_load_extension(True).
        return conn

    @contextmanager
    def write_transaction(self) -> Iterator[None]:
        """One transaction: committed on success, rolled back (and counted) on error.

        Errors come out translated into :mod:`storage.errors`.
        """
        if self.read_only:
            raise errors.ReadOnly(
                f"{self.path.name} is open read-only; reopen it for writing to change it."
            )
        self.stats.transactions += 1
        outermost = not self.in_transaction()
        try:
            with self.atomic("IMMEDIATE"):  # nested: a savepoint
                if outermost:  # checked inside the transaction: the schema cannot change
                    self.refuse_foreign_triggers()
                yield
        except errors.StorageError:
            self.stats.rollbacks += 1
            raise
        except (sqlite3.Error, peewee.PeeweeException) as exc:
            self.stats.rollbacks += 1
            raise errors.translate(exc, str(self.path)) from exc
        except BaseException:
            self.stats.rollbacks += 1
            raise

    def rollback(self) -> None:
        """Roll back, unless SQLite already did: after SQLITE_FULL (and some I/O errors)
        it rolls the transaction back itself, and a second ROLLBACK would replace the real
        error with "cannot rollback - no transaction is active"."""
        if not self.is_closed() and not self.connection().in_transaction:
            return
        super().rollback()

    def execute_sql(self, sql, params=None):  # type: ignore[no-untyped-def, override]
        if (isinstance(sql, str) and sql.startswith("ROLLBACK TO SAVEPOINT") and not self.is_closed()
                and not self.connection().in_transaction):
            return self.cursor()  # see rollback(): the transaction is already gone
        return super().execute_sql(sql, params)

    def refuse_foreign_triggers(self) -> None:
        """Raise errors.ForeignTriggers when a trigger we did not create is present; every
        write transaction (and migration) calls this first (see triggers.py)."""
        from .triggers import refuse_foreign_triggers

        refuse_foreign_triggers(self, self.path.name)

    def _close(self, conn: sqlite3.Connection, close_conn: bool = False) -> None:
        """Check a connection back in, then apply the idle policy to the pool."""
        super()._close(conn, close_conn)
        if not close_conn:
            with self._pool_lock:
                self._idle_since[id(conn)] = time.time()
            self.close_idle_older_than()

    def close_idle_older_than(self, seconds: float | None = None) -> None:
        """The idle part of the pool policy, which peewee's pool lacks (it knows only a
        connection's lifetime): at most ``max_idle`` idle connections, none idle for
        longer than ``max_idle_time_s`` (or ``seconds``); the most recently used stay."""
        limit = self.pool_config.max_idle_time_s if seconds is None else seconds
        with self._pool_lock:
            now = time.time()
            idle = sorted(self._connections,
                          key=lambda e: self._idle_since.get(id(e[2]), e[0]), reverse=True)
            keep = []
            for entry in idle:
                conn = entry[2]
                since = self._idle_since.get(id(conn), entry[0])
                if now - since > limit or len(keep) >= self.pool_config.max_idle:
                    self._idle_since.pop(id(conn), None)
                    self._close_raw(conn)
                else:
                    keep.append(entry)
            heapq.heapify(keep)
            self._connections = keep

    def data_version(self) -> int:
        """PRAGMA data_version: changes when *another* connection commits."""
        return int(self.execute_sql("PRAGMA data_version").fetchone()[0])


#: The SQLite library this process runs (for status bars and About boxes).
SQLITE_VERSION = sqlite3.sqlite_version


def library_versions() -> dict[str, str]:
    """The storage libraries in use, by name (SQLite, Peewee)."""
    return {"SQLite": sqlite3.sqlite_version, "Peewee": peewee.__version__}


def raw_connection(uri: str, *, timeout_s: float = 5.0, query_only: bool = False) -> sqlite3.Connection:
    """A connection outside the pool, for what Peewee cannot do (the backup API, PRAGMAs
    on a connection of our own, change polling). The defensive pragmas are set here, in
    one place: no SQL functions from the schema (``trusted_schema=OFF``), no extension
    loading (never enabled), autocommit (``isolation_level=None``) so that transactions
    are explicit. ``query_only`` makes the connection refuse any write.
    """
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout_s,
                           check_same_thread=False)
    try:
        conn.execute("PRAGMA trusted_schema=OFF")
        if query_only:
            conn.execute("PRAGMA query_only=1")
    except BaseException:
        conn.close()
        raise
    return conn


#: FTS5 keeps its index in shadow tables; they are not counted as data.
_SHADOW_SUFFIXES = ("_data", "_idx", "_docsize", "_config", "_content")


def user_tables(db: peewee.Database) -> dict[str, bool]:
    """User tables (name -> is virtual), without SQLite's internals and FTS5 shadows."""
    rows = db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type='table' ORDER BY name"
    ).fetchall()
    virtual = {n for n, sql in rows if sql and sql.upper().startswith("CREATE VIRTUAL TABLE")}
    shadows = {v + s for v in virtual for s in _SHADOW_SUFFIXES}
    return {n: n in virtual for n, _ in rows if not n.startswith("sqlite_") and n not in shadows}


def row_counts(db: peewee.Database) -> dict[str, int]:
    """Rows per user table (virtual tables left out)."""
    counts: dict[str, int] = {}
    for name, is_virtual in user_tables(db).items():
        if not is_virtual:
            query = peewee.Table(name).select(peewee.fn.COUNT(peewee.SQL("*")))
            counts[name] = int(query.bind(db).scalar() or 0)
    return counts


def connect(info: FileInfo, *, read_only: bool, pool: PoolConfig = PoolConfig()) -> SandboxDatabase:
    """A database for an inspected file.

    Read-only opening never leaves files behind: a WAL database with no ``-wal`` file
    (nobody has it open) is read ``immutable=1``, which creates no ``-wal``/``-shm``; so
    is one whose ``-wal`` has no ``-shm`` (reading that WAL would create the ``-shm``, and
    fails in a read-only folder): the WAL's changes are then not seen, and the store says
    so. Otherwise ``mode=ro`` shares the live server's WAL index.
    """
    immutable = read_only and info.wal_mode and (not info.has_wal_file or info.orphan_wal)
    return SandboxDatabase(info.path, read_only=read_only, immutable=immutable, pool=pool)


def create_new(path: Path, pool: PoolConfig = PoolConfig()) -> SandboxDatabase:
    """A new, empty database file in WAL mode (tables come from migrations)."""
    if path.exists():
        raise errors.InvalidInput(f"{path} already exists; refusing to overwrite it.")
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    db = SandboxDatabase(path, read_only=False, pool=pool)
    db.execute_sql("PRAGMA journal_mode=WAL")
    return db
