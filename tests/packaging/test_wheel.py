"""The wheel is complete: built, installed into a fresh virtual environment, it works.

Slow (a fresh venv installs Qt): ``pytest -m slow tests/packaging``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*cmd: str, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_the_wheel_installs_and_runs_in_a_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT))
    wheel = next(dist.glob("sandbox_admin-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for resource in ("sandbox-admin.svg", "org.sandboxrunner.SandboxAdmin.desktop",
                     "org.sandboxrunner.SandboxAdmin.metainfo.xml", "icons/metrics.svg"):
        assert f"sandbox_admin/resources/{resource}" in names
    assert not any(n.startswith("tests/") for n in names)

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    _run(str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel))
    home = tmp_path / "home"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SANDBOX_ADMIN_HOME=str(home))
    env.pop("PYTHONPATH", None)
    outside = tmp_path / "elsewhere"  # not the checkout: only the installed package is found
    outside.mkdir()
    where = _run(str(py), "-c", "import sandbox_admin, sys; print(sandbox_admin.__file__)", env=env)
    assert str(env_dir) in where.stdout
    _run(str(env_dir / "bin" / "sandbox-admin"), "--version", env=env)
    smoke = _run(str(env_dir / "bin" / "sandbox-admin"), "--smoke", env=env)
    assert "smoke test passed" in smoke.stdout
    _run(str(env_dir / "bin" / "sandbox-admin"), "init", str(outside / "new.db"), env=env)
    info = _run(str(env_dir / "bin" / "sandbox-admin"), "info", str(outside / "new.db"), "--json", env=env)
    assert '"schema_version": 9' in info.stdout or '"schema_version"' in info.stdout
    assert (env_dir / "bin" / "sandbox-admin-gui").exists()
    icon = _run(str(py), "-c", "from sandbox_admin.gui.resources import resource_path, ICON_NAME; "
                "print(resource_path(ICON_NAME))", env=env)
    assert str(env_dir) in icon.stdout
