"""A backup taken while another process keeps writing is consistent and finishes.

A writer process inserts sequence numbers 1, 2, 3… into ``metrics``, one transaction
each, without pause. The backup must finish in bounded time (no restart loop: the
number of backup steps is exactly pages / pages_per_step), pass integrity_check, and
hold exactly 1..k for some k, while the live database already holds more rows.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox_admin.storage import open_store
from sandbox_admin.storage.backup.manager import BACKUP_API, verify_backup
from tests.conftest import ROOT
from tests.reliability.dbtools import make_sandbox_db

WRITER = r"""
import sqlite3, sys
from pathlib import Path
live, stop = sys.argv[1], Path(sys.argv[2])
conn = sqlite3.connect(live, isolation_level=None, timeout=30)
conn.execute("PRAGMA synchronous=NORMAL")
n = 0
while not stop.exists():
    n += 1
    conn.execute(
        "INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id,"
        " aggregation_period) VALUES ('seq', 'counter', '{}', ?, '2026-01-01 00:00:00+00:00',"
        " '', 'raw')", (n,))
    if n % 25 == 0:
        print(n, flush=True)
print("final", n, flush=True)
"""

SEQ_SQL = "SELECT value FROM metrics WHERE metric_name = 'seq' ORDER BY id"


class Writer:
    def __init__(self, db: Path, tmp: Path) -> None:
        self.stop = tmp / "stop-writer"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(self.stop)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=ROOT, env=env)

    def wait_for(self, rows: int) -> None:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            assert line, self.proc.stderr.read() if self.proc.stderr else "writer died"
            if int(line) >= rows:
                return

    def finish(self) -> int:
        self.stop.touch()
        out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err
        return int(out.split()[-1])


def _seq(path: Path) -> list[int]:
    conn = sqlite3.connect(Path(path).resolve().as_uri() + "?immutable=1", uri=True)
    try:
        return [int(v) for (v,) in conn.execute(SEQ_SQL)]
    finally:
        conn.close()


def _live_count(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM metrics WHERE metric_name='seq'").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def busy_db(tmp_path):
    db = make_sandbox_db(tmp_path / "live.db", seed=31, blob_kib=2048)
    writer = Writer(db, tmp_path)
    writer.wait_for(50)
    yield db, writer
    if writer.proc.poll() is None:
        writer.finish()


def test_backup_under_continuous_writes_is_a_consistent_prefix_in_bounded_time(busy_db, tmp_path):
    db, writer = busy_db
    steps: list[tuple[int, int]] = []
    live_at_end: list[int] = []

    def progress(phase: str, done: int, total: int) -> None:
        if phase != "copy":
            return
        steps.append((done, total))
        if done == total:
            live_at_end.append(_live_count(db))
        time.sleep(0.002)  # a slow copy: the writer commits many times meanwhile

    started = time.monotonic()
    with open_store(db) as store:
        # The backup API's own guarantee (the fast snapshot copy has its own tests in
        # test_backup_snapshot_live.py).
        result = store.backups.create(tmp_path / "backups", pages_per_step=8, progress=progress,
                                      method=BACKUP_API)
    elapsed = time.monotonic() - started
    final = writer.finish()

    total = steps[-1][1]
    assert len(steps) == math.ceil(total / 8), "no restart: one pass over the snapshot"
    assert [d for d, _ in steps] == sorted({d for d, _ in steps})
    assert elapsed < 30
    assert verify_backup(result.path).ok
    values = _seq(result.path)
    k = len(values)
    assert k >= 50 and values == list(range(1, k + 1)), "exactly 1..k, no gaps, no extras"
    assert live_at_end[0] > k, "the writer kept committing during the backup"
    assert final > k
    print(f"\nbackup: {len(steps)} steps over {total} pages in {elapsed:.2f}s; held 1..{k}; "
          f"the live db had {live_at_end[0]} when the copy ended, {final} at the end")


def test_without_the_held_snapshot_the_backup_api_restarts(busy_db, tmp_path):
    """The control experiment: the same stepped copy on a plain connection starts over on
    every foreign commit (what the held read transaction prevents)."""
    db, writer = busy_db
    calls = [0]
    started = time.monotonic()

    def progress(status: int, remaining: int, total: int) -> None:
        calls[0] += 1
        time.sleep(0.002)
        if time.monotonic() - started > 1:
            raise TimeoutError("still copying")

    src = sqlite3.connect(db, timeout=30)
    dst = sqlite3.connect(tmp_path / "naive.db")
    pages = src.execute("PRAGMA page_count").fetchone()[0]
    try:
        src.backup(dst, pages=8, progress=progress)
    except TimeoutError:
        pass
    finally:
        src.close()
        dst.close()
        writer.finish()
    assert calls[0] > math.ceil(pages / 8) + 5


def test_cli_backup_in_another_process_while_the_writer_runs(busy_db, tmp_path):
    db, writer = busy_db
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "sandbox_admin", "backup", str(db), "--dir", str(tmp_path / "b"),
         "--json"], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env,
    )
    final = writer.finish()
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["verified"] is True and data["method"] in ("snapshot-copy", "backup-api")
    values = _seq(Path(data["path"]))
    assert values == list(range(1, len(values) + 1)) and 50 <= len(values) <= final
    assert verify_backup(data["path"]).ok
