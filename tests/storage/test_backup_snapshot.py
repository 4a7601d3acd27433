"""The fast backup path (snapshot copy) and its fall back to the backup API.

Real SQLite files, real child processes holding locks. The content of each backup is
compared with the source by a digest over every row (tests/reliability/dbtools.py).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox_admin.storage import errors, open_store
from sandbox_admin.storage.backup import snapshot
from sandbox_admin.storage.backup.filecopy import RangeCopier, open_pair
from sandbox_admin.storage.backup.files import read_sidecar
from sandbox_admin.storage.backup.manager import (
    BACKUP_API,
    SNAPSHOT_COPY,
    verify_backup,
)
from tests.reliability.dbtools import file_digest, make_sandbox_db

HOLDER = r"""
import sqlite3, sys
db, what = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(db, isolation_level=None, timeout=10)
if what == "reader":      # a read transaction pinned at the current snapshot
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM metrics").fetchone()
elif what == "writer":    # the write lock, no change yet
    conn.execute("BEGIN IMMEDIATE")
elif what == "uncommitted":  # a write transaction with a change not committed yet
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE metrics SET value = -1")
print("ready", flush=True)
if sys.stdin.readline().strip() == "commit":
    conn.execute("COMMIT")
else:
    conn.execute("ROLLBACK")
print("done", flush=True)
"""


class Holder:
    """Another process holding a lock on the database until told to let go."""

    def __init__(self, db: Path, what: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), what],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready", self.proc.stderr.read()

    def release(self, how: str = "rollback") -> None:
        out, err = self.proc.communicate(how + "\n", timeout=30)
        assert self.proc.returncode == 0 and out.strip() == "done", err


@pytest.fixture
def live(tmp_path: Path) -> Path:
    return make_sandbox_db(tmp_path / "live.db", seed=7, blob_kib=1024)


@pytest.fixture
def bdir(tmp_path: Path) -> Path:
    d = tmp_path / "backups"
    d.mkdir()
    return d


@pytest.fixture
def short_waits(monkeypatch):
    """Give up on the fast path after 0.1 s instead of 0.5 s (the fall-back tests)."""
    monkeypatch.setattr(snapshot, "FREEZE_WAIT_S", 0.1)
    monkeypatch.setattr(snapshot, "WRITER_WAIT_S", 0.05)


def _add_rows(db: Path, n: int, value: float = 1.0) -> None:
    conn = sqlite3.connect(db, isolation_level=None, timeout=10)
    try:
        conn.execute("PRAGMA wal_autocheckpoint=0")  # keep the rows in the -wal
        conn.executemany(
            "INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id,"
            " aggregation_period) VALUES ('extra', 'gauge', '{}', ?, '2026-01-01 00:00:00+00:00',"
            " '', 'raw')", [(value + i,) for i in range(n)])
    finally:
        conn.close()


def _keep_open(db: Path) -> sqlite3.Connection:
    """Another user of the database: while it is open, closing others does not checkpoint
    and delete the -wal (SQLite opens the file at the first statement)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


def _header(path: Path) -> bytes:
    with open(path, "rb") as handle:  # a finished backup: no connection to it is open
        return handle.read(100)


# -- the fast path ----------------------------------------------------------------------------

def test_idle_wal_database_takes_the_snapshot_copy_with_its_wal_frames(live, bdir):
    keep = _keep_open(live)  # keeps the -wal (and its frames) alive
    try:
        _add_rows(live, 300)
        assert Path(f"{live}-wal").stat().st_size > 0, "rows waiting in the -wal"
        before = file_digest(live)
        phases: list[tuple[str, int, int]] = []
        with open_store(live) as store:
            fast = store.backups.create(bdir, progress=lambda *a: phases.append(a))
            slow = store.backups.create(bdir, method=BACKUP_API)
        assert fast.method == SNAPSHOT_COPY and fast.method_note == ""
        assert slow.method == BACKUP_API
        assert file_digest(fast.path) == before == file_digest(slow.path)
        assert fast.verified and verify_backup(fast.path).ok
        assert read_sidecar(fast.path)["method"] == SNAPSHOT_COPY
        assert fast.as_dict()["method"] == SNAPSHOT_COPY
        copies = [(d, t) for p, d, t in phases if p == "copy"]
        assert copies[0][0] == 0 and copies[-1][0] == copies[-1][1] == fast.size_bytes // 4096
        # The same header bytes as SQLite's own backup of a WAL database (18/19 = 2: WAL);
        # read with immutable=1 it needs no -wal, and none appears beside it.
        assert _header(fast.path)[18:20] == _header(slow.path)[18:20] == b"\x02\x02"
        assert fast.size_bytes == slow.size_bytes
        assert not any(p.name.endswith(("-wal", "-shm")) for p in bdir.iterdir())
    finally:
        keep.close()


def test_rollback_journal_database_with_an_uncommitted_writer(live, bdir):
    conn = sqlite3.connect(live, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    before = file_digest(live)
    writer = Holder(live, "uncommitted")  # RESERVED lock, a -journal with content
    try:
        assert Path(f"{live}-journal").stat().st_size > 0
        with open_store(live) as store:
            result = store.backups.create(bdir)
    finally:
        writer.release("commit")  # it can commit once our read transaction has ended
    assert result.method == SNAPSHOT_COPY
    assert file_digest(result.path) == before, "the uncommitted change is not in it"
    assert _header(result.path)[18:20] == b"\x01\x01"
    assert verify_backup(result.path).ok
    conn = sqlite3.connect(live)
    assert conn.execute("SELECT count(*) FROM metrics WHERE value != -1").fetchone()[0] == 0
    conn.close()


def test_read_only_store_copies_only_while_the_wal_is_empty(live, bdir):
    server = _keep_open(live)  # another user keeps it open
    try:
        _add_rows(live, 50)
        with open_store(live, read_only=True) as store:
            pinned = store.backups.create(bdir)
        assert pinned.method == BACKUP_API and "-wal" in pinned.method_note
        assert file_digest(pinned.path) == file_digest(live)
        server.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert Path(f"{live}-wal").stat().st_size == 0
        with open_store(live, read_only=True) as store:
            fast = store.backups.create(bdir)
        assert fast.method == SNAPSHOT_COPY
        assert file_digest(fast.path) == file_digest(live)
        with open_store(live, read_only=True) as store, pytest.raises(errors.StorageError) as err:
            _add_rows(live, 1)
            store.backups.create(bdir, method=SNAPSHOT_COPY)
        assert "snapshot copy" in str(err.value) and "automatic" in str(err.value)
    finally:
        server.close()
    assert sorted(p.name for p in bdir.iterdir() if not p.name.endswith(".json")) == sorted(
        [pinned.path.name, fast.path.name]), "the refused copy left nothing behind"


def test_immutable_read_only_original_is_copied_fast(go_fixture, bdir):
    with open_store(go_fixture, read_only=True) as store:
        assert store.db.immutable
        result = store.backups.create(bdir)
    assert result.method == SNAPSHOT_COPY
    assert file_digest(result.path) == file_digest(go_fixture, immutable=True)


def test_unknown_method_is_refused(live, bdir):
    with open_store(live) as store, pytest.raises(errors.InvalidInput):
        store.backups.create(bdir, method="rsync")


# -- cancelling ---------------------------------------------------------------------------------

def _copy_children(folder: Path) -> list[str]:
    """Command lines of live copy processes writing into ``folder`` (Linux /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "_filecopy.py" in cmd and str(folder) in cmd:
            found.append(cmd)
    return found


def test_cancel_during_the_snapshot_copy_kills_the_child_and_leaves_nothing(live, bdir,
                                                                          monkeypatch):
    monkeypatch.setattr(snapshot, "COPY_CHUNK_BYTES", 64 * 1024)
    seen: list[int] = []

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "copy":
            seen.append(done)

    with open_store(live) as store:
        with pytest.raises(errors.Cancelled):
            store.backups.create(bdir, progress=progress, cancel=lambda: len(seen) >= 3)
        assert 0 < seen[-1] < store.db.execute_sql("PRAGMA page_count").fetchone()[0]
        if Path("/proc/self/cmdline").exists():
            assert _copy_children(bdir) == []
        time.sleep(0.2)
        assert list(bdir.iterdir()) == []
        # The read transaction is over: the database takes writes and the next backup works.
        _add_rows(live, 1)
        assert store.backups.create(bdir).method == SNAPSHOT_COPY


# -- falling back -------------------------------------------------------------------------------

def test_a_reader_of_an_older_snapshot_makes_it_fall_back(live, bdir, short_waits):
    reader = Holder(live, "reader")
    try:
        _add_rows(live, 200)  # frames the pinned reader does not see: not checkpointable
        started = time.monotonic()
        with open_store(live) as store:
            result = store.backups.create(bdir)
        elapsed = time.monotonic() - started
    finally:
        reader.release()
    assert result.method == BACKUP_API
    assert "WAL frames out of the database file" in result.method_note
    assert read_sidecar(result.path)["method_note"] == result.method_note
    assert file_digest(result.path) == file_digest(live), "the newest content, consistent"
    assert elapsed < 5


def test_a_writer_holding_the_write_lock_makes_it_fall_back(live, bdir, short_waits):
    writer = Holder(live, "writer")
    try:
        with open_store(live) as store:
            result = store.backups.create(bdir)
    finally:
        writer.release()
    assert result.method == BACKUP_API and "write lock" in result.method_note
    assert file_digest(result.path) == file_digest(live)


def test_a_failing_copy_falls_back_to_the_backup_api(live, bdir, monkeypatch):
    """A copy process that fails (here: a copier that cannot run) is not fatal."""
    monkeypatch.setattr(snapshot, "default_copier", lambda: None)
    with open_store(live) as store:
        result = store.backups.create(bdir)
    assert result.method == BACKUP_API and "no way to copy" in result.method_note
    assert file_digest(result.path) == file_digest(live)
    assert len(list(bdir.iterdir())) == 2  # the backup and its description


# -- the copiers --------------------------------------------------------------------------------

@pytest.fixture
def blob(tmp_path: Path) -> Path:
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 123))
    return path


@pytest.mark.parametrize("copier", ["python", "cp", "in-process"])
def test_copiers_copy_exactly_the_prefix_with_progress(blob, tmp_path, copier):
    n = 2 * 1024 * 1024 + 4096
    dst = tmp_path / f"out-{copier}"
    seen: list[int] = []
    used = snapshot.copy_prefix(blob, dst, n, on_chunk=seen.append, chunk_bytes=256 * 1024,
                                copier=copier)
    assert used == copier
    assert dst.read_bytes() == blob.read_bytes()[:n]
    assert seen[-1] == n and seen == sorted(seen)
    if copier != "cp":
        assert len(seen) == 9  # one report per chunk


@pytest.mark.parametrize("copier", ["python", "cp", "in-process"])
def test_copiers_report_a_short_source(blob, tmp_path, copier):
    with pytest.raises(snapshot.CopyFailed) as err:
        snapshot.copy_prefix(blob, tmp_path / "out", blob.stat().st_size + 4096,
                             chunk_bytes=1 << 20, copier=copier)
    assert "bytes" in str(err.value)


def test_copiers_never_overwrite_an_existing_file(blob, tmp_path):
    dst = tmp_path / "taken"
    dst.write_bytes(b"mine")
    for copier in ("python", "in-process"):
        with pytest.raises(snapshot.CopyFailed):
            snapshot.copy_prefix(blob, dst, 1024, copier=copier)
        assert dst.read_bytes() == b"mine"


@pytest.mark.parametrize("modes", [["sendfile", "readwrite"], ["readwrite"]])
def test_range_copier_fallback_primitives(blob, tmp_path, modes):
    """The primitives used where copy_file_range is missing (macOS, Windows, old kernels)."""
    if modes[0] == "sendfile" and not sys.platform.startswith("linux"):
        modes = ["readwrite"]
    dst = tmp_path / "out"
    src_fd, dst_fd = open_pair(str(blob), str(dst))
    try:
        copier = RangeCopier(src_fd, dst_fd)
        copier.modes = list(modes)
        copier.copy(0, 1000)
        copier.copy(1000, 2 * 1024 * 1024)
    finally:
        os.close(src_fd)
        os.close(dst_fd)
    assert dst.read_bytes() == blob.read_bytes()[: 1000 + 2 * 1024 * 1024]


class _Stop(Exception):
    pass


@pytest.mark.parametrize("copier", ["python", "in-process"])
def test_an_error_from_the_chunk_callback_stops_the_copy(blob, tmp_path, copier):
    calls: list[int] = []

    def on_chunk(done: int) -> None:
        calls.append(done)
        raise _Stop

    with pytest.raises(_Stop):
        snapshot.copy_prefix(blob, tmp_path / "out", blob.stat().st_size, on_chunk=on_chunk,
                             chunk_bytes=64 * 1024, copier=copier)
    assert calls == [64 * 1024]
    assert (tmp_path / "out").stat().st_size == 64 * 1024, "no byte after the stop"
    if Path("/proc/self/cmdline").exists():
        assert _copy_children(tmp_path) == []


def test_a_copy_process_that_cannot_start_is_reported(blob, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    with pytest.raises(snapshot.CopyFailed) as err:
        snapshot.copy_prefix(blob, tmp_path / "out", 1024, copier="python")
    assert "cannot start the copy process" in str(err.value)
