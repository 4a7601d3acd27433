"""``sandbox-admin init`` (a new, empty database) and ``sandbox-admin --smoke``."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from sandbox_admin.storage import latest_version, open_store
from tests.conftest import GO_FIXTURE, sha256_file


def _schema_names(path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return {(t, n) for t, n in conn.execute("SELECT type, name FROM sqlite_master")
                if not n.startswith("sqlite_")}
    finally:
        conn.close()


def test_init_makes_an_empty_database_at_the_latest_schema(run_cli, tmp_path):
    target = tmp_path / "new.db"
    code, out, err = run_cli("init", target, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data == {"path": str(target.resolve()), "schema_version": latest_version()}
    # what the Go server creates (every table, index and trigger of its v6 file) plus ours
    assert _schema_names(GO_FIXTURE) <= _schema_names(target)
    with open_store(target, read_only=True) as store:
        counts = store.row_counts()
    assert counts["migrations"] == latest_version() and counts["sandboxes"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.db"]  # no partial file left


def test_init_refuses_an_existing_path_and_leaves_it_alone(run_cli, tmp_path):
    target = tmp_path / "precious.db"
    target.write_bytes(b"not yours")
    digest = sha256_file(target)
    code, out, err = run_cli("init", target)
    assert code == 2 and "already exists" in err and "never overwrites" in err
    assert sha256_file(target) == digest
    link = tmp_path / "link.db"
    os.symlink(tmp_path / "nowhere.db", link)  # a dangling link is a path in use too
    code, _, err = run_cli("init", link)
    assert code == 2 and not (tmp_path / "nowhere.db").exists()


def test_init_in_a_missing_folder_says_so(run_cli, tmp_path):
    code, _, err = run_cli("init", tmp_path / "no" / "such" / "new.db")
    assert code == 2 and "does not exist" in err
    assert not (tmp_path / "no").exists()


def test_smoke_run_checks_every_pane_and_each_kind_of_job(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SANDBOX_ADMIN_HOME=str(tmp_path / "home"))
    proc = subprocess.run([sys.executable, "-m", "sandbox_admin", "--smoke"], capture_output=True,
                          text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for pane in ("Sandboxes", "Metrics", "Files", "Maintenance"):
        assert any(line.startswith(f"ok  {pane} pane shown") for line in lines), proc.stdout
    assert any("read job" in line for line in lines)
    assert any("write job with progress: verified backup" in line for line in lines)
    assert any("exclusive job" in line for line in lines)
    assert lines[-1].startswith("smoke test passed")
