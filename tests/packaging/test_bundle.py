"""The PyInstaller bundle builds and passes its smoke run (slow: ``pytest -m slow``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_bundle_builds_and_its_smoke_run_passes(tmp_path):
    env = dict(os.environ, SANDBOX_ADMIN_HOME=str(tmp_path / "home"))
    proc = subprocess.run(["bash", str(ROOT / "packaging" / "build.sh")], capture_output=True,
                          text=True, timeout=1800, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "smoke test passed" in proc.stdout
    exe = ROOT / "dist" / "sandbox-admin" / "sandbox-admin"
    info = subprocess.run([str(exe), "info", str(ROOT / "tests" / "fixtures" / "go_sandboxrunner_v6.db")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert info.returncode == 0 and "schema version   6" in info.stdout, info.stderr
