"""What a Prometheus scrape of a live database shows: each series' latest sample, kept
up to date incrementally (no Prometheus library here; see :mod:`.endpoint`).

A scrape must stay cheap at any database size and never get in the way of the Go
server's writers, so :class:`LatestSamples`:

* reads through a connection of its own, ``mode=ro`` and ``query_only`` (never a
  write, never ``immutable``: the file is live), with a short busy timeout, in one read
  transaction per refresh (WAL readers never block writers);
* remembers a **watermark**, the highest ``metrics.id`` it has folded in, and each
  series' newest sample. A refresh reads only rows with ``id > watermark`` (a rowid
  range, ``AUTOINCREMENT`` ids only grow), at most ``max_rows`` of them;
* seeds its first refresh from the rollup tables when they exist: each series' last
  sample (``admin_metric_series.last_t_us/last_value``), histogram and summary counts,
  sums and percentile sketches (the 1-day rollups), then only the raw rows above the
  rollups' watermark. Without rollups the first refresh reads the raw rows once, in
  chunks of ``max_rows``;
* when the database is locked or busy, answers from the last good state and says so
  (``stale``, ``errors``).

Histograms whose rows are observations (the Go server's) become cumulative bucket
counts over :data:`DEFAULT_BUCKETS`, a count and a sum; summaries a count, a sum and
quantiles from a 1 % sketch. Bucket counts are exact for observations read raw; those
seeded from rollups are placed by their sketch bin (within 1 % of a bucket bound).
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from peewee import SQL, Table, fn

from .. import errors
from ..database import raw_connection, sqlite_uri, user_tables
from . import sketch as sk
from .export import DEFAULT_BUCKETS, SUMMARY_QUANTILES
from .rollups import RESOLUTIONS, build_rollup_models
from .sql import canonical_labels, instant_us

#: series key: (name, type, canonical labels text, sandbox id or '')
Key = tuple[str, str, str, str]
#: every new or changed series state gets the next number (what an exposition may cache by)
_SEQ = itertools.count(1)


@dataclass
class Latest:
    """A gauge's or counter's newest sample (also histogram buckets given as rows)."""

    labels: tuple[tuple[str, str], ...]
    t_us: int
    value: float
    seq: int = field(default_factory=lambda: next(_SEQ))


@dataclass
class Distribution:
    """A histogram's or summary's observations so far: count, sum, buckets, sketch."""

    labels: tuple[tuple[str, str], ...]
    count: int = 0
    sum: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(DEFAULT_BUCKETS) + 1))
    bins: dict[int, int] = field(default_factory=dict)
    t_us: int = 0
    seq: int = field(default_factory=lambda: next(_SEQ))

    def observe(self, codes: np.ndarray, values: np.ndarray, t_us: int) -> None:
        self.count += len(values)
        self.sum = math.fsum((self.sum, *values.tolist()))
        for v in values.tolist():
            self.buckets[bisect.bisect_left(DEFAULT_BUCKETS, v)] += 1
        for c in codes.tolist():
            self.bins[c] = self.bins.get(c, 0) + 1
        self.t_us = max(self.t_us, t_us)
        self.seq = next(_SEQ)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations <= it), the last bound +Inf."""
        out, running = [], 0
        for bound, n in zip((*DEFAULT_BUCKETS, math.inf), self.buckets):
            running += n
            out.append((bound, running))
        return out

    def quantiles(self, qs: tuple[float, ...] = SUMMARY_QUANTILES) -> list[tuple[float, float]]:
        if not self.bins:
            return [(q, math.nan) for q in qs]
        codes = np.fromiter(self.bins.keys(), np.int64, len(self.bins))
        counts = np.fromiter(self.bins.values(), np.int64, len(self.bins))
        bins = sk.merge(sk.Bins(np.zeros(len(codes), np.int64), codes, counts))
        found = sk.quantiles(bins, 1, qs)
        return [(q, float(found[q][0])) for q in qs]


@dataclass
class SandboxState:
    sandbox_id: str
    status: str


@dataclass
class Snapshot:
    """One consistent view for an exposition, valid until the next refresh (histograms
    and summaries are the live objects; do not change them)."""

    latest: dict[Key, Latest]
    distributions: dict[Key, Distribution]
    sandboxes: list[SandboxState]
    health: dict[str, float]
    table_rows: dict[str, int]
    stale: bool
    error: str | None
    #: changes whenever a series appears or the state starts again (not on new values)
    keys_version: int = 0


class LatestSamples:
    """Each series' latest sample of one database, refreshed incrementally."""

    def __init__(self, store: Any, *, busy_timeout_ms: int = 50, max_rows: int = 500_000,
                 slow_interval_s: float = 60.0,
                 last_backup: Callable[[], float | None] | None = None) -> None:
        self.path = Path(store.path)
        self.models = store.models
        self.rollup_models = build_rollup_models(store.db)
        self.busy_timeout_ms = busy_timeout_ms
        self.max_rows = max_rows
        self.slow_interval_s = slow_interval_s
        self.last_backup = last_backup
        self.watermark = 0
        self.seeded = False
        self.latest: dict[Key, Latest] = {}
        self.distributions: dict[Key, Distribution] = {}
        self.sandboxes: list[SandboxState] = []
        self.table_rows: dict[str, int] = {}
        self.backup_t: float | None = None
        self._slow_at = -math.inf
        self._conn: sqlite3.Connection | None = None
        self.refreshes = 0
        self.errors = 0
        self.stale = False
        self.last_error: str | None = None
        self.last_refresh_s = 0.0
        self.rows_read = 0
        self.behind = 0
        self.keys_version = 0

    # -- connection --------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            uri = sqlite_uri(self.path, read_only=True)
            # raw_connection's timeout is SQLite's busy timeout for this connection
            self._conn = raw_connection(uri, timeout_s=self.busy_timeout_ms / 1000, query_only=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self, conn: sqlite3.Connection, query: Any) -> list[tuple]:
        sql, params = query.sql()
        return conn.execute(sql, params).fetchall()

    # -- refreshing --------------------------------------------------------------------
    def refresh(self) -> Snapshot:
        """Fold in what is new (one read transaction) and return the view to show."""
        started = time.perf_counter()
        try:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                if not self.seeded:
                    self._seed(conn)
                self._read_new(conn)
                self._read_sandboxes(conn)
                if time.monotonic() - self._slow_at >= self.slow_interval_s:
                    self.table_rows = self._count_rows(conn)
                    self._slow_at = time.monotonic()
                    self.backup_t = self.last_backup() if self.last_backup else None
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")  # read only: nothing to keep
            self.stale, self.last_error = False, None
        except sqlite3.Error as exc:
            self.stale = True
            self.errors += 1
            self.last_error = str(errors.translate(exc, str(self.path)))
            self.close()  # a fresh connection next time (the file may have been replaced)
        self.refreshes += 1
        self.last_refresh_s = time.perf_counter() - started
        return self.snapshot()

    def snapshot(self) -> Snapshot:
        health: dict[str, float] = {
            "database_size_bytes": _size(self.path),
            "wal_size_bytes": _size(self.path.with_name(self.path.name + "-wal")),
            "watermark": float(self.watermark),
            "rows_behind": float(self.behind),
            "refresh_seconds": self.last_refresh_s,
            "refresh_errors": float(self.errors),
            "series": float(len(self.latest) + len(self.distributions)),
        }
        if self.backup_t is not None:
            health["last_backup_age_seconds"] = max(0.0, time.time() - self.backup_t)
        return Snapshot(dict(self.latest), dict(self.distributions),
                        list(self.sandboxes), health, dict(self.table_rows), self.stale,
                        self.last_error, self.keys_version)

    def _seed(self, conn: sqlite3.Connection) -> None:
        """Start from the rollups (each series' last sample, distributions) if any."""
        self.keys_version += 1
        db_tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"admin_metric_series", "admin_metric_rollups", "admin_metric_state"} <= db_tables:
            self.seeded = True
            return
        RM = self.rollup_models
        row = self._run(conn, RM.State.select(RM.State.value).where(RM.State.key == "watermark"))
        watermark = int(row[0][0]) if row else 0
        if watermark <= 0:
            self.seeded = True
            return
        RS = RM.Series
        series = self._run(conn, RS.select(RS.id, RS.metric_name, RS.metric_type, RS.labels,
                                           RS.sandbox_id, RS.last_t_us, RS.last_value))
        dist_ids: dict[int, Key] = {}
        for sid, name, type_, labels, sandbox, last_t, last_v in series:
            text, items = canonical_labels(labels)
            key = (name, type_, text, sandbox or "")
            if _is_distribution(type_, items):
                self.distributions[key] = Distribution(items, t_us=int(last_t or 0))
                dist_ids[sid] = key
            elif last_t is not None and last_v is not None:
                self.latest[key] = Latest(items, int(last_t), float(last_v))
        if dist_ids:
            self._seed_distributions(conn, dist_ids)
        self.watermark = watermark
        self.seeded = True

    def _seed_distributions(self, conn: sqlite3.Connection, dist_ids: dict[int, Key]) -> None:
        """Counts, sums and sketch bins of every histogram/summary from the 1-day rollups,
        decoded in one go."""
        RS, R = self.rollup_models.Series, self.rollup_models.Rollup
        order = list(dist_ids)
        index = {sid: i for i, sid in enumerate(order)}
        kinds = RS.select(RS.id).where(RS.metric_type.in_(["histogram", "summary"]))
        rows = self._run(conn, R.select(R.series_id, R.count, R.sum, R.sum_err, R.min, R.max, R.sketch)
                         .where((R.resolution == RESOLUTIONS[-1]) & R.series_id.in_(kinds)))
        blobs, blob_rows, implied = [], [], []
        for sid, count, total, err, lo, hi, blob in rows:
            if sid not in index:  # buckets / quantiles given as rows: shown as latest values
                continue
            dist = self.distributions[dist_ids[sid]]
            dist.count += int(count)
            dist.sum = math.fsum((dist.sum, float(total), float(err)))
            if blob:
                blobs.append(blob)
                blob_rows.append(index[sid])
            elif blob is None and sk.implied(count, lo, hi):  # min and max say it all
                implied.append((index[sid], int(count), float(lo), float(hi)))
        parts = [sk.decode_rows(blobs, blob_rows)] if blobs else []
        if implied:
            parts.append(sk.implied_bins(*(np.array(c) for c in zip(*implied))))
        bins = sk.merge(sk.Bins.concat(parts))
        if not len(bins):
            return
        where = np.searchsorted(np.array(DEFAULT_BUCKETS), sk.values_of(bins.code), side="left")
        for row, code, n, b in zip(bins.row.tolist(), bins.code.tolist(), bins.count.tolist(),
                                   where.tolist()):
            dist = self.distributions[dist_ids[order[row]]]
            dist.bins[code] = dist.bins.get(code, 0) + n
            dist.buckets[b] += n
            dist.seq = next(_SEQ)

    def _read_new(self, conn: sqlite3.Connection) -> None:
        M = self.models.Metric
        top = self._run(conn, M.select(fn.MAX(M.id)))[0][0] or 0
        if top < self.watermark:  # ids went back: the content was replaced (a restore)
            self.watermark, self.seeded = 0, False
            self.latest, self.distributions = {}, {}
            self._seed(conn)
        high = min(int(top), self.watermark + self.max_rows)
        self.behind = max(0, int(top) - high)
        if high <= self.watermark:
            return
        period = M.aggregation_period.concat("")  # an expression: the rowid range is the plan
        query = (M.select(M.metric_name, M.metric_type, M.labels, M.sandbox_id,
                          instant_us(M.timestamp), M.value)
                 .where((M.id > self.watermark) & (M.id <= high)
                        & ((period == "raw") | M.aggregation_period.is_null())))
        rows = self._run(conn, query)
        self._apply(rows)
        self.rows_read += len(rows)
        self.watermark = high

    def _apply(self, rows: list[tuple]) -> None:
        pending: dict[Key, list[tuple[int, float]]] = {}
        latest = self.latest
        for name, type_, labels, sandbox, t_us, value in rows:
            if t_us is None or value is None:
                continue
            text, items = canonical_labels(labels)
            key = (name, type_, text, sandbox or "")
            if type_ in ("histogram", "summary") and _is_distribution(type_, items):
                pending.setdefault(key, []).append((t_us, value))
                continue
            seen = latest.get(key)
            if seen is None:
                self.keys_version += 1
            if seen is None or t_us >= seen.t_us:
                latest[key] = Latest(items, t_us, float(value))
        for key, samples in pending.items():
            dist = self.distributions.get(key)
            if dist is None:
                dist = self.distributions[key] = Distribution(canonical_labels(key[2])[1])
                self.keys_version += 1
            values = np.array([v for _, v in samples], np.float64)
            dist.observe(sk.codes(values), values, max(t for t, _ in samples))

    def _read_sandboxes(self, conn: sqlite3.Connection) -> None:
        S = self.models.Sandbox
        rows = self._run(conn, S.select(S.id, S.status).where(S.deleted_at.is_null()).order_by(S.id))
        self.sandboxes = [SandboxState(sid, status or "") for sid, status in rows]

    def _count_rows(self, conn: sqlite3.Connection) -> dict[str, int]:
        class _Conn:  # user_tables() wants something with execute_sql
            @staticmethod
            def execute_sql(sql: str, params: Any = ()) -> sqlite3.Cursor:
                return conn.execute(sql, params)

        counts = {}
        for name, is_virtual in user_tables(_Conn).items():  # type: ignore[arg-type]
            if not is_virtual:
                counts[name] = int(self._run(conn, Table(name).select(fn.COUNT(SQL("*"))))[0][0])
        return counts


def newest_backup_time(directory: Path | None, source: Path) -> float | None:
    """Unix time of the newest backup of ``source`` in ``directory`` (ours or Go's)."""
    if directory is None:
        return None
    from ..backup import list_backups

    wanted = str(Path(source).resolve())
    for info in list_backups(directory):
        if not info.source_path or info.source_path == wanted:
            return info.created_at.timestamp()
    return None


def _is_distribution(type_: str, items: tuple[tuple[str, str], ...]) -> bool:
    """Observations (the Go server's) rather than ready buckets / quantiles."""
    if type_ == "histogram":
        return not any(k == "le" for k, _ in items)
    if type_ == "summary":
        return not any(k == "quantile" for k, _ in items)
    return False


def _size(path: Path) -> float:
    try:
        return float(os.stat(path).st_size)
    except OSError:
        return 0.0


__all__ = ["Distribution", "Latest", "LatestSamples", "SandboxState", "Snapshot",
           "newest_backup_time"]
