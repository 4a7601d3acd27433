"""Metrics: batch ingest vs raw executemany; a 30-day chart from rollups vs GROUP BY over raw.

Figures (ours / baseline, same run, same data):

* ingest N samples with ``record_batch`` (validation, timestamp and label formatting,
  one transaction) vs raw ``sqlite3.executemany`` of pre-formatted tuples into the same
  ``metrics`` table (same pragmas, foreign keys on). Team target: ratio <= 1.25.
* the same ingest through Peewee's ``insert_many`` (reference: why the hot path uses a
  Peewee-generated statement with executemany instead).
* a 30-day chart of one metric across 20 sandboxes at ~1,000 points (``chart()``, which
  picks the 1 h rollups) vs the equivalent ``GROUP BY`` over the raw rows (raw sqlite3,
  index-friendly text range, ``unixepoch`` buckets). Also with percentiles, and the
  rollup build itself vs merely reading the raw rows (best of three of each; every
  build starts with the disk's pending writes flushed).

Data is generated with a recursive CTE (fast); sizes: 1M / 2M samples (``--quick``:
100k / 200k).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sandbox_admin.storage import Sample, create_store, open_store
from sandbox_admin.storage.metrics.rollups import BuildReport

from .harness import Figure, best_of, scratch_dir, settle

UTC = timezone.utc
T0 = datetime(2026, 10, 1, tzinfo=UTC)
SANDBOXES = [f"sb-{i:02d}" for i in range(20)]
COLS = "metric_name, metric_type, labels, value, timestamp, sandbox_id, aggregation_period"
#: The baseline's statements (constant text; values are always bound).
RAW_INSERT = "INSERT INTO metrics (" + COLS + ") VALUES (?, ?, ?, ?, ?, ?, ?)"
RAW_SELECT = "SELECT " + COLS + " FROM metrics"


def _template(path) -> None:
    with create_store(path) as store:
        for sid in SANDBOXES:
            store.models.Sandbox.create(id=sid, status="running")
        store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _samples(n: int) -> list[Sample]:
    labels = [{"host": f"node-{i % 3}", "container": f"c-{i}"} for i in range(len(SANDBOXES))]
    out = []
    for i in range(n):
        k = i % len(SANDBOXES)
        out.append(Sample("cpu_usage", (i * 7919 % 10000) / 100.0, "gauge", labels[k], SANDBOXES[k],
                          T0 + timedelta(microseconds=i * 2_345_678)))
    return out


def _raw_rows(samples: list[Sample]) -> list[tuple]:
    from sandbox_admin.storage import dumps_json, format_timestamp

    return [(s.name, s.type, dumps_json(s.labels), s.value, format_timestamp(s.timestamp), s.sandbox_id, "raw")
            for s in samples]


def _ingest_figures(tmp, n: int, n_peewee: int, repeat: int) -> list[Figure]:
    template = tmp / "template.db"
    _template(template)
    samples = _samples(n)
    rows = _raw_rows(samples)
    counter = [0]

    def fresh():
        counter[0] += 1
        path = tmp / f"ingest{counter[0]}.db"
        shutil.copyfile(template, path)
        return path

    def ours():
        path = fresh()
        with open_store(path) as store:
            start = time.perf_counter()
            assert store.metrics.record_batch(samples) == n
            return time.perf_counter() - start

    def raw():
        path = fresh()
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA cache_size=-64000")
        start = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.executemany(RAW_INSERT, rows)
        con.execute("COMMIT")
        elapsed = time.perf_counter() - start
        con.close()
        return elapsed

    def peewee_insert_many():
        path = fresh()
        with open_store(path) as store:
            M = store.models.Metric
            start = time.perf_counter()
            data = [{"metric_name": s.name, "metric_type": s.type, "labels": s.labels, "value": s.value,
                     "timestamp": s.timestamp, "sandbox_id": s.sandbox_id, "aggregation_period": "raw"}
                    for s in samples[:n_peewee]]
            with store.transaction():
                for i in range(0, len(data), 100):
                    M.insert_many(data[i:i + 100]).execute()
            return time.perf_counter() - start

    def best(fn, times):
        return min(fn() for _ in range(times))

    raw_time, ours_time = [], []
    for _ in range(repeat):  # interleaved, so machine noise hits both alike
        raw_time.append(raw())
        ours_time.append(ours())
    raw_small = best(lambda: _timed_raw_subset(fresh(), rows[:n_peewee]), repeat)
    figures = [
        Figure(f"ingest {n:,} samples: record_batch vs executemany", min(ours_time), min(raw_time),
               target="<= 1.25x", note="validate + format (column-wise) + 1 transaction"),
        Figure(f"ingest {n_peewee:,} via Peewee insert_many (reference)", best(peewee_insert_many, 1),
               raw_small, note="why the hot path uses executemany"),
    ]
    return figures


def _timed_raw_subset(path, rows) -> float:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA synchronous=NORMAL")
    start = time.perf_counter()
    con.execute("BEGIN IMMEDIATE")
    con.executemany(RAW_INSERT, rows)
    con.execute("COMMIT")
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed


def _generate(path, n: int, days: int = 30) -> None:
    """n raw samples of cpu_usage for 20 sandboxes spread over ``days`` (recursive CTE)."""
    span = days * 86400.0
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("BEGIN")
    con.execute(
        f"""INSERT INTO metrics ({COLS})
        WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ? - 1)
        SELECT 'cpu_usage', 'gauge', '{{"host":"node-' || (i % 20 % 3) || '"}}',
               (abs(random()) % 1000000) / 10000.0,
               strftime('%Y-%m-%d %H:%M:%f', ? + i * ? , 'unixepoch') || '+00:00',
               printf('sb-%02d', i % 20), 'raw'
        FROM seq""",
        (n, T0.timestamp(), span / n),
    )
    con.execute("COMMIT")
    con.close()


BASELINE_SQL = """
SELECT sandbox_id, labels, (unixepoch(timestamp) / 3600) * 3600 AS bucket,
       count(*), sum(value), min(value), max(value)
FROM metrics
WHERE metric_name = 'cpu_usage' AND aggregation_period = 'raw'
  AND timestamp >= ? AND timestamp < ?
GROUP BY sandbox_id, labels, bucket
"""


def _chart_figures(tmp, n: int, repeat: int) -> list[Figure]:
    path = tmp / "chart.db"
    _template(path)
    started = time.perf_counter()
    _generate(path, n)
    generated = time.perf_counter() - started
    start, end = T0, T0 + timedelta(days=30)
    builds = 3 if repeat >= 5 else 2
    build = _best_build(path, tmp / "build-trial.db", builds)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    read_raw = best_of(lambda: con.execute(RAW_SELECT).fetchall(), builds)
    write_floor = _write_rollup_rows(path)

    def baseline():
        return con.execute(BASELINE_SQL, ("2026-10-01 00:00:00", "2026-10-31 00:00:00")).fetchall()

    with open_store(path, read_only=True) as store:
        def ours():
            return store.metrics.chart("cpu_usage", start, end, target_points=1000)

        def ours_pct():
            return store.metrics.chart("cpu_usage", start, end, target_points=1000,
                                       stats=("count", "avg", "p50", "p95", "p99"))

        series = ours()
        _check_same(series, baseline())
        chart_time = best_of(ours, repeat)
        pct_time = best_of(ours_pct, repeat)
        base_time = best_of(baseline, max(1, repeat // 2))
    con.close()
    points = sum(len(s.points) for s in series)
    label = f"30-day chart, {len(series)} series x {len(series[0].points)} points, {n:,} samples"
    return [
        Figure(label + ": rollups vs GROUP BY raw", chart_time, base_time, target="< 1 s ours",
               note=f"{series[0].source}, step {series[0].step_seconds:g}s, {points} points"),
        Figure("  same chart + p50/p95/p99 (sketch merge)", pct_time, base_time,
               note="baseline has no percentiles at all"),
        Figure(f"build rollups for {n:,} samples vs reading them", build.seconds, read_raw,
               target="<= 1.5x (#15)", note=f"best of {builds} builds and reads; {build.rows_written:,} rollup rows; "
                                            f"{build.read_ahead} of {build.chunks} chunks read ahead by a second "
                                            f"process; data generated in {generated:.1f}s"),
        Figure("  writing those rollup rows alone vs reading the samples", write_floor, read_raw,
               note="raw executemany of the finished rows (tuples ready) into an empty copy of the "
                    "table: part of the build's floor (reading + writing, before any aggregation)"),
    ]


def _best_build(path: Path, trial: Path, builds: int) -> BuildReport:
    """The fastest of ``builds`` rollup builds of ``path``'s raw samples, like the other
    figures' best of runs: on copies of it, the last on ``path`` itself (which keeps its
    rollups for the chart). Each starts with the disk's pending writes flushed (untimed):
    the build's checkpoints fsync, and must not wait for the writeback of earlier writes
    (the generated samples, the copy)."""
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the copies need every sample in the file"
    best: BuildReport | None = None
    for i in range(builds):
        last = i == builds - 1
        if not last:
            shutil.copyfile(path, trial)
        settle()
        with open_store(path if last else trial) as store:
            report = store.metrics.build_rollups()
        if not last:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{trial}{suffix}").unlink(missing_ok=True)
        if best is None or report.seconds < best.seconds:
            best = report
    assert best is not None
    return best


def _write_rollup_rows(path) -> float:
    """Seconds to insert the built rollup rows, already as tuples, into an empty table of
    the same definition with raw sqlite3 (one transaction, the store's pragmas)."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        rows = con.execute("SELECT * FROM admin_metric_rollups").fetchall()
        ddl = con.execute("SELECT sql FROM sqlite_master WHERE name = 'admin_metric_rollups'").fetchone()[0]
        con.execute(ddl.replace("admin_metric_rollups", "floor_rollups", 1))
        for pragma in ("foreign_keys=ON", "synchronous=NORMAL", "cache_size=-64000"):
            con.execute("PRAGMA " + pragma)
        insert = "INSERT INTO floor_rollups VALUES (" + ", ".join("?" * len(rows[0])) + ")"
        start = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.executemany(insert, rows)
        con.execute("COMMIT")
        elapsed = time.perf_counter() - start
        con.execute("DROP TABLE floor_rollups")
        return elapsed
    finally:
        con.close()


def _check_same(series, rows) -> None:
    """The rollup chart and the raw GROUP BY agree (count/min/max exactly, sum closely)."""
    expected = {(r[0], r[2]): r[3:] for r in rows}
    got = {}
    for s in series:
        p = s.points
        for i in range(len(p)):
            got[(s.sandbox_id, int(p.t[i]))] = (int(p.count[i]), float(p.sum[i]), float(p.min[i]), float(p.max[i]))
    assert got.keys() == expected.keys(), "different buckets"
    for key, (count, total, lo, hi) in got.items():
        e = expected[key]
        assert (count, lo, hi) == (e[0], e[2], e[3]) and abs(total - e[1]) <= 1e-9 * abs(e[1]), key


def run(quick: bool = False) -> list[Figure]:
    n_ingest = 100_000 if quick else 1_000_000
    n_chart = 200_000 if quick else 2_000_000
    with scratch_dir() as tmp:
        figures = _ingest_figures(tmp, n_ingest, 20_000 if quick else 100_000, 2 if quick else 3)
        figures += _chart_figures(tmp, n_chart, 3 if quick else 5)
    return figures
