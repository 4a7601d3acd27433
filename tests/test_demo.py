"""The demo database: deterministic, plausible, Go-compatible, and it passes `check`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sandbox_admin.demo import generator as demo
from sandbox_admin.storage import open_store

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
SMALL = dict(sandboxes=12, files=60, metrics=3000, now=NOW)

#: Columns the Go reader fails on when they hold SQL NULL (SCHEMA.md).
NOT_NULL = {
    "sandboxes": ("environment", "config", "metadata", "recovery_data", "container_id", "working_dir"),
    "file_metadata": ("checksum", "mime_type", "metadata", "search_content", "size_bytes", "access_count"),
    "metrics": ("labels", "sandbox_id"),
    "audit_trail": ("old_data", "new_data", "metadata"),
    "migrations": ("description",),
    "sandbox_templates": ("description", "config", "pre_installed_packages", "environment_vars",
                          "resource_limits", "tags", "created_by", "created_at", "updated_at"),
    "workflow_executions": ("input_data", "output_data", "error_message", "metadata", "started_at",
                            "execution_time_seconds"),
    "workflow_steps": ("input_data", "output_data", "error_message", "execution_time_seconds"),
    "file_content_cache": ("content_data", "cached_at", "last_accessed"),
}


def digest_of(path: Path) -> str:
    with open_store(path, read_only=True) as store:
        return demo.content_digest(store)


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory) -> tuple[Path, float]:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    started = time.perf_counter()
    demo.create_demo(path, now=NOW)
    return path, time.perf_counter() - started


def test_same_seed_same_content_other_seed_other_content(tmp_path):
    a, b, c = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    demo.create_demo(a, seed=7, **SMALL)
    # b in another process with another hash seed: nothing may depend on set/dict hashing
    code = ("import sys; from datetime import datetime, timezone; from sandbox_admin import demo; "
            "demo.create_demo(sys.argv[1], seed=7, sandboxes=12, files=60, metrics=3000, "
            "now=datetime(2026, 11, 26, 12, tzinfo=timezone.utc))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(b)], check=True, env=env, timeout=120)
    demo.create_demo(c, seed=8, **SMALL)
    assert digest_of(a) == digest_of(b)
    assert digest_of(a) != digest_of(c)


def test_default_demo_is_plausible(default_demo):
    path, seconds = default_demo
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    assert one("SELECT count(*) FROM sandboxes") == demo.DEFAULT_SANDBOXES
    statuses = {s for (s,) in con.execute("SELECT DISTINCT status FROM sandboxes")}
    assert {"running", "stopped", "failed", "creating", "paused"} <= statuses
    assert 3 <= one("SELECT count(*) FROM sandboxes WHERE deleted_at IS NOT NULL") <= 10
    actions = {a for (a,) in con.execute("SELECT DISTINCT action FROM audit_trail")}
    assert actions == {"create", "update", "delete", "recover", "checkpoint"}
    assert one("SELECT count(*) FROM sandboxes WHERE recovery_data LIKE '%checkpoint_reason%'") >= 5
    # files: real text, versions, shared chunks, some metadata-only, some deleted
    assert one("SELECT count(*) FROM file_metadata") == demo.DEFAULT_FILES
    assert one("SELECT count(*) FROM file_metadata WHERE parent_file_id IS NOT NULL") >= 30
    assert one("SELECT count(*) FROM file_chunks WHERE ref_count > 1") >= 3
    assert one("SELECT count(*) FROM file_metadata WHERE id NOT IN (SELECT file_id FROM file_chunk_refs)") >= 5
    assert one("SELECT count(*) FROM file_metadata WHERE deleted_at IS NOT NULL") >= 5
    assert one("SELECT count(DISTINCT mime_type) FROM file_metadata") >= 8
    assert one("SELECT count(*) FROM file_search_fts WHERE file_search_fts MATCH 'retry'") >= 5
    # metrics: every type, about two weeks, raw plus a few Go rollup rows
    types = {t for (t,) in con.execute("SELECT DISTINCT metric_type FROM metrics")}
    assert types == {"counter", "gauge", "histogram", "summary"}
    raw = one("SELECT count(*) FROM metrics WHERE aggregation_period = 'raw'")
    assert 0.85 * demo.DEFAULT_METRICS <= raw <= 1.1 * demo.DEFAULT_METRICS
    assert one("SELECT count(*) FROM metrics WHERE aggregation_period = '1h'") > 0
    first, last = con.execute("SELECT min(julianday(timestamp)), max(julianday(timestamp)) FROM metrics").fetchone()
    assert 13 <= last - first <= 14.01
    # every series of a long-lived sandbox spans the two weeks
    spans = con.execute(
        "SELECT metric_type, max(julianday(timestamp)) - min(julianday(timestamp)) FROM metrics "
        "WHERE aggregation_period = 'raw' GROUP BY sandbox_id, metric_type").fetchall()
    assert {t for t, days in spans if days > 12} == types
    assert one("SELECT count(*) FROM sandbox_templates") == 6
    assert one("SELECT count(*) FROM sandbox_templates WHERE is_default") == 1
    runs = dict(con.execute("SELECT status, count(*) FROM workflow_executions GROUP BY status").fetchall())
    assert set(runs) == {"completed", "failed", "running"} and runs["completed"] > 2 * runs["failed"]
    assert one("SELECT count(*) FROM workflow_steps WHERE status = 'failed' AND error_message != ''") == runs["failed"]
    assert one("SELECT count(*) FROM workflow_steps WHERE retry_count > 0") >= 5
    first_run = one("SELECT min(julianday(started_at)) FROM workflow_executions")
    assert one("SELECT max(julianday(started_at)) FROM workflow_executions") - first_run > 10
    assert one("SELECT count(*) FROM file_content_cache") >= 40
    # Go-compatible values
    for table, columns in NOT_NULL.items():
        for column in columns:
            assert one(f"SELECT count(*) FROM {table} WHERE {column} IS NULL") == 0, (table, column)
    assert one("SELECT count(*) FROM sandboxes WHERE created_at LIKE '%T%'") == 0
    assert one("SELECT count(*) FROM metrics WHERE labels LIKE '% %'") == 0
    con.close()
    assert seconds < 20, f"demo took {seconds:.1f} s"  # ~4 s on an idle 2-core machine


def test_default_demo_passes_check(default_demo, run_cli):
    path, _ = default_demo
    code, out, err = run_cli("check", path)
    assert code == 0, out + err
    assert out.startswith("ok")


def test_demo_reads_through_the_stores(default_demo):
    path, _ = default_demo
    with open_store(path, read_only=True) as store:
        assert store.schema_version() == store.migration_status().current
        assert not store.migration_status().pending
        page = store.sandboxes.page(limit=10)
        assert len(page.rows) == 10
        with_files = store.models.FileMetadata.select().where(
            store.models.FileMetadata.file_path.endswith("/main.py")).first()
        assert b"def " in store.files.read_content(with_files.id) or with_files is None


def test_cli_demo_and_refusals(tmp_path, run_cli):
    target = tmp_path / "cli.db"
    code, out, err = run_cli("demo", target, "--seed", "3", "--sandboxes", "8", "--files", "30",
                             "--metrics", "1000", "--now", "2026-11-26 12:00:00", "--json")
    assert code == 0, err
    import json

    data = json.loads(out)
    assert data["tables"]["sandboxes"] == 8 and data["tables"]["file_metadata"] == 30
    code, _, err = run_cli("demo", target)
    assert code == 2 and "already exists" in err
    code, _, err = run_cli("demo", tmp_path / "x.db", "--now", "yesterday-ish")
    assert code == 2 and "not a timestamp" in err
    code, _, err = run_cli("demo", tmp_path / "y.db", "--files", "-1")
    assert code == 2 and "0 or more" in err
    assert not (tmp_path / "y.db").exists()


def test_empty_demo_is_still_a_sandbox_database(tmp_path, run_cli):
    path = tmp_path / "empty.db"
    demo.create_demo(path, sandboxes=0, files=0, metrics=0, now=NOW)
    code, out, _ = run_cli("check", path)
    assert code == 0
