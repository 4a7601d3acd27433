"""Shared fixtures: real SQLite files in temporary folders, never the originals."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

ROOT = Path(__file__).resolve().parents[1]


#: The Go server's own v6 database and its row counts (SCHEMA.md), kept in the repository
#: so that a clone alone runs every test.
FIXTURES = ROOT / "tests" / "fixtures"
GO_FIXTURE = FIXTURES / "go_sandboxrunner_v6.db"
GO_COUNTS = json.loads((FIXTURES / "go_sandboxrunner_v6.counts.json").read_text())


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory: pytest.TempPathFactory):
    """Keep the app's data/config folders out of the real home during tests."""
    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("SANDBOX_ADMIN_HOME")
    os.environ["SANDBOX_ADMIN_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("SANDBOX_ADMIN_HOME", None)
    else:
        os.environ["SANDBOX_ADMIN_HOME"] = old


@pytest.fixture
def go_fixture() -> Path:
    """The read-only original: open only read-only (or copy it)."""
    return GO_FIXTURE


@pytest.fixture
def go_counts() -> dict:
    return GO_COUNTS


@pytest.fixture
def go_db(tmp_path: Path) -> Path:
    """A writable copy of the Go server's v6 database."""
    target = tmp_path / "sandbox_runner.db"
    shutil.copyfile(GO_FIXTURE, target)
    target.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return target


@pytest.fixture
def go_store(go_db: Path):
    from sandbox_admin.storage import open_store

    store = open_store(go_db)
    yield store
    store.close()


@pytest.fixture
def fresh_db(tmp_path: Path) -> Path:
    """A new empty database at the latest schema, closed."""
    from sandbox_admin.storage import create_store

    path = tmp_path / "fresh.db"
    create_store(path).close()
    return path


@pytest.fixture
def fresh_store(tmp_path: Path):
    from sandbox_admin.storage import create_store

    store = create_store(tmp_path / "fresh.db")
    yield store
    store.close()


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process: returns (exit_code, stdout, stderr)."""
    from sandbox_admin.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


PYTHON = sys.executable
