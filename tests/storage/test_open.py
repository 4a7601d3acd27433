"""Safe opening: every bad file gives a specific, readable error and is not modified."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox_admin.storage import PoolConfig, errors, open_store
from tests.conftest import GO_FIXTURE, sha256_file


def _siblings(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


def _assert_untouched(path: Path, digest: str, before: set[str]) -> None:
    assert sha256_file(path) == digest
    assert _siblings(path) == before, "no -wal/-shm/-journal left behind"


def test_fixture_info_is_exact_and_leaves_file_byte_identical(go_fixture, go_counts):
    digest = sha256_file(go_fixture)
    before = _siblings(go_fixture)
    with open_store(go_fixture, read_only=True) as store:
        info = store.info()
    assert info["schema_version"] == 6
    for table, count in go_counts.items():
        if isinstance(count, int) and table in info["tables"]:
            assert info["tables"][table] == count, table
    assert set(info["tables"]) >= {"sandboxes", "file_metadata", "metrics", "audit_trail"}
    assert info["journal_mode"] == "wal"
    assert info["fts5"] is True
    _assert_untouched(go_fixture, digest, before)


def test_read_only_copy_leaves_no_wal_or_shm(go_db):
    digest = sha256_file(go_db)
    before = _siblings(go_db)
    with open_store(go_db, read_only=True) as store:
        assert store.read_only
        assert store.row_counts()["sandboxes"] == 31
        with pytest.raises(errors.ReadOnly):
            with store.transaction():
                pass
    _assert_untouched(go_db, digest, before)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "name, make, error",
    [
        ("not_sqlite", lambda p: _write(p, b"hello, this is a text file\n" * 50), errors.NotASandboxDatabase),
        ("empty", lambda p: _write(p, b""), errors.NotASandboxDatabase),
        ("short", lambda p: _write(p, b"SQLite format 3\x00abc"), errors.NotASandboxDatabase),
        (
            "truncated",
            lambda p: _write(p, GO_FIXTURE.read_bytes()[: 4096 * 100]),
            errors.CorruptDatabase,
        ),
        (
            "torn_page",
            lambda p: _write(p, GO_FIXTURE.read_bytes()[: 4096 * 100 + 1000]),
            errors.CorruptDatabase,
        ),
    ],
)
def test_bad_files_are_refused_and_unchanged(tmp_path, name, make, error):
    path = make(tmp_path / f"{name}.db")
    digest = sha256_file(path)
    before = _siblings(path)
    for read_only in (True, False):
        with pytest.raises(error) as info:
            open_store(path, read_only=read_only)
        assert str(path.name) in str(info.value) or str(path) in str(info.value)
        assert "Traceback" not in str(info.value)
    _assert_untouched(path, digest, before)


def test_plain_sqlite_without_sandbox_tables(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.commit()
    con.close()
    digest = sha256_file(path)
    before = _siblings(path)
    with pytest.raises(errors.NotASandboxDatabase, match="not a SandboxRunner one"):
        open_store(path)
    _assert_untouched(path, digest, before)


def test_corrupted_pages_are_reported_not_crashed(tmp_path):
    data = bytearray(GO_FIXTURE.read_bytes())
    data[4096 : 4096 * 3] = os.urandom(4096 * 2)  # smash the schema's first pages
    path = _write(tmp_path / "smashed.db", bytes(data))
    digest = sha256_file(path)
    with pytest.raises(errors.StorageError):
        with open_store(path, read_only=True) as store:
            report = store.maintenance.check()
            assert not report.ok
            raise errors.CorruptDatabase("reported")
    assert sha256_file(path) == digest


def test_directory_and_missing(tmp_path):
    with pytest.raises(errors.NotASandboxDatabase, match="folder"):
        open_store(tmp_path)
    with pytest.raises(errors.DatabaseNotFound, match="does not exist"):
        open_store(tmp_path / "nope.db")
    assert not (tmp_path / "nope.db").exists()


def test_create_makes_a_new_database(tmp_path):
    path = tmp_path / "sub" / "new.db"
    with open_store(path, create=True) as store:
        assert store.schema_version() == store.migration_status().current
        assert store.journal_mode() == "wal"
        assert not store.read_only


def test_read_only_on_disk(go_db):
    go_db.chmod(0o444)
    digest = sha256_file(go_db)
    before = _siblings(go_db)
    with pytest.raises(errors.ReadOnly, match="read-only on disk"):
        open_store(go_db)
    with open_store(go_db, read_only=True) as store:  # reading still works
        assert store.row_counts()["sandboxes"] == 31
    _assert_untouched(go_db, digest, before)


_HOLD_LOCK = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute(sys.argv[2])
con.execute("CREATE TABLE IF NOT EXISTS _lock_probe (x)")
print("locked", flush=True)
time.sleep(30)
"""


def _hold(path: Path, begin: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path), begin], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_locked_rollback_database_gives_locked_error(tmp_path):
    path = tmp_path / "rollback.db"
    shutil.copyfile(GO_FIXTURE, path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    proc = _hold(path, "BEGIN EXCLUSIVE")
    try:
        start = time.monotonic()
        with pytest.raises(errors.DatabaseLocked, match="locked by another program"):
            open_store(path, pool=PoolConfig(busy_timeout_ms=300))
        assert time.monotonic() - start < 5
    finally:
        proc.kill()
        proc.wait()
    with open_store(path, read_only=True) as store:  # the holder's change never landed
        assert "_lock_probe" not in store.table_names()


def test_locked_wal_database_fails_writes_cleanly(go_db):
    proc = _hold(go_db, "BEGIN IMMEDIATE")
    try:
        with open_store(go_db, pool=PoolConfig(busy_timeout_ms=300)) as store:
            assert store.row_counts()["sandboxes"] == 31  # readers are not blocked by WAL
            with pytest.raises(errors.DatabaseLocked):
                store.migrate()
            assert store.schema_version() == 6
    finally:
        proc.kill()
        proc.wait()


def test_newer_schema_opens_read_only_with_notice(go_db):
    con = sqlite3.connect(go_db)
    con.execute("INSERT INTO migrations (version, description) VALUES (99, 'from the future')")
    con.commit()
    con.close()
    digest = sha256_file(go_db)
    with open_store(go_db) as store:
        assert store.read_only
        assert any("newer" in n for n in store.notices)
        with pytest.raises(errors.ReadOnly, match="newer"):
            store.require_writable()
        with pytest.raises(errors.ReadOnly):
            store.migrate()
    assert sha256_file(go_db) == digest


def test_query_stats_count_queries_and_errors(go_store):
    before = go_store.db.stats.queries
    go_store.row_counts()
    assert go_store.db.stats.queries > before
    with pytest.raises(Exception):
        go_store.db.execute_sql("SELECT * FROM no_such_table")
    assert go_store.db.stats.errors >= 1


def test_transaction_rolls_back_on_error(fresh_store):
    M = fresh_store.models
    with pytest.raises(RuntimeError):
        with fresh_store.transaction():
            M.Sandbox.create(id="sb-1", status="running")
            raise RuntimeError("boom")
    assert M.Sandbox.select().count() == 0
    assert fresh_store.db.stats.rollbacks == 1


def test_connection_context_in_threads(go_store):
    import threading

    results = []

    def work():
        with go_store.connection():
            results.append(go_store.models.Sandbox.select().count())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [31] * 4


def test_short_file_with_wal_frames_is_left_to_sqlite_recovery(tmp_path):
    """A crash mid-checkpoint: page 1 already says N pages, the file is shorter, and the
    missing pages are still in the -wal. SQLite recovers this; our header check must not
    call it truncated."""
    path = tmp_path / "grown.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    shutil.copyfile(GO_FIXTURE, tmp_path / "src.db")
    src = sqlite3.connect(tmp_path / "src.db")
    src.backup(con)  # all pages now in the WAL, none checkpointed
    src.close()
    wal = (tmp_path / "grown.db-wal").read_bytes()
    main = path.read_bytes()
    con.close()  # (checkpoints and removes the WAL)
    full = path.read_bytes()
    # Rebuild the crash state: the new header, a short main file, the WAL beside it.
    path.write_bytes(full[:4096] + main[4096:])
    (tmp_path / "grown.db-wal").write_bytes(wal)
    assert path.stat().st_size < len(full)
    with open_store(path) as store:
        assert store.row_counts()["sandboxes"] == 31
        assert store.maintenance.check(quick=True).ok


def test_pool_keeps_at_most_max_idle_connections_and_drops_long_idle_ones(go_db):
    import threading

    with open_store(go_db, read_only=True, pool=PoolConfig(max_open=10, max_idle=3)) as store:
        barrier = threading.Barrier(8)

        def work():
            with store.connection():
                store.row_counts()
                barrier.wait(timeout=10)  # all 8 connections open at once

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(store.db._connections) == 3
        store.db.close_idle_older_than(0)
        assert store.db._connections == []
        with store.connection():  # the pool still hands out connections afterwards
            assert store.row_counts()["sandboxes"] == 31
