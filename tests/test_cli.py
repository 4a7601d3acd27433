"""The command line: exit codes, one-line errors, JSON output (../shared/spec/CLI.md)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import GO_FIXTURE, sha256_file


def test_info_json_on_the_fixture(run_cli, go_counts):
    digest = sha256_file(GO_FIXTURE)
    code, out, err = run_cli("info", GO_FIXTURE, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["schema_version"] == 6
    for key in ("known_schema_version", "tables", "journal_mode", "size_bytes", "sqlite_version", "fts5"):
        assert key in data
    for table in ("sandboxes", "file_metadata", "metrics", "audit_trail", "file_chunks",
                  "file_chunk_refs", "migrations", "sandbox_templates", "workflow_executions",
                  "workflow_steps", "file_content_cache"):
        assert data["tables"][table] == go_counts[table]
    assert sha256_file(GO_FIXTURE) == digest


def test_info_as_a_real_process():
    proc = subprocess.run(
        [sys.executable, "-m", "sandbox_admin", "info", str(GO_FIXTURE)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "schema version   6" in proc.stdout and "sandboxes" in proc.stdout


def test_bad_file_is_one_line_exit_2(run_cli, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    code, out, err = run_cli("info", bad)
    assert code == 2
    assert err.startswith("sandbox-admin: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_usage_error_exit_2(run_cli, capsys):
    import pytest

    with pytest.raises(SystemExit) as info:
        run_cli("info")
    assert info.value.code == 2


def test_migrate_status_and_apply(run_cli, go_db):
    code, out, _ = run_cli("migrate", go_db, "--status", "--json")
    data = json.loads(out)
    assert code == 0 and data["current"] == 6 and 7 in data["pending"]
    code, out, _ = run_cli("migrate", go_db, "--json")
    data = json.loads(out)
    assert code == 0 and data["pending"] == [] and 7 in data["applied"]
    code, out, _ = run_cli("migrate", go_db, "--to", "6", "--yes")
    assert code == 0 and "schema version 6" in out


def test_check_ok_on_fixture_copy(run_cli, go_db):
    code, out, _ = run_cli("check", go_db, "--json")
    assert code == 0
    assert json.loads(out)["ok"] is True
    code, out, _ = run_cli("check", go_db, "--quick")
    assert code == 0 and out.startswith("ok")


def test_reindex_repairs_an_index_out_of_step(run_cli, go_db):
    import sqlite3

    con = sqlite3.connect(go_db)
    con.execute("INSERT INTO file_search_fts(file_search_fts) VALUES ('delete-all')")
    con.commit()
    con.close()
    code, out, _ = run_cli("check", go_db)
    assert code == 1 and "full-text index" in out and "reindex" in out
    code, out, err = run_cli("reindex", go_db)
    assert code == 0, err
    assert "rebuilt the search index: 226 documents for 226 files" in out
    code, out, _ = run_cli("check", go_db, "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, err = run_cli("reindex", go_db, "--optimize", "--json")
    assert code == 0 and json.loads(out)["check"]["ok"] is True


def test_metrics_rollup_is_incremental_and_applies_retention(run_cli, go_db):
    code, out, err = run_cli("metrics-rollup", go_db)
    assert code == 1 and "migrate" in err  # the Go v6 file has no rollup tables yet
    assert run_cli("migrate", go_db)[0] == 0
    code, out, err = run_cli("metrics-rollup", go_db, "--json")
    assert code == 0, err
    first = json.loads(out)["rollups"]
    assert first["samples"] == 21847  # every raw sample of the fixture, none of Go's rollup rows
    code, out, _ = run_cli("metrics-rollup", go_db, "--json")
    assert json.loads(out)["rollups"]["samples"] == 0  # nothing new
    code, out, err = run_cli("metrics-rollup", go_db, "--retention")
    assert code == 0, err
    assert "retention: deleted" in out
