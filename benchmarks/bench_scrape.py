"""serve-metrics: scrape latency on the 2M-sample demo database, and what scrapes cost a
writer.

Figures (ours / baseline, same run, same data):

* the first scrape (HTTP GET /metrics until the view is complete) without rollups vs
  the naive exporter's query, "each series' newest sample" by GROUP BY over the whole
  ``metrics`` table (raw sqlite3);
* the first scrape seeded from rollups (after ``metrics-rollup``) vs the same query;
* a steady-state scrape (1,000 new samples since the last one) vs the same query,
  which a non-incremental exporter would run at every scrape;
* a writer process inserting batches of 1,000 samples through ``record_batch``: its
  median and p99 batch latency while the endpoint is scraped back to back vs with no
  scrapes.

The demo database is built once (``sandbox-admin demo --sandboxes 20000 --files 20000
--metrics 2000000``, minutes) and cached in the temp folder
(``sandbox-admin-bench-cache/``); each run works on a copy. ``--quick``: 200k samples.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from sandbox_admin.storage import MetricsEndpoint, open_store

from .harness import ROOT, Figure, scratch_dir

FULL = dict(sandboxes=20000, files=20000, metrics=2_000_000)
QUICK = dict(sandboxes=2000, files=2000, metrics=200_000)
NAIVE = ("SELECT metric_name, metric_type, labels, sandbox_id, value, max(id) FROM metrics "
         "WHERE aggregation_period = 'raw' OR aggregation_period IS NULL "
         "GROUP BY metric_name, metric_type, labels, sandbox_id")
BATCHES, BATCH = 60, 1000

WRITER = r"""
import json, sys, time
from sandbox_admin.storage import Sample, open_store
path, batches, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open_store(path) as store:
    S = store.models.Sandbox
    ids = [r[0] for r in S.select(S.id).where(S.deleted_at.is_null()).limit(50).tuples()]
    times = []
    for b in range(batches):
        rows = [Sample("bench_writer", float(b * size + i), "gauge", {"k": str(i % 10)}, ids[i % len(ids)])
                for i in range(size)]
        start = time.perf_counter()
        store.metrics.record_batch(rows)
        times.append(time.perf_counter() - start)
        time.sleep(0.02)
print(json.dumps(times))
"""


def cached_demo(quick: bool) -> Path:
    sizes = QUICK if quick else FULL
    folder = Path(os.environ.get("SANDBOX_ADMIN_BENCH_CACHE", Path(tempfile.gettempdir()) / "sandbox-admin-bench-cache"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"demo-{sizes['metrics']}.db"
    if not path.exists():
        from sandbox_admin.demo import create_demo

        partial = path.with_name(path.name + ".partial")
        for leftover in folder.glob(partial.name + "*"):
            leftover.unlink()
        print(f"building {path} (once; minutes)…", file=sys.stderr, flush=True)
        create_demo(partial, **sizes)
        with open_store(partial) as store:
            store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        os.replace(partial, path)
    return path


def _copy(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    return target


def _naive(path: Path) -> float:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    start = time.perf_counter()
    rows = con.execute(NAIVE).fetchall()
    elapsed = time.perf_counter() - start
    con.close()
    assert rows
    return elapsed


def _get(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as r:
        r.read()
    return time.perf_counter() - start


def _first_scrape(path: Path) -> tuple[float, int, float, dict]:
    """(seconds until complete, scrapes it took, the steady-state scrape after 1,000 new
    rows, details: database read times, series, body size)."""
    with open_store(path, read_only=True) as store, MetricsEndpoint(store, "127.0.0.1:0") as ep:
        total, scrapes, reads = 0.0, 0, 0.0
        for _ in range(100):
            total += _get(ep.address)
            reads += ep.samples.last_refresh_s
            scrapes += 1
            if ep.samples.behind == 0:
                break
        _write(path, 1, BATCH)
        steady, steady_read = math.inf, math.inf
        for _ in range(3):
            steady = min(steady, _get(ep.address))
            steady_read = min(steady_read, ep.samples.last_refresh_s)
            _write(path, 1, BATCH)
        with urllib.request.urlopen(ep.address, timeout=600) as r:
            size = len(r.read())
        details = {"first_read": reads, "steady_read": steady_read, "series": ep.state().series,
                   "bytes": size}
        print(f"{path.name}: {details}", file=sys.stderr, flush=True)
        return total, scrapes, steady, details


def _write(path: Path, batches: int, size: int) -> list[float]:
    proc = subprocess.run([sys.executable, "-c", WRITER, str(path), str(batches), str(size)],
                          capture_output=True, text=True, timeout=1800,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout)


def _writer_with_scrapes(path: Path) -> tuple[list[float], int]:
    with open_store(path, read_only=True) as store, MetricsEndpoint(store, "127.0.0.1:0") as ep:
        _get(ep.address)  # the first scrape is done: measure steady state
        while ep.samples.behind:
            _get(ep.address)
        stop, count = threading.Event(), [0]

        def scrape_loop() -> None:
            while not stop.is_set():
                _get(ep.address)
                count[0] += 1

        thread = threading.Thread(target=scrape_loop, daemon=True)
        thread.start()
        try:
            times = _write(path, BATCHES, BATCH)
        finally:
            stop.set()
            thread.join(600)
        return times, count[0]


def _p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]


def run(quick: bool = False) -> list[Figure]:
    source = cached_demo(quick)
    n = (QUICK if quick else FULL)["metrics"]
    with scratch_dir() as tmp:
        plain = _copy(source, tmp / "plain.db")
        naive = min(_naive(plain) for _ in range(2))
        first, scrapes, steady, d1 = _first_scrape(plain)

        rolled = _copy(source, tmp / "rolled.db")
        with open_store(rolled) as store:
            start = time.perf_counter()
            store.metrics.build_rollups()
            rollup_s = time.perf_counter() - start
        seeded, seeded_scrapes, steady_rolled, d2 = _first_scrape(rolled)

        alone = _write(_copy(source, tmp / "w1.db"), BATCHES, BATCH)
        scraped, n_scrapes = _writer_with_scrapes(_copy(source, tmp / "w2.db"))
    return [
        Figure(f"first scrape, {n:,} samples, no rollups vs GROUP BY", first, naive,
               note=f"{scrapes} scrapes until complete (max 500k rows each); database reads "
               f"{d1['first_read']:.2f} s"),
        Figure("first scrape seeded from rollups vs GROUP BY", seeded, naive,
               note=f"{seeded_scrapes} scrape(s), database read {d2['first_read']:.2f} s; rollup "
               f"build took {rollup_s:.1f} s once"),
        Figure("steady scrape (1,000 new rows) vs GROUP BY", steady, naive,
               note=f"database read {d1['steady_read'] * 1000:.0f} ms, the rest is the exposition "
               f"of {d1['series']:,} series ({d1['bytes'] / 1e6:.1f} MB)"),
        Figure(f"writer batch of {BATCH:,}, median: scraped vs not", statistics.median(scraped),
               statistics.median(alone), note=f"{n_scrapes} back-to-back scrapes meanwhile"),
        Figure(f"writer batch of {BATCH:,}, p99: scraped vs not", _p99(scraped), _p99(alone),
               note=f"{BATCHES} batches"),
    ]
