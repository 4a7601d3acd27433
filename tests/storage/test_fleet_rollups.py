"""The fleet rollups (migration 11) always hold the fold of the rollups they come from:
after a build, an incremental build with late samples, a stopped build, retention, and
the migration on a database whose rollups were built before it."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from sandbox_admin.storage import create_store, errors, fleet_chart, fleet_view
from sandbox_admin.storage.metrics.store import Sample

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)
SANDBOXES = [f"sb-{i:02d}" for i in range(20)]


def _samples(rng: random.Random, start_s: int, hours: float) -> list[Sample]:
    out = []
    for sid in SANDBOXES:
        total = 0.0
        for i in range(int(hours * 12)):
            if rng.random() < 0.3:
                continue
            at = T0 + timedelta(seconds=start_s + i * 300 + rng.randint(0, 250))
            total += rng.uniform(0, 9)
            out.append(Sample("load", rng.uniform(0, 100), sandbox_id=sid, timestamp=at))
            out.append(Sample("jobs_total", total, type="counter", sandbox_id=sid, timestamp=at))
    return out


def _expected(store) -> dict[tuple, tuple]:
    """The fold computed in Python from every rollup row."""
    rows = store.db.execute_sql(
        "SELECT s.metric_name, r.resolution, r.bucket, r.count, r.sum, r.increase "
        "FROM admin_metric_rollups r JOIN admin_metric_series s ON s.id = r.series_id").fetchall()
    groups: dict[tuple, list] = defaultdict(list)
    for name, resolution, bucket, count, total, increase in rows:
        groups[(name, resolution, bucket)].append((count, total / count, increase))
    out = {}
    for key, members in groups.items():
        counts, means, increases = zip(*members)
        out[key] = (len(members), sum(counts), sum(means), min(means), max(means),
                    sum(increases), min(increases), max(increases))
    return out


def _table(store) -> dict[tuple, tuple]:
    rows = store.db.execute_sql(
        "SELECT metric_name, resolution, bucket, series, count, mean_sum, mean_min, mean_max, "
        "increase_sum, increase_min, increase_max FROM admin_metric_fleet").fetchall()
    return {tuple(r[:3]): tuple(r[3:]) for r in rows}


def _assert_in_step(store) -> None:
    expected, table = _expected(store), _table(store)
    assert expected and table.keys() == expected.keys()
    for key, want in expected.items():
        assert table[key][:2] == want[:2], key
        assert np.allclose(table[key][2:], want[2:], rtol=1e-12, atol=1e-9), key
    assert store.metrics.rollups.fleet.available()


@pytest.fixture
def fleet_store(fresh_store):
    for sid in SANDBOXES:
        fresh_store.models.Sandbox.create(id=sid, status="running")
    return fresh_store


def test_a_build_folds_every_bucket_of_every_level(fleet_store):
    m = fleet_store.metrics
    m.record_batch(_samples(random.Random(1), 0, 30))
    m.build_rollups()
    _assert_in_step(fleet_store)
    assert {key[1] for key in _table(fleet_store)} == {60, 300, 3600, 86400}


def test_late_samples_into_old_buckets_are_folded_again(fleet_store):
    m = fleet_store.metrics
    rng = random.Random(2)
    m.record_batch(_samples(rng, 0, 12))
    m.build_rollups()
    before = _table(fleet_store)
    m.record_batch(_samples(rng, 3600, 2) + _samples(rng, 12 * 3600, 3))  # old buckets and new ones
    m.build_rollups()
    _assert_in_step(fleet_store)
    assert _table(fleet_store) != before


def test_a_stopped_build_leaves_the_fleet_in_step_with_what_it_built(fleet_store):
    m = fleet_store.metrics
    rng = random.Random(3)
    m.record_batch(_samples(rng, 0, 12))
    m.build_rollups()
    m.record_batch(_samples(rng, 0, 24))  # more samples over the same and later hours

    def stop(done: int, total: int) -> None:
        raise errors.Cancelled("stopped")

    with pytest.raises(errors.Cancelled):
        m.rollups.build(stop, chunk=500)  # one chunk committed, then stopped
    assert m.rollup_status()["pending_samples"] > 0
    _assert_in_step(fleet_store)  # the chunk's fleet rows were written in its transaction
    m.build_rollups()
    _assert_in_step(fleet_store)


def test_a_chart_reads_the_fleet_rows(fleet_store):
    m = fleet_store.metrics
    m.record_batch(_samples(random.Random(6), 0, 24))
    m.build_rollups()
    start, end = T0, T0 + timedelta(hours=24)
    for name, kind in (("load", "gauge"), ("jobs_total", "counter")):
        quick = fleet_chart(m, name, start, end, 24, metric_type=kind)
        assert quick.series[0].step_seconds == 3600
        exact = m.aggregate(name, step_seconds=3600, start=start, end=end, source="rollup")
        aggregate, band, _ = fleet_view(exact, kind)
        assert np.allclose(quick.series[0].points.avg, aggregate.points.avg, equal_nan=True)
        assert np.allclose(quick.band[0], band[0], equal_nan=True)
        assert np.allclose(quick.band[1], band[1], equal_nan=True)
    # the fleet rows are what is read: change one and the chart shows it
    fleet_store.db.execute_sql("UPDATE admin_metric_fleet SET mean_max = 12345 WHERE metric_name = 'load' "
                               "AND resolution = 3600")
    assert np.all(fleet_chart(m, "load", start, end, 24).band[1] == 12345)


def test_retention_deletes_the_same_buckets(fleet_store):
    m = fleet_store.metrics
    m.record_batch(_samples(random.Random(4), 0, 48))
    m.build_rollups()
    now = T0 + timedelta(days=9)  # beyond the 7 days 1-minute rows are kept by default
    report = m.apply_retention(now=now)
    assert report.rollups_deleted["1m"] > 0
    _assert_in_step(fleet_store)
    assert not [key for key in _table(fleet_store) if key[1] == 60]


def test_the_migration_folds_rollups_built_before_it(tmp_path):
    store = create_store(tmp_path / "old.db")
    try:
        for sid in SANDBOXES:
            store.models.Sandbox.create(id=sid, status="running")
        store.migrate(10)  # the rollups existed before the fleet table did
        assert not store.metrics.rollups.fleet.available()
        store.metrics.record_batch(_samples(random.Random(5), 0, 10))
        store.metrics.build_rollups()
        store.migrate()
        assert store.schema_version() == 11
        _assert_in_step(store)
        store.migrate(10)  # and back down: the table goes, charts fold the rollups themselves
        assert not store.metrics.rollups.fleet.available()
        quick = fleet_chart(store.metrics, "load", T0, T0 + timedelta(hours=10), 10)
        assert quick.folded == len(SANDBOXES)
    finally:
        store.close()
