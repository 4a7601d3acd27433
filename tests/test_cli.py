"""The command line: exit codes, one-line errors, JSON output (the CLI contract, spec/CLI.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


# -- templates, workflows, workflow, cache ---------------------------------------------

@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    from datetime import datetime, timezone

    from sandbox_admin.demo import generator as demo

    path = tmp_path_factory.mktemp("cli-demo") / "demo.db"
    demo.create_demo(path, sandboxes=12, files=80, metrics=2000,
                     now=datetime(2026, 11, 26, 12, tzinfo=timezone.utc))
    return path


def test_templates_lists_the_default_first_class(run_cli, small_demo):
    code, out, err = run_cli("templates", small_demo)
    assert code == 0, err
    default_line = next(line for line in out.splitlines() if line.startswith("*"))
    assert "tmpl-python" in default_line and out.rstrip().endswith("6 templates")
    code, out, _ = run_cli("templates", small_demo, "--json")
    data = json.loads(out)
    assert [t["id"] for t in data if t["is_default"]] == ["tmpl-python"]
    assert isinstance(data[0]["config"], dict) and isinstance(data[0]["tags"], list)


def test_workflows_filters_and_one_workflow_with_its_steps(run_cli, small_demo):
    code, out, err = run_cli("workflows", small_demo, "--status", "failed", "--json")
    assert code == 0, err
    failed = json.loads(out)
    assert failed and {e["status"] for e in failed} == {"failed"}
    sandbox = failed[0]["sandbox_id"]
    code, out, _ = run_cli("workflows", small_demo, "--sandbox", sandbox, "--json")
    assert {e["sandbox_id"] for e in json.loads(out)} == {sandbox}
    code, out, _ = run_cli("workflow", small_demo, failed[0]["id"])
    assert code == 1  # the run failed: exit 1, like a check that found a problem
    assert "error: step " in out and "failed" in out
    code, out, _ = run_cli("workflow", small_demo, failed[0]["id"], "--json")
    steps = json.loads(out)
    assert any(s["status"] == "failed" and s["error_message"] for s in steps)
    code, _, err = run_cli("workflow", small_demo, "no-such-run")
    assert code == 1 and err.count("\n") == 1 and "no-such-run" in err
    code, _, err = run_cli("workflows", small_demo, "--from", "yesterday-ish")
    assert code == 2 and err.count("\n") == 1


def test_cache_stats_budget_and_clear(run_cli, small_demo, tmp_path):
    import shutil

    db = tmp_path / "c.db"
    shutil.copyfile(small_demo, db)
    code, out, err = run_cli("cache", db, "--json")
    assert code == 0, err
    before = json.loads(out)["stats"]
    assert before["entries"] > 0 and before["bytes"] > 0
    entries = json.loads(out)["entries"]
    assert len(entries) == min(20, before["entries"]) and entries[0]["file_path"]
    code, out, _ = run_cli("cache", db, "--budget", str(before["bytes"] // 2), "--json")
    after = json.loads(out)
    assert after["stats"]["bytes"] <= before["bytes"] // 2 and after["evicted"]["removed"] > 0
    code, out, _ = run_cli("cache", db, "--clear")
    assert code == 0 and "entries: 0" in out
    with pytest.raises(SystemExit) as info:
        run_cli("cache", db, "--budget", "lots")
    assert info.value.code == 2


def test_migrate_up_takes_a_verified_safety_backup_first(run_cli, go_db, tmp_path):
    from sandbox_admin.storage import latest_version, verify_backup

    code, out, err = run_cli("migrate", go_db, "--safety-dir", tmp_path / "safety", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["current"] == latest_version() and data["changed"]
    backup = data["safety_backup"]
    assert backup and verify_backup(backup).schema_version == 6  # the database as it was
    # nothing pending: no backup; --no-backup: none either
    code, out, _ = run_cli("migrate", go_db, "--json")
    assert json.loads(out)["safety_backup"] is None


# -- serve-metrics, export-metrics --format openmetrics ---------------------------------------

def test_export_metrics_openmetrics_for_promtool(run_cli, go_db, tmp_path):
    out = tmp_path / "history.om"
    code, _, err = run_cli("export-metrics", go_db, "--format", "openmetrics", "--instance", "go-1",
                           "-o", out, "--json")
    assert code == 0, err
    text = out.read_text()
    assert text.endswith("# EOF\n") and "# TYPE " in text and 'instance="go-1"' in text
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples and all(len(line.rsplit(" ", 1)[1].split(".")[1]) == 3 for line in samples)  # seconds.ms


def test_export_metrics_instance_needs_openmetrics(run_cli, go_db):
    code, _, err = run_cli("export-metrics", go_db, "--format", "csv", "--instance", "x")
    assert code == 2 and err.count("\n") == 1 and "--instance" in err


def test_serve_metrics_refuses_a_bad_address_and_a_missing_file(run_cli, go_db, tmp_path):
    code, _, err = run_cli("serve-metrics", go_db, "--listen", "nowhere")
    assert code == 2 and err.startswith("sandbox-admin: error:") and err.count("\n") == 1
    code, _, err = run_cli("serve-metrics", tmp_path / "missing.db")
    assert code == 2 and err.count("\n") == 1


def test_serve_metrics_runs_until_sigterm(go_db):
    import os
    import signal
    import urllib.request

    from tests.conftest import ROOT

    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox_admin", "serve-metrics", str(go_db), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        line = proc.stderr.readline()
        url = line.split(" at ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        body = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "sandbox_status{" in body and "sandbox_admin_database_size_bytes" in body
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "stopped after 1 scrapes" in out


def test_metrics_top_shows_what_the_chart_shows(run_cli, go_db):
    code, out, err = run_cli("metrics", go_db, "--name", "cpu_usage", "--top", "3", "--by", "max", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["fleet"] == {"cpu_usage": {"series": 26, "top": 3, "by": "max"}}
    rows = data["series"]
    assert len(rows) == 4 and rows[0]["sandbox_id"] is None  # the fleet first, then the top 3
    peaks = [max(p["max"] for p in s["points"]) for s in rows[1:]]
    assert peaks == sorted(peaks, reverse=True)
    code, out, _ = run_cli("metrics", go_db, "--name", "cpu_usage", "--top", "3")
    assert "26 series folded into the first row" in out


def test_metrics_read_slowly_from_raw_samples_suggests_the_rollup_build(run_cli, go_db, monkeypatch):
    from sandbox_admin import cli

    monkeypatch.setattr(cli, "SLOW_RAW_S", 0.0)  # the fixture is quick to read: any time is slow
    code, out, err = run_cli("metrics", go_db, "--name", "cpu_usage", "--json")
    assert code == 0, err
    assert json.loads(out)["series"] and "metrics-rollup" in err and str(go_db) in err  # stdout stays JSON
    code, _, err = run_cli("metrics", go_db, "--name", "cpu_usage", "--step", "1h")
    assert code == 0 and "metrics-rollup" not in err  # exact raw buckets were asked for
    assert run_cli("migrate", go_db)[0] == 0 and run_cli("metrics-rollup", go_db)[0] == 0
    code, _, err = run_cli("metrics", go_db, "--name", "cpu_usage")
    assert code == 0 and "metrics-rollup" not in err  # answered from the rollups
    monkeypatch.setattr(cli, "SLOW_RAW_S", 60.0)
    assert "metrics-rollup" not in run_cli("metrics", go_db, "--name", "cpu_usage", "--step", "1h",
                                           "--source", "raw")[2]
