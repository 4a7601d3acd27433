"""Command-line manners: a reader that goes away, a full standard output and odd
arguments end with one line (or quietly), never a traceback or an internal message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GO_FIXTURE

#: Python's own wording that must never reach a person.
INTERNAL = ("Traceback", "Exception ignored", "Python int", "convert", "C int", "value out of range",
            "NaN", "Unexpected error")


def _run(args: list[str], *, stdout: int | None = subprocess.PIPE, env_home: Path | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if env_home is not None:
        env["SANDBOX_ADMIN_HOME"] = str(env_home)
    return subprocess.run([sys.executable, "-m", "sandbox_admin", *map(str, args)], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, env=env)


def _closed_pipe_run(args: list[str]) -> subprocess.CompletedProcess:
    """Run with standard output a pipe whose reader is already gone (``| head`` that
    stopped reading): every write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    try:
        return _run(args, stdout=write)
    finally:
        os.close(write)


READING_COMMANDS = [
    ["sandboxes", GO_FIXTURE],
    ["sandboxes", GO_FIXTURE, "--json"],
    ["info", GO_FIXTURE, "--json"],
    ["metrics", GO_FIXTURE, "--json"],
    ["metrics", GO_FIXTURE],
    ["export-metrics", GO_FIXTURE, "--format", "csv"],
    ["export-metrics", GO_FIXTURE, "--format", "prometheus"],
    ["search", GO_FIXTURE, "main"],
    ["check", GO_FIXTURE],
]


@pytest.mark.parametrize("args", READING_COMMANDS, ids=lambda a: " ".join(map(str, a[:1] + a[2:])))
def test_a_closed_pipe_ends_quietly(args):
    proc = _closed_pipe_run(args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


@pytest.mark.parametrize("args", READING_COMMANDS[:6], ids=lambda a: " ".join(map(str, a[:1] + a[2:])))
def test_a_full_stdout_is_one_line_about_the_output(args):
    with open("/dev/full", "w") as full:
        proc = _run(args, stdout=full.fileno())
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sandbox-admin: error: cannot write the output")
    assert "d.db" not in proc.stderr and str(GO_FIXTURE) not in proc.stderr  # not the database's fault
    for word in INTERNAL:
        assert word not in proc.stderr


ODD_ARGUMENTS = [
    ["metrics", GO_FIXTURE, "--from", "now-99999999999d"],
    ["metrics", GO_FIXTURE, "--to", "now+99999999999999999999w"],
    ["metrics", GO_FIXTURE, "--step", "99999999999999999999y"],
    ["export-metrics", GO_FIXTURE, "--format", "csv", "--from", "now-99999999999d"],
    ["backup", GO_FIXTURE, "--every", "nan"],
    ["backup", GO_FIXTURE, "--every", "inf"],
    ["backup", GO_FIXTURE, "--every", "1e300"],
    ["backup", GO_FIXTURE, "--keep", "99999999999999999999999"],
    ["demo", "{tmp}/x.db", "--now", "9999-12-31 23:59:59"],
    ["demo", "{tmp}/x.db", "--now", "0001-01-01 00:00:00"],
    ["demo", "{tmp}/x.db", "--sandboxes", "-5"],
    ["export-file", GO_FIXTURE, "99999999999999999999999", "{tmp}/out"],
    ["export-file", GO_FIXTURE, "-1", "{tmp}/out"],
    ["search", GO_FIXTURE, "x", "--limit", "99999999999999999999999"],
    ["sandboxes", GO_FIXTURE, "--limit", "99999999999999999999999"],
    ["migrate", GO_FIXTURE, "--to", "99999999999999999999999"],
    ["migrate", GO_FIXTURE, "--to", "-1"],
]


@pytest.mark.parametrize("args", ODD_ARGUMENTS, ids=lambda a: " ".join(map(str, a[:1] + a[2:])))
def test_odd_arguments_are_one_plain_line(args, tmp_path):
    args = [str(a).replace("{tmp}", str(tmp_path)) for a in args]
    proc = _run(args, env_home=tmp_path / "home")
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("sandbox-admin: error: ")
    for word in INTERNAL:
        assert word not in proc.stderr, proc.stderr
    assert not (tmp_path / "x.db").exists()
