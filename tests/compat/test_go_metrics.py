"""The metrics store on the Go server's real database (the v6 fixture)."""

from __future__ import annotations

import math
import re
import sqlite3
from collections import defaultdict
from datetime import timedelta

import pytest

from sandbox_admin.storage import open_store
from sandbox_admin.storage.fields import loads_json, parse_timestamp
from sandbox_admin.storage.metrics.sql import EPOCH
from sandbox_admin.storage.metrics.store import Sample
from tests.conftest import GO_FIXTURE, sha256_file


def _raw_rows(name: str | None = None):
    con = sqlite3.connect(f"file:{GO_FIXTURE}?immutable=1", uri=True)
    try:
        sql = ("SELECT metric_name, metric_type, labels, value, timestamp, sandbox_id FROM metrics "
               "WHERE aggregation_period = 'raw'")
        rows = con.execute(sql + (" AND metric_name = ?" if name else ""), (name,) if name else ()).fetchall()
    finally:
        con.close()
    return rows


@pytest.fixture(scope="module")
def fixture_store():
    store = open_store(GO_FIXTURE, read_only=True)
    yield store
    store.close()


def test_every_metric_name_is_listed_with_its_type_and_series(fixture_store, go_counts):
    m = fixture_store.metrics
    assert m.names() == go_counts["metric_names"]
    expected = defaultdict(int)
    for name, typ, labels, _, _, sandbox in _raw_rows():
        key = (name, typ, tuple(sorted((loads_json(labels) or {}).items())), sandbox)
        expected[key] += 1
    got = {(s.name, s.type, tuple(sorted(s.labels.items())), s.sandbox_id): s.count for s in m.series()}
    assert got == dict(expected)
    assert sum(got.values()) == go_counts["metrics_by_period"]["raw"]


def test_five_minute_cpu_usage_matches_a_plain_python_computation(fixture_store):
    """count/sum/min/max per (sandbox, labels, 5-minute bucket), exactly."""
    buckets: dict[tuple, list[float]] = defaultdict(list)
    for _, _, labels, value, ts, sandbox in _raw_rows("cpu_usage"):
        seconds = (parse_timestamp(ts) - EPOCH) / timedelta(seconds=1)
        key = (sandbox, labels, math.floor(seconds / 300) * 300)
        buckets[key].append(value)
    expected = {k: (len(v), math.fsum(v), min(v), max(v)) for k, v in buckets.items()}

    got = {}
    for series in fixture_store.metrics.aggregate("cpu_usage", step_seconds=300):
        labels = '{"container":"%s","host":"%s"}' % (series.labels["container"], series.labels["host"])
        p = series.points
        for i in range(len(p)):
            got[(series.sandbox_id, labels, int(p.t[i]))] = (int(p.count[i]), float(p.sum[i]),
                                                              float(p.min[i]), float(p.max[i]))
    assert got == expected
    assert sum(c for c, *_ in got.values()) == 5486


def test_rollups_built_on_the_fixture_answer_like_raw(go_store):
    go_store.migrate()
    m = go_store.metrics
    report = m.build_rollups()
    assert report.samples == 21847 and report.skipped == 0
    for name in ("cpu_usage", "requests_total", "request_latency_seconds"):
        raw = m.aggregate(name, step_seconds=3600)
        rolled = m.aggregate(name, step_seconds=3600, source="rollup")
        assert [(s.sandbox_id, s.labels) for s in raw] == [(s.sandbox_id, s.labels) for s in rolled]
        for a, b in zip(raw, rolled):
            for stat in ("t", "count", "sum", "min", "max", "last"):
                assert getattr(a.points, stat).tolist() == getattr(b.points, stat).tolist(), (name, stat)
            if a.type == "counter":
                assert a.points.increase[1:].tolist() == b.points.increase[1:].tolist()


def test_counters_chart_as_rates_not_averages(fixture_store):
    [total] = fixture_store.metrics.aggregate("requests_total", step_seconds=3600, group_by=())
    p = total.points
    assert p.rate is not None and (p.rate >= 0).all()
    assert p.rate.tolist() == (p.increase / 3600).tolist()
    [go_avg] = fixture_store.metrics.aggregate("requests_total", step_seconds=3600, group_by=(), period="1h")
    assert go_avg.points.count.sum() == 58  # the Go server's own (averaged) rows, read separately


def test_our_writes_on_the_go_database_stay_go_readable(go_store):
    sandbox = go_store.db.execute_sql("SELECT id FROM sandboxes LIMIT 1").fetchone()[0]
    t = parse_timestamp("2026-11-26 01:40:00.5+00:00")
    go_store.metrics.record_batch([
        Sample("cpu_usage", 12.5, labels={"host": "node-a", "container": "c"}, sandbox_id=sandbox, timestamp=t),
        Sample("requests_total", 7, type="counter", labels={"method": "GET"}, sandbox_id=sandbox, timestamp=t),
    ])
    rows = go_store.db.execute_sql(
        "SELECT labels, timestamp, sandbox_id, aggregation_period FROM metrics ORDER BY id DESC LIMIT 2").fetchall()
    for labels, ts, sid, period in rows:
        assert re.fullmatch(r"\{(\"[a-z]+\":\"[^\"]*\",?)+\}", labels) and ", " not in labels
        assert ts == "2026-11-26 01:40:00.5+00:00" and sid == sandbox and period == "raw"
    # the Go server's label query: LIKE '%"k":"v"%'
    n = go_store.db.execute_sql(
        "SELECT count(*) FROM metrics WHERE labels LIKE ? AND timestamp >= ?",
        ('%"host":"node-a"%', "2026-11-26 01:39:00")).fetchone()[0]
    assert n == 1
    assert go_store.db.execute_sql("PRAGMA foreign_key_check(metrics)").fetchall() == []


def test_cli_metrics_and_export_read_the_fixture_without_writing(go_fixture, run_cli, tmp_path):
    before = sha256_file(go_fixture)
    code, out, err = run_cli("metrics", go_fixture, "--name", "cpu_usage", "--step", "5m", "--json")
    assert code == 0, err
    import json

    data = json.loads(out)
    assert len(data["series"]) == 26
    first = data["series"][0]
    assert set(first) >= {"name", "type", "labels", "sandbox_id", "step_seconds", "points"}
    assert first["step_seconds"] == 300 and set(first["points"][0]) >= {"t", "count", "sum", "min", "max", "avg"}
    assert sum(p["count"] for s in data["series"] for p in s["points"]) == 5486
    code, out, err = run_cli("export-metrics", go_fixture, "--format", "prometheus", "-o", tmp_path / "m.prom")
    assert code == 0 and "21,847 samples" in out
    assert sha256_file(go_fixture) == before
    assert not (go_fixture.parent / (go_fixture.name + "-wal")).exists()


def test_metric_names_come_from_an_index_walk_and_match_the_series(go_store, go_counts):
    from playhouse.test_utils import count_queries

    with count_queries() as counter:
        names = go_store.metrics.names()
    assert names == dict(sorted(go_counts["metric_names"].items()))
    assert names == {s.name: s.type for s in sorted(go_store.metrics.series(), key=lambda s: s.name)}
    assert counter.count <= 2 + len(names)  # the walk, one type look-up each, the rollups
