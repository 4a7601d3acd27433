"""serve-metrics and export-metrics --format openmetrics against a real Prometheus.

Each test starts Debian's ``prometheus`` on 127.0.0.1 with a temporary config and data
folder (skipped only where the binaries are absent) and stops it in a ``finally``.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.prometheus.helpers import PROMTOOL, Prometheus, get, needs_prometheus, wait_for

pytestmark = needs_prometheus


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    """A small demo database; rollups built over most of it, then newer raw samples, so a
    first scrape seeds from the rollups and reads only the rows after them."""
    from sandbox_admin.demo import create_demo
    from sandbox_admin.storage import Sample, open_store

    path = tmp_path_factory.mktemp("prom") / "demo.db"
    create_demo(path, sandboxes=8, files=20, metrics=12_000)
    with open_store(path) as store:
        store.metrics.build_rollups()
        latest = list(store.metrics.iter_samples("cpu_usage", order="time", descending=True, limit=1))[0]
        store.metrics.record_batch([
            Sample("cpu_usage", 61.25, "gauge", latest.labels, latest.sandbox_id,
                   latest.timestamp + timedelta(seconds=1)),
        ])
    return path


def _serve(db: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox_admin", "serve-metrics", str(db), "--listen", "127.0.0.1:0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, stdin=subprocess.DEVNULL)
    line = proc.stderr.readline()  # "serving DB at http://127.0.0.1:PORT/metrics (...)"
    if " at http://" not in line:
        proc.kill()
        raise AssertionError(f"serve-metrics did not start: {line}{proc.stderr.read()}")
    return proc, line.split(" at ", 1)[1].split()[0]


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise


def _latest(store, name: str, sandbox: str, labels: dict) -> float:
    samples = store.metrics.iter_samples(name, sandbox_id=sandbox, labels=labels, order="time",
                                         descending=True, limit=1)
    return float(next(iter(samples)).value)


def _selector(name: str, labels: dict) -> str:
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def test_prometheus_scrapes_the_latest_values_our_store_has(demo_db, tmp_path):
    from sandbox_admin.storage import Sample, open_store

    serve, url = _serve(demo_db, "--instance", "server-1")
    prom = None
    try:
        assert b"# EOF" in get(url, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        prom = Prometheus(tmp_path, [url.split("//", 1)[1].split("/", 1)[0]]).start()
        wait_for(lambda: prom.query('up{job="sandbox"} == 1'), what="a successful scrape")
        wait_for(lambda: prom.query("cpu_usage"), what="cpu_usage in Prometheus")

        with open_store(demo_db, read_only=True) as store:
            infos = [s for s in store.metrics.series() if s.type in ("gauge", "counter")]
            checked = 0
            for info in infos[:: max(1, len(infos) // 12)]:
                name = info.name if info.type == "gauge" else info.name.removesuffix("_total") + "_total"
                labels = {**info.labels, "sandbox_id": info.sandbox_id, "instance": "server-1"}
                found = prom.query(_selector(name, labels))
                assert len(found) == 1, (name, labels, found)
                assert float(found[0]["value"][1]) == _latest(store, info.name, info.sandbox_id, info.labels)
                checked += 1
            assert checked >= 8
            # the series written after the rollups: seeded from them, then the newer raw row
            top = next(iter(store.metrics.iter_samples("cpu_usage", order="time", descending=True, limit=1)))
            assert top.value == 61.25
            found = prom.query(_selector("cpu_usage", {**top.labels, "sandbox_id": top.sandbox_id,
                                                       "instance": "server-1"}))
            assert float(found[0]["value"][1]) == 61.25
            # a histogram of observations: count and sum over every observation
            hist = store.metrics.series("request_latency_seconds")[0]
            values = [s.value for s in store.metrics.iter_samples(
                "request_latency_seconds", sandbox_id=hist.sandbox_id, labels=hist.labels)]
            sel = {**hist.labels, "sandbox_id": hist.sandbox_id}
            count = prom.query(_selector("request_latency_seconds_count", sel))
            total = prom.query(_selector("request_latency_seconds_sum", sel))
            assert float(count[0]["value"][1]) == len(values)
            assert float(total[0]["value"][1]) == pytest.approx(math.fsum(values), rel=1e-12)
            statuses = prom.query("sandbox_status")
            assert statuses and all(s["value"][1] == "1" for s in statuses)
            assert len(statuses) == store.sandboxes.count()  # not deleted
            assert prom.query("sandbox_admin_database_size_bytes > 0")
            assert prom.query('sandbox_admin_table_rows{table="metrics"} > 0')

        # a sample written while it runs shows up at the next scrapes
        with open_store(demo_db) as store:
            info = store.metrics.series("memory_bytes")[0]
            store.metrics.record_batch([Sample("memory_bytes", 4242.5, "gauge", info.labels,
                                               info.sandbox_id)])
        sel = _selector("memory_bytes", {**info.labels, "sandbox_id": info.sandbox_id})
        wait_for(lambda: [r for r in prom.query(sel) if r["value"][1] == "4242.5"], seconds=15,
                 what="the new sample in Prometheus")
    finally:
        if prom is not None:
            prom.stop()
        code = _stop(serve)
    assert code == 0, serve.stderr.read()


def test_a_taken_port_is_one_line_exit_1(demo_db):
    serve, url = _serve(demo_db)
    try:
        port = url.split(":")[2].split("/")[0]
        proc = subprocess.run(
            [sys.executable, "-m", "sandbox_admin", "serve-metrics", str(demo_db), "--listen",
             f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=60,
            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    finally:
        _stop(serve)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "already in use" in proc.stderr


def test_backfilled_history_matches_our_aggregation(demo_db, tmp_path, run_cli):
    from sandbox_admin.storage import open_store

    with open_store(demo_db, read_only=True) as store:
        info = store.metrics.series("cpu_usage")[0]
        ours = store.metrics.aggregate("cpu_usage", step_seconds=3600, sandbox_id=info.sandbox_id,
                                       labels=info.labels)
    assert len(ours) == 1 and len(ours[0].points) > 24
    history = tmp_path / "history.om"
    code, _, err = run_cli("export-metrics", demo_db, "--format", "openmetrics", "--name", "cpu_usage",
                           "--name", "request_latency_seconds", "--sandbox", info.sandbox_id, "-o", history)
    assert code == 0, err
    data = tmp_path / "data"
    subprocess.run([str(PROMTOOL), "tsdb", "create-blocks-from", "openmetrics", str(history), str(data)],
                   check=True, capture_output=True, timeout=60)

    points = ours[0].points
    with Prometheus(tmp_path, data=data) as prom:
        sel = _selector("cpu_usage", {**info.labels, "sandbox_id": info.sandbox_id})
        # evaluated 1 ms before each bucket's end over 3599.999 s: [start, end) at ms resolution
        window = "[3599999ms]"
        start, end = float(points.t[0]) + 3599.999, float(points.t[-1]) + 3599.999

        def query_range(fn: str) -> dict[float, float]:
            result = prom.api("query_range", query=f"{fn}({sel}{window})", start=start, end=end, step=3600)["result"]
            assert len(result) == 1, result
            return {round(float(t) - 3599.999): float(v) for t, v in result[0]["values"]}

        counts, sums = query_range("count_over_time"), query_range("sum_over_time")
        maxes, lasts = query_range("max_over_time"), query_range("last_over_time")
        # histogram observations became cumulative _count/_sum/_bucket that promtool took
        with open_store(demo_db, read_only=True) as store:
            observed = [s.value for s in store.metrics.iter_samples(
                "request_latency_seconds", sandbox_id=info.sandbox_id)]
        hsel = 'request_latency_seconds_count{sandbox_id="%s"}' % info.sandbox_id
        found = prom.api("query", query=f"max(last_over_time({hsel}[30d]))", time=end + 7 * 86400)["result"]
        assert observed and float(found[0]["value"][1]) == len(observed)
    for i, t in enumerate(points.t.tolist()):
        key = round(t)
        if points.count[i] == 0:
            assert key not in counts
            continue
        assert counts[key] == points.count[i]
        assert sums[key] == pytest.approx(points.sum[i], rel=1e-12)
        assert maxes[key] == points.max[i]
        assert lasts[key] == points.last[i]
