"""Fleet rollups (migration 11): every series of a metric folded per level and bucket.

A fleet chart's aggregate line and band at one rollup row per step (see
:mod:`.fleet_sql`) are, per bucket, the mean (counters: the sum) and the minimum and
maximum of the series' values. Folding them at chart time means reading every series'
row in range: 277,000 rows for one metric of a server's database, 0.2–0.3 s however
the query is written. ``admin_metric_fleet`` holds that fold per metric, level and
bucket (the number of series, their samples, and the sum, minimum and maximum of each
series' mean and of its increase), so the aggregate is a read of a few hundred rows.

The rows are derived only from ``admin_metric_rollups`` and kept in step with it: a
build marks the bucket range each of its chunks touched (``fleet_dirty:<level>`` in
the state table, in the chunk's own transaction) and folds those ranges again when it
ends; retention deletes the same buckets from both. While a range is marked (a build
was stopped before it ended), charts fold the rollups themselves, which is exact, only
slower; the next build folds the range and clears the mark.
"""

from __future__ import annotations

from typing import Any, Mapping

import peewee
from peewee import JOIN, FloatField, IntegerField, TextField, fn

from ..models import bound_base

TABLE = "admin_metric_fleet"
#: state key of a level's bucket range still to fold: "<first> <last>" (bucket seconds)
DIRTY = "fleet_dirty:"


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

    def available(self) -> bool:
        return self.db.table_exists(TABLE)

    def dirty(self, state: Mapping[str, str] | None = None) -> dict[int, tuple[int, int]]:
        """Level -> (first, last) bucket still to fold."""
        state = self.rollups.state() if state is None else state
        out = {}
        for key, value in state.items():
            if key.startswith(DIRTY):
                first, last = value.split()
                out[int(key[len(DIRTY):])] = (int(first), int(last))
        return out

    def usable(self, state: Mapping[str, str] | None = None) -> bool:
        """True when the table holds the fold of every rollup row (nothing marked)."""
        return self.available() and not self.dirty(state)

    def mark(self, resolution: int, first: int, last: int) -> None:
        """Remember that buckets ``first..last`` of ``resolution`` changed (in the caller's
        transaction, with the rollup rows that changed)."""
        old = self.dirty().get(resolution)
        if old is not None:
            first, last = min(first, old[0]), max(last, old[1])
        S = self.rollups.M.State
        S.insert(key=f"{DIRTY}{resolution}", value=f"{first} {last}").on_conflict_replace().execute()

    def refold(self) -> int:
        """Fold every marked range again and clear the marks, in one transaction; the
        number of fleet rows written."""
        if not self.available():
            return 0
        written = 0
        with self.rollups.store.transaction():
            S = self.rollups.M.State
            for resolution, (first, last) in sorted(self.dirty().items()):
                written += self._fold(resolution, first, last)
                S.delete().where(S.key == f"{DIRTY}{resolution}").execute()
        return written

    def _fold(self, resolution: int, first: int, last: int) -> int:
        RS, R, F = self.rollups.M.Series, self.rollups.M.Rollup, self.F
        F.delete().where((F.resolution == resolution) & F.bucket.between(first, last)).execute()
        mean = R.sum / R.count
        # series by id, then each one's rows in range: one seek per series in the
        # rollups' primary key (resolution, series_id, bucket)
        query = (RS.select(RS.metric_name, R.resolution, R.bucket, fn.COUNT(R.bucket), fn.SUM(R.count),
                           fn.SUM(mean), fn.MIN(mean), fn.MAX(mean),
                           fn.SUM(R.increase), fn.MIN(R.increase), fn.MAX(R.increase))
                 .join(R, JOIN.CROSS).where(R.series_id == RS.id)
                 .where((R.resolution == resolution) & R.bucket.between(first, last))
                 .group_by(RS.metric_name, R.bucket))
        fields = [F.metric_name, F.resolution, F.bucket, F.series, F.count, F.mean_sum, F.mean_min,
                  F.mean_max, F.increase_sum, F.increase_min, F.increase_max]
        return int(self.db.execute(F.insert_from(query, fields)).rowcount)

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
