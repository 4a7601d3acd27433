"""MetricsStore: recording, queries, aggregation, rollups, retention (real SQLite files)."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox_admin.storage import create_store, errors, open_store
from sandbox_admin.storage.metrics import sketch as sk
from sandbox_admin.storage.metrics.store import RetentionPolicy, Sample

UTC = timezone.utc
T0 = datetime(2026, 11, 20, tzinfo=UTC)
GO_TS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d*[1-9])?\+00:00$")


@pytest.fixture
def store(fresh_store):
    for sid in ("sb-a", "sb-b"):
        fresh_store.models.Sandbox.create(id=sid, status="running")
    return fresh_store


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _raw_rows(store):
    return store.db.execute_sql(
        "SELECT metric_name, metric_type, labels, value, timestamp, sandbox_id, aggregation_period "
        "FROM metrics ORDER BY id").fetchall()


# -- recording ---------------------------------------------------------------------------

def test_record_writes_go_compatible_rows_and_reads_back(store):
    m = store.metrics
    n = m.record_batch([
        Sample("cpu", 1.5, labels={"host": "b", "az": "x"}, sandbox_id="sb-a", timestamp=_at(0.25)),
        Sample("cpu", 2, labels={"az": "x", "host": "b"}, sandbox_id="sb-a", timestamp=_at(60)),
        Sample("req", 10, type="counter", sandbox_id="sb-b", timestamp=T0.timestamp() + 1),
        Sample("req", 12, type="counter", sandbox_id="sb-b", timestamp="2026-11-19 18:00:02-07:00"),
    ])
    m.record("mem", 3.0, labels={"k": "v"}, sandbox_id="sb-b")
    assert n == 4
    rows = _raw_rows(store)
    assert [r[0] for r in rows] == ["cpu", "cpu", "req", "req", "mem"]
    assert all(GO_TS.match(r[4]) for r in rows), [r[4] for r in rows]
    assert rows[0][2] == '{"az":"x","host":"b"}' == rows[1][2]  # compact, sorted: LIKE-matchable
    assert rows[2][2] == "{}" and rows[3][4] == "2026-11-20 01:00:02+00:00"
    assert {r[6] for r in rows} == {"raw"} and all(r[5] for r in rows)
    got = m.query("cpu")
    assert [(s.value, s.timestamp, s.labels) for s in got] == [
        (1.5, _at(0.25), {"az": "x", "host": "b"}), (2.0, _at(60), {"az": "x", "host": "b"})]
    assert m.query(types="counter", limit=1)[0].value == 10.0
    assert [s.value for s in m.query(order="time", descending=True, limit=2, names=["req"])] == [12.0, 10.0]


@pytest.mark.parametrize("sandbox", [None, ""])
def test_metric_without_sandbox_is_refused_not_dropped(store, sandbox):
    with pytest.raises(errors.InvalidInput, match="no sandbox_id.*refused"):
        store.metrics.record_batch([
            Sample("cpu", 1.0, sandbox_id="sb-a", timestamp=T0),
            Sample("cpu", 2.0, sandbox_id=sandbox, timestamp=T0),
        ])
    assert _raw_rows(store) == []  # all or nothing


def test_unknown_sandbox_is_refused_by_name(store):
    with pytest.raises(errors.InvalidInput, match="No sandbox 'ghost'"):
        store.metrics.record_batch([Sample("cpu", 1.0, sandbox_id="sb-a"), Sample("cpu", 1.0, sandbox_id="ghost")])
    assert _raw_rows(store) == []


@pytest.mark.parametrize("sample, message", [
    (Sample("cpu", float("nan"), sandbox_id="sb-a"), "NaN"),
    (Sample("cpu", "abc", sandbox_id="sb-a"), "not a number"),
    (Sample("cpu", 1.0, type="meter", sandbox_id="sb-a"), "type 'meter'"),
    (Sample("", 1.0, sandbox_id="sb-a"), "needs a name"),
    (Sample("cpu", 1.0, sandbox_id="sb-a", timestamp="yesterday"), "not a time"),
])
def test_bad_samples_are_refused_with_a_reason(store, sample, message):
    with pytest.raises(errors.InvalidInput, match=message):
        store.metrics.record_batch([Sample("ok", 1.0, sandbox_id="sb-a"), sample])
    assert _raw_rows(store) == []


def test_refusals_name_the_sample_across_chunks_and_odd_inputs_work(store):
    good = [Sample("cpu", i, sandbox_id="sb-a", timestamp=_at(i)) for i in range(9000)]
    bad = good[:8999] + [Sample("cpu", None, sandbox_id="sb-a")] + good[9000:]
    with pytest.raises(errors.InvalidInput, match=r"Sample 9000 \('cpu'\).*None is not a number"):
        store.metrics.record_batch(bad)
    with pytest.raises(errors.InvalidInput, match="Sample 2 .*outside the years"):
        store.metrics.record_batch([good[0], Sample("cpu", 1, sandbox_id="sb-a", timestamp=1e12 * 365)])
    with pytest.raises(errors.InvalidInput, match="Sample 2 .*not a Sample"):
        store.metrics.record_batch([good[0], ("cpu", 1.0)])
    with pytest.raises(errors.InvalidInput, match="Sample 1 .*type None"):
        store.metrics.record_batch([Sample("cpu", 1, type=None, sandbox_id="sb-a")])
    assert _raw_rows(store) == []
    naive = datetime(2026, 11, 20, 0, 0, 7)  # naive = UTC
    n = store.metrics.record_batch(iter([Sample("cpu", "2.5", sandbox_id="sb-a", timestamp=naive),
                                         Sample("cpu", True, labels={"k": 1}, sandbox_id="sb-a", timestamp=_at(8))]))
    assert n == 2
    assert _raw_rows(store) == [("cpu", "gauge", "{}", 2.5, "2026-11-20 00:00:07+00:00", "sb-a", "raw"),
                                ("cpu", "gauge", '{"k":"1"}', 1.0, "2026-11-20 00:00:08+00:00", "sb-a", "raw")]
    assert store.metrics.record_batch([]) == 0


def test_read_only_store_refuses_writes(fresh_db):
    with open_store(fresh_db, read_only=True) as ro:
        with pytest.raises(errors.ReadOnly):
            ro.metrics.record("cpu", 1.0, sandbox_id="x")
        with pytest.raises(errors.ReadOnly):
            ro.metrics.build_rollups()
        assert ro.metrics.chart("cpu", T0, _at(60)) == []


# -- queries: labels, time zones, Go rows -------------------------------------------------------

def _insert(store, *rows):
    store.db.execute_sql("PRAGMA foreign_keys=OFF")
    for name, labels, value, ts, period in rows:
        store.db.execute_sql(
            "INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id, "
            "aggregation_period) VALUES (?, 'gauge', ?, ?, ?, 'sb-a', ?)", (name, labels, value, ts, period))
    store.db.execute_sql("PRAGMA foreign_keys=ON")


def test_label_matchers_are_exact_not_substring(store):
    _insert(store,
            ("m", '{"host":"node-a"}', 1, "2026-11-20 00:00:00+00:00", "raw"),
            ("m", '{"host":"node-ab"}', 2, "2026-11-20 00:00:01+00:00", "raw"),
            ("m", '{"host":"NODE-A"}', 3, "2026-11-20 00:00:02+00:00", "raw"),
            ("m", '{"xhost":"node-a"}', 4, "2026-11-20 00:00:03+00:00", "raw"),
            ("m", '{"host":"a\\u003cb","q":"50%_x"}', 5, "2026-11-20 00:00:04+00:00", "raw"),
            ("m", "not json", 6, "2026-11-20 00:00:05+00:00", "raw"),
            ("m", "null", 7, "2026-11-20 00:00:06+00:00", "raw"))
    q = store.metrics.query
    assert [s.value for s in q("m", labels={"host": "node-a"})] == [1.0]
    assert [s.value for s in q("m", labels={"host": "a<b"})] == [5.0]  # Go escapes < as \u003c
    assert [s.value for s in q("m", labels={"q": "50%_x"})] == [5.0]
    assert [s.value for s in q("m", labels={"q": "50%"})] == []
    assert q("m", labels={"host": "node-a", "q": "x"}) == []
    assert len(q("m")) == 7


def test_time_ranges_compare_instants_across_offsets(store):
    _insert(store,
            ("t", "{}", 1, "2026-11-20 00:30:00+00:00", "raw"),
            ("t", "{}", 2, "2026-11-19 18:10:00-07:00", "raw"),  # = 01:10 UTC
            ("t", "{}", 3, "2026-11-20 01:20:00", "raw"),  # CURRENT_TIMESTAMP form, UTC
            ("t", "{}", 4, "2026-11-20T01:40:00.999999999Z", "raw"),
            ("t", "{}", 5, "2026-11-20 03:25:00+02:00", "raw"))  # = 01:25 UTC
    q = store.metrics.query
    window = [s.value for s in q("t", start=_at(3600), end=_at(5400))]
    assert sorted(window) == [2.0, 3.0, 5.0]  # text comparison would take 4 and drop 2
    assert [s.value for s in q("t", start=_at(6000))] == [4.0]
    assert q("t", start=_at(6000))[0].timestamp == _at(6000.999999)
    assert [s.value for s in q("t")] == [1.0, 2.0, 3.0, 5.0, 4.0]  # in instant order
    agg = store.metrics.aggregate("t", step_seconds=3600)[0].points
    assert agg.t.tolist() == [T0.timestamp(), T0.timestamp() + 3600]
    assert agg.count.tolist() == [1, 4] and agg.last.tolist() == [1.0, 4.0]


def test_go_server_rollup_rows_are_never_double_counted(store):
    _insert(store,
            ("cpu", "{}", 10, "2026-11-20 00:00:10+00:00", "raw"),
            ("cpu", "{}", 20, "2026-11-20 00:00:20+00:00", None),
            ("cpu", "{}", 99, "2026-11-20 00:00:00", "5m"),
            ("cpu", "{}", 98, "2026-11-20 00:00:00", "1h"))
    m = store.metrics
    assert sorted(s.value for s in m.query("cpu")) == [10.0, 20.0]
    assert [s.value for s in m.query("cpu", periods=["5m"])] == [99.0]
    [series] = m.aggregate("cpu", step_seconds=300)
    assert series.points.count.tolist() == [2] and series.points.sum.tolist() == [30.0]
    [go] = m.aggregate("cpu", step_seconds=300, period="5m")
    assert go.source == "go:5m" and go.points.sum.tolist() == [99.0]
    assert {(s.period, s.count) for s in m.series("cpu", periods=["raw", "5m", "1h"])} == {
        ("raw", 2), ("5m", 1), ("1h", 1)}
    with pytest.raises(errors.InvalidInput, match="Unknown aggregation period"):
        m.query("cpu", periods=["2m"])


def test_series_lists_each_series_with_extent_and_count(store):
    m = store.metrics
    m.record_batch([Sample("cpu", i, labels={"h": "x"}, sandbox_id="sb-a", timestamp=_at(i)) for i in range(5)]
                   + [Sample("cpu", 1, labels={"h": "y"}, sandbox_id="sb-a", timestamp=_at(9))]
                   + [Sample("cpu", 1, sandbox_id="sb-b", timestamp=_at(7))])
    infos = m.series("cpu")
    assert [(s.sandbox_id, s.labels, s.count, s.first, s.last) for s in infos] == [
        ("sb-a", {"h": "x"}, 5, _at(0), _at(4)),
        ("sb-a", {"h": "y"}, 1, _at(9), _at(9)),
        ("sb-b", {}, 1, _at(7), _at(7)),
    ]
    assert m.series("cpu", labels={"h": "y"})[0].count == 1
    assert m.names() == {"cpu": "gauge"}


def test_catalogue_lists_the_same_series_from_rollups_and_the_tail(store):
    m = store.metrics
    assert m.catalogue("cpu") == []
    m.record_batch([Sample("cpu", i, labels={"h": "x"}, sandbox_id="sb-a", timestamp=_at(90 + 7 * i))
                    for i in range(40)]
                   + [Sample("cpu", 1, labels={"h": "y"}, sandbox_id="sb-a", timestamp=_at(4000))]
                   + [Sample("mem", 1, sandbox_id="sb-b", timestamp=_at(5))])
    assert m.catalogue("cpu") == m.series("cpu")  # no rollups yet: the exact listing
    m.build_rollups()
    # after the build: new samples of a known series, and a series seen only since
    m.record_batch([Sample("cpu", 5, labels={"h": "x"}, sandbox_id="sb-a", timestamp=_at(9000)),
                    Sample("cpu", 2, sandbox_id="sb-b", timestamp=_at(30))])
    exact, quick = m.series("cpu", include_rollups=False), m.catalogue("cpu")
    assert [(s.sandbox_id, s.labels, s.count, s.last, s.type) for s in quick] == [
        (s.sandbox_id, s.labels, s.count, s.last, s.type) for s in exact]
    for e, q in zip(exact, quick):  # first: the start of its first minute bucket
        assert e.first - timedelta(seconds=60) < q.first <= e.first
    assert quick[0].first == _at(60) and quick[0].count == 41


def test_quick_extent_without_rollups_is_the_series_extent(store):
    """Before any build, quick_extent is one MIN/MAX over the raw rows: the same instants
    as the series listing's, across offsets, other metrics, unreadable rows and the Go
    server's own rollup rows (which are not raw)."""
    m = store.metrics
    assert m.quick_extent("cpu") == (None, None)
    m.record_batch([Sample("cpu", 1, labels={"h": "x"}, sandbox_id="sb-a", timestamp=_at(100)),
                    Sample("cpu", 2, sandbox_id="sb-b", timestamp="2026-11-19 18:00:02-07:00"),
                    Sample("cpu", 3, labels={"h": "y"}, sandbox_id="sb-a", timestamp=_at(50_000.5)),
                    Sample("mem", 4, sandbox_id="sb-b", timestamp=_at(-9_000)),
                    Sample("mem", 5, sandbox_id="sb-b", timestamp=_at(90_000))])
    con = store.db.connection()
    with store.db.atomic():
        for ts, value, period in [("2026-11-19 00:00:00+00:00", 1.0, "1m"),  # Go's own rollup row
                                  ("0000-00-00 99:99:99", 1.0, "raw"),  # no time to read
                                  ("2026-11-19 01:00:00+00:00", "n/a", "raw")]:  # no number
            con.execute("INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id,"
                        " aggregation_period) VALUES ('cpu', 'gauge', '{}', ?, ?, 'sb-a', ?)", (value, ts, period))
    infos = m.series("cpu")
    expected = (min(s.first for s in infos), max(s.last for s in infos))
    assert m.quick_extent("cpu") == expected == (_at(100), _at(50_000.5))
    assert m.quick_extent("mem") == (_at(-9_000), _at(90_000))
    assert m.quick_extent("nothing") == (None, None)


# -- aggregation ---------------------------------------------------------------------------

def test_aggregate_stats_percentiles_and_grouping(store):
    m = store.metrics
    values = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0]
    m.record_batch([Sample("lat", v, type="histogram", labels={"ep": "a" if i % 2 else "b"},
                           sandbox_id="sb-a" if i < 4 else "sb-b", timestamp=_at(i * 10 if i < 5 else 70))
                    for i, v in enumerate(values)])
    [one] = m.aggregate("lat", step_seconds=60, group_by=(), stats=("count", "p50", "p90", "p100", "p0"))
    p = one.points
    assert (p.count[0], p.sum[0], p.min[0], p.max[0], p.last[0]) == (5, 15.0, 1.0, 5.0, 3.0)
    assert p.count[1] == 1 and p.last[1] == 10.0
    ordered = sorted(values[:5])
    assert p.percentiles["p50"][0] == ordered[2] and p.percentiles["p90"][0] == ordered[3]
    assert p.percentiles["p100"][0] == 5.0 and p.percentiles["p0"][0] == 1.0
    by_sandbox = m.aggregate("lat", step_seconds=3600, group_by=("sandbox_id",))
    assert [(s.sandbox_id, s.labels, int(s.points.count[0])) for s in by_sandbox] == [("sb-a", {}, 4), ("sb-b", {}, 2)]
    by_label = m.aggregate("lat", step_seconds=3600, group_by=("ep",))
    assert [(s.sandbox_id, s.labels, int(s.points.count[0])) for s in by_label] == [
        (None, {"ep": "a"}, 3), (None, {"ep": "b"}, 3)]
    assert len(m.aggregate("lat", step_seconds=3600)) == 4  # default: one line per series
    with pytest.raises(errors.InvalidInput, match="Unknown statistic"):
        m.aggregate("lat", step_seconds=60, stats=("median",))
    with pytest.raises(errors.InvalidInput, match="at least 1 ms"):
        m.aggregate("lat", step_seconds=0)


def test_counter_rate_handles_resets_and_is_not_averaged(store):
    m = store.metrics
    # 0,10,20 | restart: 5, 15 | 25  (one-minute buckets)
    pts = [(0, 0), (20, 10), (40, 20), (70, 5), (90, 15), (130, 25)]
    m.record_batch([Sample("req_total", v, type="counter", sandbox_id="sb-a", timestamp=_at(t)) for t, v in pts])
    [s] = m.aggregate("req_total", step_seconds=60)
    assert s.points.increase.tolist() == [20.0, 5.0 + 10.0, 10.0]
    assert s.points.rate.tolist() == [20 / 60, 15 / 60, 10 / 60]
    assert s.points.last.tolist() == [20.0, 15.0, 25.0]


# -- rollups ---------------------------------------------------------------------------------

def _same(a, b, stats=("count", "sum", "min", "max", "last")):
    assert [(s.sandbox_id, s.labels) for s in a] == [(s.sandbox_id, s.labels) for s in b]
    for x, y in zip(a, b):
        assert x.points.t.tolist() == y.points.t.tolist()
        for stat in stats:
            assert getattr(x.points, stat).tolist() == getattr(y.points, stat).tolist(), stat


def test_rollups_are_incremental_and_take_late_samples(store):
    m = store.metrics
    rng = np.random.default_rng(7)
    m.record_batch([Sample("cpu", float(v), sandbox_id="sb-a", timestamp=_at(t))
                    for t, v in zip(range(0, 7200, 7), rng.normal(50, 9, 7200 // 7 + 1))])
    first = m.build_rollups()
    assert first.samples == 1029 and first.new_series == 1 and first.chunks == 1
    assert m.build_rollups().samples == 0  # nothing new
    m.record_batch([Sample("cpu", 1000.0, sandbox_id="sb-a", timestamp=_at(33)),  # late, into an old bucket
                    Sample("cpu", -5.0, sandbox_id="sb-a", timestamp=_at(9000))])
    second = m.build_rollups()
    assert second.samples == 2 and second.new_series == 0
    assert m.rollup_status()["pending_samples"] == 0
    for step in (60, 300, 900, 3600, 86400):
        _same(m.aggregate("cpu", step_seconds=step, source="rollup"), m.aggregate("cpu", step_seconds=step))


def test_rollup_counter_increase_continues_across_builds(store):
    m = store.metrics
    pts = [(0, 0), (20, 10), (40, 20), (70, 5), (90, 15), (130, 25), (200, 1), (230, 4)]
    for chunk in (pts[:3], pts[3:5], pts[5:]):
        m.record_batch([Sample("req_total", v, type="counter", sandbox_id="sb-a", timestamp=_at(t)) for t, v in chunk])
        m.build_rollups()
    raw = m.aggregate("req_total", step_seconds=60)
    rolled = m.aggregate("req_total", step_seconds=60, source="rollup")
    assert rolled[0].points.increase.tolist() == raw[0].points.increase.tolist() == [20.0, 15.0, 10.0, 4.0]


def test_chart_merges_rows_not_yet_rolled_up(store):
    m = store.metrics
    m.record_batch([Sample("cpu", float(i % 17), sandbox_id="sb-a" if i % 3 else "sb-b",
                           timestamp=_at(i * 30)) for i in range(3000)])
    m.build_rollups()
    m.record_batch([Sample("cpu", 99.0, sandbox_id="sb-b", timestamp=_at(i * 30 + 1)) for i in range(2900, 3100)])
    start, end = T0, _at(3100 * 30)
    chart = m.chart("cpu", start, end, target_points=500)
    assert chart[0].source == "rollup:300" and chart[0].step_seconds == 300
    step = chart[0].step_seconds
    _same(chart, m.aggregate("cpu", step_seconds=step, start=start, end=end))
    fine = m.chart("cpu", T0, _at(600), target_points=100)  # 6 s steps: finer than any rollup
    assert fine[0].source == "raw" and fine[0].step_seconds == 6


def test_rollup_percentiles_are_within_the_sketch_error(store):
    m = store.metrics
    rng = np.random.default_rng(3)
    values = rng.lognormal(-3, 1.2, 4000)
    m.record_batch([Sample("lat", float(v), type="histogram", sandbox_id="sb-a", timestamp=_at(i * 2.1))
                    for i, v in enumerate(values)])
    m.build_rollups()
    stats = ("count", "p50", "p90", "p95", "p99")
    raw = m.aggregate("lat", step_seconds=900, stats=stats)[0].points
    rolled = m.aggregate("lat", step_seconds=900, stats=stats, source="rollup")[0].points
    assert rolled.count.tolist() == raw.count.tolist()
    for p in ("p50", "p90", "p95", "p99"):
        err = np.abs(rolled.percentiles[p] - raw.percentiles[p]) / raw.percentiles[p]
        assert err.max() <= sk.RELATIVE_ERROR * (1 + 1e-9), p


def test_aggregate_rollup_needs_a_matching_level(store):
    store.metrics.record("cpu", 1.0, sandbox_id="sb-a", timestamp=T0)
    with pytest.raises(errors.InvalidInput, match="No rollup level"):
        store.metrics.aggregate("cpu", step_seconds=90, source="rollup")
    assert store.metrics.aggregate("cpu", step_seconds=90, source="auto")[0].source == "raw"


def test_no_rollup_tables_means_raw_and_a_clear_error_to_build(go_store):
    m = go_store.metrics  # the Go fixture is at schema 6
    assert not m.rollups.available() and m.rollup_status() == {"available": False}
    assert m.chart("cpu_usage", target_points=50)[0].source == "raw"
    with pytest.raises(errors.MigrationError, match="upgrade its schema") as raised:
        m.build_rollups()
    assert "sandbox-admin migrate" in raised.value.cli_hint


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(st.tuples(st.integers(0, 3 * 86400 * 1000), st.integers(-10**9, 10**9), st.integers(0, 2)),
                  min_size=1, max_size=300),
    builds=st.integers(1, 3),
    step_levels=st.sampled_from([(60, 1), (60, 7), (300, 1), (300, 5), (3600, 1), (3600, 30), (86400, 1)]),
    offset=st.integers(0, 86400),
)
def test_property_rollups_equal_raw(tmp_path_factory, data, builds, step_levels, offset):
    """Random samples (ms times over 3 days, 6-decimal values, 3 series), rolled up in
    1-3 incremental builds, answer count/sum/min/max/last exactly like raw samples for
    random steps and random (level-aligned) ranges; percentiles within the sketch error."""
    path = tmp_path_factory.mktemp("prop") / "m.db"
    with create_store(path) as s:
        for sid in ("a", "b", "c"):
            s.models.Sandbox.create(id=sid, status="running")
        m = s.metrics
        samples = [Sample("g", v / 1e6, sandbox_id="abc"[k], timestamp=T0 + timedelta(milliseconds=t))
                   for t, v, k in data]
        for i in range(builds):
            m.record_batch(samples[i::builds])
            m.build_rollups()
        level, multiple = step_levels
        step = level * multiple
        start = T0 + timedelta(seconds=(offset // level) * level)
        end = start + timedelta(seconds=step * 40)
        stats = ("count", "sum", "min", "max", "last", "p50", "p99")
        raw = m.aggregate("g", step_seconds=step, start=start, end=end, stats=stats)
        rolled = m.aggregate("g", step_seconds=step, start=start, end=end, stats=stats, source="rollup")
        assert all(r.source == f"rollup:{level}" for r in rolled)
        _same(raw, rolled)
        for a, b in zip(raw, rolled):
            for p in ("p50", "p99"):
                exact, approx = a.points.percentiles[p], b.points.percentiles[p]
                assert np.all(np.abs(approx - exact) <= sk.RELATIVE_ERROR * np.abs(exact) * (1 + 1e-9))


def test_raw_buckets_equal_the_sample_listing_on_every_kind_of_time_text(store):
    """The raw chart reads instants in numpy and applies the range there; the sample
    listing reads them in SQL. Same samples, same buckets, whatever the texts: offsets,
    'T', fractions, a Julian day number, unreadable and out-of-range times, text values,
    edges of the range."""
    m = store.metrics
    texts = ["2026-11-20 00:00:00+00:00", "2026-11-20T00:59:59.999999Z", "2026-11-19 18:30:00-07:00",
             "2026-11-20 07:15:00.5+05:30", "2026-11-20 02:00:00", "2461365.0", "2026-11-20 03:00",
             "2026-11-19 23:59:59.999999+00:00", "2026-11-20 05:00:00+00:00", "0000-00-00 99:99:99",
             "9999-12-31 23:59:59+00:00", "now", "2026-11-20 04:59:59.25+00:00", "2026-11-20t01:00:00Z"]
    con = store.db.connection()
    with store.db.atomic():
        for i, ts in enumerate(texts):
            for value in (float(i + 1), "x" if i % 4 == 0 else i * 10):
                con.execute("INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp,"
                            " sandbox_id, aggregation_period) VALUES ('cpu', 'gauge', '{}', ?, ?, 'sb-a', 'raw')",
                            (value, ts))
    start, end = T0, T0 + timedelta(hours=5)
    listed = m.query("cpu", start=start, end=end)
    assert 10 < len(listed) < 2 * len(texts)
    buckets: dict[datetime, list[float]] = {}
    for sample in listed:
        hour = sample.timestamp.replace(minute=0, second=0, microsecond=0)
        buckets.setdefault(hour, []).append(sample.value)
    [series] = m.aggregate("cpu", step_seconds=3600, start=start, end=end, stats=("count", "sum", "min", "max"))
    got = {datetime.fromtimestamp(float(t), UTC): (int(c), float(s), float(lo), float(hi)) for t, c, s, lo, hi in
           zip(series.points.t, series.points.count, series.points.sum, series.points.min, series.points.max)
           if c}
    assert got == {h: (len(v), pytest.approx(sum(v)), min(v), max(v)) for h, v in buckets.items()}
    [info] = m.series("cpu")  # instants read in SQL
    assert m.quick_extent("cpu") == (info.first, info.last)


def test_bulk_reads_a_slice_at_a_time_give_the_same_answers(tmp_path, monkeypatch):
    """fetch_raw maps rows a slice at a time (the GIL); with 5-row slices (series met in
    several slices, a text value in one) charts and rollups equal the one-slice answers."""
    from sandbox_admin.storage.metrics import bulk

    def answers(path):
        with create_store(path) as s:
            for sid in ("a", "b", "c"):
                s.models.Sandbox.create(id=sid, status="running")
            m = s.metrics
            m.record_batch([Sample("g", float(i % 7), sandbox_id="abc"[i % 3], labels={"k": str(i % 2)},
                                   timestamp=T0 + timedelta(seconds=37 * i)) for i in range(61)])
            s.db.execute_sql("UPDATE metrics SET value = 'n/a' WHERE id = 23")  # not a number
            chart = m.aggregate("g", step_seconds=600, stats=("count", "sum", "min", "max", "last"))
            report = m.build_rollups()
            rolled = m.aggregate("g", step_seconds=600, stats=("count", "sum", "min", "max", "last"),
                                 source="rollup")
            return chart, rolled, (report.samples, report.skipped, report.rows_written)

    whole = answers(tmp_path / "whole.db")
    monkeypatch.setattr(bulk, "_SLICE", 5)
    sliced = answers(tmp_path / "sliced.db")
    assert whole[2] == sliced[2] and whole[2][1] == 1  # the text skipped once
    for a, b in zip(whole[:2], sliced[:2]):
        _same(a, b)
        assert len(a) == 6


def test_rollup_rows_written_a_pass_at_a_time_are_the_same_rows(tmp_path, monkeypatch):
    """The UPSERT parameters are built a few thousand rows a pass (their lists freed in
    a few ms each); passes of 300 rows (3 statements of 100, a remainder of single-row
    ones at the end) write exactly the rows one pass writes."""
    from sandbox_admin.storage.metrics import rollups

    def rows(path):
        with create_store(path) as s:
            for sid in ("a", "b"):
                s.models.Sandbox.create(id=sid, status="running")
            s.metrics.record_batch([Sample("g", float(i % 11), sandbox_id="ab"[i % 2],
                                           timestamp=T0 + timedelta(seconds=41 * i)) for i in range(2_000)])
            s.metrics.record_batch([Sample("c", float(i), type="counter", sandbox_id="a",
                                           timestamp=T0 + timedelta(seconds=53 * i)) for i in range(1_000)])
            report = s.metrics.build_rollups()
            R = s.metrics.rollups.M.Rollup
            return report.rows_written, list(R.select().order_by(R.resolution, R.series_id, R.bucket).tuples())

    one_pass = rows(tmp_path / "one.db")
    monkeypatch.setattr(rollups, "_ROWS_A_PASS", 300)
    passes = rows(tmp_path / "passes.db")
    assert one_pass[0] > 1_000 and one_pass[0] % 300 and one_pass[0] == len(one_pass[1])
    assert passes == one_pass


def test_bulk_reads_map_their_rows_with_the_collector_paused(store, monkeypatch):
    """A full GC pass over hundreds of thousands of fresh rows holds the GIL for
    100-200 ms (a frozen window): the mapping runs with the collector paused, and it
    is back on afterwards."""
    import gc

    from sandbox_admin.storage.metrics import bulk
    from sandbox_admin.storage.metrics.sql import SeriesTable

    store.metrics.record_batch([Sample("g", 1.0, sandbox_id="sb-a", timestamp=_at(i)) for i in range(10)])
    M = store.models.Metric
    seen = []

    def times(db, texts, unreadable):  # the timestamps are read last, after the mapping
        seen.append(gc.isenabled())
        return np.zeros(len(texts), np.int64)

    monkeypatch.setattr(bulk, "instants_us", times)
    query = M.select(M.metric_name, M.metric_type, M.labels, M.sandbox_id, M.timestamp, M.value)
    assert gc.isenabled()
    raw = bulk.fetch_raw(store.db, query, SeriesTable())
    assert len(raw) == 10 and seen == [False] and gc.isenabled()


def test_big_lists_are_freed_a_slice_at_a_time():
    """Dropping 277k row tuples (or 16,700 series) at once is one deallocation pass of
    30-40 ms with the GIL held: release() empties a list from its end in steps, so
    another thread (the GUI's) can run between two of them."""
    from sandbox_admin.storage.metrics.sql import release

    class Recording(list):
        def __init__(self, items):
            super().__init__(items)
            self.sizes = []

        def __delitem__(self, key):
            self.sizes.append(len(self) - key.start)
            super().__delitem__(key)

    rows = Recording([(i, str(i)) for i in range(10_001)])
    release(rows, 4_096)
    assert rows == [] and rows.sizes == [1_809, 4_096, 4_096]
    empty = Recording([])
    release(empty)
    assert empty.sizes == []


def test_a_bulk_read_takes_its_rows_a_slice_at_a_time_and_frees_its_texts_in_steps(store, monkeypatch):
    """Never every row at once (277k row tuples were 100 MB): the cursor is read a slice
    at a time, and the timestamp texts are let go in steps once read."""
    from sandbox_admin.storage.metrics import bulk
    from sandbox_admin.storage.metrics.sql import SeriesTable

    store.metrics.record_batch([Sample("g", float(i), sandbox_id="sb-a", timestamp=_at(i)) for i in range(12)])
    freed = []
    real = bulk.release

    def spy(items, step=4_096):
        freed.append((len(items), step))
        real(items, step)
        assert items == []

    monkeypatch.setattr(bulk, "release", spy)
    monkeypatch.setattr(bulk, "_SLICE", 5)
    M = store.models.Metric
    query = M.select(M.metric_name, M.metric_type, M.labels, M.sandbox_id, M.timestamp, M.value)
    taken = bulk._Rows(store.db.execute(query))
    assert [len(v) for v in taken.values] == [5, 5, 2] and len(taken.texts) == 12
    raw = bulk.fetch_raw(store.db, query, SeriesTable())
    assert len(raw) == 12 and freed == [(12, 5)]  # the texts, after their instants are read
    assert sorted(raw.v.tolist()) == [float(i) for i in range(12)]


# -- retention -------------------------------------------------------------------------------

def test_retention_folds_raw_before_deleting_so_long_charts_do_not_change(store):
    m = store.metrics
    now = _at(40 * 86400)
    rng = np.random.default_rng(11)
    ts = np.sort(rng.uniform(0, 40 * 86400, 6000))
    m.record_batch([Sample("cpu", float(v), sandbox_id="sb-a", timestamp=_at(t))
                    for t, v in zip(ts, rng.normal(40, 10, len(ts)))])
    store.db.execute_sql("PRAGMA foreign_keys=OFF")
    store.db.execute_sql(
        "INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id, aggregation_period) "
        "VALUES ('cpu','gauge','{}',1,'2026-11-21 00:00:00','sb-a','5m'), ('cpu','gauge','{}',1,'2026-12-29 00:00:00','sb-a','5m')")
    store.db.execute_sql("PRAGMA foreign_keys=ON")
    start = T0
    m.build_rollups()
    # late raw samples in old buckets, not rolled up yet: retention must fold them first
    m.record_batch([Sample("cpu", 500.0 + i, sandbox_id="sb-a", timestamp=_at(86400 * i + 5)) for i in range(30)])
    before = m.chart("cpu", start, now, target_points=700)  # 1 h level over 40 days
    assert before[0].source == "rollup:3600" and before[0].points.max.max() == 529.0
    report = m.apply_retention(now=now)  # the seed's defaults
    assert report.folded.samples == 30
    assert 0 < report.raw_deleted < 6030 and report.go_rows_deleted["5m"] == 1
    assert report.rollups_deleted["1m"] > 0 and report.rollups_deleted["5m"] > 0
    left = m.query("cpu")
    assert min(s.timestamp for s in left) >= now - timedelta(hours=24)
    after = m.chart("cpu", start, now, target_points=700)
    assert after[0].source == "rollup:3600"
    _same(before, after)
    # a short range that is gone from raw and 1m is answered from the finest level kept
    old = m.chart("cpu", _at(86400), _at(86400 + 3 * 3600), target_points=1000)
    assert old[0].source == "rollup:3600"
    assert m.apply_retention(now=now).raw_deleted == 0  # idempotent


def test_retention_policy_is_configurable_and_validated(store):
    m = store.metrics
    assert m.retention_policy().as_dict() == {
        "raw": "1d", "rollups": {"1m": "7d", "5m": "30d", "1h": "90d", "1d": "1y"}, "go_rows": True}
    policy = RetentionPolicy.from_dict({"raw": "6h", "rollups": {"1m": "2d", "1d": "forever"}, "go_rows": False})
    m.set_retention_policy(policy)
    assert m.retention_policy() == policy
    assert m.retention_policy().as_dict()["rollups"]["1d"] == "forever"
    with pytest.raises(errors.InvalidInput, match="no 120-second rollup"):
        RetentionPolicy(rollups={120: timedelta(days=1)})
    with pytest.raises(errors.InvalidInput, match="not a duration"):
        RetentionPolicy.from_dict({"raw": "soon"})
    m.record("cpu", 1.0, sandbox_id="sb-a", timestamp=T0)
    report = m.apply_retention(now=T0 + timedelta(hours=7))
    assert report.raw_deleted == 1 and report.policy["raw"] == "6h"
    assert m.series("cpu")[0].count == 0  # still listed, from its rollups


def test_build_progress_can_stop_between_chunks(store):
    m = store.metrics
    m.record_batch([Sample("cpu", float(i), sandbox_id="sb-a", timestamp=_at(i)) for i in range(500)])
    seen = []
    report = m.rollups.build(lambda done, total: seen.append((done, total)) or False, chunk=200)
    assert seen == [(200, 500)] and report.watermark == 200
    assert m.rollup_status()["pending_samples"] == 300
    assert m.build_rollups().samples == 300
    _same(m.aggregate("cpu", step_seconds=60, source="rollup"), m.aggregate("cpu", step_seconds=60))


def test_two_builders_at_once_never_fold_a_row_twice(store):
    import threading

    m = store.metrics
    m.record_batch([Sample("cpu", float(i % 13), sandbox_id="sb-a", timestamp=_at(i * 3)) for i in range(3000)])
    other = open_store(store.path)
    errors_seen = []

    def build(s):
        try:
            s.metrics.rollups.build(chunk=150)
        except Exception as exc:  # pragma: no cover - reported below
            errors_seen.append(exc)

    threads = [threading.Thread(target=build, args=(s,)) for s in (store, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert errors_seen == []
    assert m.rollup_status()["pending_samples"] == 0
    _same(m.aggregate("cpu", step_seconds=300, source="rollup"), m.aggregate("cpu", step_seconds=300))


def test_new_series_are_added_in_one_statement_with_the_next_ids(store):
    """A chunk's new series go in together, numbered after the highest id (as one INSERT
    each would number them); later builds continue after them, and every rollup row
    belongs to its own series."""
    m = store.metrics
    for sid in ("sb-a", "sb-b", "sb-c"):
        store.models.Sandbox.get_or_create(id=sid, defaults={"status": "running"})
    m.record_batch([Sample("cpu", float(i), sandbox_id="sb-a", labels={"core": str(i % 3)},
                           timestamp=_at(i * 60)) for i in range(30)])
    assert m.build_rollups().new_series == 3
    m.record_batch([Sample("cpu", float(i), sandbox_id=("sb-b", "sb-c")[i % 2], labels={"core": str(i % 2)},
                           timestamp=_at(i * 60)) for i in range(40)]
                   + [Sample("cpu", 100.0, sandbox_id="sb-a", labels={"core": "0"}, timestamp=_at(3600))])
    assert m.build_rollups().new_series == 2
    RS = m.rollups.M.Series
    rows = list(RS.select(RS.id, RS.sandbox_id, RS.labels).order_by(RS.id).tuples())
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    assert {(r[1], r[2]) for r in rows[3:]} == {("sb-b", '{"core":"0"}'), ("sb-c", '{"core":"1"}')}
    raw = m.aggregate("cpu", step_seconds=600, stats=("count", "sum", "max"))
    rolled = m.aggregate("cpu", step_seconds=600, stats=("count", "sum", "max"), source="rollup")
    _same(raw, rolled)
    assert len(rolled) == 5


def test_a_build_rereads_the_series_when_another_builder_came_between(store):
    """A build keeps the series it knows (their ids, a counter's last value) from chunk
    to chunk; when another builder has committed a chunk in between, it reads them again:
    no series twice, and the counters' increases continue from the other's last value."""
    m = store.metrics
    samples = []
    for i in range(600):
        sandbox = "sb-a" if i < 300 else ("sb-a", "sb-b")[i % 2]  # sb-b first seen in the 3rd chunk
        samples.append(Sample("req_total", float(i // 2 if i % 7 else 0), type="counter",
                              sandbox_id=sandbox, timestamp=_at(i * 7)))
    m.record_batch(samples)
    other = open_store(store.path)
    calls = []

    def between(done, total):  # after our first chunk, another program builds two
        calls.append(done)
        if len(calls) == 1:
            goes_on = iter([True, False])
            assert other.metrics.rollups.build(lambda *_: next(goes_on), chunk=150).chunks == 2
        return True

    try:
        report = m.rollups.build(between, chunk=150)
    finally:
        other.close()
    assert report.chunks == 2 and calls[0] == 150 and m.rollup_status()["pending_samples"] == 0
    RS = m.rollups.M.Series
    assert sorted(RS.select(RS.sandbox_id).tuples()) == [("sb-a",), ("sb-b",)]  # each once
    for step in (60, 3600):
        raw = m.aggregate("req_total", step_seconds=step, stats=("count", "sum", "increase"))
        rolled = m.aggregate("req_total", step_seconds=step, stats=("count", "sum", "increase"),
                             source="rollup")
        _same(raw, rolled)
        for a, b in zip(raw, rolled):
            assert a.points.increase.tolist() == b.points.increase.tolist()


def test_a_chart_reads_one_snapshot_while_a_build_commits(store):
    m = store.metrics
    m.record_batch([Sample("cpu", 1.0, sandbox_id="sb-a", timestamp=_at(i * 10)) for i in range(100)])
    m.build_rollups()
    m.record_batch([Sample("cpu", 2.0, sandbox_id="sb-a", timestamp=_at(i * 10 + 5)) for i in range(100)])
    other = open_store(store.path)
    original = m.rollups.watermark

    def build_in_between(*args):  # another program builds after we read the rollup rows
        if not args:  # the read of the watermark that follows the rollup rows
            other.metrics.build_rollups()
        return original(*args)

    m.rollups.watermark = build_in_between
    try:
        [series] = m.aggregate("cpu", step_seconds=3600, source="rollup")
    finally:
        del m.rollups.watermark
        other.close()
    assert series.points.count.sum() == 200 and series.points.sum.sum() == 300.0


def test_sketch_serialisation_round_trips_and_is_compact():
    rng = np.random.default_rng(5)
    for values in (rng.normal(0, 50, 300), rng.lognormal(0, 4, 300), np.zeros(10),
                   np.array([1e300, -1e-300, 0.0, 5e-324, 3.5])):
        rows = np.zeros(len(values), np.int64)
        bins = sk.build(rows, values)
        back = sk.decode_rows(sk.encode_rows(bins, [0]), [0])
        assert back.code.tolist() == bins.code.tolist() and back.count.tolist() == bins.count.tolist()
    many = sk.build(np.repeat(np.arange(4), 3), np.array([0, 1, 2, 5, 5, 5, -1, 0, 1, 7, 8, 9.0]))
    blobs = sk.encode_rows(many, [1, 3])  # a subset of rows, in any order of need
    back = sk.decode_rows(blobs, [1, 3])
    keep = np.isin(many.row, [1, 3])
    assert back.code.tolist() == many.code[keep].tolist() and back.count.tolist() == many.count[keep].tolist()
    every = sk.decode_rows(sk.encode_rows(many, [0, 1, 2, 3]), [0, 1, 2, 3])  # zero buckets in rows 0 and 2
    assert (every.row.tolist(), every.code.tolist(), every.count.tolist()) == (
        many.row.tolist(), many.code.tolist(), many.count.tolist())
    blob = sk.encode_values(rng.normal(50, 5, 12))
    assert len(blob) < 15 + 12 * 2 + 13
    assert math.isclose(sk.quantile_of(sk.encode_values([2.0] * 5), 0.5), 2.0, rel_tol=sk.RELATIVE_ERROR)


def test_migration_8_tables_are_ours_and_go_down_cleanly(store):
    names = {r[0] for r in store.db.execute_sql("SELECT name FROM sqlite_master WHERE name LIKE 'admin_metric%'")}
    assert names == {"admin_metric_series", "admin_metric_rollups", "admin_metric_state",
                     "admin_metric_fleet"}  # migration 11's
    store.metrics.record("cpu", 1.0, sandbox_id="sb-a", timestamp=T0)
    store.metrics.build_rollups()
    store.migrate(7)
    assert not store.metrics.rollups.available()
    assert store.metrics.aggregate("cpu", step_seconds=60, source="auto")[0].points.count.tolist() == [1]
    store.migrate()
    assert store.metrics.build_rollups().samples == 1  # rebuilt from raw


def test_instant_expression_without_unixepoch_gives_the_same_answers(store, monkeypatch):
    """SQLite before 3.38 has no unixepoch(): the strftime('%s') form must agree."""
    _insert(store,
            ("t", "{}", 1, "2026-11-19 18:10:00.25-07:00", "raw"),
            ("t", "{}", 2, "2026-11-20 01:20:00", "raw"),
            ("t", "{}", 3, "0001-01-01 00:00:00+00:00", "raw"),
            ("t", "{}", 4, "garbage", "raw"))
    new = [(s.value, s.timestamp) for s in store.metrics.query("t", order="id")]
    from sandbox_admin.storage.metrics import sql as metrics_sql

    monkeypatch.setattr(metrics_sql.sqlite3, "sqlite_version_info", (3, 37, 2))
    old = [(s.value, s.timestamp) for s in store.metrics.query("t", order="id")]
    assert old == new and new[0][1] == _at(4200.25) and new[3][1] is None
    assert [s.value for s in store.metrics.query("t", start=_at(0))] == [1.0, 2.0]


def test_one_datetime_shared_by_a_scrape_and_datetime_subclasses(store):
    class Stamp(datetime):  # e.g. pandas.Timestamp
        pass

    t = _at(1.5)
    store.metrics.record_batch([Sample(f"m{i}", i, sandbox_id="sb-a", timestamp=t) for i in range(3)]
                               + [Sample("m9", 9, sandbox_id="sb-a", timestamp=Stamp(2026, 11, 20, 0, 0, 3, tzinfo=UTC)),
                                  Sample("m10", 10, sandbox_id="sb-a", timestamp=_at(2))])
    assert [r[4] for r in _raw_rows(store)] == ["2026-11-20 00:00:01.5+00:00"] * 3 + [
        "2026-11-20 00:00:03+00:00", "2026-11-20 00:00:02+00:00"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                             timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7)),
                                                        timezone(timedelta(hours=14))])),
                min_size=1, max_size=50))
def test_bulk_timestamp_formatting_writes_exactly_what_format_timestamp_writes(values):
    from sandbox_admin.storage.fields import format_timestamp, format_timestamps_us

    values += [v.replace(microsecond=0) for v in values]
    instants = [(v - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) for v in values]
    assert format_timestamps_us(instants) == [format_timestamp(v) for v in values]
