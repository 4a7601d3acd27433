"""Notice when another process changes an open database.

``PRAGMA data_version`` changes when a connection *other than the one asking* commits,
and it is per connection, so the probe keeps one connection of its own (used from one
thread at a time). Our own writes go through Peewee; a query hook counts them, and a
change that coincides with our own writes is not reported.

A database opened ``immutable=1`` (read-only, nobody had it open) reports no changes
through SQLite at all; for those the probe watches the file instead: its size and
mtime, and a ``-wal`` file appearing (a writer has opened it).

The GUI polls a probe from a timer in worker threads; nothing here knows about Qt.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import errors
from .database import raw_connection

if TYPE_CHECKING:
    from .store import Store

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER",
               "VACUUM", "REINDEX")


class WriteCounter:
    """A Peewee query hook counting our own statements that may write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self, event: Any) -> None:  # peewee.QueryEvent
        head = event.sql.lstrip()[:8].upper()
        if head.startswith(WRITE_VERBS) or (head.startswith("PRAGMA") and "=" in event.sql):
            self.bump()

    def bump(self) -> None:
        """Count a write of ours that bypassed Peewee (restore, for instance)."""
        with self._lock:
            self.count += 1


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int
    wal_exists: bool


def file_state(path: Path) -> FileState | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return FileState(st.st_size, st.st_mtime_ns, Path(f"{path}-wal").exists())


class ChangeProbe:
    """``poll()`` -> a description of an outside change, or ''. Call it off the GUI thread."""

    #: after a change with no writes of ours counted, look again this much later:
    #: a write of ours that committed a moment ago has been counted by then.
    SETTLE_S = 0.05

    def __init__(self, store: "Store") -> None:
        self.store = store
        self.immutable = bool(store.db.immutable)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None
        self._file: FileState | None = None
        self.writes = WriteCounter()
        self._writes_seen = 0
        store.db.query_hooks.append(self.writes)
        self.closed = False

    def prime(self) -> None:
        """Take the baseline (in the job that opens the database)."""
        self.poll()

    def poll(self) -> str:
        with self._lock:
            if self.closed:
                return ""
            if self.immutable:
                return self._poll_file()
            return self._poll_version()

    def _poll_file(self) -> str:
        now = file_state(self.store.path)
        before, self._file = self._file, now
        if before is None or now is None or now == before:
            return ""
        if now.wal_exists and not before.wal_exists:
            return "another program has opened this database for writing"
        return "the database file was changed on disk"

    def _poll_version(self) -> str:
        with errors.translated(self.store.path):
            if self._conn is None:
                # the store's own URI (mode=ro when it is read-only); this connection only reads
                self._conn = raw_connection(
                    self.store.db.database, query_only=True,
                    timeout_s=self.store.db.pool_config.busy_timeout_ms / 1000)
            version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        before, self._version = self._version, version
        if before is None or before == version:
            self._writes_seen = self.writes.count
            return ""
        if self.writes.count == self._writes_seen:
            time.sleep(self.SETTLE_S)
        own = self.writes.count != self._writes_seen
        self._writes_seen = self.writes.count
        return "" if own else "another program changed this database"

    def close(self) -> None:
        with self._lock:
            self.closed = True
            if self.writes in self.store.db.query_hooks:
                self.store.db.query_hooks.remove(self.writes)
            if self._conn is not None:
                self._conn.close()
                self._conn = None
