"""A command killed with SIGKILL leaves nothing in the way: the next run succeeds and
no ``.partial`` litter stays behind (demo, export-file, export-metrics -o)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox_admin.storage import open_store


def _start(*args: object, home: Path) -> subprocess.Popen:
    env = dict(os.environ, SANDBOX_ADMIN_HOME=str(home))
    return subprocess.Popen([sys.executable, "-m", "sandbox_admin", *map(str, args)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when_partial_appears(proc: subprocess.Popen, folder: Path, timeout: float = 60) -> bool:
    """SIGKILL ``proc`` as soon as a .partial file is in ``folder``; False if it ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.name.endswith(".partial") for p in folder.iterdir()):
            os.kill(proc.pid, signal.SIGKILL)  # at once: the partial is there, the result is not
            proc.wait(10)
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    proc.kill()
    proc.wait(10)
    pytest.fail("no partial file appeared")


def _litter(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


def test_a_killed_demo_leaves_nothing_in_the_way(tmp_path):
    folder = tmp_path / "demo"
    folder.mkdir()
    target = folder / "demo.db"
    proc = _start("demo", target, "--metrics", "400000", home=tmp_path / "home")
    killed = _kill_when_partial_appears(proc, folder)
    assert killed, proc.stderr.read() if proc.stderr else ""
    assert not target.exists()  # no plausible half-database under the real name
    assert _litter(folder)  # the killed build's private file is there ...
    proc = subprocess.run([sys.executable, "-m", "sandbox_admin", "demo", target, "--sandboxes", "5",
                           "--files", "10", "--metrics", "100"], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, SANDBOX_ADMIN_HOME=str(tmp_path / "home")))
    assert proc.returncode == 0, proc.stderr
    assert _litter(folder) == []  # ... and the next run removed it
    assert sorted(p.name for p in folder.iterdir()) == ["demo.db"]
    with open_store(target, read_only=True) as store:
        assert store.row_counts()["sandboxes"] == 5


def test_a_killed_export_file_leaves_no_partial_after_the_next_export(fresh_store, tmp_path):
    fresh_store.sandboxes.create("sb", "running")
    big = fresh_store.files.create("sb", "/big.bin", os.urandom(48 << 20))
    small = fresh_store.files.create("sb", "/small.txt", b"hello")
    db = fresh_store.path
    fresh_store.close()
    out = tmp_path / "out"
    out.mkdir()
    proc = _start("export-file", db, big.id, out / "big.bin", home=tmp_path / "home")
    assert _kill_when_partial_appears(proc, out), "48 MiB were exported before a partial was seen"
    assert not (out / "big.bin").exists()
    assert _litter(out)
    env = dict(os.environ, SANDBOX_ADMIN_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "sandbox_admin", "export-file", db, str(small.id),
                           out / "small.txt"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert _litter(out) == []
    done = subprocess.run([sys.executable, "-m", "sandbox_admin", "export-file", db, str(big.id),
                           out / "big.bin"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["big.bin", "small.txt"]
