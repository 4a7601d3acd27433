"""Fleet rollups (migration 11): every series of a metric folded per level and bucket.

A fleet chart's aggregate line and band at one rollup row per step (see
:mod:`.fleet_sql`) are, per bucket, the mean (counters: the sum) and the minimum and
maximum of the series' values. Folding them at chart time means reading every series'
row in range: 277,000 rows for one metric of a server's database, 0.2–0.3 s however
the query is written. ``admin_metric_fleet`` holds that fold per metric, level and
bucket (the number of series, their samples, and the sum, minimum and maximum of each
series' mean and of its increase), so the aggregate is a read of a few hundred rows.

The rows are derived only from ``admin_metric_rollups`` and change with them, in the
same transaction (so they are never behind, whatever stops a build):

* a build chunk's rows that are **new** (past the newest bucket their series had) add
  to their buckets' fleet rows: the fold is composable over distinct series (counts and
  sums add, minima and maxima take the smaller and larger), so numpy folds the chunk's
  new rows and one UPSERT per bucket adds them;
* a chunk's rows that **merged** into existing rollup rows (late samples, a series that
  spans two chunks) change a series' mean, which a minimum cannot take back: those
  buckets are folded again from the rollup rows by SQLite;
* retention deletes the same buckets from both tables.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import peewee
from peewee import EXCLUDED, JOIN, FloatField, IntegerField, TextField, fn

from ..models import bound_base
from .sql import US

TABLE = "admin_metric_fleet"


def build_fleet_model(database: peewee.Database) -> Any:
    Base = bound_base(database)

    class Fleet(Base):
        metric_name = TextField()
        resolution = IntegerField()
        bucket = IntegerField()
        series = IntegerField()
        count = IntegerField()
        mean_sum = FloatField()
        mean_min = FloatField()
        mean_max = FloatField()
        increase_sum = FloatField()
        increase_min = FloatField()
        increase_max = FloatField()

        class Meta:
            table_name = TABLE
            primary_key = peewee.CompositeKey("metric_name", "resolution", "bucket")
            without_rowid = True

    return Fleet


class FleetRollups:
    """The fleet table of one store's rollups (see the module docstring)."""

    def __init__(self, rollups: Any) -> None:
        self.rollups = rollups
        self.db = rollups.db
        self.F = build_fleet_model(rollups.db)
        self._upsert_sql = ""

    def available(self) -> bool:
        return self.db.table_exists(TABLE)

    def add_chunk(self, cursor: Any, resolution: int, p: Any, names: Sequence[str],
                  newest_us: np.ndarray) -> None:
        """Fold a build chunk's rollup rows ``p`` of ``resolution`` (already written) into
        the fleet rows. ``names``: each chunk series' metric name; ``newest_us``: each
        one's newest sample rolled up before this chunk (NaN: none)."""
        if not len(p):
            return
        res_us = resolution * US
        names_list = sorted(set(names))
        index = {n: i for i, n in enumerate(names_list)}
        name_of = np.fromiter((index[n] for n in names), np.int64, len(names))
        known = np.floor(newest_us / res_us) * res_us  # each series' newest bucket (NaN: none)
        merged = p.bucket <= known[p.key]  # NaN compares False: a new series' rows are new
        new = ~merged
        if new.any():
            self._add_new(cursor, resolution, p, new, name_of, names_list)
        if merged.any():
            which = name_of[p.key[merged]]
            buckets = p.bucket[merged] // US
            for n in np.unique(which).tolist():
                for first, last in _runs(np.unique(buckets[which == n]), resolution):
                    self._fold(resolution, first, last, names_list[n])

    def _add_new(self, cursor: Any, resolution: int, p: Any, new: np.ndarray, name_of: np.ndarray,
                 names_list: list[str]) -> None:
        key, bucket = name_of[p.key[new]], p.bucket[new] // US
        order = np.lexsort((bucket, key))
        key, bucket = key[order], bucket[order]
        count = p.count[new][order]
        mean = (p.sum[new] / p.count[new])[order]
        increase = p.increase[new][order]
        starts = np.flatnonzero(np.r_[True, (key[1:] != key[:-1]) | (bucket[1:] != bucket[:-1])])
        series = np.diff(np.r_[starts, len(key)])
        columns = [[names_list[k] for k in key[starts].tolist()], [resolution] * len(starts),
                   bucket[starts].tolist(), series.tolist(), np.add.reduceat(count, starts).tolist()]
        for values in (mean, increase):
            columns += [np.add.reduceat(values, starts).tolist(), np.minimum.reduceat(values, starts).tolist(),
                        np.maximum.reduceat(values, starts).tolist()]
        cursor.executemany(self._upsert(), zip(*columns))

    def _upsert(self) -> str:
        """The UPSERT adding one bucket's fold of new series rows to its fleet row."""
        if not self._upsert_sql:
            F, fields = self.F, self._columns()
            query = F.insert_many([("", 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)], fields=fields).on_conflict(
                conflict_target=[F.metric_name, F.resolution, F.bucket],
                update={
                    F.series: F.series + EXCLUDED.series,
                    F.count: F.count + EXCLUDED.count,
                    F.mean_sum: F.mean_sum + EXCLUDED.mean_sum,
                    F.mean_min: fn.min(F.mean_min, EXCLUDED.mean_min),
                    F.mean_max: fn.max(F.mean_max, EXCLUDED.mean_max),
                    F.increase_sum: F.increase_sum + EXCLUDED.increase_sum,
                    F.increase_min: fn.min(F.increase_min, EXCLUDED.increase_min),
                    F.increase_max: fn.max(F.increase_max, EXCLUDED.increase_max),
                })
            sql, params = query.sql()
            assert len(params) == len(fields), sql
            self._upsert_sql = sql
        return self._upsert_sql

    def _fold(self, resolution: int, first: int, last: int, name: str) -> int:
        """Fold buckets ``first..last`` of ``name`` at ``resolution`` again from the rollup
        rows (replacing their fleet rows); the number of fleet rows written."""
        RS, R, F = self.rollups.M.Series, self.rollups.M.Rollup, self.F
        F.delete().where((F.metric_name == name) & (F.resolution == resolution)
                         & F.bucket.between(first, last)).execute()
        mean = R.sum / R.count
        # the metric's series by the name index, then each one's rows in range: one seek
        # per series in the rollups' primary key (resolution, series_id, bucket)
        query = (RS.select(RS.metric_name, R.resolution, R.bucket, fn.COUNT(R.bucket), fn.SUM(R.count),
                           fn.SUM(mean), fn.MIN(mean), fn.MAX(mean),
                           fn.SUM(R.increase), fn.MIN(R.increase), fn.MAX(R.increase))
                 .join(R, JOIN.CROSS).where(R.series_id == RS.id)
                 .where((RS.metric_name == name) & (R.resolution == resolution) & R.bucket.between(first, last))
                 .group_by(R.bucket))
        return int(self.db.execute(F.insert_from(query, self._columns())).rowcount)

    def _columns(self) -> list[Any]:
        """The table's columns, in the order the fold gives them."""
        F = self.F
        return [F.metric_name, F.resolution, F.bucket, F.series, F.count, F.mean_sum, F.mean_min,
                F.mean_max, F.increase_sum, F.increase_min, F.increase_max]

    def prune(self, resolution: int, before_bucket: int) -> int:
        """Delete the buckets retention deleted from the rollups."""
        if not self.available():
            return 0
        F = self.F
        return F.delete().where((F.resolution == resolution) & (F.bucket < before_bucket)).execute()

    def rows(self, name: str, resolution: int, first: int, end: int) -> list[tuple]:
        """(bucket, series, samples, mean sum, min, max, increase sum, min, max) of
        ``name`` for buckets ``first <= bucket < end`` (seconds), in bucket order."""
        F = self.F
        query = (F.select(F.bucket, F.series, F.count, F.mean_sum, F.mean_min, F.mean_max,
                          F.increase_sum, F.increase_min, F.increase_max)
                 .where((F.metric_name == name) & (F.resolution == resolution)
                        & (F.bucket >= first) & (F.bucket < end))
                 .order_by(F.bucket))
        return self.db.execute(query).fetchall()


def _runs(buckets: np.ndarray, resolution: int) -> list[tuple[int, int]]:
    """Sorted bucket starts (s) as (first, last) runs of consecutive buckets."""
    if not len(buckets):
        return []
    breaks = np.flatnonzero(np.diff(buckets) != resolution) + 1
    return [(int(run[0]), int(run[-1])) for run in np.split(buckets, breaks)]
