"""What series a metric has: names, series with their extents and sample counts.

Two ways to list a metric's series:

* :func:`series` is exact: it groups the raw samples (one pass over every row of the
  metric). On a server's database, with hundreds of thousands of rows per metric, that
  takes seconds.
* :func:`catalogue` answers from the rollup tables when they are built: the series
  table holds each series once (an index seek on the metric's name), each series' first
  bucket is one seek in the rollups' primary key and its sample count a short range of
  its daily rows; only the samples not rolled up yet are grouped from the raw table.
  Its ``first`` is the start of the series' first rollup bucket (at most the finest
  kept step, a minute, before the first sample) and its count every sample rolled up
  (retention may since have deleted the raw rows); ``last`` is exact.
"""

from __future__ import annotations

import time
from typing import Any, Iterator, Mapping, Sequence

from peewee import Select, fn

from .raw_extent import raw_extent
from .records import SeriesInfo
from .rollups import RESOLUTIONS
from .sql import (
    US,
    canonical_labels,
    from_us,
    instant_us,
    labels_match,
    raw_period,
    readable_sample,
    to_us,
)

#: (name, type, canonical labels text, sandbox id or "", period) -> [label items, count, first µs, last µs]
Merged = dict[tuple[str, str, str, str, str], list[Any]]


def names(metrics: Any) -> dict[str, str]:
    """Metric name -> type (samples and rollups), in name order.

    A loose index scan: each next name is one seek in ``idx_metrics_name_timestamp``
    (``min(metric_name) > previous``), so a database of millions of samples answers in
    about a millisecond instead of grouping every row."""
    M = metrics.store.models.Metric
    base = M.select(fn.MIN(M.metric_name).alias("name")).cte("names", recursive=True, columns=("name",))
    following = M.select(fn.MIN(M.metric_name)).where(M.metric_name > base.c.name)
    union = base.union_all(Select(columns=[following]).from_(base).where(base.c.name.is_null(False)))
    query = union.select_from(union.c.name).where(union.c.name.is_null(False))
    found: dict[str, str] = {}
    with metrics.store.connection():
        for (name,) in query.bind(metrics.db).tuples():
            kind = M.select(M.metric_type).where(M.metric_name == name).limit(1).scalar()
            found[name] = kind or ""
        if metrics.rollups.available():  # series whose raw samples retention removed
            RS = metrics.rollups.M.Series
            for name, kind in RS.select(RS.metric_name, RS.metric_type).distinct().tuples():
                found.setdefault(name, kind)
    return dict(sorted(found.items()))


def series(
    metrics: Any, names: str | Sequence[str] | None = None, *, types: str | Sequence[str] | None = None,
    sandbox_id: str | Sequence[str] | None = None, labels: Mapping[str, str] | None = None,
    start: Any = None, end: Any = None, periods: Sequence[str] = ("raw",), include_rollups: bool = True,
) -> list[SeriesInfo]:
    """Distinct series (name + labels + sandbox [+ period]) with first/last time and
    sample count. Series whose raw samples retention has removed are listed from their
    rollups (count 0, first/last from the rollups)."""
    conds = metrics._conditions(names=names, types=types, sandbox_id=sandbox_id, labels=labels,
                                start_us=to_us(start, "start"), end_us=to_us(end, "end"), periods=periods)
    merged: Merged = {}
    with metrics.store.connection():
        _group_raw(metrics, conds, merged)
        if include_rollups and list(periods) == ["raw"] and metrics.rollups.available():
            _add_rolled_up_only(metrics, merged, names, types, sandbox_id, labels)
    return _infos(merged)


def catalogue(metrics: Any, name: str) -> list[SeriesInfo]:
    """``name``'s raw series, from the rollup tables when they are built (see the module
    docstring); otherwise the same as :func:`series`."""
    rollups = metrics.rollups
    with metrics.store.connection(), metrics.db.atomic():  # rollups and the tail: one snapshot
        state = rollups.state() if rollups.available() else {}
        watermark = rollups.watermark(state) if state else 0
        if watermark <= 0:
            return series(metrics, name)
        first_level = _finest_kept(rollups, state)
        count_level = _untrimmed(rollups, state)[-1]
        RS, R = rollups.M.Series, rollups.M.Rollup
        Inner = R.alias("inner")
        first = (Inner.select(fn.MIN(Inner.bucket))
                 .where((Inner.resolution == first_level) & (Inner.series_id == RS.id)))
        count = (Inner.select(fn.SUM(Inner.count))
                 .where((Inner.resolution == count_level) & (Inner.series_id == RS.id)))
        query = (RS.select(RS.metric_type, RS.labels, RS.sandbox_id, RS.last_t_us,
                           first.alias("first"), count.alias("samples"))
                 .where(RS.metric_name == name))
        merged: Merged = {}
        # plain tuples: a metric of a server's database has tens of thousands of series
        for typ, text, sid, last_us, first_bucket, samples in _gently(metrics.db.execute(query)):
            if first_bucket is None:
                continue
            text, items = canonical_labels(text)
            merged[(name, typ, text, sid or "", "raw")] = [items, int(samples or 0), first_bucket * US, last_us]
        # the samples written since the rollups were built: a walk of the rowid range
        M = metrics.store.models.Metric
        tail = [M.id > watermark, M.metric_name.concat("") == name, raw_period(M.aggregation_period)]
        _group_raw(metrics, [*tail, readable_sample(M)], merged)
    return _infos(merged)


def extent(metrics: Any, name: str) -> tuple[int | None, int | None]:
    """First and last µs of ``name``'s raw series, quickly when rollups are built (first:
    the start of its first rollup bucket, as in :func:`catalogue`)."""
    rollups = metrics.rollups
    with metrics.store.connection(), metrics.db.atomic():
        state = rollups.state() if rollups.available() else {}
        watermark = rollups.watermark(state) if state else 0
        if watermark <= 0:  # the readable raw rows' instants, not a series listing
            return raw_extent(metrics, name)
        RS, R = rollups.M.Series, rollups.M.Rollup
        level = _finest_kept(rollups, state)
        if rollups.fleet.available():  # one seek: a fleet row is there when any series' row is
            F = rollups.fleet.F
            first = F.select(fn.MIN(F.bucket)).where((F.metric_name == name) & (F.resolution == level)).scalar()
        else:  # a seek per series
            ids = RS.select(RS.id).where(RS.metric_name == name)
            first = R.select(fn.MIN(R.bucket)).where((R.resolution == level) & R.series_id.in_(ids)).scalar()
        last = RS.select(fn.MAX(RS.last_t_us)).where(RS.metric_name == name).scalar()
        M = metrics.store.models.Metric
        instant = instant_us(M.timestamp)
        tail_first, tail_last = (M.select(fn.MIN(instant), fn.MAX(instant))
                                 .where((M.id > watermark) & (M.metric_name.concat("") == name)
                                        & raw_period(M.aggregation_period) & readable_sample(M))
                                 .tuples().get())
    first_us = _extreme(min, None if first is None else first * US, tail_first)
    return first_us, _extreme(max, last, tail_last)


def _gently(cursor: Any, batch: int = 500) -> Iterator[tuple]:
    """``cursor``'s rows, a batch at a time with a pause between batches.

    Fetching row by row, this thread gives up Python's lock (GIL) for every SQLite step
    and takes it straight back; a GUI thread waiting for it gets it only after a 5 ms
    switch request each time, so its painting stalls for as long as the listing runs.
    A real pause (1 ms) every few hundred rows lets it in at once."""
    while True:
        rows = cursor.fetchmany(batch)
        if not rows:
            return
        yield from rows
        time.sleep(0.001)


def _untrimmed(rollups: Any, state: Mapping[str, str]) -> list[int]:
    """Rollup levels retention has not cut (the coarsest when all were)."""
    kept = rollups.kept_from(state)
    return [r for r in RESOLUTIONS if str(r) not in kept] or [RESOLUTIONS[-1]]


def _finest_kept(rollups: Any, state: Mapping[str, str]) -> int:
    return _untrimmed(rollups, state)[0]


def _group_raw(metrics: Any, conds: list[Any], merged: Merged) -> None:
    M = metrics.store.models.Metric
    instant = instant_us(M.timestamp)
    query = (M.select(M.metric_name, M.metric_type, M.labels, M.sandbox_id, M.aggregation_period,
                      fn.COUNT(M.id), fn.MIN(instant), fn.MAX(instant))
             .group_by(M.metric_name, M.metric_type, M.labels, M.sandbox_id, M.aggregation_period))
    for cond in conds:
        query = query.where(cond)
    for name, typ, lab, sid, period, count, first, last in metrics.db.execute(query):
        text, items = canonical_labels(lab)
        key = (name, typ, text, sid or "", period or "raw")
        entry = merged.setdefault(key, [items, 0, None, None])
        entry[1] += count
        entry[2] = _extreme(min, entry[2], first)
        entry[3] = _extreme(max, entry[3], last)


def _add_rolled_up_only(metrics: Any, merged: Merged, names, types, sandbox_id, labels) -> None:
    RS, R = metrics.rollups.M.Series, metrics.rollups.M.Rollup
    query = (RS.select(RS.metric_name, RS.metric_type, RS.labels, RS.sandbox_id,
                       fn.MIN(R.bucket), fn.MAX(R.last_t_us))
             .join(R, on=(R.series_id == RS.id)).where(R.resolution == RESOLUTIONS[-1])
             .group_by(RS.id))
    for cond in metrics._series_conditions(names, types, sandbox_id):
        query = query.where(cond)
    for name, typ, text, sid, first_bucket, last_us in query.tuples():
        _, items = canonical_labels(text)
        if not labels_match(items, labels):
            continue
        key = (name, typ, text, sid or "", "raw")
        if key not in merged:
            merged[key] = [items, 0, first_bucket * US, last_us]
        else:
            entry = merged[key]
            entry[2] = _extreme(min, entry[2], first_bucket * US)


def _infos(merged: Merged) -> list[SeriesInfo]:
    out = [
        SeriesInfo(name, typ, dict(items), sid or None, from_us(first), from_us(last), count, period)
        for (name, typ, _, sid, period), (items, count, first, last) in merged.items()
    ]
    out.sort(key=lambda s: (s.name, s.period, s.sandbox_id or "", sorted(s.labels.items())))
    return out


def _extreme(pick: Any, a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None else pick(a, b)
