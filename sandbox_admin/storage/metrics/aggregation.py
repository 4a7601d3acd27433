"""Bucket arithmetic for metrics: mergeable partial aggregates, exact sums, counter deltas.

A :class:`Partials` holds one row per (key, bucket): count, sum, min, max, last (with
its time), counter increase and optionally percentile-sketch bins. Partials merge into
coarser buckets or other groupings without going back to the samples, which is what
makes rollups exact: merging the partials of twelve 5 m buckets gives the 1 h answer.

Sums are exact: each row keeps the correctly rounded sum *and* the rounding residual
(``sum + err`` carries ~106 bits), and merges use ``math.fsum`` over both, so a sum
merged from rollups equals ``math.fsum`` of the raw values for real-world data
(regardless of order). Times are integer microseconds since the Unix epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import sketch as sk
from .records import Points, Series
from .sql import US

I64 = np.int64
F64 = np.float64


@dataclass
class Partials:
    key: np.ndarray  # int64: series or output-group number
    bucket: np.ndarray  # int64 µs: bucket start
    count: np.ndarray  # int64
    sum: np.ndarray  # float64: correctly rounded sum
    err: np.ndarray  # float64: residual, sum + err ~ exact sum
    min: np.ndarray
    max: np.ndarray
    last: np.ndarray
    last_t: np.ndarray  # int64 µs of ``last``
    increase: np.ndarray  # float64: counter increase (reset-aware), 0 for others
    sketched: np.ndarray  # bool: this row's bins describe its distribution
    bins: sk.Bins  # rows of bins index into this object's rows

    def __len__(self) -> int:
        return len(self.key)

    @classmethod
    def empty(cls) -> "Partials":
        z_i, z_f = np.empty(0, I64), np.empty(0, F64)
        return cls(z_i, z_i, z_i, z_f, z_f, z_f, z_f, z_f, z_i, z_f, np.empty(0, bool), sk.Bins.empty())

    @classmethod
    def concat(cls, parts: Sequence["Partials"]) -> "Partials":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        arrays = {
            f.name: np.concatenate([getattr(p, f.name) for p in parts])
            for f in fields(cls) if f.name != "bins"
        }
        offset = 0
        bins = []
        for p in parts:
            bins.append(sk.Bins(p.bins.row + offset, p.bins.code, p.bins.count))
            offset += len(p)
        return cls(**arrays, bins=sk.Bins.concat(bins))

    def avg(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.sum + self.err) / self.count

    def quantiles(self, qs: Iterable[float]) -> dict[float, np.ndarray]:
        out = sk.quantiles(self.bins, len(self), qs)
        for values in out.values():
            values[~self.sketched] = np.nan
        return out


def floor_to(t: np.ndarray, step: int) -> np.ndarray:
    return (t // step) * step


def _segments(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of runs of equal ``keys`` in sorted arrays."""
    n = len(keys[0])
    change = np.zeros(n, bool)
    if n:
        change[0] = True
    for k in keys:
        change[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], n).astype(I64)
    return starts, ends


#: Longest segment summed with numpy (a pass per position); longer ones are summed in
#: blocks of ``_BLOCK`` values, whose exact sums fsum then adds.
_NUMPY_SUM_MAX = 256
_BLOCK = 128


def exact_sums(values: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               residuals: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per segment: the correctly rounded sum of ``values`` (plus ``residuals``) and its
    rounding residual, math.fsum's answers. Segments of one element are copied; without
    ``residuals`` most are summed with numpy (:func:`_short_sums`, :func:`_long_sums`);
    what is left goes through fsum."""
    sums = values[starts].astype(F64, copy=True)
    errs = np.zeros(len(starts), F64) if residuals is None else residuals[starts].astype(F64, copy=True)
    multi = np.flatnonzero(ends - starts > 1)
    if residuals is None and len(multi):
        multi = _short_sums(values, starts, ends, multi, sums, errs)
        multi = _long_sums(values, starts, ends, multi, sums, errs)
    if len(multi):
        # only the values of these segments become Python floats
        lengths = ends[multi] - starts[multi]
        offsets = np.cumsum(lengths) - lengths
        taken = np.repeat(starts[multi] - offsets, lengths) + np.arange(int(lengths.sum()))
        vals = values[taken].tolist()
        extra = residuals[taken].tolist() if residuals is not None else None
        out_s, out_e = [], []
        for a, b in zip(offsets.tolist(), (offsets + lengths).tolist()):
            part = vals[a:b]
            if extra is not None:
                part += extra[a:b]
            out_s.append(total := math.fsum(part))
            out_e.append(_residual(part, total))
        sums[multi] = out_s
        errs[multi] = out_e
    return sums, errs


def _residual(part: list[float], total: float) -> float:
    """fsum's residual of ``part`` whose fsum is ``total`` (``part`` is extended)."""
    part.append(-total)
    return math.fsum(part)


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rounded sum and its exact error, element-wise (Knuth's TwoSum)."""
    with np.errstate(invalid="ignore", over="ignore"):
        s = a + b
        bb = s - a
        return s, (a - (s - bb)) + (b - bb)


def _cascade(values: np.ndarray, starts: np.ndarray, n: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For segments of ``n`` values from ``starts``: (correctly rounded sum, exact
    residual, whether those are exact), a numpy pass per position.

    TwoSum down a segment leaves its exact sum as the running sum ``s`` plus every
    step's error; those errors are added up with TwoSum too. When each of those
    additions was exact, the exact sum is ``s + c`` (``c``: the errors' sum), and
    TwoSum(s, c) gives the correctly rounded sum and its exact residual: fsum's answers.
    Otherwise (rare), and for non-finite values, the answer is not exact."""
    width = int(n.max())
    positions = np.arange(width)[:, None]  # x[j]: the j-th value of every segment
    x = values[np.minimum(starts + positions, len(values) - 1)]
    x[positions >= n] = 0.0  # padding: added exactly
    s = x[0]
    c = np.zeros(len(starts), F64)
    exact = np.ones(len(starts), bool)
    for j in range(1, width):
        s, e = _two_sum(s, x[j])
        c, ce = _two_sum(c, e)
        exact &= ce == 0
    total, residual = _two_sum(s, c)
    return total + 0.0, residual + 0.0, exact & np.isfinite(total) & np.isfinite(residual)


def _short_sums(values: np.ndarray, starts: np.ndarray, ends: np.ndarray, multi: np.ndarray,
                sums: np.ndarray, errs: np.ndarray) -> np.ndarray:
    """fsum's answers for segments of up to ``_NUMPY_SUM_MAX`` values (:func:`_cascade`);
    returns the segments still to do. Segments go in classes of lengths 2, 3, 4, 5-8,
    9-16, ... so the padding at most doubles the work; a class with too few segments to
    pay for its passes is left to fsum. ``+ 0.0``: fsum's +0.0 for an exact zero."""
    length = ends[multi] - starts[multi]
    done = np.zeros(len(sums), bool)
    low = 1
    for high in (2, 3, 4, 8, 16, 32, 64, 128, _NUMPY_SUM_MAX):
        seg = multi[(length > low) & (length <= high)]
        low = high
        if not len(seg):
            continue
        n = ends[seg] - starts[seg]
        if len(seg) < 2 * int(n.max()) + 64 and n.max() > 3:  # passes cost more than fsum would
            continue
        total, residual, ok = _cascade(values, starts[seg], n)
        sums[seg[ok]] = total[ok]
        errs[seg[ok]] = residual[ok]
        done[seg[ok]] = True
    return multi[~done[multi]]


def _long_sums(values: np.ndarray, starts: np.ndarray, ends: np.ndarray, multi: np.ndarray,
               sums: np.ndarray, errs: np.ndarray) -> np.ndarray:
    """fsum's answers for segments longer than ``_NUMPY_SUM_MAX``: blocks of ``_BLOCK``
    values summed exactly with numpy (sum + residual = the block's exact sum), then fsum
    over those pairs (the values themselves for a block that could not be). Returns the
    segments still to do (none: it answers all of them)."""
    long = multi[ends[multi] - starts[multi] > _NUMPY_SUM_MAX]
    if not len(long):
        return multi
    blocks = -(-(ends[long] - starts[long]) // _BLOCK)
    first = np.repeat(starts[long], blocks) + _BLOCK * (
        np.arange(int(blocks.sum())) - np.repeat(np.cumsum(blocks) - blocks, blocks))
    last = np.minimum(first + _BLOCK, np.repeat(ends[long], blocks))
    total, residual, ok = _cascade(values, first, last - first)
    pairs = np.stack([total, residual], axis=1).tolist()
    ok_list, first_list, last_list = ok.tolist(), first.tolist(), last.tolist()
    out_s, out_e, b = [], [], 0
    for count in blocks.tolist():
        part: list[float] = []
        for i in range(b, b + count):
            part += pairs[i] if ok_list[i] else values[first_list[i]:last_list[i]].tolist()
        b += count
        out_s.append(total_sum := math.fsum(part))
        out_e.append(_residual(part, total_sum))
    sums[long] = out_s
    errs[long] = out_e
    return multi[ends[multi] - starts[multi] <= _NUMPY_SUM_MAX]


def counter_deltas(key: np.ndarray, t: np.ndarray, v: np.ndarray,
                   prev_t: np.ndarray | None = None, prev_v: np.ndarray | None = None) -> np.ndarray:
    """Reset-aware increases of counter samples sorted by (key, t).

    Each sample's delta is ``v - previous`` or, when the counter went down (a restart),
    ``v`` itself. A series' first sample continues from ``prev_v`` (indexed by key) when
    that is known and older, else contributes nothing.
    """
    n = len(v)
    delta = np.zeros(n, F64)
    if n == 0:
        return delta
    diff = np.diff(v)
    same = key[1:] == key[:-1]
    delta[1:] = np.where(same, np.where(diff >= 0, diff, v[1:]), 0.0)
    if prev_v is not None and prev_t is not None:
        first = np.flatnonzero(np.concatenate([[True], ~same]))
        pv, pt = prev_v[key[first]], prev_t[key[first]]
        ok = ~np.isnan(pv) & (pt < t[first])
        step = v[first] - pv
        delta[first] = np.where(ok, np.where(step >= 0, step, v[first]), 0.0)
    return delta


def _sorted_by(key: np.ndarray, t: np.ndarray) -> bool:
    """Are the samples in (key, t) order already?"""
    dk = np.diff(key)
    return bool(((dk > 0) | ((dk == 0) & (np.diff(t) >= 0))).all())


def from_samples(
    key: np.ndarray,
    t: np.ndarray,
    v: np.ndarray,
    step: int,
    *,
    delta: np.ndarray | None = None,
    sketch_keys: np.ndarray | None = None,
    exact_qs: Sequence[float] = (),
) -> tuple[Partials, dict[float, np.ndarray]]:
    """Partials per (key, bucket of ``step`` µs) from samples, and exact quantiles.

    ``delta`` (per sample, from :func:`counter_deltas`) becomes ``increase``.
    ``sketch_keys[key]`` says which keys get sketch bins. ``exact_qs`` are lower-rank
    quantiles computed from the values themselves.
    """
    if len(v) == 0:
        return Partials.empty(), {q: np.empty(0, F64) for q in exact_qs}
    bucket = floor_to(t, step)
    if _sorted_by(key, t):  # then by (key, bucket, t) too: no sort needed
        order = np.arange(len(v))
        k, b, tt, vv = key, bucket, t, v
    else:
        order = np.lexsort((t, bucket, key))
        k, b, tt, vv = key[order], bucket[order], t[order], v[order]
    starts, ends = _segments(k, b)
    n_rows = len(starts)
    sums, errs = exact_sums(vv, starts, ends)
    sketched = np.zeros(n_rows, bool) if sketch_keys is None else sketch_keys[k[starts]]
    row = np.repeat(np.arange(n_rows, dtype=I64), ends - starts)
    if sketched.any():
        sel = sketched[row]
        bins = sk.build(row[sel], vv[sel])
    else:
        bins = sk.Bins.empty()
    partials = Partials(
        key=k[starts], bucket=b[starts], count=ends - starts, sum=sums, err=errs,
        min=np.minimum.reduceat(vv, starts), max=np.maximum.reduceat(vv, starts),
        last=vv[ends - 1], last_t=tt[ends - 1],
        increase=np.add.reduceat(delta[order], starts) if delta is not None else np.zeros(n_rows, F64),
        sketched=sketched, bins=bins,
    )
    exact: dict[float, np.ndarray] = {}
    if exact_qs:
        by_value = np.lexsort((vv, row))
        sorted_values = vv[by_value]
        counts = ends - starts
        for q in exact_qs:
            exact[q] = sorted_values[starts + np.floor(q * (counts - 1)).astype(I64)]
    return partials, exact


def merge(p: Partials, step: int, key_map: np.ndarray | None = None,
          with_bins: bool = True) -> Partials:
    """Merge rows into buckets of ``step`` µs (a multiple of theirs) and keys
    ``key_map[key]``; ``last`` is the latest by time, sums stay exact."""
    if len(p) == 0:
        return p
    key = p.key if key_map is None else key_map[p.key]
    bucket = floor_to(p.bucket, step)
    order = np.lexsort((p.last_t, bucket, key))
    k, b = key[order], bucket[order]
    starts, ends = _segments(k, b)
    n_rows = len(starts)
    if n_rows == len(p) and key_map is None and (bucket == p.bucket).all() and (order == np.arange(len(p))).all():
        return p
    sums, errs = exact_sums(p.sum[order], starts, ends, p.err[order])
    sketched_sorted = p.sketched[order]
    new_row = np.empty(len(p), I64)
    new_row[order] = np.repeat(np.arange(n_rows, dtype=I64), ends - starts)
    if not (with_bins and len(p.bins)):
        bins = sk.Bins.empty()
    elif n_rows == len(p):  # nothing merges: only the row numbers change
        bins = sk.renumber(p.bins, new_row)
    else:
        bins = sk.merge(p.bins, new_row)
    return Partials(
        key=k[starts], bucket=b[starts], count=np.add.reduceat(p.count[order], starts),
        sum=sums, err=errs,
        min=np.minimum.reduceat(p.min[order], starts), max=np.maximum.reduceat(p.max[order], starts),
        last=p.last[order][ends - 1], last_t=p.last_t[order][ends - 1],
        increase=np.add.reduceat(p.increase[order], starts),
        # a merged row is sketched only when every part was
        sketched=np.minimum.reduceat(sketched_sorted.astype(np.int8), starts).astype(bool),
        bins=bins,
    )


def materialise_implied_sketches(p: Partials, missing: np.ndarray) -> Partials:
    """Give rows whose sketch was not stored because their minimum and maximum say
    everything (:func:`.sketch.implied`) their bins, so they merge like any other; a
    row without one where that does not hold is not sketched."""
    rows = np.flatnonzero(missing)
    if not len(rows):
        return p
    ok = sk.implied(p.count[rows], p.min[rows], p.max[rows])
    p.sketched[rows[~ok]] = False
    rows = rows[ok]
    extra = sk.implied_bins(rows, p.count[rows], p.min[rows], p.max[rows])
    p.bins = sk.merge(sk.Bins.concat([p.bins, extra]))
    return p


def to_series(p: Partials, infos: list[dict[str, Any]], step_us: int, source: str,
               percentiles: Mapping[str, np.ndarray]) -> list[Series]:
    """Bucket partials (grouped by series key) as one :class:`Series` each."""
    out: list[Series] = []
    if not len(p):
        return out
    avg = p.avg()
    step_s = step_us / US
    bounds = np.flatnonzero(np.append(True, p.key[1:] != p.key[:-1]))
    ends = np.append(bounds[1:], len(p))
    for a, b in zip(bounds.tolist(), ends.tolist()):
        info = infos[int(p.key[a])]
        sl = slice(a, b)
        counter = info["type"] == "counter"
        points = Points(
            t=p.bucket[sl] / US, count=p.count[sl], sum=p.sum[sl], min=p.min[sl], max=p.max[sl],
            avg=avg[sl], last=p.last[sl],
            increase=p.increase[sl] if counter else None,
            rate=p.increase[sl] / step_s if counter else None,
            percentiles={k: v[sl] for k, v in percentiles.items()},
        )
        out.append(Series(info["name"], info["type"], info["labels"], info["sandbox_id"],
                          step_s, points, source))
    out.sort(key=lambda s: (s.sandbox_id or "", sorted(s.labels.items())))
    return out
