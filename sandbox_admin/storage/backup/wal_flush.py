"""Flushing a restore's ``-wal`` to disk while its pages are still being written.

A restore writes the whole backup into the live database's ``-wal`` in one transaction,
and the commit's fsync then waits for all of it to reach the disk (for 500 MB, about as
long as ``cp``'s own fsync). Flushing what has been written so far, in a thread, while
the backup API writes the rest, leaves the commit little to wait for: the disk works
while SQLite copies. Flushing uncommitted frames early changes nothing a crash could
see (without their commit frame they are ignored), and SQLite takes no locks on the
``-wal`` file, so opening and closing it here does not touch its locks (unlike the
database file: never open that one next to SQLite).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

#: fdatasync where there is one (the file's size and data, not its times)
_sync = getattr(os, "fdatasync", os.fsync)


class WalFlusher:
    """``poke()`` after each step asks for a flush; one runs at a time, in a thread."""

    def __init__(self, database: Path) -> None:
        self.wal = Path(f"{database}-wal")
        self._wanted = threading.Event()
        self._stopping = False
        self.flushes = 0  # how many flushes ran
        self._thread = threading.Thread(target=self._run, name="wal-flush", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        self._wanted.set()

    def stop(self) -> None:
        """Stop the thread, after the flush under way if there is one (once stopped,
        stopping again does nothing)."""
        self._stopping = True
        self._wanted.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            self._flush()

    def _flush(self) -> None:
        try:
            fd = os.open(self.wal, os.O_RDONLY)  # never creates it
        except OSError:
            return
        try:
            _sync(fd)
            self.flushes += 1
        except OSError:
            pass  # only a head start: the commit's fsync is the one that counts
        finally:
            os.close(fd)
