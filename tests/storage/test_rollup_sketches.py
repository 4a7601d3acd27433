"""Rollup rows store no sketch where their minimum and maximum say everything: every
value equal, or just two values (most 1-minute buckets of a sample every 15-30 s)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from sandbox_admin.storage import create_store
from sandbox_admin.storage.metrics import sketch as sk
from sandbox_admin.storage.metrics.rollup_merge import _sketch_merge
from sandbox_admin.storage.metrics.store import Sample

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)
#: minute -> values: two values, three equal ones, three different ones, one value
BUCKETS = {0: [7.0, 3.0], 1: [5.0, 5.0, 5.0], 2: [1.0, 9.0, 4.0], 3: [6.0]}
LATE = {0: [5.0], 3: [2.0]}  # a third value for minute 0, a second for minute 3


def _samples(buckets: dict[int, list[float]], second: int = 0) -> list[Sample]:
    return [Sample("lat", v, sandbox_id="sb-a", timestamp=T0 + timedelta(minutes=m, seconds=second + 10 * i))
            for m, values in buckets.items() for i, v in enumerate(values)]


def _rows(store, resolution: int = 60) -> list[tuple]:
    return store.db.execute_sql(
        "SELECT bucket, count, sum, sum_err, min, max, last, last_t_us, increase, sketch "
        "FROM admin_metric_rollups WHERE resolution = ? ORDER BY bucket", (resolution,)).fetchall()


def _store(path, *batches: list[Sample]):
    store = create_store(path)
    store.models.Sandbox.create(id="sb-a", status="running")
    for batch in batches:
        store.metrics.record_batch(batch)
        store.metrics.build_rollups()
    return store


def test_implied_rows_and_their_bins():
    assert sk.implied([2, 3, 3, 1], [1.0, 5.0, 1.0, 6.0], [9.0, 5.0, 9.0, 6.0]).tolist() == [True, True, False, True]
    bins = sk.implied_bins(np.array([4, 7, 9]), np.array([2, 3, 2]), np.array([1.0, 5.0, 1.005]),
                           np.array([9.0, 5.0, 1.01]))
    # row 4: one at 1, one at 9; row 7: three at 5; row 9: 1.005 and 1.01 share a bucket
    assert bins.row.tolist() == [4, 4, 7, 9]
    assert bins.count.tolist() == [1, 1, 3, 2]
    assert bins.code.tolist() == sk.codes(np.array([1.0, 9.0, 5.0, 1.005])).tolist()
    built = sk.build(np.array([4, 4, 7, 7, 7, 9, 9]), np.array([9.0, 1.0, 5.0, 5.0, 5.0, 1.01, 1.005]))
    assert (built.row.tolist(), built.code.tolist(), built.count.tolist()) == (
        bins.row.tolist(), bins.code.tolist(), bins.count.tolist())


def test_a_build_stores_sketches_only_where_min_and_max_do_not_say_it_all(fresh_store):
    s = fresh_store
    s.models.Sandbox.create(id="sb-a", status="running")
    s.metrics.record_batch(_samples(BUCKETS))
    s.metrics.build_rollups()
    sketches = [r[-1] for r in _rows(s)]
    assert sketches[0] is None and sketches[1] is None and sketches[3] is None
    assert sketches[2] == sk.encode_values([1.0, 9.0, 4.0])
    stats = ("count", "p0", "p50", "p100")
    end = T0 + timedelta(minutes=4)
    raw = s.metrics.aggregate("lat", step_seconds=60, start=T0, end=end, stats=stats)[0].points
    rolled = s.metrics.aggregate("lat", step_seconds=60, start=T0, end=end, stats=stats, source="rollup")[0].points
    assert rolled.count.tolist() == [2, 3, 3, 1]
    for p in ("p0", "p50", "p100"):
        assert np.allclose(rolled.percentiles[p], raw.percentiles[p], rtol=sk.RELATIVE_ERROR), p
    # the 5-minute row holds all nine values: a stored sketch, the one of all of them
    five = _rows(s, 300)
    assert five[0][-1] == sk.encode_values([v for values in BUCKETS.values() for v in values])


def test_late_samples_merge_into_what_one_build_of_everything_stores(tmp_path):
    """Merging in the UPSERT gives the rows (sketches included) of a single build: a
    third value makes a stored sketch, a second value makes none."""
    once = _store(tmp_path / "once.db", _samples(BUCKETS) + _samples(LATE, second=5))
    twice = _store(tmp_path / "twice.db", _samples(BUCKETS), _samples(LATE, second=5))
    try:
        for resolution in (60, 300):
            assert _rows(twice, resolution) == _rows(once, resolution)
        merged = _rows(twice)
        assert merged[0][-1] == sk.encode_values([7.0, 3.0, 5.0]) and merged[3][-1] is None
        assert merged[3][1] == 2
    finally:
        once.close()
        twice.close()


@pytest.mark.parametrize(("a", "b", "merged"), [
    ((None, 1.0, 1.0, 1), (None, 2.0, 2.0, 1), None),  # two values
    ((None, 1.0, 1.0, 1), (None, 1.0, 1.0, 4), None),  # all equal
    ((None, 1.0, 3.0, 2), (None, 2.0, 2.0, 1), [1.0, 3.0, 2.0]),
    ((b"", 1.0, 3.0, 2), (None, 2.0, 2.0, 1), b""),  # a counter's row: never sketched
    ((None, 1.0, 3.0, 3), (None, 2.0, 2.0, 1), b""),  # a NULL that says nothing: no sketch
])
def test_the_upsert_merge_of_sketches(a, b, merged):
    got = _sketch_merge(*a, *b)
    if isinstance(merged, list):
        assert got == sk.encode_values(merged)
    else:
        assert got == merged


def test_a_null_sketch_that_says_nothing_leaves_the_bucket_without_percentiles(fresh_store):
    """A row of three different values with no sketch (written by something else) has
    no percentiles; the other rows keep theirs and nothing fails."""
    s = fresh_store
    s.models.Sandbox.create(id="sb-a", status="running")
    s.metrics.record_batch(_samples(BUCKETS))
    s.metrics.build_rollups()
    s.db.execute_sql("UPDATE admin_metric_rollups SET sketch = NULL WHERE resolution = 60 AND count = 3 "
                     "AND min <> max")
    end = T0 + timedelta(minutes=4)
    rolled = s.metrics.aggregate("lat", step_seconds=60, start=T0, end=end, stats=("count", "p50"),
                                 source="rollup")[0].points
    p50 = rolled.percentiles["p50"].tolist()
    assert math.isnan(p50[2])
    assert p50[0] == pytest.approx(3.0, rel=sk.RELATIVE_ERROR)
    assert p50[1] == pytest.approx(5.0, rel=sk.RELATIVE_ERROR)
    assert p50[3] == pytest.approx(6.0, rel=sk.RELATIVE_ERROR)
