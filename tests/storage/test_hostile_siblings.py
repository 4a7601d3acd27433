"""Files beside a database: a -wal from another database, a hot rollback journal after
a kill, a -wal without its -shm. Each is recognised before any writable open, said
plainly, and nothing is changed."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sandbox_admin.storage import errors, open_store
from tests.conftest import GO_FIXTURE, sha256_file


def _cli(*args: object, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, SANDBOX_ADMIN_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "sandbox_admin", *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=env)


def _wal_snapshot(db: Path, into: Path, *, page_size: int | None = None) -> None:
    """Copy ``db`` with a -wal holding frames (and its -shm) into the folder ``into``,
    taken while a connection has uncheckpointed changes."""
    con = sqlite3.connect(db)
    if page_size:
        con.execute(f"PRAGMA page_size={page_size}")
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute("VACUUM")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("UPDATE sandboxes SET status = status || ''")
    con.commit()
    into.mkdir(exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        shutil.copyfile(f"{db}{suffix}", into / f"{db.name}{suffix}")
    con.close()


@pytest.fixture
def ours(tmp_path: Path) -> Path:
    src = tmp_path / "src" / "sandbox_runner.db"
    src.parent.mkdir()
    shutil.copyfile(GO_FIXTURE, src)
    _wal_snapshot(src, tmp_path / "ours")
    return tmp_path / "ours" / "sandbox_runner.db"


@pytest.mark.parametrize("how", ["page size", "salt"])
def test_a_foreign_wal_is_refused_before_any_open_and_nothing_changes(ours, tmp_path, how):
    other = tmp_path / "other" / "other.db"
    other.parent.mkdir()
    shutil.copyfile(GO_FIXTURE, other)
    _wal_snapshot(other, tmp_path / "other2", page_size=8192 if how == "page size" else None)
    shutil.copyfile(tmp_path / "other2" / "other.db-wal", f"{ours}-wal")
    before = {p.name: sha256_file(p) for p in ours.parent.iterdir()}
    for read_only in (True, False):
        with pytest.raises(errors.ForeignWal, match="does not belong"):
            open_store(ours, read_only=read_only)
    for command in (["info"], ["check"], ["backup", "--dir", tmp_path / "bk"], ["sandboxes"]):
        proc = _cli(command[0], ours, *command[1:], home=tmp_path / "home")
        assert proc.returncode == 2 and "-wal beside" in proc.stderr and "does not belong" in proc.stderr
        assert "restore it from a backup" not in proc.stderr.lower() or "wal" in proc.stderr.lower()
    assert {p.name: sha256_file(p) for p in ours.parent.iterdir()} == before
    assert not (tmp_path / "bk").exists() or not list((tmp_path / "bk").glob("*.db"))


def test_our_own_wal_still_opens(ours):
    with open_store(ours, read_only=True) as store:
        assert store.row_counts()["sandboxes"] == 31


def test_a_wal_without_shm_is_read_only_opened_without_creating_files(ours, tmp_path):
    os.unlink(f"{ours}-shm")
    before = {p.name: sha256_file(p) for p in ours.parent.iterdir()}
    with open_store(ours, read_only=True) as store:
        assert store.row_counts()["sandboxes"] == 31
        assert any("-wal holds changes" in n for n in store.notices)
    proc = _cli("info", ours, home=tmp_path / "home")
    assert proc.returncode == 0 and "-wal holds changes" in proc.stdout
    assert {p.name: sha256_file(p) for p in ours.parent.iterdir()} == before  # no -shm appeared
    with open_store(ours) as store:  # a writable open brings the WAL in
        assert store.row_counts()["sandboxes"] == 31


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sqlite3, sys
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    con.execute("PRAGMA cache_size=5")
    con.execute("BEGIN IMMEDIATE")
    con.execute("UPDATE metrics SET value = value + 1")
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_a_hot_journal_is_named_not_called_read_only(tmp_path):
    db = tmp_path / "rollback.db"
    shutil.copyfile(GO_FIXTURE, db)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(db)], timeout=60)
    assert proc.returncode == -signal.SIGKILL
    journal = Path(f"{db}-journal")
    assert journal.exists() and journal.stat().st_size > 0
    before = {p.name: sha256_file(p) for p in tmp_path.iterdir()}
    for command in ("info", "check"):
        out = _cli(command, db, home=tmp_path / "home")
        assert out.returncode == 2, out.stderr
        assert "interrupted transaction" in out.stderr and "read-only" not in out.stderr.split("Opening")[0]
    assert {p.name: sha256_file(p) for p in tmp_path.iterdir()} == before
    with open_store(db) as store:  # writable: SQLite rolls the transaction back
        assert store.maintenance.check().ok
    assert not journal.exists() or journal.stat().st_size == 0


def test_a_strangers_wal_without_shm_is_tried_on_a_copy_and_refused(tmp_path):
    ours = tmp_path / "ours" / "sandbox_runner.db"
    ours.parent.mkdir()
    shutil.copyfile(GO_FIXTURE, ours)
    stranger = tmp_path / "stranger" / "s.db"
    stranger.parent.mkdir()
    con = sqlite3.connect(stranger)
    con.execute("PRAGMA page_size=4096")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE junk (x)")
    con.execute("INSERT INTO junk SELECT randomblob(3000) FROM generate_series(1, 400)"
                if sqlite3.sqlite_version_info >= (3, 46) else
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) "
                "INSERT INTO junk SELECT randomblob(3000) FROM n")
    con.commit()
    shutil.copyfile(f"{stranger}-wal", f"{ours}-wal")  # no -shm beside ours
    con.close()
    before = {p.name: sha256_file(p) for p in ours.parent.iterdir()}
    with pytest.raises(errors.ForeignWal, match="damaged with it"):
        open_store(ours)
    proc = _cli("backup", ours, "--dir", tmp_path / "bk", home=tmp_path / "home")
    assert proc.returncode == 2 and "does not belong" in proc.stderr
    with open_store(ours, read_only=True) as store:  # the database alone, said so
        assert store.row_counts()["sandboxes"] == 31
        assert any("-wal holds changes" in n for n in store.notices)
    assert {p.name: sha256_file(p) for p in ours.parent.iterdir()} == before
