"""Maintenance: VACUUM reclaims space and loses nothing; optimize, checkpoints, statistics."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sandbox_admin.storage import errors, open_store
from tests.conftest import sha256_file
from tests.reliability.dbtools import file_digest, make_sandbox_db


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return make_sandbox_db(tmp_path / "m.db", seed=11, metrics=2000, blob_kib=2048)


def _drop_most_chunks(path: Path) -> int:
    """Delete all but two chunks; return the bytes of blob data deleted."""
    conn = sqlite3.connect(path)
    deleted = conn.execute(
        "SELECT COALESCE(SUM(size_bytes), 0) FROM file_chunks WHERE rowid > 2").fetchone()[0]
    conn.execute("DELETE FROM file_chunks WHERE rowid > 2")
    conn.commit()
    conn.close()
    return int(deleted)


def test_vacuum_reclaims_the_space_and_loses_nothing(db):
    deleted = _drop_most_chunks(db)
    assert deleted >= 1_500_000
    before = file_digest(db)
    with open_store(db) as store:
        stats = store.maintenance.statistics()
        assert stats.freelist_count * stats.page_size >= deleted * 0.9
        report = store.maintenance.vacuum()
        assert report.checkpoint_complete
        assert report.bytes_reclaimed >= deleted * 0.9
        assert report.size_before - report.size_after == report.bytes_reclaimed
        assert report.freelist_before == stats.freelist_count
        after = store.maintenance.statistics()
        assert after.freelist_count == 0 and after.wal_bytes == 0
        assert store.maintenance.check().ok
    assert db.stat().st_size == report.size_after, "the file itself shrank"
    assert file_digest(db) == before


def test_vacuum_cancelled_changes_nothing(db):
    _drop_most_chunks(db)
    with open_store(db) as store:
        store.maintenance.checkpoint("TRUNCATE")
        before_digest = file_digest(db)
        pages = store.maintenance.statistics(sizes=False).page_count
        with pytest.raises(errors.Cancelled):
            store.maintenance.vacuum(cancel=lambda: True)
        assert store.maintenance.statistics(sizes=False).page_count == pages
    assert file_digest(db) == before_digest


def test_vacuum_refusals(db, go_fixture):
    with open_store(go_fixture, read_only=True) as store:
        with pytest.raises(errors.ReadOnly):
            store.maintenance.vacuum()
    with open_store(db) as store:
        with store.transaction():
            with pytest.raises(errors.InvalidInput):
                store.maintenance.vacuum()


def test_statistics_per_table_rows_and_bytes(db):
    with open_store(db) as store:
        stats = store.maintenance.statistics()
        tables = {t.name: t for t in stats.tables}
    assert stats.dbstat is True and stats.page_size == 4096
    assert stats.size_bytes == stats.page_size * stats.page_count
    assert tables["metrics"].rows == 2000 and tables["file_chunks"].rows == 32
    assert tables["file_chunks"].table_bytes >= 2048 * 1024  # the blobs live there
    assert tables["metrics"].index_bytes > 0  # its indexes are counted with it
    assert tables["file_search_fts"].rows is None and tables["file_search_fts"].bytes > 0
    assert sum(t.bytes for t in stats.tables) <= stats.size_bytes
    assert sum(t.pages for t in stats.tables) >= 0.95 * stats.page_count
    assert stats.tables[0].name == "file_chunks", "largest first"
    json.dumps(stats.as_dict())  # plain data for --json


def test_statistics_on_the_read_only_fixture_leaves_it_untouched(go_fixture, go_counts):
    digest = sha256_file(go_fixture)
    with open_store(go_fixture, read_only=True) as store:
        stats = store.maintenance.statistics()
    assert {t.name: t.rows for t in stats.tables}["metrics"] == go_counts["metrics"]
    assert stats.journal_mode == "wal" and stats.dbstat
    assert sha256_file(go_fixture) == digest


def test_wal_size_and_checkpoints(db):
    with open_store(db) as store:
        with store.transaction():
            store.models.Metric.update(value=1.0).execute()
        assert store.maintenance.statistics(sizes=False).wal_bytes > 0
        with pytest.raises(errors.InvalidInput):
            store.maintenance.checkpoint("SOMETIMES")
        result = store.maintenance.checkpoint("truncate")
        assert not result.busy and result.wal_frames == result.checkpointed_frames
        assert result.wal_bytes_before > 0 and result.wal_bytes_after == 0


def test_optimize_and_analyze(db):
    with open_store(db) as store:
        assert store.maintenance.optimize()["optimized"]
        store.maintenance.analyze()
        names = store.table_names()
    assert "sqlite_stat1" not in names  # an internal table: not listed as data
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] > 0
    conn.close()


def test_quick_and_integrity_checks_find_damage(db, tmp_path):
    with open_store(db) as store:
        assert store.maintenance.quick_check().ok
        assert store.maintenance.integrity_check().ok
    # Damage an index page (the file stays openable): both checks report it.
    damaged = tmp_path / "damaged.db"
    conn = sqlite3.connect(db)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='idx_metrics_name_timestamp'"
                        ).fetchone()
    conn.close()
    assert root is not None
    data = bytearray(db.read_bytes())
    offset = (root[0] - 1) * 4096
    data[offset + 8:offset + 4096] = bytes(4088)
    damaged.write_bytes(bytes(data))
    with open_store(damaged, read_only=True) as store:
        report = store.maintenance.check()
        quick = store.maintenance.quick_check()
    assert not report.ok and any("integrity_check" in p for p in report.problems)
    assert not quick.ok


def test_cli_vacuum_and_check_stats(run_cli, db):
    _drop_most_chunks(db)
    code, out, err = run_cli("vacuum", db, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["size_before"] > data["size_after"] and data["bytes_reclaimed"] > 0
    code, out, err = run_cli("check", db, "--stats", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] is True and data["stats"]["page_size"] == 4096
    assert any(t["name"] == "metrics" and t["rows"] == 2000 for t in data["stats"]["tables"])
    code, out, err = run_cli("vacuum", db)
    assert code == 0 and "reclaimed" in out
