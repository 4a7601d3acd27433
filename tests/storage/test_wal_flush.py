"""The restore's -wal flusher: it flushes an existing -wal, never creates one, and
stops; a restore that uses it leaves the restored content and the live connections'
checkpoint setting as they should be."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from sandbox_admin.storage import errors, open_store
from sandbox_admin.storage.backup.wal_flush import WalFlusher
from tests.reliability.dbtools import content_digest, file_digest, last_audit, make_sandbox_db


def _wait_for(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_flushes_an_existing_wal(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (randomblob(100000))")
    assert Path(f"{db}-wal").stat().st_size > 100000
    flusher = WalFlusher(db)
    try:
        flusher.poke()
        assert _wait_for(lambda: flusher.flushes >= 1)
    finally:
        flusher.stop()
    assert not flusher._thread.is_alive()
    assert conn.execute("SELECT length(x) FROM t").fetchone() == (100000,)
    conn.close()


def test_never_creates_a_wal(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    flusher = WalFlusher(db)
    for _ in range(5):
        flusher.poke()
    flusher.stop()
    assert flusher.flushes == 0
    assert not Path(f"{db}-wal").exists()
    assert not db.exists()


def test_restore_through_the_flusher_keeps_settings(tmp_path: Path) -> None:
    """A restore in many steps (the flusher poked at each) gives the backup's content,
    an emptied -wal (but for the audit entry), and the store's own connections keep
    their auto-checkpoint."""
    live = make_sandbox_db(tmp_path / "live.db", seed=1, blob_kib=128)
    source = make_sandbox_db(tmp_path / "src.db", seed=2, blob_kib=96)
    with open_store(source) as store:
        backup = store.backups.create(tmp_path / "backups").path
    with open_store(live) as store:
        before = store.db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0]
        store.backups.restore(backup, safety_dir=tmp_path / "safety", pages_per_step=2,
                              allow_other_database=True)
        assert store.db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == before
        # Checkpointed and emptied; only the audit entry written since.
        assert Path(f"{live}-wal").stat().st_size < backup.stat().st_size / 4
    with sqlite3.connect(live) as conn:
        audit = [last_audit(conn)[0]]
        restored = content_digest(conn, exclude_audit_ids=audit)
    assert restored == file_digest(str(backup), immutable=True)


def test_a_restore_stopped_before_its_first_step_leaves_no_flusher(tmp_path: Path) -> None:
    """A backup small enough for one step is held before that step (which commits); a
    Cancel there stops the restore before the backup API runs, and the flusher too."""
    live = make_sandbox_db(tmp_path / "live.db", seed=1, blob_kib=16)
    source = make_sandbox_db(tmp_path / "src.db", seed=2, blob_kib=16)
    with open_store(source) as store:
        backup = store.backups.create(tmp_path / "backups").path
    before = file_digest(str(live))
    checks_started = threading.Event()

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "checks":
            checks_started.set()

    with open_store(live) as store:
        with pytest.raises(errors.Cancelled, match="not changed"):
            store.backups.restore(backup, safety_dir=tmp_path / "safety", pages_per_step=100_000,
                                  allow_other_database=True, progress=progress,
                                  cancel=checks_started.is_set)
    assert checks_started.is_set()
    assert not [t for t in threading.enumerate() if t.name == "wal-flush"]
    assert file_digest(str(live)) == before
