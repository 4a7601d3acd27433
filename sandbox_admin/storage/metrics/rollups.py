"""Metric rollups (migration 8 tables) and retention.

Rollups live in our own tables, never in the Go ``metrics`` table:
``admin_metric_series`` (one row per canonical raw series, with a counter's last value
so increases continue across builds), ``admin_metric_rollups`` (per resolution, series
and bucket: count, exact sum, min, max, last, reset-aware increase and a percentile
sketch, see :mod:`.sketch`; NULL where min and max say it all, :func:`.sketch.implied`)
and ``admin_metric_state`` (the build watermark, how far back each resolution is kept,
the retention policy).

Building is incremental by row id: raw rows with ``id`` above the watermark are
aggregated in chunks, one transaction per chunk, and merged into existing buckets with
an UPSERT (late samples merge into old buckets). A chart can therefore always be
answered exactly as rollups + the raw rows not yet rolled up.

The cost is per row on both sides of Python: one query reads each raw row once (its
timestamp text read by numpy, :mod:`.instants`; unreadable rows are dropped in numpy,
not by a second expression), numpy aggregates all four levels, and the rows go back
500 to an UPSERT statement (a statement per row costs twice as much in the sqlite3
module). A big build reads the next chunk in a second process while it writes this
one (:mod:`.rollup_reader`).

Retention folds raw samples into rollups before deleting them, so a long-range chart
drawn from rollups is the same before and after.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

import numpy as np
import peewee
from peewee import (
    EXCLUDED,
    BlobField,
    Case,
    CompositeKey,
    FloatField,
    IntegerField,
    TextField,
    fn,
)

from .. import errors
from ..fields import dumps_json, loads_json, utcnow
from ..models import bound_base
from . import aggregation as mm
from . import sketch as sk
from .durations import format_duration, parse_duration
from .fleet_rollups import FleetRollups
from .rollup_merge import register_functions
from .rollup_reader import ChunkReader, read_chunk
from .sql import (
    US,
    RawSamples,
    SeriesTable,
    gc_paused,
    instant_us,
    key_columns,
    raw_period,
    release,
    to_us,
)

#: Rollup resolutions in seconds (the seed's 1m / 5m / 1h / 1d levels).
RESOLUTIONS = (60, 300, 3600, 86400)
PERIOD_NAMES = {60: "1m", 300: "5m", 900: "15m", 3600: "1h", 21600: "6h", 86400: "1d", 604800: "7d"}
TABLES = ("admin_metric_series", "admin_metric_rollups", "admin_metric_state")
ProgressFn = Callable[[int, int], Any]
#: Rollup rows per UPSERT statement (x 12 parameters, well under SQLite's 32,766):
#: 500 a statement took 7 % less time a row than 100.
_BATCH = 500
#: Rollup rows turned into parameter lists at a time (a multiple of _BATCH): the lists
#: of a whole chunk's 200k rows held the GIL 20-30 ms when they were freed.
_ROWS_A_PASS = 4_000


# -- models ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RollupModels:
    Series: Any
    Rollup: Any
    State: Any


def build_rollup_models(database: peewee.Database) -> RollupModels:
    """Models of the migration-8 tables, bound to ``database`` (like models.build_models)."""

    Base = bound_base(database)

    class RollupSeries(Base):
        id = peewee.AutoField()
        metric_name = TextField()
        metric_type = TextField()
        labels = TextField()
        sandbox_id = TextField()
        last_t_us = IntegerField(null=True)
        last_value = FloatField(null=True)

        class Meta:
            table_name = "admin_metric_series"

    class Rollup(Base):
        resolution = IntegerField()
        series_id = IntegerField()
        bucket = IntegerField()
        count = IntegerField()
        sum = FloatField()
        sum_err = FloatField(default=0)
        min = FloatField()
        max = FloatField()
        last = FloatField()
        last_t_us = IntegerField()
        increase = FloatField(default=0)
        sketch = BlobField(null=True)

        class Meta:
            table_name = "admin_metric_rollups"
            primary_key = CompositeKey("resolution", "series_id", "bucket")
            without_rowid = True

    class RollupState(Base):
        key = TextField(primary_key=True)
        value = TextField()

        class Meta:
            table_name = "admin_metric_state"

    return RollupModels(RollupSeries, Rollup, RollupState)


def has_rollup_tables(db: peewee.Database) -> bool:
    rows = db.execute_sql(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN (?, ?, ?)", TABLES
    ).fetchone()
    return int(rows[0]) == len(TABLES)


# -- retention policy -------------------------------------------------------------------

@dataclass(frozen=True)
class RetentionPolicy:
    """How long each level is kept (None = forever). Defaults are the seed's:
    raw 24 h, 1m 7 d, 5m 30 d, 1h 90 d, 1d 1 y. ``go_rows`` applies the same ages to the
    Go server's own 1m/5m/1h/1d rows in ``metrics``."""

    raw: timedelta | None = timedelta(hours=24)
    rollups: Mapping[int, timedelta | None] = field(default_factory=lambda: {
        60: timedelta(days=7), 300: timedelta(days=30),
        3600: timedelta(days=90), 86400: timedelta(days=365),
    })
    go_rows: bool = True

    def __post_init__(self) -> None:
        for resolution in self.rollups:
            if resolution not in RESOLUTIONS:
                raise errors.InvalidInput(
                    f"There is no {resolution}-second rollup; levels are "
                    + ", ".join(PERIOD_NAMES[r] for r in RESOLUTIONS) + "."
                )
        for value in (self.raw, *self.rollups.values()):
            if value is not None and value.total_seconds() < 0:
                raise errors.InvalidInput("A retention period cannot be negative.")

    def as_dict(self) -> dict[str, Any]:
        return {
            "raw": format_duration(self.raw),
            "rollups": {PERIOD_NAMES[r]: format_duration(self.rollups.get(r)) for r in RESOLUTIONS},
            "go_rows": self.go_rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RetentionPolicy":
        by_name = {v: k for k, v in PERIOD_NAMES.items()}
        rollups: dict[int, timedelta | None] = dict(cls().rollups)
        for name, value in (data.get("rollups") or {}).items():
            resolution = by_name.get(name) if isinstance(name, str) else int(name)
            if resolution is None:
                raise errors.InvalidInput(f"Unknown rollup level {name!r}.")
            rollups[resolution] = parse_duration(value)
        raw = parse_duration(data["raw"]) if "raw" in data else cls().raw
        return cls(raw=raw, rollups=rollups, go_rows=bool(data.get("go_rows", True)))


# -- reports ----------------------------------------------------------------------------

@dataclass
class BuildReport:
    samples: int = 0
    skipped: int = 0  # raw rows whose timestamp cannot be read
    chunks: int = 0
    rows_written: int = 0
    new_series: int = 0
    read_ahead: int = 0  # chunks the reader process read (see .rollup_reader)
    watermark: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RetentionReport:
    policy: dict[str, Any]
    folded: BuildReport
    raw_deleted: int = 0
    rollups_deleted: dict[str, int] = field(default_factory=dict)
    go_rows_deleted: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "folded": self.folded.as_dict(),
            "raw_deleted": self.raw_deleted,
            "rollups_deleted": self.rollups_deleted,
            "go_rows_deleted": self.go_rows_deleted,
        }


# -- the builder --------------------------------------------------------------------------

class Rollups:
    """Builds rollups and applies retention for one store (see the module docstring)."""

    CHUNK = 200_000
    #: Raw rows from which a build reads ahead in a second process: starting it costs
    #: about 0.3 s, a chunk's read about 0.4 s.
    READER_MIN_ROWS = 400_000

    def __init__(self, store: Any) -> None:
        self.store = store
        self.db = store.db
        self.M = build_rollup_models(store.db)
        self.fleet = FleetRollups(self)
        self._upsert_sql: dict[int, str] = {}

    # -- state ---------------------------------------------------------------------------
    def available(self) -> bool:
        return has_rollup_tables(self.db)

    def require_tables(self) -> None:
        if not self.available():
            raise errors.MigrationError(
                f"{self.store.path.name} has no rollup tables (schema version "
                f"{self.store.schema_version()}); upgrade its schema first.",
                cli_hint="`sandbox-admin migrate DB` upgrades it")

    def state(self) -> dict[str, str]:
        if not self.available():
            return {}
        S = self.M.State
        return {k: v for k, v in S.select(S.key, S.value).tuples()}

    def _set_state(self, **values: Any) -> None:
        S = self.M.State
        rows = [{S.key: k.replace("__", ":"), S.value: str(v)} for k, v in values.items()]
        S.insert_many(rows).on_conflict_replace().execute()

    def watermark(self, state: Mapping[str, str] | None = None) -> int:
        state = self.state() if state is None else state
        return int(state.get("watermark", 0))

    def built(self, state: Mapping[str, str] | None = None) -> bool:
        """Whether a build ever ran here (no tables, or none yet: charts read raw samples)."""
        return self.watermark(state) > 0

    def kept_from(self, state: Mapping[str, str] | None = None) -> dict[str, int]:
        """µs from which each level ('raw', '60', ...) is complete (absent: all of it)."""
        state = self.state() if state is None else state
        return {k.split(":", 1)[1]: int(v) for k, v in state.items() if k.startswith("kept_from:")}

    def policy(self) -> RetentionPolicy:
        text = self.state().get("retention_policy")
        return RetentionPolicy.from_dict(loads_json(text)) if text else RetentionPolicy()

    def set_policy(self, policy: RetentionPolicy) -> None:
        self.store.require_writable()
        self.require_tables()
        with self.store.transaction():
            self._set_state(retention_policy=dumps_json(policy.as_dict()))

    def status(self) -> dict[str, Any]:
        """Watermark, rows behind it, rollup rows per level (for the GUI and `info`)."""
        if not self.available():
            return {"available": False}
        state = self.state()
        W = self.watermark(state)
        M = self.store.models.Metric
        pending = M.select(fn.COUNT(M.id)).where((M.id > W) & raw_period(M.aggregation_period)).scalar()
        R = self.M.Rollup
        per = dict(R.select(R.resolution, fn.COUNT(R.bucket)).group_by(R.resolution).tuples())
        return {
            "available": True,
            "watermark": W,
            "pending_samples": int(pending or 0),
            "rows": {PERIOD_NAMES[r]: int(per.get(r, 0)) for r in RESOLUTIONS},
            "kept_from": self.kept_from(state),
        }

    # -- building ------------------------------------------------------------------------
    def _upsert(self, rows: int = 1) -> str:
        """The UPSERT of ``rows`` rollup rows in one statement (12 parameters a row):
        many rows a statement cost far less per row than one row a statement."""
        if rows not in self._upsert_sql:
            R = self.M.Rollup
            cols = [R.resolution, R.series_id, R.bucket, R.count, R.sum, R.sum_err, R.min, R.max,
                    R.last, R.last_t_us, R.increase, R.sketch]
            query = R.insert_many([(0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, b"")] * rows,
                                  fields=cols).on_conflict(
                conflict_target=[R.resolution, R.series_id, R.bucket],
                update={
                    R.count: R.count + EXCLUDED.count,
                    R.sum: fn.sa_fsum_hi(R.sum, R.sum_err, EXCLUDED.sum, EXCLUDED.sum_err),
                    R.sum_err: fn.sa_fsum_lo(R.sum, R.sum_err, EXCLUDED.sum, EXCLUDED.sum_err),
                    R.min: fn.min(R.min, EXCLUDED.min),
                    R.max: fn.max(R.max, EXCLUDED.max),
                    R.last: Case(None, [(EXCLUDED.last_t_us >= R.last_t_us, EXCLUDED.last)], R.last),
                    R.last_t_us: fn.max(R.last_t_us, EXCLUDED.last_t_us),
                    R.increase: R.increase + EXCLUDED.increase,
                    R.sketch: fn.sa_sketch_merge(R.sketch, R.min, R.max, R.count,
                                                 EXCLUDED.sketch, EXCLUDED.min, EXCLUDED.max, EXCLUDED.count),
                },
            )
            sql, params = query.sql()
            assert len(params) == len(cols) * rows, sql  # rows of bound parameters
            self._upsert_sql[rows] = sql
        return self._upsert_sql[rows]

    def _series_ids(self, table: SeriesTable, known: dict[tuple[str, str, str, str], list[Any]],
                    report: BuildReport, used: np.ndarray) -> list[list[Any]]:
        """[id, last_t_us, last_value] per chunk-local series, creating new series rows
        for the ``used`` ones (series seen only in unreadable rows get none). New rows go
        in with one statement and the ids SQLite would give them one by one (the next
        after the highest; the build holds the write lock): a server's first build meets
        117k series, and one INSERT each took longer than the rest of the build."""
        out: list[list[Any]] = []
        new: list[tuple[tuple[str, str, str, str], list[Any]]] = []
        for key, use in zip(table.index, used.tolist()):
            if not use:
                out.append([-1, None, None])
                continue
            entry = known.get(key)
            if entry is None:
                entry = known[key] = [0, None, None]  # its id below
                new.append((key, entry))
            out.append(entry)
        if new:
            RS = self.M.Series
            first = int(RS.select(fn.COALESCE(fn.MAX(RS.id), 0)).scalar()) + 1
            fields = [RS.id, RS.metric_name, RS.metric_type, RS.labels, RS.sandbox_id]
            sql, params = RS.insert_many([(0, "", "", "", "")], fields=fields).sql()
            assert len(params) == len(fields), sql
            rows = []
            for offset, (key, entry) in enumerate(new):
                entry[0] = first + offset
                rows.append((first + offset, *key))
            self.db.cursor().executemany(sql, rows)
            report.new_series += len(new)
        return out

    def build(self, progress: ProgressFn | None = None, *, chunk: int | None = None) -> BuildReport:
        """Fold raw rows above the watermark into rollups; one transaction per chunk.

        ``progress(done, total)`` is called after each committed chunk; returning False
        (or raising :class:`errors.Cancelled`) stops after that chunk, leaving a
        consistent, resumable state.
        """
        self.store.require_writable()
        self.require_tables()
        started = time.perf_counter()
        chunk = chunk or self.CHUNK
        M = self.store.models.Metric
        report = BuildReport()
        with self.store.connection():
            W = self.watermark()
            top = int(M.select(fn.MAX(M.id)).scalar() or 0)
            report.watermark = W
            if top <= W:
                return report
            register_functions(self.db.connection())
            fleet = self.fleet.available()
            known: dict[tuple[str, str, str, str], list[Any]] = {}
            ours = None  # the watermark our last chunk left
            reader = None
            if top - W >= self.READER_MIN_ROWS and top - W > chunk:
                reader = ChunkReader.start(self.store)
            share = 1.0  # of the next chunk, what the reader reads (the build the rest)
            asked: tuple[int, int] | None = None  # the ids the reader was asked for
            try:
                while True:
                    with self.store.transaction():
                        # Re-read under the write lock: another builder (another process)
                        # may have moved the watermark; never fold a row twice.
                        low = self.watermark()
                        if low >= top:
                            break
                        high = min(low + chunk, top)
                        if low != ours:  # the first chunk, or another builder's came between
                            release(known)
                            known = self._known_series()
                        read, part = None, low
                        if reader is not None:
                            if asked is not None:
                                got = reader.take(*asked)
                                if got is not None and asked[0] == low:  # else another builder's
                                    read, part = got, asked[1]
                                share = self._reader_share(share, reader.waited)
                            if high < top:  # read the next chunk while this one is written
                                following = min(high + chunk, top)
                                asked = (high, high + max(1, round((following - high) * share)))
                                reader.ask(*asked, *self._chunk_query(*asked).sql())
                        report.read_ahead += read is not None
                        with gc_paused():  # millions of short-lived tuples and lists
                            self._build_chunk(low, high, known, report, fleet, read, part)
                        self._set_state(watermark=high)
                    ours = high
                    report.chunks += 1
                    report.watermark = high
                    stop = progress is not None and progress(high - W, top - W) is False
                    if stop or high >= top:
                        break
            finally:
                if reader is not None:
                    reader.close()
                release(known)  # 117k series at once: an 80 ms stop of every other thread
        report.seconds = time.perf_counter() - started
        return report

    def _known_series(self) -> dict[tuple[str, str, str, str], list[Any]]:
        RS = self.M.Series
        return {
            (n, t, labels, s): [i, lt, lv]
            for i, n, t, labels, s, lt, lv in RS.select(
                RS.id, RS.metric_name, RS.metric_type, RS.labels, RS.sandbox_id,
                RS.last_t_us, RS.last_value).tuples()
        }

    def _chunk_query(self, low: int, high: int, keyed: bool = True) -> peewee.Select:
        """The raw rows of ids ``(low, high]``: series key (:func:`.sql.series_key_json`, or
        its four columns when not ``keyed``), timestamp text, value (NULL when not a
        number)."""
        M = self.store.models.Metric
        in_range = (M.id > low) & (M.id <= high) & raw_period(M.aggregation_period)
        number = Case(None, [(fn.typeof(M.value).in_(["integer", "real"]), M.value)], None)
        return M.select(*key_columns(M, keyed), M.timestamp, number).where(in_range)

    def _read_chunk(self, low: int, high: int, table: SeriesTable) -> tuple[RawSamples, int]:
        return read_chunk(self.db, self._chunk_query(low, high), table, self._chunk_query(low, high, keyed=False))

    @staticmethod
    def _reader_share(share: float, waited: float) -> float:
        """The reader's share of the next chunk: less when the build waited for its part
        (the build reads more of the chunk itself), a little more when it did not. The
        two processes then finish together, whichever of them has more to do per row
        (the reader also checkpoints; the build also folds and writes)."""
        if waited > 0.005:
            return max(0.5, share - 0.05)
        return min(1.0, share + 0.02)

    def _build_chunk(self, low: int, high: int, known: dict, report: BuildReport, fleet: bool,
                     read: tuple[SeriesTable, RawSamples, int] | None = None, part: int = 0) -> None:
        """Fold the raw rows of ids ``(low, high]``: ``read`` = those of ``(low, part]``
        when the reader process read them, the rest read here."""
        if read is None:
            table = SeriesTable()
            raw, total = self._read_chunk(low, high, table)
        else:
            table, raw, total = read
            if part < high:  # the build's own part of the chunk, into the same table
                rest, more = self._read_chunk(part, high, table)
                raw, total = raw.then(rest), total + more
        try:
            self._fold_chunk(raw, total, known, report, fleet, table)
        finally:
            table.release()  # a chunk meets up to 100k series: freed a step at a time

    def _fold_chunk(self, raw: RawSamples, total: int, known: dict, report: BuildReport, fleet: bool,
                    table: SeriesTable) -> None:
        report.skipped += total - len(raw)
        report.samples += len(raw)
        if not len(raw):
            return
        entries = self._series_ids(table, known, report, np.bincount(raw.series, minlength=len(table)) > 0)
        ids = np.array([e[0] for e in entries], np.int64)
        prev_t = np.array([np.nan if e[1] is None else e[1] for e in entries], np.float64)
        prev_v = np.array([np.nan if e[2] is None else e[2] for e in entries], np.float64)
        counter = table.is_counter()

        order = np.lexsort((raw.t, raw.series))
        key, t, v = raw.series[order], raw.t[order], raw.v[order]
        delta = mm.counter_deltas(key, t, v, prev_t, prev_v)
        delta[~counter[key]] = 0.0

        cursor = self.db.cursor()
        for resolution in RESOLUTIONS:
            p, _ = mm.from_samples(key, t, v, resolution * US, delta=delta, sketch_keys=~counter)
            self._write(cursor, resolution, ids[p.key], p)
            report.rows_written += len(p)
            if fleet:
                self.fleet.add_chunk(cursor, resolution, p, table.names, prev_t)

        # remember each series' newest sample (a counter's next delta starts there)
        ends = np.flatnonzero(np.append(key[1:] != key[:-1], True))
        updates = []
        for k, tt, vv in zip(key[ends].tolist(), t[ends].tolist(), v[ends].tolist()):
            entry = entries[k]
            if entry[1] is None or tt >= entry[1]:
                entry[1], entry[2] = tt, vv
                updates.append((tt, vv, entry[0]))
        RS = self.M.Series
        sql_update, params = RS.update(last_t_us=0, last_value=0.0).where(RS.id == 0).sql()
        assert len(params) == 3, sql_update
        cursor.executemany(sql_update, updates)

    def _write(self, cursor: Any, resolution: int, series_ids: np.ndarray, p: mm.Partials) -> None:
        """UPSERT the partials ``p`` as rollup rows, ``_BATCH`` rows a statement."""
        n = len(p)
        blobs = np.full(n, b"", dtype=object)  # b"": not sketched (counters)
        implied = sk.implied(p.count, p.min, p.max)
        blobs[p.sketched & implied] = None  # min and max say it all
        rows = np.flatnonzero(p.sketched & ~implied)
        if len(rows):
            encoded = np.empty(len(rows), dtype=object)
            encoded[:] = sk.encode_rows(p.bins, rows)
            blobs[rows] = encoded
        buckets = p.bucket // US
        for a in range(0, n, _ROWS_A_PASS):  # a pass's lists are freed in a few ms
            b = min(a + _ROWS_A_PASS, n)
            columns = [[resolution] * (b - a), series_ids[a:b].tolist(), buckets[a:b].tolist(),
                       p.count[a:b].tolist(), p.sum[a:b].tolist(), p.err[a:b].tolist(),
                       p.min[a:b].tolist(), p.max[a:b].tolist(), p.last[a:b].tolist(),
                       p.last_t[a:b].tolist(), p.increase[a:b].tolist(), blobs[a:b].tolist()]
            width = len(columns)
            flat: list[Any] = [None] * ((b - a) * width)
            for i, column in enumerate(columns):
                flat[i::width] = column
            step = _BATCH * width
            full = (b - a) // _BATCH * step
            if full:
                cursor.executemany(self._upsert(_BATCH), (flat[i:i + step] for i in range(0, full, step)))
            if full < len(flat):
                cursor.executemany(self._upsert(), (flat[i:i + width] for i in range(full, len(flat), width)))

    # -- retention -------------------------------------------------------------------------
    def apply_retention(self, policy: RetentionPolicy | None = None,
                        now: datetime | None = None, progress: ProgressFn | None = None) -> RetentionReport:
        """Fold every raw sample into rollups, then delete what the policy no longer keeps."""
        self.store.require_writable()
        self.require_tables()
        policy = policy or self.policy()
        now_us = to_us(now or utcnow())
        folded = self.build(progress)
        report = RetentionReport(policy=policy.as_dict(), folded=folded)
        M = self.store.models.Metric
        R = self.M.Rollup
        kept = self.kept_from()
        with self.store.transaction():
            W = self.watermark()
            if policy.raw is not None:
                cutoff = now_us - int(policy.raw.total_seconds() * US)
                report.raw_deleted = M.delete().where(
                    (M.id <= W) & raw_period(M.aggregation_period) & (instant_us(M.timestamp) < cutoff)
                ).execute()
                self._set_state(kept_from__raw=max(cutoff, kept.get("raw", cutoff)))
            for resolution, keep in sorted(policy.rollups.items()):
                if keep is None:
                    continue
                cutoff = now_us - int(keep.total_seconds() * US)
                cutoff_bucket = (cutoff // (resolution * US)) * resolution
                name = PERIOD_NAMES[resolution]
                report.rollups_deleted[name] = R.delete().where(
                    (R.resolution == resolution) & (R.bucket < cutoff_bucket)).execute()
                self.fleet.prune(resolution, cutoff_bucket)
                previous = kept.get(str(resolution), cutoff_bucket * US)
                self._set_state(**{f"kept_from__{resolution}": max(cutoff_bucket * US, previous)})
                if policy.go_rows:
                    report.go_rows_deleted[name] = M.delete().where(
                        (M.aggregation_period == name) & (instant_us(M.timestamp) < cutoff)
                    ).execute()
        return report
