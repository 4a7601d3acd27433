"""A rollup build that reads ahead in a second process gives the very rows of one that
reads every chunk itself, and leaves no process behind, whatever happens to it."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import pytest

from sandbox_admin.storage import create_store, open_store
from sandbox_admin.storage.metrics.rollups import Rollups
from sandbox_admin.storage.metrics.store import Sample

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)
CHUNK = 700


def _readers() -> list[int]:
    """This process's reader processes still alive (not zombies)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"rollup_reader" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.fixture
def raw_db(tmp_path: Path) -> Path:
    """Gauges, counters (with a reset) and a histogram over several sandboxes and
    labels, 6,000-odd rows in id order spread over the series, some unreadable."""
    path = tmp_path / "raw.db"
    with create_store(path) as store:
        for sid in ("sb-a", "sb-b", "sb-c"):
            store.models.Sandbox.create(id=sid, status="running")
        samples = []
        for i in range(6000):
            sid = ("sb-a", "sb-b", "sb-c")[i % 3]
            at = T0 + timedelta(seconds=7 * i)
            samples.append(Sample("cpu", float((i * 37) % 101) / 3, sandbox_id=sid, timestamp=at,
                                  labels={"host": f"n{i % 4}"}))
            if i % 2:
                value = float(i // 2 if i < 4000 else i // 2 - 2000)  # a reset at 4000
                samples.append(Sample("requests_total", value, sandbox_id=sid, timestamp=at,
                                      type="counter"))
            if i % 5 == 0:
                samples.append(Sample("latency", (i % 13) * 0.01, sandbox_id=sid, timestamp=at,
                                      type="histogram", labels={"le": "0.1"}))
        store.metrics.record_batch(samples)
        store.db.execute_sql(
            "INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id, "
            "aggregation_period) VALUES ('cpu','gauge','{}',1,'not a time','sb-a','raw'), "
            "('cpu','gauge','{}','x','2026-11-20 00:00:00+00:00','sb-a','raw')")
    return path


def _build(path: Path, *, reader: bool, progress=None):
    with open_store(path) as store, store.connection():
        rollups = store.metrics.rollups
        rollups.READER_MIN_ROWS = 0 if reader else 10**12
        report = rollups.build(progress, chunk=CHUNK)
        # the build's connection checkpoints again (the reader did it meanwhile)
        assert store.db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
        return report


def _dump(path: Path) -> list[str]:
    """Every row of the rollup tables (``admin_metric_*``), as SQLite dumps it."""
    con = sqlite3.connect(path)
    con.text_factory = lambda data: data.decode("utf-8", "replace")  # raw rows may not be UTF-8
    try:
        return sorted(line for line in con.iterdump() if line.startswith('INSERT INTO "admin_metric'))
    finally:
        con.close()


def _signal_readers_once(signum: int) -> tuple[Callable[[int, int], None], list[int]]:
    """A build's progress callback that sends ``signum`` to its reader after the first
    chunk, and the pids it was sent to."""
    hit: list[int] = []

    def progress(done: int, total: int) -> None:
        if not hit:
            for pid in _readers():
                os.kill(pid, signum)
                hit.append(pid)

    return progress, hit


def test_reading_ahead_gives_the_rows_reading_here_gives(raw_db: Path, tmp_path: Path):
    plain = tmp_path / "plain.db"
    shutil.copy(raw_db, plain)
    ahead = _build(raw_db, reader=True)
    here = _build(plain, reader=False)
    assert ahead.chunks == here.chunks > 5
    assert (ahead.read_ahead, here.read_ahead) == (ahead.chunks - 1, 0)  # all but the first
    for field in ("samples", "skipped", "rows_written", "new_series", "watermark"):
        assert getattr(ahead, field) == getattr(here, field), field
    assert ahead.skipped == 2
    mine = _dump(raw_db)
    assert any('"admin_metric_rollups"' in line for line in mine)
    assert any('"admin_metric_series"' in line for line in mine)
    assert mine == _dump(plain)
    assert _readers() == []


def test_chunks_read_partly_by_the_reader_give_the_same_rows(raw_db: Path, tmp_path: Path,
                                                             monkeypatch):
    """When the build waited for the reader, it reads the end of the next chunks itself:
    whatever the split, the rollups are those of a build reading everything itself."""
    plain = tmp_path / "plain.db"
    shutil.copy(raw_db, plain)
    shares = itertools.cycle([0.5, 0.77, 1.0, 0.61])
    monkeypatch.setattr(Rollups, "_reader_share", staticmethod(lambda share, waited: next(shares)))
    ahead = _build(raw_db, reader=True)
    here = _build(plain, reader=False)
    assert ahead.read_ahead == ahead.chunks - 1
    for field in ("samples", "skipped", "rows_written", "new_series", "watermark"):
        assert getattr(ahead, field) == getattr(here, field), field
    assert _dump(raw_db) == _dump(plain)
    assert _readers() == []


def test_the_reader_share_follows_the_waits():
    share = 1.0
    for _ in range(20):  # the build keeps waiting: it reads up to half of each chunk itself
        share = Rollups._reader_share(share, 0.1)
    assert share == 0.5
    share = Rollups._reader_share(share, 0.0)  # no wait: a little more for the reader
    assert 0.5 < share < 0.6
    for _ in range(50):
        share = Rollups._reader_share(share, 0.0)
    assert share == 1.0


def test_a_small_build_reads_everything_itself(raw_db: Path):
    with open_store(raw_db) as store:
        report = store.metrics.rollups.build(chunk=CHUNK)  # far below READER_MIN_ROWS
    assert report.chunks > 5 and report.read_ahead == 0


def test_a_killed_reader_only_means_the_build_reads_the_rest_itself(raw_db: Path, tmp_path: Path):
    plain = tmp_path / "plain.db"
    shutil.copy(raw_db, plain)
    kill_it, killed = _signal_readers_once(signal.SIGKILL)
    report = _build(raw_db, reader=True, progress=kill_it)
    assert killed  # there was one to kill, after the first chunk
    assert report.read_ahead <= 1 < report.chunks  # at most the chunk it had sent
    assert report.watermark == _build(plain, reader=False).watermark
    assert _dump(raw_db) == _dump(plain)
    assert _readers() == []


def test_a_stopped_build_stops_its_reader_and_resumes(raw_db: Path, tmp_path: Path):
    plain = tmp_path / "plain.db"
    shutil.copy(raw_db, plain)
    first = _build(raw_db, reader=True, progress=lambda done, total: False)  # Cancel
    assert first.chunks == 1
    assert _readers() == []  # it was reading the next chunk: stopped, not waited for
    rest = _build(raw_db, reader=True)
    assert first.chunks + rest.chunks == _build(plain, reader=False).chunks
    assert _dump(raw_db) == _dump(plain)


def test_the_reader_imports_nothing_from_the_current_folder(raw_db: Path, tmp_path: Path, monkeypatch):
    """A stray module where the app was started from is not what the reader imports."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    marker = tmp_path / "imported"
    (folder / "peewee.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise ImportError('stray')\n")
    monkeypatch.chdir(folder)
    report = _build(raw_db, reader=True)
    assert report.read_ahead == report.chunks - 1 > 0
    assert not marker.exists()


def test_a_script_that_builds_is_run_once(raw_db: Path, tmp_path: Path):
    """The reader is not multiprocessing's "spawn", which would run the caller's main
    script again in the child (here, a script with no ``__main__`` guard)."""
    runs = tmp_path / "runs.txt"
    script = tmp_path / "cron_job.py"
    script.write_text(
        "from sandbox_admin.storage import open_store\n"
        f"open({str(runs)!r}, 'a').write('ran\\n')\n"
        f"store = open_store({str(raw_db)!r})\n"
        "rollups = store.metrics.rollups\n"
        "rollups.READER_MIN_ROWS = 0\n"
        f"print(rollups.build(chunk={CHUNK}).read_ahead)\n"
        "store.close()\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0  # it did read ahead
    assert runs.read_text() == "ran\n"


def test_a_chunk_of_more_series_than_a_message_holds(tmp_path: Path):
    """A chunk's series come in several messages (here 4,500 series a chunk): each
    sample goes to its own series all the same."""
    from sandbox_admin.storage.metrics import rollup_reader

    path = tmp_path / "many.db"
    with create_store(path) as store:
        store.models.Sandbox.create(id="sb-a", status="running")
        store.metrics.record_batch([
            Sample("cpu", float(i % 7), sandbox_id="sb-a", labels={"i": str(i % 4_600)},
                   timestamp=T0 + timedelta(seconds=i)) for i in range(9_000)])
    plain = tmp_path / "plain.db"
    shutil.copy(path, plain)
    assert rollup_reader._SERIES_A_MESSAGE < 4_500
    with open_store(path) as store:
        rollups = store.metrics.rollups
        rollups.READER_MIN_ROWS = 0
        ahead = rollups.build(chunk=4_500)
    with open_store(plain) as store:
        here = store.metrics.rollups.build(chunk=4_500)
    assert (ahead.read_ahead, ahead.chunks, ahead.new_series) == (1, 2, 4_600)
    assert (here.read_ahead, here.rows_written) == (0, ahead.rows_written)
    assert _dump(path) == _dump(plain)


def test_a_rollback_journal_database_reads_everything_itself(raw_db: Path, tmp_path: Path):
    """No reader where its reads would hold up the build's commits (no WAL)."""
    plain = tmp_path / "plain.db"
    shutil.copy(raw_db, plain)
    con = sqlite3.connect(raw_db)
    assert con.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    con.close()
    report = _build(raw_db, reader=True)
    assert report.chunks > 5 and report.read_ahead == 0
    _build(plain, reader=False)
    assert _dump(raw_db) == _dump(plain)


def test_a_stopped_reader_is_given_up(raw_db: Path, tmp_path: Path, monkeypatch):
    """A reader that stops answering (here: SIGSTOP) is waited for WAIT_S at most; the
    build reads the rest itself and the stopped process is killed, not waited for."""
    from sandbox_admin.storage.metrics.rollup_reader import ChunkReader

    monkeypatch.setattr(ChunkReader, "WAIT_S", 0.5)
    plain = tmp_path / "plain.db"
    shutil.copy(raw_db, plain)
    stop_it, stopped = _signal_readers_once(signal.SIGSTOP)
    report = _build(raw_db, reader=True, progress=stop_it)
    assert stopped and report.read_ahead <= 1 < report.chunks
    _build(plain, reader=False)
    assert _dump(raw_db) == _dump(plain)
    assert _readers() == []


# Keys JSON must escape, text that is not UTF-8, labels in another order, NULLs.
ODD_KEYS = [
    ("cpu", "gauge", '{"host":"a\\"b"}', "sb-a"), ("cpu", "gauge", '{"b":"2","a":"1"}', "sb-a"),
    ("cpu", "gauge", '{"a":"1","b":"2"}', "sb-a"), ("cpu", "gauge", None, None),
    ("c\\p\nu\x00", "gauge", '{"x":"\U0001f600 \u2028"}', "sb-b"), ("cpu", "gauge", "not json", "sb-c"),
]


def _add_rows(path: Path, keys: list[tuple], blob_labels: bool = False, at: int = 50_000) -> None:
    """Rows of ``keys`` (and a text that is not UTF-8, and optionally labels stored as a
    BLOB) after the others, so that the reader process reads them."""
    con = sqlite3.connect(path)
    with con:
        for i, (name, type_, labels, sandbox) in enumerate(keys * 3):
            con.execute("INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id, "
                        "aggregation_period) VALUES (?, ?, ?, ?, ?, ?, 'raw')",
                        (name, type_, labels, float(i), (T0 + timedelta(seconds=at + i)).isoformat(" "), sandbox))
        con.execute("INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id, "
                    "aggregation_period) VALUES ('cpu', 'gauge', CAST(X'7b2268223a2261ff227d' AS TEXT), 2.0, "
                    "?, 'sb-a', 'raw')", ((T0 + timedelta(seconds=at)).isoformat(" "),))
        if blob_labels:
            con.execute("INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id, "
                        "aggregation_period) VALUES ('cpu', 'gauge', X'7b7d', 3.0, ?, 'sb-a', 'raw')",
                        ((T0 + timedelta(seconds=at + 1)).isoformat(" "),))
    con.close()


def _build_by_columns(path: Path, monkeypatch) -> None:
    """A build that reads the four key columns, never their JSON text."""
    by_columns = Rollups._chunk_query
    with monkeypatch.context() as m:
        m.setattr(Rollups, "_chunk_query", lambda self, low, high, keyed=True: by_columns(self, low, high, False))
        _build(path, reader=False)


def test_series_read_as_one_json_key_are_those_of_the_four_columns(raw_db: Path, tmp_path: Path, monkeypatch):
    _add_rows(raw_db, ODD_KEYS)
    columns = tmp_path / "columns.db"
    shutil.copy(raw_db, columns)
    report = _build(raw_db, reader=True)
    assert report.read_ahead == report.chunks - 1
    _build_by_columns(columns, monkeypatch)
    assert _dump(raw_db) == _dump(columns)
    names = sqlite3.connect(raw_db).execute(
        "SELECT count(*) FROM admin_metric_series WHERE metric_name = 'cpu'").fetchone()[0]
    # 3 sandboxes x 4 hosts, then: a quote, {a,b} in either order, NULLs, not JSON, not UTF-8
    assert names == 3 * 4 + 5


def test_a_blob_in_a_key_column_is_read_as_columns(raw_db: Path, tmp_path: Path, monkeypatch):
    """JSON holds no BLOB: the reader's read fails, the build reads the chunk itself by
    columns, and a raw chart reads by columns too."""
    _add_rows(raw_db, ODD_KEYS, blob_labels=True)
    columns = tmp_path / "columns.db"
    shutil.copy(raw_db, columns)
    report = _build(raw_db, reader=True)
    assert report.read_ahead < report.chunks - 1  # the last chunk was read here
    _build_by_columns(columns, monkeypatch)
    assert _dump(raw_db) == _dump(columns)
    assert _readers() == []
    with open_store(raw_db, read_only=True) as store:
        end = T0 + timedelta(seconds=50_100)
        raw = store.metrics.aggregate("cpu", step_seconds=3600, start=T0 + timedelta(seconds=49_000), end=end,
                                      sandbox_id="sb-a", source="raw")
    assert sum(int(s.points.count.sum()) for s in raw) == 9 + 1 + 1  # the odd keys', the not-UTF-8, the BLOB
