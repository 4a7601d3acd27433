"""A database's own triggers must not turn our writes against it: every write path
refuses to start while a trigger we did not create is present, the data such a
trigger targets stays intact, and ``check`` lists unknown triggers and views."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from sandbox_admin.storage import errors, latest_version, open_store

#: Tables a hostile trigger hangs on: every table we write.
TABLES = ("audit_trail", "sandboxes", "file_metadata", "file_chunks", "file_chunk_refs", "metrics",
          "migrations", "admin_metric_series", "admin_metric_rollups", "admin_metric_state",
          "admin_migrations", "file_content_cache")


def _plant(path: Path) -> None:
    """On every table and event: wipe every chunk and rewrite every sandbox's status."""
    con = sqlite3.connect(path)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    for table in TABLES:
        if table not in tables:
            continue
        for event in ("INSERT", "UPDATE", "DELETE"):
            con.execute(
                f"CREATE TRIGGER evil_{table}_{event.lower()} AFTER {event} ON {table} BEGIN "
                "DELETE FROM file_chunks; UPDATE sandboxes SET status = 'pwned'; END")
    con.execute("CREATE VIEW evil_view AS SELECT 1")
    con.commit()
    con.close()


def _targets(path: Path) -> tuple[int, list[str]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        chunks = con.execute("SELECT count(*) FROM file_chunks").fetchone()[0]
        statuses = [r[0] for r in con.execute("SELECT status FROM sandboxes ORDER BY id")]
        return chunks, statuses
    finally:
        con.close()


@pytest.fixture
def hostile_db(go_db: Path) -> Path:
    """The Go fixture migrated to our latest schema, rollups built, then triggers planted."""
    with open_store(go_db) as store:
        store.migrate()
        store.metrics.build_rollups()
    con = sqlite3.connect(go_db)  # new raw samples, so that a rollup build has work to do
    con.execute("INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id, "
                "aggregation_period) SELECT metric_name, metric_type, labels, value + 1, "
                "strftime('%Y-%m-%d %H:%M:%f', 'now'), sandbox_id, aggregation_period FROM metrics "
                "WHERE aggregation_period = 'raw' LIMIT 50")
    con.commit()
    con.close()
    _plant(go_db)
    return go_db


def _sandbox_id(store) -> str:
    return store.sandboxes.page(limit=1).rows[0].id


WRITE_PATHS = {
    "sandbox create": lambda s: s.sandboxes.create("new-one", "running"),
    "sandbox update": lambda s: s.sandboxes.update(_sandbox_id(s), s.sandboxes.get(_sandbox_id(s)).version,
                                                   status="stopped"),
    "sandbox soft delete": lambda s: s.sandboxes.soft_delete(_sandbox_id(s)),
    "sandbox purge": lambda s: s.sandboxes.purge(_sandbox_id(s)),
    "audit entry": lambda s: s.sandboxes.record_audit("update", _sandbox_id(s)),
    "file create": lambda s: s.files.create(_sandbox_id(s), "/x.txt", b"hello"),
    "file purge": lambda s: s.files.purge(s.files.list(limit=1)[0].id),
    "metric record": lambda s: s.metrics.record("cpu_usage", 1.0),
    "rollups": lambda s: s.metrics.build_rollups(),
    "retention": lambda s: s.metrics.apply_retention(),
    "reindex": lambda s: s.files.index.rebuild(),
    "reindex optimize": lambda s: s.files.index.optimize(),
    "migrate down": lambda s: s.migrate(6),
}


@pytest.mark.parametrize("name", list(WRITE_PATHS))
def test_every_write_path_refuses_while_a_foreign_trigger_is_present(hostile_db, name):
    before = _targets(hostile_db)
    assert before[0] > 0
    with open_store(hostile_db) as store:
        with pytest.raises(errors.StorageError, match="evil_"):
            WRITE_PATHS[name](store)
    assert _targets(hostile_db) == before


def test_migrate_up_refuses_too(go_db):
    _plant(go_db)
    before = _targets(go_db)
    with open_store(go_db) as store:
        with pytest.raises(errors.ForeignTriggers):
            store.migrate()
        assert store.schema_version() == 6
    assert _targets(go_db) == before


def test_restore_refuses_a_backup_carrying_foreign_triggers(go_db, tmp_path):
    backup = tmp_path / "b" / "hostile.db"
    backup.parent.mkdir()
    shutil.copyfile(go_db, backup)
    _plant(backup)
    from tests.conftest import sha256_file

    digest = sha256_file(go_db)
    with open_store(go_db) as store:
        with pytest.raises(errors.BackupInvalid, match="triggers"):
            store.backups.restore(backup, safety_dir=tmp_path / "safety")
    assert sha256_file(go_db) == digest


def test_check_lists_unknown_triggers_and_views(hostile_db, run_cli):
    code, out, _ = run_cli("check", hostile_db, "--json")
    data = json.loads(out)
    assert code == 1 and not data["ok"]
    assert any("unknown trigger 'evil_audit_trail_insert'" in p for p in data["problems"])
    assert any("unknown view 'evil_view'" in p for p in data["problems"])


def test_a_clean_database_still_writes(go_db):
    with open_store(go_db) as store:
        store.migrate()
        assert store.schema_version() == latest_version()
        store.sandboxes.create("fine", "running")
        store.metrics.build_rollups()
