"""A full disk, for real: a small tmpfs (needs root; skipped otherwise). Every write
command says "Disk full: ... needed, ... free" and nothing else (no "rollback" noise, no
"damaged ... restore it from a backup"), leaves the database sound, and leaves no
published half-backup behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GO_FIXTURE

#: what a person must never be told about a sound database on a full disk
WRONG_ADVICE = ("rollback", "damaged", "Restore it from a backup", "Traceback", "Unexpected")


@pytest.fixture
def small_disk(tmp_path: Path):
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _fill(folder: Path, leave: int) -> None:
    free = shutil.disk_usage(folder).free
    assert free < 64 << 20, "refusing to fill anything but the small test disk"
    if free > leave:
        with open(folder / "filler", "wb") as handle:
            handle.truncate(0)
            handle.write(bytes(free - leave))


def _cli(*args: object, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, SANDBOX_ADMIN_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "sandbox_admin", *map(str, args)],
                          capture_output=True, text=True, timeout=180, env=env)


def test_every_write_command_on_a_full_disk_says_disk_full(small_disk, tmp_path):
    db = small_disk / "d.db"
    shutil.copyfile(GO_FIXTURE, db)
    home = tmp_path / "home"
    assert _cli("migrate", db, "--to", "7", home=home).returncode == 0
    _fill(small_disk, 40_000)
    for command in (["migrate", db], ["reindex", db], ["demo", small_disk / "x.db", "--sandboxes", "50"],
                    ["migrate", db, "--to", "6", "--yes", "--no-backup"],
                    ["backup", db, "--dir", small_disk / "bk"]):
        proc = _cli(*command, home=home)
        assert proc.returncode == 1, (command, proc.stderr)
        line = proc.stderr.strip()
        assert line.count("\n") == 0, line
        assert "free" in line and ("Disk full" in line or "Not enough free space" in line), line
        for wrong in WRONG_ADVICE:
            assert wrong not in line, line
    (small_disk / "filler").unlink()
    assert not [p for p in small_disk.iterdir() if ".partial" in p.name or p.name == "x.db"]
    proc = _cli("check", db, home=home)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_backup_that_cannot_be_described_is_not_published(small_disk, tmp_path):
    db = tmp_path / "d.db"
    shutil.copyfile(GO_FIXTURE, db)
    folder = small_disk / "bk"
    folder.mkdir()
    # room for the backup itself, not for its description beside it
    _fill(small_disk, os.path.getsize(db) + 2048)
    proc = _cli("backup", db, "--dir", folder, home=tmp_path / "home")
    assert proc.returncode == 1
    assert "Disk full" in proc.stderr or "Not enough free space" in proc.stderr, proc.stderr
    assert list(folder.iterdir()) == []
