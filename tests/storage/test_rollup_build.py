"""The rollup build's fast paths give what the straightforward code gives, byte for byte."""

from __future__ import annotations

import math
import struct
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from sandbox_admin.storage.metrics import sketch as sk
from sandbox_admin.storage.metrics.aggregation import _short_sums, exact_sums
from sandbox_admin.storage.metrics.store import Sample

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)


def _encode_one(values: np.ndarray) -> bytes:
    """A sketch written out the plain way, one sketch at a time (reference)."""
    codes, counts = np.unique(sk.codes(values), return_counts=True)
    zero = int(counts[codes == sk._ZERO].sum())
    keep = codes != sk._ZERO
    codes, counts = codes[keep], counts[keep]
    keys = np.where(codes > sk._ZERO, codes - (sk._ZERO + 1 + sk._KOFF), sk._KOFF - codes)
    base = int(keys.min()) if len(keys) else 0
    offsets = keys - base
    top = int(offsets.max()) if len(offsets) else 0
    wo = next(w for w in (1, 2, 4) if top < 1 << (8 * w))
    wc = next(w for w in (1, 2, 4, 8) if max([zero, *counts.tolist()]) < 1 << (8 * w))
    neg = int((codes < sk._ZERO).sum())
    fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}
    body = b"".join(struct.pack("<" + fmt[wo], int(o)) for o in offsets)
    body += b"".join(struct.pack("<" + fmt[wc], int(c)) for c in counts)
    body += struct.pack("<" + fmt[wc], zero)
    return struct.pack("<BBBIIi", 1, wo, wc, neg, len(keys) - neg, base) + body


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_encoding_is_the_reference_encoding(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    values = rng.normal(0, 1, n) * float(rng.choice([1e-3, 1.0, 1e7, 1e300, 1e-310]))
    values[rng.random(n) < 0.1] = 0.0
    if seed % 3 == 0:
        values = np.abs(values)
    if seed % 4 == 0:
        values = np.repeat(values[: max(1, n // 300)], 300)[:n]  # counts over 255
    rows = rng.integers(0, max(1, n // int(rng.integers(1, 40))), len(values))
    bins = sk.build(rows, values)
    wanted = np.unique(bins.row)
    if seed % 2:
        wanted = wanted[rng.random(len(wanted)) < 0.7]
    got = sk.encode_rows(bins, wanted)
    assert got == [_encode_one(values[rows == r]) for r in wanted.tolist()]
    back = sk.decode_rows(got, list(range(len(got))))
    assert back.count.sum() == sum(int((rows == r).sum()) for r in wanted.tolist())


@pytest.mark.parametrize("lengths", [(1, 2, 3, 3, 4, 7), tuple(range(4, 17)), tuple(range(130, 160)),
                                     (300, 517, 2000, 3333)])
@pytest.mark.parametrize("kind", ["wide", "decimal", "cancelling", "edges"])
def test_segment_sums_are_fsum_exactly(kind, lengths):
    """Segments are summed with numpy (longer ones in blocks, then fsum over the blocks'
    exact sums; fsum where that cannot be exact); the answers (sum, residual and the
    sign of a zero) are math.fsum's."""
    rng = np.random.default_rng(5)
    n = 6000 if max(lengths) < 100 else 120_000  # enough long segments for the numpy passes
    if kind == "wide":
        v = rng.normal(0, 1, n) * 10.0 ** rng.integers(-30, 30, n)
    elif kind == "decimal":
        v = rng.integers(0, 10**6, n) / 10000.0
    elif kind == "cancelling":
        v = rng.normal(0, 1, n) * 10.0 ** rng.integers(-20, 20, n)
        v[1::3] = -v[0::3][: len(v[1::3])]
    else:
        v = rng.choice([1.0, -1.0, 1e16, -1e16, 2.0**-53, 0.1, 0.2, 0.3, -0.0, 0.0, 5e-324, 2.0**53], n)
    ends = np.cumsum(rng.choice(lengths, n))
    ends = ends[ends <= n]
    starts = np.concatenate([[0], ends[:-1]])
    sums, errs = exact_sums(v, starts, ends)
    if kind == "decimal" and max(lengths) <= 256:  # the numpy passes, not fsum, answered most
        multi = np.flatnonzero(ends - starts > 1)
        left = _short_sums(v, starts, ends, multi, np.zeros(len(starts)), np.zeros(len(starts)))
        assert len(left) <= 0.25 * len(multi)
    values = v.tolist()
    for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist())):
        part = values[a:b]
        if len(part) == 1:
            total, residual = part[0], 0.0
        else:
            total = math.fsum(part)
            residual = math.fsum(part + [-total])
        assert (sums[i], errs[i]) == (total, residual), part
        assert math.copysign(1, sums[i]) == math.copysign(1, total), part
        assert math.copysign(1, errs[i]) == math.copysign(1, residual), part


@pytest.mark.parametrize("special", [[math.inf], [math.inf, -math.inf], [math.nan], [1e308, 1e308]])
@pytest.mark.parametrize("lengths", [(1000,), (3, 997), (400, 600)])
def test_sums_with_infinities_and_overflow_are_fsums_too(special, lengths):
    """Values numpy cannot sum exactly (infinite, NaN, overflowing) give fsum's answer,
    or its error, in every segment length class."""
    v = np.random.default_rng(1).random(1000)
    v[500:500 + len(special)] = special
    ends = np.cumsum(lengths)
    starts = np.concatenate([[0], ends[:-1]])

    def answer(fn):
        try:
            return fn()
        except (ValueError, OverflowError) as exc:
            return type(exc)

    def reference():
        values = v.tolist()
        parts = [values[a:b] for a, b in zip(starts.tolist(), ends.tolist())]
        totals = [math.fsum(p) for p in parts]
        return [str(t) for t in totals], [str(math.fsum(p + [-t])) for p, t in zip(parts, totals)]

    got = answer(lambda: tuple([str(x) for x in a.tolist()] for a in exact_sums(v, starts, ends)))
    assert got == answer(reference)


def test_unreadable_rows_are_counted_and_make_no_series(fresh_store):
    s = fresh_store
    s.models.Sandbox.create(id="sb-a", status="running")
    s.metrics.record_batch([Sample("cpu", 1.0, sandbox_id="sb-a", timestamp=T0 + timedelta(seconds=i))
                            for i in range(5)])
    s.db.execute_sql(
        "INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id, "
        "aggregation_period) VALUES ('bad_time','gauge','{}',1,'not a time','sb-a','raw'), "
        "('bad_value','gauge','{}','x','2026-11-20 00:00:00+00:00','sb-a','raw'), "
        "('far','gauge','{}',1,'0000-01-01 00:00:00','sb-a','raw')")
    report = s.metrics.build_rollups()
    assert (report.samples, report.skipped, report.new_series) == (5, 3, 1)
    names = [r[0] for r in s.db.execute_sql("SELECT metric_name FROM admin_metric_series").fetchall()]
    assert names == ["cpu"]


def test_many_rows_go_in_batches_and_remainders(fresh_store):
    """More rollup rows than one UPSERT statement holds, then late samples merging in."""
    s = fresh_store
    s.models.Sandbox.create(id="sb-a", status="running")
    first = [Sample("g", float(i % 17), sandbox_id="sb-a", timestamp=T0 + timedelta(seconds=61 * i))
             for i in range(1234)]
    s.metrics.record_batch(first)
    s.metrics.build_rollups()
    late = [Sample("g", 100.0 + i, sandbox_id="sb-a", timestamp=T0 + timedelta(seconds=61 * i + 5))
            for i in range(0, 1234, 3)]
    s.metrics.record_batch(late)
    s.metrics.build_rollups()
    start, end = T0, T0 + timedelta(seconds=61 * 1234 + 60)
    stats = ("count", "sum", "min", "max", "last", "p50")
    raw = s.metrics.aggregate("g", step_seconds=60, start=start, end=end, stats=stats)
    rolled = s.metrics.aggregate("g", step_seconds=60, start=start, end=end, stats=stats, source="rollup")
    assert rolled[0].source == "rollup:60"
    for stat in ("count", "sum", "min", "max", "last"):
        assert getattr(raw[0].points, stat).tolist() == getattr(rolled[0].points, stat).tolist(), stat
    count = s.db.execute_sql("SELECT count(*) FROM admin_metric_rollups WHERE resolution = 60").fetchone()[0]
    assert count == 1234
