"""The fleet view of a metric computed by SQLite over the rollup tables.

:func:`.fleet.fleet_view` builds the fleet from every series' points, which means
bringing every (series, bucket) row into Python: on a server's database (16,000 series,
hundreds of thousands of rollup rows per metric) that alone takes seconds. Here SQLite
does the work where the rows are, in two parts a chart can show one after the other:

* :func:`fleet_overview`, the aggregate line and its band per bucket. At one rollup row
  per step it is read from the fleet rollups (:mod:`.fleet_rollups`, a few hundred rows);
  otherwise SQLite folds the series' rollup rows;
* :func:`fleet_top`, each series' score by one fold of its rows, then the top few
  series read in full.

:func:`fleet_chart` is both at once (the CLI's ``metrics --top``). The answer is the
same as :func:`.fleet.fleet_view` of :meth:`MetricsStore.chart`:

* per series and bucket of the chart's step, the plotted value is ``sum / count`` (the
  average) or, for counters, ``increase / step`` (the rate per second);
* the aggregate is the mean of the series' values (counters: their sum), the band their
  minimum and maximum;
* a series' score over the range is the largest sample (counters: the largest rate),
  the mean of its bucket values, or its last value.

Samples not rolled up yet (above the rollups' watermark) are newer rows; the buckets
from the first of them on are built the exact way (:func:`.fleet.fleet_view`) and the
two parts are joined, scores included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from peewee import JOIN, SQL, fn

from ..fields import dumps_json
from .fleet import FLEET_ABOVE, TOP_N, fleet_view, score_values
from .records import DEFAULT_GROUP, DEFAULT_STATS, Points, Series, _percentile_qs
from .rollups import RESOLUTIONS
from .sql import US, as_list, canonical_labels, instant_us, raw_period, readable_sample, release

#: a series' identity: its sandbox id and canonical labels text
Ident = tuple[str, str]


@dataclass(frozen=True)
class Frame:
    """Where a fleet was read: what :func:`fleet_top` needs to add its top lines."""

    name: str
    metric_type: str
    resolution: int
    step: int  # µs
    start: int  # µs, whole steps
    end: int
    sandbox_id: Any


@dataclass
class FleetChart:
    """A chart's series: every one (``folded == 0``), or the fleet: ``series[0]`` is the
    aggregate (its band in ``band``) and the rest the top few of ``folded`` series.
    ``frame`` is set when the top lines are still to be read (:func:`fleet_overview`)."""

    series: list[Series]
    band: tuple[np.ndarray, np.ndarray] | None = None
    folded: int = 0
    top_by: str = ""
    frame: Frame | None = None


def fleet_chart(metrics: Any, name: str, start: Any, end: Any, target_points: int, *,
                sandbox_id: str | Sequence[str] | None = None, metric_type: str = "gauge",
                by: str = "max", top_n: int = TOP_N, stats: Sequence[str] = DEFAULT_STATS,
                fold_above: int = FLEET_ABOVE) -> FleetChart:
    """``name`` over ``[start, end)``: every series when there are at most ``fold_above``,
    else the fleet and its top ``top_n`` series by ``by`` (see the module docstring)."""
    with metrics.store.connection(), metrics.db.atomic():  # one snapshot
        chart = fleet_overview(metrics, name, start, end, target_points, sandbox_id=sandbox_id,
                               metric_type=metric_type, by=by, top_n=top_n, stats=stats, fold_above=fold_above)
        if chart.frame is not None:
            chart.series += fleet_top(metrics, chart.frame, by=by, top_n=top_n, stats=stats)
            chart.top_by, chart.frame = by, None
        return chart


def fleet_overview(metrics: Any, name: str, start: Any, end: Any, target_points: int, *,
                   sandbox_id: str | Sequence[str] | None = None, metric_type: str = "gauge",
                   by: str = "max", top_n: int = TOP_N, stats: Sequence[str] = DEFAULT_STATS,
                   fold_above: int = FLEET_ABOVE) -> FleetChart:
    """The first part of :func:`fleet_chart`, the part a person waits for: the fleet's
    aggregate and band only, with ``frame`` set for :func:`fleet_top` to add the top
    lines (a few hundred ms more on a server's database). A chart of every series (at
    most ``fold_above``, or no rollups to fold) comes whole, ``frame`` None."""
    with metrics.store.connection(), metrics.db.atomic():  # one snapshot
        plan = metrics.plan(name, start, end, target_points)
        if plan is None:
            return FleetChart([], top_by=by)

        def every_series() -> FleetChart:
            return _from_series(metrics.chart(name, start, end, target_points, sandbox_id=sandbox_id,
                                              stats=stats), metric_type, by, top_n, fold_above)

        frame = _frame(metrics, plan, name, target_points, sandbox_id, metric_type)
        if frame is None:
            return every_series()
        split = _tail_start(metrics, name, frame.step, frame.start, frame.end)
        head = _Head(metrics, frame, split)
        tail = _tail(metrics, frame, split)
        count = head.count({_ident(s) for s in tail})
        if count <= fold_above:
            return every_series()
        aggregate, band = _join(head.buckets(), tail, metric_type, name, frame.step, frame.resolution)
        return FleetChart([aggregate], band, count, by, frame=frame)


def fleet_frame(metrics: Any, name: str, start: Any, end: Any, target_points: int, *,
                sandbox_id: str | Sequence[str] | None = None, metric_type: str = "gauge") -> Frame | None:
    """The frame :func:`fleet_overview` reads a fleet in (the same arguments give the
    same frame), or None when it would chart every series (no rollups, one sandbox): a
    chart can ask for the top lines at once, beside the overview, rather than after it."""
    with metrics.store.connection(), metrics.db.atomic():
        plan = metrics.plan(name, start, end, target_points)
        return None if plan is None else _frame(metrics, plan, name, target_points, sandbox_id, metric_type)


def _frame(metrics: Any, plan: tuple[int | None, int, int, int], name: str, target_points: int,
           sandbox_id: Any, metric_type: str) -> Frame | None:
    if plan[0] is None or len(as_list(sandbox_id) or ()) == 1:
        return None
    resolution, step, start_al, end_al = _one_row_per_step(metrics, plan, target_points)
    return Frame(name, metric_type, resolution, step, start_al, end_al, sandbox_id)


def fleet_top(metrics: Any, frame: Frame, *, by: str = "max", top_n: int = TOP_N,
              stats: Sequence[str] = DEFAULT_STATS) -> list[Series]:
    """The ``top_n`` series of a fleet by ``by`` over its frame, each read in full."""
    if top_n <= 0:
        return []
    with metrics.store.connection(), metrics.db.atomic():  # one snapshot
        split = _tail_start(metrics, frame.name, frame.step, frame.start, frame.end)
        head, tail = _Head(metrics, frame, split), _tail(metrics, frame, split)
        # without a tail to merge, SQLite ranks; else every series with data in the head
        scores = (head.scores(by, best=top_n) if not tail else None) or head.scores(by)
        best = _top(scores, tail, by, top_n)
        rank = {k: i for i, (k, _) in enumerate(best)}
        sandboxes = sorted({sandbox for sandbox, _ in rank})
        exact = metrics._aggregate_rollup(frame.name, frame.step, frame.resolution, frame.start, frame.end,
                                          sandboxes or None, None, DEFAULT_GROUP, _percentile_qs(stats))
        return sorted((s for s in exact if _ident(s) in rank), key=lambda s: rank[_ident(s)])


def _tail(metrics: Any, frame: Frame, split: int) -> list[Series]:
    """Every series' buckets from ``split`` on, the exact way (rollups + raw rows)."""
    if split >= frame.end:
        return []
    return metrics._aggregate_rollup(frame.name, frame.step, frame.resolution, split, frame.end,
                                     frame.sandbox_id, None, DEFAULT_GROUP, {})


def _one_row_per_step(metrics: Any, plan: tuple[int, int, int, int],
                      target_points: int) -> tuple[int, int, int, int]:
    """A step of one rollup row rather than several: folding several rows per step
    makes SQLite sort every row twice (the fleet of 16,000 series went from 0.4 s to
    1 s), and only one row per step can be read from the fleet rollups. The plan's own
    level is taken when it gives at most twice the points asked for, else a coarser one
    that still gives a quarter of them (a 7-day fleet at 1 h rather than 15 min). Lines
    of a few series keep the plan's step."""
    resolution, step, start_al, end_al = plan
    if step == resolution * US:
        return plan
    span = end_al - start_al
    desired = span / target_points
    kept = metrics.rollups.kept_from()
    if span / (resolution * US) <= 2 * target_points:
        level = resolution
    else:
        coarser = [r for r in RESOLUTIONS if resolution < r and r * US <= 4 * desired
                   and kept.get(str(r), -(2**62)) <= start_al]
        if not coarser:
            return plan
        level = coarser[-1]
    step = level * US
    return level, step, (start_al // step) * step, -((-end_al) // step) * step


def _from_series(series: list[Series], metric_type: str, by: str, top_n: int,
                 fold_above: int) -> FleetChart:
    if len(series) <= fold_above:
        return FleetChart(series, top_by=by)
    aggregate, band, top = fleet_view(series, metric_type, by=by, top_n=top_n)
    count = len(series)
    release(series, 512)  # the folded series, a few ms at a time (the GUI waits for the GIL)
    return FleetChart([aggregate, *top], band, count, by)


def _tail_start(metrics: Any, name: str, step: int, start_al: int, end_al: int) -> int:
    """Where the exact part starts: the step holding the oldest sample not rolled up yet
    (``end_al``: none)."""
    M = metrics.store.models.Metric
    watermark = metrics.rollups.watermark()
    instant = instant_us(M.timestamp)
    # a walk of the rowid range above the watermark (the name test as an expression, so
    # SQLite does not pick the name index and scan all of the metric's rows)
    oldest = (M.select(fn.MIN(instant))
              .where((M.id > watermark) & (M.metric_name.concat("") == name)
                     & raw_period(M.aggregation_period) & readable_sample(M)
                     & (instant < end_al)).scalar())
    if oldest is None:
        return end_al
    return min(end_al, max(start_al, (int(oldest) // step) * step))


class _Head:
    """The rolled-up part ``[frame.start, split)`` of a fleet, folded by SQLite."""

    def __init__(self, metrics: Any, frame: Frame, split: int) -> None:
        self.metrics, self.frame, self.split = metrics, frame, split
        self.name, self.counter = frame.name, frame.metric_type == "counter"
        self.sandboxes = as_list(frame.sandbox_id)  # None: every series of the metric
        # the fleet rollups fold every series of the metric: of use without a sandbox list
        fleet = metrics.rollups.fleet
        self.fleet = fleet if self.sandboxes is None and fleet.available() else None
        resolution, step, start = frame.resolution, frame.step, frame.start
        self.step_s = step / US
        RS, R = metrics.rollups.M.Series, metrics.rollups.M.Rollup
        self.RS, self.R = RS, R
        # series first, in id order, then each one's rows by the rollups' primary key: the
        # CROSS JOIN keeps that order (left to itself SQLite scans every series' rows of
        # the level), and the name tested as an expression makes it walk the series table
        # by id, so grouping by series needs no sort
        self.in_range = ((R.resolution == resolution) & (R.bucket >= start // US) & (R.bucket < split // US))
        rows = (RS.select().join(R, JOIN.CROSS).where(R.series_id == RS.id)
                .where((RS.metric_name.concat("") == self.name) & self.in_range))
        if self.sandboxes is not None:
            rows = rows.where(RS.sandbox_id.in_(self.sandboxes))
        bucket = (R.bucket * US - start) / step  # whole steps from the start (integers)
        if step == resolution * US:  # one rollup row per (series, bucket): no grouping needed
            per = rows.select(RS.id.alias("sid"), bucket.alias("b"), R.count.alias("c"),
                              R.sum.alias("s"), R.max.alias("hi"), R.increase.alias("inc"))
        else:
            per = rows.select(RS.id.alias("sid"), bucket.alias("b"), fn.SUM(R.count).alias("c"),
                              fn.SUM(R.sum).alias("s"), fn.MAX(R.max).alias("hi"),
                              fn.SUM(R.increase).alias("inc")).group_by(RS.id, bucket)
        self.rows, self.per = rows, per.cte("per")
        self.start, self.step = start, step

    def count(self, others: set[Ident]) -> int:
        """How many series have a rollup row in range, or are among ``others`` (the
        tail's): a seek per series of the metric, counted by SQLite."""
        RS, R = self.RS, self.R
        if self._covers_every_row():  # every series of the metric: the series table says
            query = RS.select(fn.COUNT(RS.id)).where(RS.metric_name == self.name)
        else:
            query = RS.select(fn.COUNT(RS.id)).where(
                (RS.metric_name == self.name)
                & fn.EXISTS(R.select(R.bucket).where((R.series_id == RS.id) & self.in_range)))
        if self.sandboxes is not None:
            query = query.where(RS.sandbox_id.in_(self.sandboxes))
        head = int(self._fetch(query)[0][0])
        if not others:
            return head
        both = query.select(RS.sandbox_id, RS.labels)
        sandboxes = sorted({s for s, _ in others})
        if len(sandboxes) <= _IN_LIST:  # else every head series (no statement of 30,000 variables)
            both = both.where(RS.sandbox_id.in_(sandboxes))
        return head + len(others - {(sandbox or "", text) for sandbox, text in self._fetch(both)})

    def _covers_every_row(self) -> bool:
        """True when the range holds every rollup row of the metric at this level, and
        retention cut none of the level: then every series of the metric has a row in
        range (a build writes each series' rows at every level), which saves a seek per
        series (0.1 s for 33,000) on the view a person opens first: all of the data."""
        level = self.frame.resolution
        if self.fleet is None or str(level) in self.metrics.rollups.kept_from():
            return False
        F = self.fleet.F
        first, last = (F.select(fn.MIN(F.bucket), fn.MAX(F.bucket))
                       .where((F.metric_name == self.name) & (F.resolution == level)).tuples().get())
        return first is not None and self.start // US <= first and last < self.split // US

    def _fetch(self, query: Any) -> list[tuple]:
        """Rows as plain tuples (Peewee's row wrapper costs more than the query here)."""
        return self.metrics.db.execute(query).fetchall()

    def value(self) -> Any:
        """A (series, bucket) row's plotted value."""
        c = self.per.c
        return c.inc / self.step_s if self.counter else c.s / c.c

    def buckets(self) -> tuple[np.ndarray, ...]:
        """Bucket start (s), samples, aggregate, band low, band high."""
        if self.fleet is not None and self.step == self.frame.resolution * US:
            return self._from_fleet_rollups()
        c, v = self.per.c, self.value()
        centre = fn.SUM(v) if self.counter else fn.AVG(v)
        query = (self.per.select_from(c.b, fn.SUM(c.c), centre, fn.MIN(v), fn.MAX(v))
                 .group_by(c.b).order_by(c.b))
        rows = self._fetch(query)
        cols = list(zip(*rows)) or [(), (), (), (), ()]
        b = np.array(cols[0], np.int64)
        t = (self.start + b * self.step) / US
        return (t, np.array(cols[1], np.float64), *(np.array(x, np.float64) for x in cols[2:]))

    def _from_fleet_rollups(self) -> tuple[np.ndarray, ...]:
        """:meth:`buckets` read from the fleet rollups (one row per bucket)."""
        rows = self.fleet.rows(self.name, self.frame.resolution, self.start // US, self.split // US)
        cols = np.array(rows, np.float64).reshape(-1, 9).T
        bucket, series, count = cols[0], cols[1], cols[2]
        if self.counter:  # the sum of the rates, and the lowest and highest rate
            centre, low, high = cols[6] / self.step_s, cols[7] / self.step_s, cols[8] / self.step_s
        else:  # the mean of the series' means, and the lowest and highest mean
            centre, low, high = cols[3] / series, cols[4], cols[5]
        return bucket, count, centre, low, high

    def _ids(self, only: Sequence[int] | None = None) -> dict[int, Ident]:
        """Series id -> identity (the series table holds canonical label text)."""
        RS = self.RS
        query = RS.select(RS.id, RS.sandbox_id, RS.labels).where(RS.metric_name == self.name)
        if only is not None:
            query = query.where(RS.id.in_(list(only)))
        return {sid: (sandbox or "", text) for sid, sandbox, text in self._fetch(query)}

    def scores(self, by: str, best: int | None = None) -> dict[Ident, tuple[float, float, float]] | None:
        """Series key -> (score, weight, extra) for merging with the tail: max (weight:
        buckets, extra: the sum of bucket values, for ties), the sum of bucket values
        (weight: buckets), or the last value (extra: its bucket).

        ``best``: only the series that can be among the ``best`` first by :func:`_top`'s
        order, which SQLite finds by the same numbers (a series' identity, the last
        tie-break, is left to :func:`_top`), or None when a tie at the cut makes that
        unsure. 33,000 series' scores and identities then stay in SQLite."""
        c, v = self.per.c, self.value()
        # aliases no column of the rows has (``b`` is a bucket there): SQLite takes a
        # name inside an ORDER BY expression for a column before an output alias
        names = ("score_a", "score_n", "score_b")
        a, n, b = (SQL(x) for x in names)
        if by == "max":  # ties (many series at 100 %) go to the higher mean of bucket values
            stat, rank = [fn.MAX(v if self.counter else c.hi), fn.COUNT(c.b), fn.SUM(v)], [a, b / n]
        elif by == "avg":
            stat, rank = [fn.SUM(v), fn.COUNT(c.b), fn.MAX(c.b)], [a / n]
        elif self.counter:  # last: the rate of the last bucket (a bare column of the one MAX)
            stat, rank = [v, fn.COUNT(c.b), fn.MAX(c.b)], [a]
        else:  # last: the last sample, from the rollup row holding it (below)
            stat, rank = [], [a]
        if stat:
            query = self.per.select_from(c.sid, *(x.alias(k) for x, k in zip(stat, names))).group_by(c.sid)
        else:
            R = self.R
            query = self.rows.select(self.RS.id, R.last.alias(names[0]), fn.COUNT(R.bucket).alias(names[1]),
                                     fn.MAX(R.last_t_us).alias(names[2])).group_by(self.RS.id)
        if best is not None:
            query = query.order_by(*(x.desc() for x in rank)).limit(best + _SPARE)
        rows = [(sid, x, k, y) for sid, x, k, y in self._fetch(query) if x is not None]
        if best is not None and len(rows) > best:
            def key(row: tuple) -> tuple[float, ...]:
                sid, x, k, y = row
                return (x, y / k) if by == "max" else (x / k,) if by == "avg" else (x,)
            if len(rows) == best + _SPARE and key(rows[best - 1]) == key(rows[-1]):
                return None  # a tie runs past what was read
        ids = self._ids([r[0] for r in rows] if best is not None else None)
        return {ids[sid]: (float(x), float(k), float(y)) for sid, x, k, y in rows}


#: Rows beyond the top few that :meth:`_Head.scores` reads, to see where a tie ends.
_SPARE = 64
#: The most sandboxes :meth:`_Head.count` names in one IN list (SQLite allows 32,766
#: variables a statement; a tail can hold more sandboxes than that).
_IN_LIST = 2000


def _join(folded: tuple[np.ndarray, ...], tail: list[Series], metric_type: str, name: str, step: int,
          resolution: int) -> tuple[Series, tuple[np.ndarray, np.ndarray]]:
    t, count, centre, low, high = folded
    if tail:
        part, (tlow, thigh), _ = fleet_view(tail, metric_type, top_n=0)
        t = np.concatenate([t, part.points.t])
        count = np.concatenate([count, part.points.count])
        centre = np.concatenate([centre, part.points.avg])
        low, high = np.concatenate([low, tlow]), np.concatenate([high, thigh])
    counter = metric_type == "counter"
    points = Points(t=t, count=count, sum=np.nan_to_num(centre), min=low, max=high, avg=centre,
                    last=centre, increase=None, rate=centre if counter else None)
    aggregate = Series(name, metric_type, {}, None, step / US, points, f"rollup:{resolution}")
    return aggregate, (low, high)


def _top(scores: dict[Ident, tuple[float, float, float]], tail: list[Series], by: str,
         top_n: int) -> list[tuple[Ident, float]]:
    """The ``top_n`` series keys by their score over head and tail together."""
    merged = dict(scores)
    for s in tail:
        values = score_values(s, by)
        if not len(values):
            continue
        key = _ident(s)
        if by == "max":
            shown = score_values(s, "avg")
            a, n, total = merged.get(key, (-np.inf, 0.0, 0.0))
            merged[key] = (max(a, float(values.max())), n + len(shown), total + float(shown.sum()))
        elif by == "avg":
            a, n, _ = merged.get(key, (0.0, 0.0, 0.0))
            merged[key] = (a + float(values.sum()), n + len(values), 0.0)
        else:
            merged[key] = (float(values[-1]), 1.0, float("inf"))  # the tail is newer
    final = {k: (a / n if by == "avg" and n else a) for k, (a, n, _) in merged.items()}
    tie = {k: (extra / n if by == "max" and n else 0.0) for k, (_, n, extra) in merged.items()}
    best = sorted(final.items(), key=lambda kv: (-kv[1], -tie[kv[0]], kv[0]))[:top_n]
    return best


def _ident(s: Series) -> Ident:
    return s.sandbox_id or "", canonical_labels(dumps_json(s.labels))[0]
