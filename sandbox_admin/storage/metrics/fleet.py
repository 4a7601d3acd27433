"""Charts of many series: the fleet's aggregate with its band, and the top few.

A chart of 16,000 series is unreadable and slow to draw; :func:`fleet_view` folds them
into one aggregate line (counters: the summed rate per second; other types: the
average) with the min–max band, and picks the top N series by a statistic. It runs
where the data is (a worker, the CLI), so drawing stays a handful of lines.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .records import Points, Series

#: More series than this and a chart shows the fleet.
FLEET_ABOVE = 12
TOP_N = 8
TOP_BY = ("max", "avg", "last")


def plotted(series: Any) -> np.ndarray:
    """The values a chart draws: a counter's rate per second, otherwise the average."""
    p = series.points
    if series.type == "counter" and p.rate is not None:
        return p.rate
    return p.avg


def series_key(series: Any) -> str:
    """A series' identity: its sandbox and labels (not its place in an answer)."""
    return f"{series.sandbox_id or ''}|" + ",".join(f"{k}={v}" for k, v in sorted(series.labels.items()))


def fleet_view(series: list[Any], metric_type: str, by: str = "max",
               top_n: int = TOP_N) -> tuple[Any, tuple[np.ndarray, np.ndarray], list[Any]]:
    """(the aggregate as a Series, its (low, high) band, the top ``top_n`` series by ``by``)
    for a chart of many series; built in the worker, so drawing stays a few items.

    Counters add up (the fleet's rate per second); other types average, with the
    min–max of the series as the band."""
    centre, low, high, grid, counts = _fold(series, metric_type == "counter")
    score = np.array([_score(s, by) for s in series], dtype=float)
    # ties (many series at 100 %) go to the higher mean of bucket values
    tie = np.array([_score(s, "avg") for s in series], dtype=float) if by == "max" else np.zeros(len(series))
    order = [int(i) for i in np.lexsort((-np.nan_to_num(tie, nan=-np.inf), -np.nan_to_num(score, nan=-np.inf)))
             if not np.isnan(score[i])]
    first = series[0]
    points = Points(t=grid, count=counts, sum=np.nan_to_num(centre), min=low, max=high, avg=centre,
                    last=centre, increase=None, rate=centre if metric_type == "counter" else None)
    aggregate = Series(first.name, first.type, {}, None, first.step_seconds, points, first.source)
    return aggregate, (low, high), [series[i] for i in order[:top_n]]


def _fold(series: list[Any], counter: bool) -> tuple[np.ndarray, ...]:
    """(centre, low, high, time grid, sample counts) per bucket of the series together:
    their values summed (counters) or averaged, and their min-max. From the points
    themselves (one entry per series and bucket), in series order as a series x bucket
    table would add them: 16,700 series x 800 buckets as a table took 450 MB."""
    t = np.concatenate([s.points.t for s in series])
    grid = np.unique(t)
    column = np.searchsorted(grid, t)
    values = np.concatenate([np.asarray(plotted(s), dtype=float) for s in series])
    counts = np.bincount(column, weights=np.concatenate([s.points.count for s in series]).astype(float),
                         minlength=len(grid))
    ok = ~np.isnan(values)
    column, values = column[ok], values[ok]
    present = np.bincount(column, minlength=len(grid))
    sums = np.bincount(column, weights=values, minlength=len(grid))
    low = np.full(len(grid), np.inf)
    high = np.full(len(grid), -np.inf)
    np.minimum.at(low, column, values)
    np.maximum.at(high, column, values)
    with np.errstate(all="ignore"):
        centre = sums if counter else sums / present
    empty = present == 0
    centre[empty] = low[empty] = high[empty] = np.nan
    return centre, low, high, grid, counts


def score_values(series: Any, by: str) -> np.ndarray:
    """The values a series is ranked on, NaN left out: a counter's rate per second, else
    its buckets' maxima (``max``), last values (``last``) or averages (``avg``)."""
    p = series.points
    values = p.rate if series.type == "counter" and p.rate is not None else \
        {"max": p.max, "last": p.last}.get(by, p.avg)
    values = np.asarray(values, dtype=float)
    return values[~np.isnan(values)]


def _score(series: Any, by: str) -> float:
    """A series' statistic over the answer's range, as its table row shows it: the
    highest sample (``max``), the mean of its buckets (``avg``), its last value (``last``);
    for counters, of their rate per second."""
    values = score_values(series, by)
    if not len(values):
        return float("nan")
    return float(values.max() if by == "max" else values[-1] if by == "last" else values.mean())
