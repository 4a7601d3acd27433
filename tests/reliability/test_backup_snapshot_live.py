"""The snapshot copy while other processes write and checkpoint.

1. The mechanism: while the copy runs, another process commits rows and tries to
   checkpoint them into the database file. The checkpoint cannot backfill anything,
   the file's bytes do not change (hashed by that process), and the backup holds the
   content from before those commits. Once the backup is done, the same checkpoint
   goes through and the file changes (the control).
2. Under a continuous writer process: every backup (whichever path it took) holds
   exactly 1..k of the writer's rows and passes integrity_check; afterwards the live
   database passes integrity_check and holds every row the writer committed.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox_admin.storage import open_store
from sandbox_admin.storage.backup import snapshot
from sandbox_admin.storage.backup.manager import SNAPSHOT_COPY, verify_backup
from tests.reliability.dbtools import file_digest, make_sandbox_db
from tests.reliability.test_backup_live import SEQ_SQL, Writer, _seq

PROBE = r"""
import hashlib, json, sqlite3, sys
db, rows = sys.argv[1], int(sys.argv[2])

def file_hash():  # before connecting and after closing: never while this process has it open
    with open(db, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()

before = file_hash()
conn = sqlite3.connect(db, isolation_level=None, timeout=10)
for i in range(rows):
    conn.execute("INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp,"
                 " sandbox_id, aggregation_period) VALUES ('probe', 'gauge', '{}', ?,"
                 " '2026-01-01 00:00:00+00:00', '', 'raw')", (i,))
conn.execute("PRAGMA busy_timeout=0")
passive = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
truncate = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
conn.close()
print(json.dumps({"same": before == file_hash(), "passive": passive, "truncate": truncate}))
"""


def _probe(db: Path, rows: int) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, str(db), str(rows)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_database_file_stays_frozen_while_it_is_copied(tmp_path, monkeypatch):
    db = make_sandbox_db(tmp_path / "live.db", seed=41, blob_kib=1024)
    monkeypatch.setattr(snapshot, "COPY_CHUNK_BYTES", 64 * 1024)
    before = file_digest(db)
    during: list[dict] = []

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "copy" and 0 < done < total and not during:
            during.append(_probe(db, 200))  # mid-copy: commits and checkpoint attempts

    with open_store(db) as store:
        result = store.backups.create(tmp_path / "b", progress=progress)
        assert result.method == SNAPSHOT_COPY and during
        probe = during[0]
        busy, log, done = probe["passive"]
        assert busy == 0 and log > 0 and done < log, "the checkpoint could not backfill"
        assert probe["truncate"][0] == 1, "TRUNCATE reports busy"
        assert probe["same"], "the database file's bytes did not change during the copy"
        assert file_digest(result.path) == before, "the backup holds the content at its start"
        assert verify_backup(result.path).ok

        control = _probe(db, 0)  # our read transaction is over: now the checkpoint runs
        assert control["passive"][0] == 0 and control["passive"][1] == control["passive"][2]
        assert not control["same"], "the control checkpoint did change the file"
        rows = store.db.execute_sql(
            "SELECT count(*) FROM metrics WHERE metric_name = 'probe'").fetchone()[0]
        assert rows == 200
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


@pytest.fixture
def busy_db(tmp_path):
    db = make_sandbox_db(tmp_path / "live.db", seed=43, blob_kib=2048)
    writer = Writer(db, tmp_path)
    writer.wait_for(50)
    yield db, writer
    if writer.proc.poll() is None:
        writer.finish()


def test_backups_under_a_continuous_writer_are_consistent_and_the_source_stays_sound(
        busy_db, tmp_path, monkeypatch):
    db, writer = busy_db
    monkeypatch.setattr(snapshot, "COPY_CHUNK_BYTES", 128 * 1024)

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "copy":
            time.sleep(0.003)  # a slow copy: the writer commits and autocheckpoints meanwhile

    methods: list[str] = []
    lengths: list[int] = []
    started = time.monotonic()
    with open_store(db) as store:
        for _ in range(6):
            result = store.backups.create(tmp_path / "b", progress=progress)
            methods.append(result.method)
            assert result.verified and verify_backup(result.path).ok
            values = _seq(result.path)
            k = len(values)
            assert k >= 50 and values == list(range(1, k + 1)), "exactly 1..k"
            lengths.append(k)
    elapsed = time.monotonic() - started
    final = writer.finish()

    assert lengths == sorted(lengths) and final > lengths[-1]
    assert methods.count(SNAPSHOT_COPY) >= 3, methods
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [int(v) for (v,) in conn.execute(SEQ_SQL)] == list(range(1, final + 1)), \
            "no row the writer committed was lost"
    finally:
        conn.close()
    print(f"\n6 backups in {elapsed:.2f}s while the writer committed {final} rows: "
          f"{methods}; rows {lengths}")
