"""Destructive steps need consent and leave a way back; outputs never clobber a
database, a device, a pipe or a link."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sandbox_admin.storage import errors, latest_version, open_store, verify_backup
from tests.conftest import sha256_file


def _cli(*args: object, home: Path, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess:
    env = dict(os.environ, SANDBOX_ADMIN_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "sandbox_admin", *map(str, args)], stdin=stdin,
                          capture_output=True, text=True, timeout=120, env=env)


def _siblings(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


# -- every destructive CLI step refuses without consent, byte-identical ------------------

DESTRUCTIVE = [
    ["migrate", "{db}", "--to", "0"],
    ["migrate", "{db}", "--to", "3"],
    ["migrate", "{db}", "--to", "5", "--no-backup"],
    ["restore", "{db}", "{backup}"],
    ["export-metrics", "{other}", "--format", "csv", "-o", "{db}"],
    ["export-file", "{other}", "1", "{db}"],
]


@pytest.mark.parametrize("command", DESTRUCTIVE, ids=lambda c: " ".join(c[:1] + c[2:]))
def test_a_destructive_step_without_consent_changes_nothing(command, go_db, tmp_path):
    import shutil

    backup = tmp_path / "b" / "copy.db"
    backup.parent.mkdir()
    shutil.copyfile(go_db, backup)
    other = tmp_path / "o" / "other.db"
    other.parent.mkdir()
    shutil.copyfile(go_db, other)
    digest, before = sha256_file(go_db), _siblings(go_db)
    args = [a.replace("{db}", str(go_db)).replace("{backup}", str(backup)).replace("{other}", str(other))
            for a in command]
    proc = _cli(*args, home=tmp_path / "home")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("sandbox-admin: error: ") and "Traceback" not in proc.stderr
    assert sha256_file(go_db) == digest
    assert _siblings(go_db) == before
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*.db"))


# -- going down: consent, a verified safety backup, and a way back up ----------------------

def test_reset_with_yes_takes_a_verified_backup_and_stays_recognised(go_db, tmp_path):
    home = tmp_path / "home"
    proc = _cli("migrate", go_db, "--to", "0", "--yes", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["current"] == 0 and data["applied"] == []
    safety = Path(data["safety_backup"])
    assert safety.parent == home / "data" / "backups" or safety.exists()
    report = verify_backup(safety)
    assert report.ok and report.schema_version == 6 and report.tables["sandboxes"] == 31
    # still a sandbox database: info, migrate up, and the data comes back by restore
    proc = _cli("info", go_db, "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["schema_version"] == 0
    assert _cli("migrate", go_db, home=home).returncode == 0
    with open_store(go_db, read_only=True) as store:
        assert store.schema_version() == latest_version()
        assert store.row_counts()["sandboxes"] == 0
    proc = _cli("restore", go_db, safety, "--yes", home=home)
    assert proc.returncode == 0, proc.stderr
    # a version-6 backup: its migrations are pending, and the CLI says what to type
    assert f"`sandbox-admin migrate {go_db}` applies the pending migrations" in proc.stdout
    with open_store(go_db, read_only=True) as store:
        assert store.row_counts()["sandboxes"] == 31


def test_a_downgrade_that_drops_columns_asks_and_backs_up(go_db, tmp_path):
    home = tmp_path / "home"
    assert _cli("migrate", go_db, home=home).returncode == 0
    proc = _cli("migrate", go_db, "--to", "2", "--yes", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    safety = Path(json.loads(proc.stdout)["safety_backup"])
    assert verify_backup(safety).schema_version == latest_version()
    with open_store(safety, read_only=True) as store:
        columns = {c.name for c in store.db.get_columns("sandboxes")}
    assert "cpu_usage_seconds" in columns  # the dropped column's data is in the backup


def test_no_backup_is_explicit(go_db, tmp_path):
    home = tmp_path / "home"
    proc = _cli("migrate", go_db, "--to", "5", "--yes", "--no-backup", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["safety_backup"] is None


def test_store_migrate_down_refuses_when_the_backup_cannot_be_made(go_store, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(errors.StorageError):
        go_store.migrate_down(0, safety_dir=blocker)
    assert go_store.schema_version() == 6


# -- outputs never clobber -------------------------------------------------------------------

def test_export_metrics_never_replaces_a_database(go_db, tmp_path):
    import shutil

    victim = tmp_path / "victim.db"
    shutil.copyfile(go_db, victim)
    digest = sha256_file(victim)
    proc = _cli("export-metrics", go_db, "--format", "csv", "-o", victim, home=tmp_path / "home")
    assert proc.returncode == 2 and "SQLite database" in proc.stderr
    assert sha256_file(victim) == digest
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_output_through_a_symlink_writes_the_target_and_keeps_the_link(go_db, tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    proc = _cli("export-metrics", go_db, "--format", "csv", "-o", link, home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("id,timestamp,name")


def test_outputs_write_through_devices_and_pipes(go_db, tmp_path):
    proc = _cli("export-metrics", go_db, "--format", "csv", "-o", "/dev/null", home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    proc = _cli("export-metrics", go_db, "--format", "csv", "-o", "/dev/stdout", home=tmp_path / "home")
    assert proc.returncode == 0 and proc.stdout.startswith("id,timestamp,name")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    proc = _cli("export-file", go_db, "1", fifo, "--force", home=tmp_path / "home")
    reader.join(30)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and got and len(got[0]) > 0


def test_export_file_force_onto_a_device_keeps_the_device(go_db, tmp_path):
    node = tmp_path / "null"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    proc = _cli("export-file", go_db, "1", node, "--force", home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR(node.lstat().st_mode)


def test_outputs_refuse_a_socket(go_db, tmp_path):
    path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    try:
        for args in (["export-metrics", go_db, "--format", "csv", "-o", path],
                     ["export-file", go_db, "1", path, "--force"]):
            proc = _cli(*args, home=tmp_path / "home")
            assert proc.returncode == 2 and "not a regular file" in proc.stderr, proc.stderr
            assert stat.S_ISSOCK(path.lstat().st_mode)
    finally:
        sock.close()


# -- restoring another database's backup, a backup from the future, a live writer ----------

def test_restoring_another_databases_backup_needs_explicit_consent(go_db, tmp_path):
    import shutil as sh

    other = tmp_path / "other" / "other.db"
    other.parent.mkdir()
    sh.copyfile(go_db, other)
    home = tmp_path / "home"
    proc = _cli("backup", other, "--dir", tmp_path / "bk", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    backup = Path(json.loads(proc.stdout)["path"])
    digest = sha256_file(go_db)
    proc = _cli("restore", go_db, backup, "--yes", home=home)
    assert proc.returncode == 2 and "backup of another database" in proc.stderr
    assert "--other-database" in proc.stderr
    assert sha256_file(go_db) == digest
    with open_store(go_db) as store:
        with pytest.raises(errors.ConsentRequired):
            store.backups.restore(backup, safety_dir=tmp_path / "safety")
    assert sha256_file(go_db) == digest
    proc = _cli("restore", go_db, backup, "--yes", "--other-database", home=home)
    assert proc.returncode == 0, proc.stderr
    # its own backup needs no extra consent
    proc = _cli("backup", go_db, "--dir", tmp_path / "bk2", "--json", home=home)
    own = Path(json.loads(proc.stdout)["path"])
    assert _cli("restore", go_db, own, "--yes", home=home).returncode == 0


def test_a_backup_stamped_in_the_future_does_not_stop_the_schedule(go_db, tmp_path):
    home = tmp_path / "home"
    folder = tmp_path / "bk"
    proc = _cli("backup", go_db, "--dir", folder, "--json", home=home)
    first = Path(json.loads(proc.stdout)["path"])
    sidecar = first.with_name(first.name + ".json")
    data = json.loads(sidecar.read_text())
    data["created_at"] = "2999-01-01T00:00:00Z"
    sidecar.write_text(json.dumps(data))
    proc = _cli("backup", go_db, "--dir", folder, "--every", "6", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["skipped"] is False
    assert "in the future" in proc.stderr and first.name in proc.stderr


def test_restore_warns_while_another_program_has_the_database_open(go_db, tmp_path):
    import shutil as sh

    backup = tmp_path / "b" / "copy.db"
    backup.parent.mkdir()
    sh.copyfile(go_db, backup)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         "c = sqlite3.connect(sys.argv[1]); c.execute('SELECT count(*) FROM sandboxes').fetchone()\n"
         "print('ready', flush=True); time.sleep(60)", str(go_db)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        proc = _cli("restore", go_db, backup, "--yes", home=tmp_path / "home")
        assert f"process {holder.pid} has it open" in proc.stderr
        assert "stop the SandboxRunner server" in proc.stderr
    finally:
        holder.kill()
        holder.wait()
