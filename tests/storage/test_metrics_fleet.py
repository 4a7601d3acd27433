"""The fleet view folded by SQLite over the rollups equals the one built from every series."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from sandbox_admin.storage import FLEET_ABOVE, fleet_chart, fleet_view, series_key
from sandbox_admin.storage.metrics.store import Sample

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)
SANDBOXES = [f"sb-{i:02d}" for i in range(30)]


def _samples(rng: random.Random, start_s: int, hours: float, kinds=("gauge", "counter")) -> list[Sample]:
    out = []
    for sid in SANDBOXES:
        level, total = rng.uniform(0, 100), rng.uniform(0, 1000)
        for i in range(int(hours * 6)):  # every ten minutes, with gaps
            if rng.random() < 0.2:
                continue
            at = T0 + timedelta(seconds=start_s + i * 600 + rng.randint(0, 500))
            if "gauge" in kinds:
                out.append(Sample("load", level + rng.uniform(-20, 20), sandbox_id=sid, timestamp=at,
                                  labels={"host": f"h{int(sid[-2:]) % 3}"}))
            if "counter" in kinds:
                total = 0.0 if rng.random() < 0.02 else total + rng.uniform(0, 50)  # resets too
                out.append(Sample("jobs_total", total, type="counter", sandbox_id=sid, timestamp=at))
    return out


@pytest.fixture
def fleet_store(fresh_store):
    for sid in SANDBOXES:
        fresh_store.models.Sandbox.create(id=sid, status="running")
    rng = random.Random(7)
    fresh_store.metrics.record_batch(_samples(rng, 0, 30))
    fresh_store.metrics.build_rollups()
    return fresh_store, rng


def _same(store, name: str, kind: str, start: datetime, end: datetime, points: int) -> float:
    """fleet_chart equals fleet_view of every series at the same step; that step (s)."""
    m = store.metrics
    step = fleet_chart(m, name, start, end, points, metric_type=kind).series[0].step_seconds
    exact = m.aggregate(name, step_seconds=step, start=start, end=end, source="rollup")
    assert len(exact) > FLEET_ABOVE
    for by in ("max", "avg", "last"):
        quick = fleet_chart(m, name, start, end, points, metric_type=kind, by=by)
        aggregate, band, top = fleet_view(exact, kind, by=by)
        assert quick.folded == len(exact)
        got = quick.series[0].points
        assert np.array_equal(got.t, aggregate.points.t)
        assert np.allclose(got.avg, aggregate.points.avg, equal_nan=True), by
        assert np.allclose(quick.band[0], band[0], equal_nan=True)
        assert np.allclose(quick.band[1], band[1], equal_nan=True)
        assert [series_key(s) for s in quick.series[1:]] == [series_key(s) for s in top], by
        assert quick.series[0].source.startswith("rollup:")
    return step


@pytest.mark.parametrize("name, kind", [("load", "gauge"), ("jobs_total", "counter")])
def test_fleet_from_rollups_equals_the_fleet_of_every_series(fleet_store, name, kind):
    store, _ = fleet_store
    # 100 points over 30 h: 20-min steps of 5-min rows would do, hourly rows still give
    # 30 points (at least a quarter): the fleet takes one rollup row per step
    assert _same(store, name, kind, T0, T0 + timedelta(hours=30), 100) == 3600
    assert store.metrics.chart(name, T0, T0 + timedelta(hours=30), 100)[0].step_seconds == 1200  # lines: finer
    assert _same(store, name, kind, T0, T0 + timedelta(hours=30), 12) == 7200  # steps of several rows
    assert _same(store, name, kind, T0, T0 + timedelta(hours=30), 30) == 3600


@pytest.mark.parametrize("in_list", [2000, 1], ids=["tail-sandboxes-named", "too-many-to-name"])
@pytest.mark.parametrize("name, kind", [("load", "gauge"), ("jobs_total", "counter")])
def test_samples_not_rolled_up_yet_are_in_the_fleet(fleet_store, name, kind, in_list, monkeypatch):
    from sandbox_admin.storage.metrics import fleet_sql

    monkeypatch.setattr(fleet_sql, "_IN_LIST", in_list)  # the tail's sandboxes in an IN list, or not
    store, rng = fleet_store
    store.metrics.record_batch(_samples(rng, 30 * 3600, 6))  # newer than the rollups
    _same(store, name, kind, T0, T0 + timedelta(hours=36), 72)


def test_a_few_series_are_charted_one_by_one(fleet_store):
    store, _ = fleet_store
    answer = fleet_chart(store.metrics, "load", T0, T0 + timedelta(hours=30), 50, sandbox_id=SANDBOXES[:3])
    assert answer.folded == 0 and answer.band is None
    assert {s.sandbox_id for s in answer.series} == set(SANDBOXES[:3])


def test_ties_at_the_top_go_to_the_higher_average(fresh_store):
    m = fresh_store.metrics
    for sid in SANDBOXES:
        fresh_store.models.Sandbox.create(id=sid, status="running")
    rng = random.Random(3)
    samples = []
    for n, sid in enumerate(SANDBOXES):  # every sandbox touches 100 %; their averages differ
        level = rng.uniform(10, 80)
        for i in range(60):
            value = 100.0 if i == 30 else min(100.0, level + rng.uniform(-5, 5))
            samples.append(Sample("cpu", value, sandbox_id=sid, timestamp=T0 + timedelta(minutes=10 * i)))
    m.record_batch(samples)
    m.build_rollups()
    start, end = T0, T0 + timedelta(hours=10)
    exact = m.chart("cpu", start, end, 60)
    quick = fleet_chart(m, "cpu", start, end, 60, by="max")
    _aggregate, _band, top = fleet_view(exact, "gauge", by="max")
    means = {series_key(s): float(np.nanmean(s.points.avg)) for s in exact}
    assert [series_key(s) for s in quick.series[1:]] == [series_key(s) for s in top]
    shown = [means[series_key(s)] for s in top]
    assert shown == sorted(shown, reverse=True)  # all at 100 %: ranked by their average
    assert min(shown) >= max(v for k, v in means.items() if k not in {series_key(s) for s in top})


@pytest.mark.parametrize("name, kind", [("load", "gauge"), ("jobs_total", "counter")])
def test_the_fleet_counts_only_the_series_with_data_in_range(fleet_store, name, kind):
    store, _ = fleet_store
    everything = fleet_chart(store.metrics, name, T0, T0 + timedelta(hours=30), 30, metric_type=kind)
    assert everything.folded == len(SANDBOXES)  # the whole extent: every series
    start = T0 + timedelta(hours=5)
    narrow = fleet_chart(store.metrics, name, start, start + timedelta(minutes=20), 20, metric_type=kind)
    with_data = store.metrics.aggregate(name, step_seconds=60, start=start, end=start + timedelta(minutes=20),
                                        source="rollup")
    assert FLEET_ABOVE < narrow.folded == len(with_data) < len(SANDBOXES)


@pytest.mark.parametrize("same", [False, True], ids=["ranked-in-sqlite", "tie-at-the-cut"])
def test_sqlite_ranks_the_top_only_when_no_tie_crosses_the_cut(fresh_store, monkeypatch, same):
    """SQLite reads the top few and a few more (_SPARE, made small here); when a tie runs
    past them (identical series), every score is read. Either way the order is fleet_view's."""
    from sandbox_admin.storage.metrics import fleet_sql

    monkeypatch.setattr(fleet_sql, "_SPARE", 4)
    m = fresh_store.metrics
    for sid in SANDBOXES:
        fresh_store.models.Sandbox.create(id=sid, status="running")
    rng = random.Random(5)
    samples = []
    for n, sid in enumerate(SANDBOXES):
        level = 50.0 if same else rng.uniform(10, 80)
        for i in range(30):
            value = 100.0 if i == 10 else level + (0 if same else rng.uniform(-5, 5))
            samples.append(Sample("cpu", value, sandbox_id=sid, timestamp=T0 + timedelta(minutes=10 * i)))
    m.record_batch(samples)
    m.build_rollups()
    start, end = T0, T0 + timedelta(hours=5)
    calls = []
    original = fleet_sql._Head.scores

    def spy(self, by, best=None):  # type: ignore[no-untyped-def]
        got = original(self, by, best)
        calls.append((best, None if got is None else len(got)))
        return got

    monkeypatch.setattr(fleet_sql._Head, "scores", spy)
    for by in ("max", "avg", "last"):
        calls.clear()
        quick = fleet_chart(m, "cpu", start, end, 30, by=by)
        exact = m.aggregate("cpu", step_seconds=quick.series[0].step_seconds, start=start, end=end,
                            source="rollup")
        _aggregate, _band, top = fleet_view(exact, "gauge", by=by)
        assert [series_key(s) for s in quick.series[1:]] == [series_key(s) for s in top], by
        if same:  # every series alike: the cut is inside a tie, so every score was read
            assert calls == [(8, None), (None, len(SANDBOXES))], by
        else:
            assert calls == [(8, 8 + 4)], by


def _dense_fold(series, counter):
    """The fleet's aggregate the plain way: a series x bucket table (the reference)."""
    import warnings

    grid = np.unique(np.concatenate([s.points.t for s in series]))
    values = np.full((len(series), len(grid)), np.nan)
    counts = np.zeros(len(grid))
    for i, s in enumerate(series):
        where = np.searchsorted(grid, s.points.t)
        values[i, where] = s.points.rate if counter else s.points.avg
        counts[where] += s.points.count
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nansum(values, axis=0) if counter else np.nanmean(values, axis=0)
        centre[np.isnan(values).all(axis=0)] = np.nan
        return centre, np.nanmin(values, axis=0), np.nanmax(values, axis=0), grid, counts


@pytest.mark.parametrize("seed", range(8))
def test_the_fleet_is_folded_from_the_points_exactly_as_a_table_folds_it(seed):
    """The aggregate, band and counts come from the points themselves (a table of 16,700
    series x 800 buckets took 450 MB): bit for bit the table's answer, with gaps,
    NaN values and buckets no series has a number in."""
    from sandbox_admin.storage.metrics.fleet import _fold
    from sandbox_admin.storage.metrics.records import Points, Series

    rng = np.random.default_rng(seed)
    counter = bool(seed % 2)
    series = []
    for i in range(int(rng.integers(13, 60))):
        t = np.sort(rng.choice(np.arange(0, 6000, 60.0), size=int(rng.integers(1, 60)), replace=False))
        v = rng.normal(50, 30, len(t)) * 10.0 ** rng.integers(-3, 6)
        v[rng.random(len(t)) < 0.15] = np.nan
        if i == 0:
            t, v = np.array([6060.0]), np.array([np.nan])  # a bucket with no number at all
        n = rng.integers(1, 9, len(t)).astype(float)
        points = Points(t=t, count=n, sum=v * n, min=v, max=v, avg=v, last=v,
                        increase=v * 60 if counter else None, rate=v if counter else None)
        series.append(Series("m", "counter" if counter else "gauge", {}, f"sb-{i}", 60.0, points))
    got, expected = _fold(series, counter), _dense_fold(series, counter)
    for a, b in zip(got, expected):
        assert np.array_equal(a, b, equal_nan=True)
    assert np.isnan(got[0][-1]) and np.isnan(got[1][-1])  # the empty bucket stays empty
