"""The fast backup path: copy the database file's bytes while SQLite keeps them frozen.

SQLite's backup API writes one page per write call, 1.5-3.6x slower than ``cp``. This
path copies the file itself, but only while one of our read transactions guarantees
that the file's bytes *are* that transaction's snapshot and cannot change:

- **WAL mode.** A reader whose snapshot ends at a frame that is already checkpointed
  (``mxFrame == nBackfill``) reads every page from the database file, and while it
  holds its read lock no checkpoint may write frames past its snapshot into the file
  (``walCheckpoint`` needs ``WAL_READ_LOCK(0)`` exclusively before any backfill and
  limits backfill to each reader's mark; the truncation of the file is part of that
  backfill). Writers keep appending to the ``-wal``; the database file stays as it is.
  To start such a reader without racing the writers, :func:`freeze` takes the write
  lock for a moment on a second connection (other writers wait, readers do not),
  checkpoints (PASSIVE: it never waits), checks that every frame is now in the file
  (``log == checkpointed``), starts the read transaction, and lets go of the write
  lock. The checkpoint runs under the write lock, so no commit can reset the WAL while
  it runs (the WAL-reset race of SQLite before 3.51.3 needs such a commit). If a reader of
  an older snapshot keeps frames out of the file, or the write lock stays taken,
  the caller falls back to the backup API (which is consistent anyway).
  A read-only store may not checkpoint: there the snapshot counts as frozen only
  when the ``-wal`` is empty while our read transaction is open (then its snapshot
  ends at frame 0 and nothing can be backfilled while we hold it).
- **Rollback journal.** A read transaction holds a SHARED lock; no writer can write
  the database file until it is released (SQLite itself rolls back a hot journal
  before it grants the lock, so no check of ``-journal`` is needed or meaningful).
- **immutable=1** (a read-only open of a file nobody has open): as trusted as the
  backup API on the same connection, which takes no locks either.

The bytes are copied by a child process (:mod:`.filecopy`): this process must not
open()/close() a database file it has open, because closing any descriptor drops all
of its POSIX locks on the file, SQLite's included. On Windows (no POSIX locks) the copy
runs in-process. Exactly ``page_size * page_count`` bytes are copied, chunk by chunk:
progress after each chunk, cancelling between chunks (the child is killed).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .filecopy import RangeCopier, SourceTooShort, open_pair

SNAPSHOT_COPY = "snapshot-copy"
BACKUP_API = "backup-api"
AUTO = "auto"
METHODS = (AUTO, SNAPSHOT_COPY, BACKUP_API)

#: Bytes per chunk: one progress report and one chance to cancel each (~10 ms of copying).
COPY_CHUNK_BYTES = 8 << 20
#: How long one attempt of :func:`freeze` waits for another writer to finish.
WRITER_WAIT_S = 0.25
#: How long :func:`freeze` keeps trying "write lock, checkpoint, read" before the caller
#: falls back to the backup API. Attempts are 5 ms apart, without the write lock: a
#: busy writer's own checkpoints (tens of ms with their fsyncs) hold the checkpoint lock.
FREEZE_WAIT_S = 0.5
_RETRY_SLEEP_S = 0.005

_SCRIPT = Path(__file__).with_name("filecopy.py")

Connect = Callable[[str, float], sqlite3.Connection]
ChunkFn = Callable[[int], None]  # bytes copied so far; may raise to stop the copy


class SnapshotUnavailable(Exception):
    """The fast path cannot be used this time; the message says why (for the record)."""


class CopyFailed(SnapshotUnavailable):
    """The file copy itself failed (the partial file is the caller's to delete)."""


@dataclass
class FrozenSnapshot:
    """A connection inside a read transaction whose snapshot is the database file's bytes."""

    conn: sqlite3.Connection
    page_size: int
    page_count: int
    how: str

    @property
    def nbytes(self) -> int:
        return self.page_size * self.page_count

    def close(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        finally:
            self.conn.close()


def _begin_read(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here


def freeze(uri: str, path: Path, *, read_only: bool, immutable: bool, connect: Connect,
           lock_timeout_s: float) -> FrozenSnapshot:
    """Open a read transaction during which ``path``'s bytes are its snapshot.

    Raises :class:`SnapshotUnavailable` (use the backup API) or sqlite3.Error (the
    database cannot be read at all).
    """
    conn = connect(uri, lock_timeout_s)
    try:
        if immutable:
            _begin_read(conn)
            how = "immutable"
        elif str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            _begin_read(conn)
            how = "rollback journal: shared lock"
        elif read_only:
            _begin_read(conn)
            _require_empty_wal(path)
            how = "wal, read-only: empty -wal"
        else:
            _begin_at_checkpointed_end(conn, uri, connect)
            how = "wal: checkpointed under the write lock"
        page_count, page_size = conn.execute(
            "SELECT page_count, page_size FROM pragma_page_count, pragma_page_size"
        ).fetchone()
        size = os.stat(path).st_size
        if size < page_count * page_size:
            raise SnapshotUnavailable(
                f"the file holds {size:,} bytes, less than its {page_count} pages of "
                f"{page_size} bytes")
        return FrozenSnapshot(conn, int(page_size), int(page_count), how)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
        raise


def _require_empty_wal(path: Path) -> None:
    wal = Path(f"{path}-wal")
    try:
        size = os.stat(wal).st_size  # a stat, not an open of a file SQLite has open
    except FileNotFoundError:
        raise SnapshotUnavailable(f"{wal.name} is missing while the database is open") from None
    if size:
        raise SnapshotUnavailable(
            f"open read-only and {wal.name} holds {size:,} bytes (this program may not "
            "checkpoint it)")


def _begin_at_checkpointed_end(conn: sqlite3.Connection, uri: str, connect: Connect) -> None:
    """Start ``conn``'s read transaction at a snapshot whose every frame is in the file."""
    writer = connect(uri, WRITER_WAIT_S)
    reason = ""
    deadline = time.monotonic() + FREEZE_WAIT_S
    try:
        while not reason or time.monotonic() < deadline:
            if reason:
                time.sleep(_RETRY_SLEEP_S)
            try:
                writer.execute("BEGIN IMMEDIATE")  # other writers wait from here...
            except sqlite3.OperationalError as exc:
                reason = f"another connection kept the write lock ({exc})"
                continue
            try:
                try:
                    busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.OperationalError as exc:
                    reason = f"the checkpoint failed ({exc})"
                    continue
                if busy == 0 and log == done:
                    _begin_read(conn)
                    return
                reason = (f"other connections' reads kept {log - done} of {log} WAL frames out "
                          "of the database file" if busy == 0
                          else "another process's checkpoint kept running")
            finally:
                writer.execute("ROLLBACK")  # ...until here
    finally:
        writer.close()
    raise SnapshotUnavailable(reason)


# -- the copy -------------------------------------------------------------------------------

def default_copier() -> str | None:
    """How to copy here: "python" (a child interpreter), "cp" (frozen app), "in-process"
    (no POSIX locks: Windows), or None (no way to copy in another process)."""
    if os.name == "nt":
        return "in-process"
    if not getattr(sys, "frozen", False) and _SCRIPT.is_file():
        return "python"
    return "cp" if shutil.which("cp") else None


def copy_prefix(src: Path, dst: Path, nbytes: int, *, on_chunk: ChunkFn | None = None,
                chunk_bytes: int = COPY_CHUNK_BYTES, copier: str | None = None) -> str:
    """Copy the first ``nbytes`` of ``src`` into the new file ``dst``; return the copier used.

    ``on_chunk(done)`` runs after each chunk; an exception from it stops the copy (the
    child is killed first) and propagates. Raises :class:`CopyFailed`.
    """
    copier = copier or default_copier()
    if copier == "python":
        _copy_in_child(src, dst, nbytes, on_chunk, chunk_bytes)
    elif copier == "cp":
        _copy_with_cp(src, dst, nbytes, on_chunk)
    elif copier == "in-process":
        _copy_here(src, dst, nbytes, on_chunk, chunk_bytes)
    else:
        raise CopyFailed("no way to copy the file in another process here")
    return copier


def _copy_here(src: Path, dst: Path, nbytes: int, on_chunk: ChunkFn | None, chunk: int) -> None:
    try:
        src_fd, dst_fd = open_pair(str(src), str(dst))
    except OSError as exc:
        raise CopyFailed(f"cannot copy {src.name}: {exc}") from exc
    try:
        copier = RangeCopier(src_fd, dst_fd)
        done = 0
        while done < nbytes:
            step = min(chunk, nbytes - done)
            try:
                copier.copy(done, step)
            except OSError as exc:  # SourceTooShort included
                raise CopyFailed(f"copying {src.name} failed: {exc}") from exc
            done += step
            if on_chunk is not None:
                on_chunk(done)
    finally:
        os.close(dst_fd)
        os.close(src_fd)


def _copy_in_child(src: Path, dst: Path, nbytes: int, on_chunk: ChunkFn | None,
                   chunk: int) -> None:
    cmd = [sys.executable, "-I", "-S", str(_SCRIPT), str(src), str(dst), str(nbytes), str(chunk)]
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, close_fds=True)
    except OSError as exc:
        raise CopyFailed(f"cannot start the copy process {sys.executable!r}: {exc}") from exc
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    done = 0
    try:
        for line in proc.stdout:
            done = int(line)
            if on_chunk is not None:
                on_chunk(done)
            if done < nbytes:
                try:
                    proc.stdin.write("\n")
                    proc.stdin.flush()
                except BrokenPipeError:
                    break  # the child died; its exit status says why
        code = proc.wait()
        if code != 0 or done != nbytes:
            detail = proc.stderr.read().strip().splitlines()
            raise CopyFailed(f"the copy process stopped after {done:,} of {nbytes:,} bytes "
                             f"(exit {code}): {detail[-1] if detail else 'no message'}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except BrokenPipeError:
                pass


def _copy_with_cp(src: Path, dst: Path, nbytes: int, on_chunk: ChunkFn | None) -> None:
    """``cp`` in a child (a frozen app has no interpreter to run filecopy.py with);
    progress by the size of the new file, then cut to exactly ``nbytes``."""
    try:
        proc = subprocess.Popen(["cp", str(src), str(dst)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                close_fds=True)
    except OSError as exc:
        raise CopyFailed(f"cannot start cp: {exc}") from exc
    assert proc.stderr is not None
    try:
        while True:
            try:
                proc.wait(timeout=0.02)
                break
            except subprocess.TimeoutExpired:
                pass
            if on_chunk is not None:
                try:
                    on_chunk(min(os.stat(dst).st_size, nbytes))
                except FileNotFoundError:
                    pass
        message = proc.stderr.read().decode(errors="replace").strip()
        if proc.returncode != 0:
            raise CopyFailed(f"cp failed (exit {proc.returncode}): {message or 'no message'}")
        size = os.stat(dst).st_size
        if size < nbytes:
            raise CopyFailed(f"cp copied {size:,} bytes, {nbytes:,} expected")
        if size > nbytes:
            os.truncate(dst, nbytes)  # our own new file: no SQLite connection to it
        if on_chunk is not None:
            on_chunk(nbytes)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


__all__ = [
    "SNAPSHOT_COPY", "BACKUP_API", "AUTO", "METHODS", "COPY_CHUNK_BYTES", "FrozenSnapshot",
    "SnapshotUnavailable", "CopyFailed", "SourceTooShort", "freeze", "copy_prefix",
    "default_copier",
]
