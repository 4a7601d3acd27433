"""Paths that are not regular files (a FIFO, a device, a socket) are answered at once
with one line, and nothing is read from or written to them."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox_admin.storage import errors, open_store, verify_backup


def _cli(*args: object, home: Path, timeout: float = 30) -> subprocess.CompletedProcess:
    env = dict(os.environ, SANDBOX_ADMIN_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "sandbox_admin", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(params=["fifo", "device", "socket"])
def odd_path(request, tmp_path: Path):
    if request.param == "device":
        yield Path("/dev/null")
        return
    path = tmp_path / "odd.db"
    if request.param == "fifo":
        os.mkfifo(path)
        yield path
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        yield path
        sock.close()


def test_open_store_refuses_a_non_regular_file_at_once(odd_path):
    started = time.monotonic()
    for read_only in (True, False):
        with pytest.raises(errors.NotASandboxDatabase, match="not a database file"):
            open_store(odd_path, read_only=read_only)
    report = verify_backup(odd_path)
    assert not report.ok and "not a database file" in report.problems[0]
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("command", [["info"], ["check"], ["verify"], ["backup", "--dir", "{tmp}/bk"],
                                     ["sandboxes"], ["migrate"], ["search", "{db}", "x"],
                                     ["metrics"], ["vacuum"], ["reindex"]])
def test_every_command_answers_a_fifo_within_two_seconds(command, tmp_path):
    fifo = tmp_path / "pipe.db"
    os.mkfifo(fifo)
    args = [str(a).replace("{tmp}", str(tmp_path)) for a in command]
    args = [args[0], str(fifo), *[a for a in args[1:] if a != "{db}"]]
    started = time.monotonic()
    proc = _cli(*args, home=tmp_path / "home", timeout=20)
    elapsed = time.monotonic() - started
    assert proc.returncode in (1, 2), proc.stderr
    assert "FIFO" in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    assert elapsed < 2 + 1.5  # the interpreter's own start-up is the rest
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert not (tmp_path / "bk").exists() or not any((tmp_path / "bk").iterdir())


def test_restore_from_a_fifo_changes_nothing(go_db, tmp_path):
    from tests.conftest import sha256_file

    fifo = tmp_path / "backup.db"
    os.mkfifo(fifo)
    digest = sha256_file(go_db)
    proc = _cli("restore", go_db, fifo, "--yes", home=tmp_path / "home", timeout=20)
    assert proc.returncode != 0 and "FIFO" in proc.stderr
    assert sha256_file(go_db) == digest
