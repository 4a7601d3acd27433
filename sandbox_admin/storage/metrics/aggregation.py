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


def exact_sums(values: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               residuals: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per segment: the correctly rounded sum of ``values`` (plus ``residuals``) and its
    rounding residual. Segments of one element are copied, of two or three mostly
    computed with numpy (:func:`_short_sums`), others go through fsum."""
    sums = values[starts].astype(F64, copy=True)
    errs = np.zeros(len(starts), F64) if residuals is None else residuals[starts].astype(F64, copy=True)
    multi = np.flatnonzero(ends - starts > 1)
    if residuals is None and len(multi):
        multi = _short_sums(values, starts, ends, multi, sums, errs)
    if len(multi):
        vals = values.tolist()
        extra = residuals.tolist() if residuals is not None else None
        fsum = math.fsum
        s_list, e_list = starts[multi].tolist(), ends[multi].tolist()
        out_s, out_e = [], []
        for a, b in zip(s_list, e_list):
            part = vals[a:b]
            if extra is not None:
                part += extra[a:b]
            total = fsum(part)
            part.append(-total)
            out_s.append(total)
            out_e.append(fsum(part))
        sums[multi] = out_s
        errs[multi] = out_e
    return sums, errs


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rounded sum and its exact error, element-wise (Knuth's TwoSum)."""
    with np.errstate(invalid="ignore", over="ignore"):
        s = a + b
        bb = s - a
        return s, (a - (s - bb)) + (b - bb)


def _short_sums(values: np.ndarray, starts: np.ndarray, ends: np.ndarray, multi: np.ndarray,
                sums: np.ndarray, errs: np.ndarray) -> np.ndarray:
    """fsum's answers for segments of 2 and 3 values without a Python loop; returns the
    segments still to do.

    Two values: TwoSum gives the rounded sum and its exact error, which is fsum's. Three:
    TwoSum twice leaves ``s + e1 + e2`` exactly; when ``e1 + e2`` is itself exact, the
    sum is ``s + (e1 + e2)`` rounded once (so correctly rounded) and its error exact.
    Otherwise (rare), and for non-finite values, fsum decides. ``+ 0.0`` gives fsum's
    +0.0 for an exact zero."""
    length = ends[multi] - starts[multi]
    done = np.zeros(len(sums), bool)
    for n in (2, 3):
        seg = multi[length == n]
        first = starts[seg]
        s, e = _two_sum(values[first], values[first + 1])
        ok = np.isfinite(s) & np.isfinite(e)
        if n == 3:
            s, e2 = _two_sum(s, values[first + 2])
            t, te = _two_sum(e, e2)
            s, e = _two_sum(s, t)
            ok &= np.isfinite(s) & np.isfinite(e) & np.isfinite(e2) & (te == 0)
        sums[seg[ok]] = s[ok] + 0.0
        errs[seg[ok]] = e[ok] + 0.0
        done[seg[ok]] = True
    return multi[~done[multi]]


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


def materialise_flat_sketches(p: Partials, missing: np.ndarray) -> Partials:
    """Give rows whose sketch was not stored because all values were equal (min == max)
    their one bin, so they merge like any other."""
    rows = np.flatnonzero(missing)
    if not len(rows):
        return p
    extra = sk.Bins(rows.astype(I64), sk.codes(p.min[rows]), p.count[rows].astype(I64))
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
