"""Migrations 1–6 as the Go server has them, ours from 7, checksums, up/down."""

from __future__ import annotations

import sqlite3

import pytest

from sandbox_admin.storage import errors, open_store
from sandbox_admin.storage.migrations import MIGRATIONS, latest_version
from tests.conftest import GO_FIXTURE


def _schema(con: sqlite3.Connection) -> dict[str, object]:
    names = {
        (t, n) for t, n in con.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    }
    columns = {}
    for _, table in [x for x in names if x[0] == "table"]:
        columns[table] = [r[1] for r in con.execute("SELECT * FROM pragma_table_info(?)", (table,))]
    return {"names": names, "columns": columns}


def _fixture_schema() -> dict[str, object]:
    con = sqlite3.connect(f"file:{GO_FIXTURE}?immutable=1", uri=True)
    try:
        return _schema(con)
    finally:
        con.close()


def test_new_database_has_every_fixture_name_and_column(fresh_store):
    ours = _schema(fresh_store.db.connection())
    go = _fixture_schema()
    assert go["names"] <= ours["names"], go["names"] - ours["names"]
    extra = {n for _, n in ours["names"] - go["names"]}
    assert all(n.startswith("admin_") for n in extra), extra
    for table, cols in go["columns"].items():
        assert ours["columns"][table] == cols, table


def test_down_to_1_and_up_again_is_identical(fresh_store):
    before = _schema(fresh_store.db.connection())
    reverted = fresh_store.migrate(1)
    assert reverted == list(range(latest_version(), 1, -1))
    at_one = _schema(fresh_store.db.connection())
    assert ("table", "sandbox_templates") not in at_one["names"]
    assert "cpu_usage_seconds" not in at_one["columns"]["sandboxes"]
    assert fresh_store.migration_status().applied == [1]
    fresh_store.migrate()
    assert _schema(fresh_store.db.connection()) == before


def test_go_fixture_migrates_to_ours_and_back(go_store):
    go_store.migrate()
    status = go_store.migration_status()
    assert status.current == latest_version() and not status.pending and not status.problems
    assert go_store.row_counts()["sandboxes"] == 31
    go_store.migrate(6)
    assert _schema(go_store.db.connection()) == _fixture_schema()


def test_reset_for_development(fresh_store):
    M = fresh_store.models
    M.Sandbox.create(id="x", status="running")
    fresh_store.migrations.reset()
    assert M.Sandbox.select().count() == 0
    assert fresh_store.migration_status().current == latest_version()


def test_tampered_checksum_is_detected(fresh_db, run_cli):
    con = sqlite3.connect(fresh_db)
    con.execute("UPDATE admin_migrations SET checksum = 'deadbeef' WHERE version = 3")
    con.commit()
    con.close()
    with open_store(fresh_db) as store:
        status = store.migration_status()
        assert any("migration 3" in p for p in status.problems)
        assert any("migration 3" in n for n in store.notices)
        with pytest.raises(errors.MigrationChecksumMismatch, match="migration 3"):
            store.migrate(1)
        assert store.migration_status().current == latest_version()
    code, out, err = run_cli("check", fresh_db)
    assert code == 1 and "migration 3" in out
    code, out, err = run_cli("migrate", fresh_db)
    assert code == 1 and "migration 3" in err


def test_failing_migration_leaves_nothing_half_done(fresh_store):
    fresh_store.migrate(3)
    bad = MIGRATIONS[3]  # version 4
    broken = type(bad)(bad.version, bad.description, up=[*bad.up, "CREATE TABLE broken (("], down=bad.down)
    MIGRATIONS[3] = broken
    try:
        with pytest.raises(errors.MigrationError, match="Migration 4 failed"):
            fresh_store.migrate()
    finally:
        MIGRATIONS[3] = bad
    assert fresh_store.migration_status().current == 3
    assert "file_content_cache" not in fresh_store.table_names()


def test_checksums_are_stable_and_distinct():
    sums = [m.checksum for m in MIGRATIONS]
    assert len(set(sums)) == len(sums)
    assert [m.version for m in MIGRATIONS] == list(range(1, latest_version() + 1))


def test_unknown_target_is_refused(fresh_store):
    with pytest.raises(errors.InvalidInput):
        fresh_store.migrate(latest_version() + 5)
