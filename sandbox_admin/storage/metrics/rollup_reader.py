"""The next chunk of raw samples read in another process while this one writes rollups.

A rollup build reads each raw row once and writes about one rollup row for every two
samples; both are Python work a row (row tuples and keys on one side, parameter lists
on the other), so they share one core under the GIL and threads cannot overlap them.
A second process can: while the build folds and writes chunk *n* in its transaction,
the reader process reads chunk *n + 1* through a connection of its own (WAL: a reader
never waits for the writer, and the rows it reads are committed raw samples the build
does not change).

The reader may be asked for the first part of a chunk only: when the build had to wait
for it, the build reads the end of the next chunks itself (:meth:`.Rollups._reader_share`),
so that both processes finish a chunk together.

The reader runs the very query the build would, through the same bulk read
(:func:`.bulk.fetch_raw`), so a chunk is the same whichever process read it. Anything
that goes wrong there (the process cannot start, dies, or its read fails) only means
that the build reads the chunk itself, as it does without a reader.

The process is the same Python running :func:`_serve`, talking over its standard input
and output: not :mod:`multiprocessing`, whose "spawn" re-runs the main script of
whoever called the build (a user's cron script, say) in the child.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import peewee

from ..database import SandboxDatabase, raw_connection, sqlite_uri
from .bulk import fetch_raw
from .sql import RawSamples, SeriesTable, readable_instants

#: Series sent a message at a time: unpickling a message holds the GIL, and a chunk
#: meets up to 100k series (the window's thread must not wait long for it).
_SERIES_A_MESSAGE = 4_096
_LISTS = ("names", "types", "labels", "items", "sandboxes")
_PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # holds sandbox_admin/


def read_chunk(db: peewee.Database, query: peewee.Node, table: SeriesTable,
               plain: peewee.Node | None = None) -> tuple[RawSamples, int]:
    """The readable samples of ``query``'s rows (mapped onto ``table``; ``plain``: see
    :func:`.bulk.fetch_raw`) and how many rows there were. One pass: the instant is read
    once (numpy) and unreadable rows (no number, no time, a time out of range:
    :func:`.sql.readable_sample`) are dropped. The reader process has no ``plain``: a
    key that cannot be JSON fails its read, and the build reads that chunk itself."""
    raw = fetch_raw(db, query, table, plain)
    return raw.keep(readable_instants(raw.t) & ~np.isnan(raw.v)), len(raw)


class ChunkReader:
    """One reader process for one build: :meth:`ask` for a chunk's rows, then
    :meth:`take` them (one request at a time)."""

    #: Longest wait for the next message (a chunk takes well under a second): a reader
    #: stopped or stuck this long is given up and the build reads on by itself.
    WAIT_S = 10.0

    @classmethod
    def start(cls, store: Any) -> "ChunkReader | None":
        """A reader for a build on ``store`` (in the connection the build holds), or None
        where there cannot be one: a rollback journal (its reader would hold up the
        build's commits), a frozen app (no Python to start it with), not POSIX (the
        pipes are file descriptors), no process to be had."""
        if (store.journal_mode() != "wal" or store.db.immutable or getattr(sys, "frozen", False)
                or not sys.executable or os.name != "posix"):
            return None
        try:
            reader = cls(store.path)
        except OSError:
            return None
        try:
            # Our commits no longer checkpoint: each would copy its own pages on this
            # core, while the reader runs the checkpoints on its own (:func:`_checkpoint`).
            pages = int(store.db.pragma("wal_autocheckpoint"))
            store.db.pragma("wal_autocheckpoint", 0)
        except BaseException:
            reader.close()
            raise
        reader._autocheckpoint = (store.db, pages)
        return reader

    def __init__(self, path: Path) -> None:
        """Start the process (OSError when it cannot be started)."""
        self._autocheckpoint: tuple[SandboxDatabase, int] | None = None
        self._process = subprocess.Popen(
            # our environment, the folder this package was imported from first, and not
            # the current directory (-P: a stray peewee.py there is not imported)
            [sys.executable, "-P", "-c", f"import sys; sys.path.insert(0, sys.argv[2]); "
                                   f"from {__name__} import _serve; _serve(sys.argv[1])",
             str(path), str(_PACKAGE_ROOT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        assert self._process.stdin is not None and self._process.stdout is not None
        self._send = Connection(os.dup(self._process.stdin.fileno()), readable=False)
        self._recv = Connection(os.dup(self._process.stdout.fileno()), writable=False)
        self._process.stdin.close()
        self._process.stdout.close()
        self._asked: tuple[int, int] | None = None
        #: the reader stopped helping (it died, failed a read or did not answer)
        self.failed = False
        #: seconds the last :meth:`take` waited for the reader to finish its read
        self.waited = 0.0

    def ask(self, low: int, high: int, sql: str, params: list[Any]) -> None:
        """Start reading the rows of ids ``(low, high]`` (``sql``/``params``: the query)."""
        if self.failed or self._asked is not None:
            return
        try:
            self._send.send((sql, params))
        except (OSError, ValueError):
            self.failed = True
            return
        self._asked = (low, high)

    def take(self, low: int, high: int) -> tuple[SeriesTable, RawSamples, int] | None:
        """The rows asked for, when they are those of ``(low, high]`` and were read;
        None tells the build to read them itself."""
        asked, self._asked = self._asked, None
        if asked is None or self.failed:
            return None
        try:
            got = self._receive()
        except (TimeoutError, EOFError, OSError):  # not answering, gone
            self.failed = True
            return None
        return got if asked == (low, high) else None

    def _receive(self) -> tuple[SeriesTable, RawSamples, int] | None:
        table = SeriesTable()
        started, first = time.perf_counter(), True
        while True:
            if not self._recv.poll(self.WAIT_S):
                raise TimeoutError
            if first:  # its first message comes once it has read everything
                self.waited, first = time.perf_counter() - started, False
            message = self._recv.recv()
            kind = message[0]
            if kind == "series":  # its keys indexed a message at a time, like the rest
                first = len(table)
                for name, part in zip(_LISTS, message[1:]):
                    getattr(table, name).extend(part)
                keys = zip(*(getattr(table, name)[first:] for name in ("names", "types", "labels", "sandboxes")))
                table.index.update(zip(keys, range(first, len(table))))
            elif kind == "rows":
                _, series, t, v, total = message
                return table, RawSamples(series, t, v), total
            else:  # "error": its read failed
                self.failed = True
                return None

    def close(self) -> None:
        """Stop the process (at once when it is still reading: the build is over)."""
        try:  # a reader that failed may be stuck: it is not waited for
            if self._asked is None and not self.failed:
                self._send.send(None)
                self._process.wait(timeout=2.0)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._send.close()
        self._recv.close()
        if self._autocheckpoint is not None:
            db, pages = self._autocheckpoint
            db.pragma("wal_autocheckpoint", pages)


def _serve(path: str) -> None:
    """The reader process: answer each (sql, params) with the chunk's series (a few
    messages) and rows, until told to stop (None) or the build goes away."""
    requests = Connection(os.dup(0), writable=False)
    answers = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # a stray print cannot corrupt the answers
    db = SandboxDatabase(Path(path), read_only=True)  # the store's pragmas and lenient text
    # mode=rw: never create the file (it may be gone by now)
    checkpoints = raw_connection(sqlite_uri(Path(path), read_only=False) + "?mode=rw", timeout_s=0.0)
    try:
        while (request := requests.recv()) is not None:
            try:
                table = SeriesTable()
                raw, total = read_chunk(db, peewee.SQL(*request), table)
                for start in range(0, len(table), _SERIES_A_MESSAGE):
                    answers.send(("series", *(getattr(table, name)[start:start + _SERIES_A_MESSAGE]
                                              for name in _LISTS)))
                answers.send(("rows", raw.series, raw.t, raw.v, total))
            except Exception:  # noqa: BLE001 - the build reads the chunk itself
                answers.send(("error",))
            _checkpoint(checkpoints)
    except (EOFError, OSError, KeyboardInterrupt):
        pass  # the build is over
    finally:
        db.close()
        checkpoints.close()


def _checkpoint(conn: sqlite3.Connection) -> None:
    """Copy the rollup rows the build has committed into the database file while the
    build writes the next ones (it does not checkpoint while it has a reader: each
    commit would copy its own pages, on its own core)."""
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error:
        pass  # another checkpoint is running, or a later commit finishes it
