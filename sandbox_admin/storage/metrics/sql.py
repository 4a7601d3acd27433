"""SQL pieces shared by the metrics store and the rollup builder (no Qt, no state).

Time in the ``metrics`` table is TEXT in several forms (SCHEMA.md): Go's
``2026-11-24 05:21:38.261790967+00:00`` with any offset, ``CURRENT_TIMESTAMP``'s
``2026-11-26 01:35:19`` (UTC), rollup ``datetime(...,'unixepoch')`` text. Comparing
that text compares wall clocks, not instants (a Go defect we must not copy), so every
time filter here compares :func:`instant_us`, an SQL expression giving integer
microseconds since the epoch: whole seconds from SQLite's date parser (which applies
the offset) plus the fraction's first six digits. A text prefilter on whole days,
widened by the largest UTC offset, keeps the ``(metric_name, timestamp)`` index useful.
"""

from __future__ import annotations

import gc
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import peewee
from peewee import SQL, Case, Cast, Value, fn

from .. import errors
from ..fields import UTC, dumps_json, loads_json, parse_timestamp, to_utc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000
#: Largest UTC offset in use (+14:00) plus a margin, for the text prefilter.
_OFFSET_MARGIN = timedelta(hours=15)
METRIC_TYPES = ("counter", "gauge", "histogram", "summary")
GO_PERIODS = ("raw", "1m", "5m", "15m", "1h", "6h", "1d", "7d")


def _seconds(text: Any) -> peewee.Node:
    if sqlite3.sqlite_version_info >= (3, 38, 0):
        return fn.unixepoch(text)
    return Cast(fn.strftime("%s", text), "INTEGER")


def _fraction(column: peewee.Node) -> peewee.Node:
    """The seconds' fraction of a timestamp text (0 without one): the offset after it
    stops the number."""
    return Cast(Value("0", converter=False).concat(fn.substr(column, 20)), "REAL")


def _whole_seconds_by_text(column: peewee.Node) -> peewee.Node:
    """Whole seconds of the text with its fraction cut out (any text form). ``now`` (in
    any case, the only text SQLite reads as the current time) is unreadable, not the
    moment of the query: a stored sample's instant must not change between two reads."""
    cut = fn.substr(column, 1, 19).concat(fn.ltrim(fn.substr(column, 20), ".0123456789"))
    return Case(None, [(fn.lower(column) == "now", None)], _seconds(cut))


def _instant_us_by_text(column: peewee.Node) -> peewee.Node:
    """:func:`instant_us` the slow way for every text (kept to test the fast one)."""
    # +0.0001 µs: 0.000003 is 2.9999999999999996e-06 in binary; at most 9 digits, so safe
    return _whole_seconds_by_text(column) * US + Cast(_fraction(column) * US + 0.0001, "INTEGER")


def instant_us(column: peewee.Node) -> peewee.Node:
    """Integer µs since the epoch of a timestamp column, whatever its text form.

    Whole seconds + the fraction's first six digits, so SQLite's millisecond rounding
    never moves a sample into the next second. The fraction is
    ``CAST('0' || substr(ts,20) AS REAL)``. The whole seconds of the usual layout
    (``YYYY-MM-DD HH:MM:SS`` or ``T``, then a fraction, an offset or nothing) come from
    ``julianday`` of the whole text (offset applied, fraction rounded to ms) minus that
    fraction, rounded: off by at most half a millisecond before rounding, so exact. Any
    other text (or one ``julianday`` cannot read) takes the slow general way:
    ``unixepoch`` of the text with the fraction cut out
    (``substr(ts,1,19) || ltrim(substr(ts,20),'.0123456789')``), which gives the same
    result on the usual layout at several times the cost. NULL for NULL or unreadable
    text.
    """
    fraction = _fraction(column)
    usual = (fn.substr(column, 11, 1).in_([" ", "T"])
             & fn.substr(column, 20, 1).in_([".", "+", "-", "Z", " ", ""]))
    fast = Cast(fn.round((fn.julianday(column) - 2440587.5) * 86400.0 - fraction), "INTEGER")
    whole = fn.coalesce(Case(None, [(usual, fast)], None), _whole_seconds_by_text(column))
    # +0.0001 µs: 0.000003 is 2.9999999999999996e-06 in binary; at most 9 digits, so safe
    return whole * US + Cast(fraction * US + 0.0001, "INTEGER")


#: Instants a sample may have and still be shown (Python's datetime range, a day inside).
MIN_US = (datetime(1, 1, 2, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
MAX_US = (datetime(9999, 12, 30, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
_FIRST_US = (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
_LAST_US = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)


#: The instant numpy reads give a time that cannot be read (below ``MIN_US``).
NO_INSTANT = -(1 << 62)


def series_key_json(model: Any) -> peewee.Node:
    """The four columns naming a raw series as one JSON array text: a bulk read then makes
    one Python string a row instead of four and keys one text, 35 % less work a row.
    JSON holds no BLOB (SQLite raises an error: read the columns themselves then)."""
    return fn.json_array(*key_columns(model, as_json=False))


def key_columns(model: Any, as_json: bool = True) -> list[peewee.Node]:
    """What a bulk read selects to name a row's series (:func:`.bulk.fetch_raw`): the
    JSON text of :func:`series_key_json`, or the four columns themselves."""
    if as_json:
        return [series_key_json(model)]
    return [model.metric_name, model.metric_type, model.labels, model.sandbox_id]


def number_sample(model: Any) -> peewee.Node:
    """A ``metrics`` row whose value is a number (the half of :func:`readable_sample`
    that bulk reads keep in SQL; they check the time in numpy, :func:`readable_instants`)."""
    return fn.typeof(model.value).in_(["integer", "real"])


def readable_instants(t: np.ndarray, start_us: int | None = None, end_us: int | None = None) -> np.ndarray:
    """Which instants (µs) :func:`readable_sample` and ``start <= t < end`` keep (an
    unreadable time is :data:`NO_INSTANT`)."""
    ok = (t >= MIN_US) & (t <= MAX_US)
    if start_us is not None:
        ok &= t >= start_us
    if end_us is not None:
        ok &= t < end_us
    return ok


def readable_sample(model: Any, *, listing: bool = False) -> peewee.Node:
    """A ``metrics`` row we can use: a number for a value and a time inside the range we
    can represent (a day inside it, so that buckets stay representable). Rows failing
    this are skipped (and listed by :func:`unreadable_samples`) instead of stopping every
    query. ``listing`` (sample lists and exports) also keeps rows whose time cannot be
    read at all (shown without a time) and the outermost day."""
    # BETWEEN evaluates the (costly) instant once; three comparisons evaluated it thrice
    instant = instant_us(model.timestamp)
    number = number_sample(model)
    if listing:
        return number & fn.coalesce(instant.between(_FIRST_US, _LAST_US), instant.is_null())
    return number & fn.coalesce(instant.between(MIN_US, MAX_US), 0)


def unreadable_samples(db: peewee.Database, model: Any, limit: int = 20,
                       names: Sequence[str] | None = None) -> tuple[int, list[int]]:
    """How many ``metrics`` rows are unreadable, and the first ids; of the metrics
    ``names`` only when given (their rows by the name index, not the whole table)."""
    bad = ~readable_sample(model)
    if names is not None:
        bad = model.metric_name.in_(list(names)) & bad
    ids = [r[0] for r in model.select(model.id).where(bad).order_by(model.id).limit(limit)
           .tuples().execute()]
    if len(ids) < limit:
        return len(ids), ids
    return int(model.select(fn.COUNT(model.id)).where(bad).scalar() or 0), ids


def raw_period(column: peewee.Field) -> peewee.Node:
    """Raw samples: aggregation_period 'raw' or NULL (older rows)."""
    return (column == "raw") | column.is_null()


def period_condition(column: peewee.Field, periods: Sequence[str]) -> peewee.Node:
    periods = list(periods)
    for p in periods:
        if p not in GO_PERIODS:
            raise errors.InvalidInput(
                f"Unknown aggregation period {p!r}; use one of {', '.join(GO_PERIODS)}."
            )
    cond = column.in_(periods)
    return cond | column.is_null() if "raw" in periods else cond


# -- time ------------------------------------------------------------------------------

def to_us(value: Any, what: str = "time") -> int | None:
    """Integer µs since the epoch of a datetime / timestamp text / Unix seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (to_utc(value) - EPOCH) // timedelta(microseconds=1)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(round(float(value) * US))
    parsed = parse_timestamp(value) if isinstance(value, str) else None
    if parsed is None:
        raise errors.InvalidInput(
            f"{what} {value!r} is not a time; use e.g. 2026-11-26 01:35:19+00:00 or ISO 8601."
        )
    return (parsed - EPOCH) // timedelta(microseconds=1)


def from_us(us: int | float | None) -> datetime | None:
    if us is None:
        return None
    return EPOCH + timedelta(microseconds=int(us))


def time_conditions(column: peewee.Field, start_us: int | None, end_us: int | None,
                    prefilter: bool = True, exact: bool = True) -> list[peewee.Node]:
    """``start <= instant < end`` plus (optionally) a whole-day text prefilter that can
    use the timestamp indexes whatever the rows' offsets and separators. ``exact=False``:
    the prefilter only (the caller compares the instants itself)."""
    conds: list[peewee.Node] = []
    instant = instant_us(column)
    low, high = prefilter_dates(start_us, end_us) if prefilter else (None, None)
    if low is not None:
        conds.append(column >= Value(low, converter=False))
    if start_us is not None and exact:
        conds.append(instant >= start_us)
    if high is not None:
        conds.append(column < Value(high, converter=False))
    if end_us is not None and exact:
        conds.append(instant < end_us)
    return conds


def prefilter_dates(start_us: int | None, end_us: int | None) -> tuple[str | None, str | None]:
    """The whole-day text bounds ``[low, high)`` that every timestamp text of an instant
    in ``[start, end)`` lies in, whatever its offset and separator (None: unbounded)."""
    low = high = None
    try:
        if start_us is not None:
            low = (from_us(start_us) - _OFFSET_MARGIN).date().isoformat()
    except (OverflowError, ValueError):
        pass
    try:
        if end_us is not None:
            high = ((from_us(end_us) + _OFFSET_MARGIN).date() + timedelta(days=1)).isoformat()
    except (OverflowError, ValueError):
        pass
    return low, high


# -- labels ----------------------------------------------------------------------------

@lru_cache(maxsize=65536)
def canonical_labels(text: str | None) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Canonical text and items of a labels column: 'null', '{}' and NULL are all no
    labels; Go's escapes (\\u003c) and key order do not make a different series."""
    value = loads_json(text)
    if value is None:
        return "{}", ()
    if isinstance(value, dict):
        items = tuple(sorted((str(k), v if isinstance(v, str) else dumps_json(v)) for k, v in value.items()))
        return dumps_json(dict(items)), items
    return str(text), ()  # not a JSON object: keep the text as its own series


def labels_text(labels: Mapping[str, Any] | None) -> str:
    """How we write labels: compact sorted JSON of string values (LIKE-matchable)."""
    if not labels:
        return "{}"
    return dumps_json({str(k): v if isinstance(v, str) else str(v) for k, v in labels.items()})


_LIKE_UNSAFE = set('%\\"<>&') | {chr(c) for c in range(32)}


def label_conditions(column: peewee.Field, matchers: Mapping[str, str] | None) -> list[peewee.Node]:
    """Exact label matches (not substrings): ``labels`` holds key ``k`` with text value
    ``v``. A ``LIKE '%"k":"v"%'`` prefilter is added when Go would write ``k`` and
    ``v`` without escapes; ``json_each`` decides."""
    conds: list[peewee.Node] = []
    for key, value in (matchers or {}).items():
        key, value = str(key), str(value)
        if not (set(key + value) & _LIKE_UNSAFE) and (key + value).isascii():
            pattern = "%" + dumps_json({key: value})[1:-1] + "%"
            conds.append(column ** Value(pattern, converter=False))
        conds.append(SQL(
            "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(labels) THEN labels "
            "ELSE '{}' END) AS je WHERE je.key = ? AND je.type = 'text' AND je.value = ?)",
            (key, value)))
    return conds


def labels_match(items: Iterable[tuple[str, str]], matchers: Mapping[str, str] | None) -> bool:
    if not matchers:
        return True
    have = dict(items)
    return all(have.get(str(k)) == str(v) for k, v in matchers.items())


def as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


# -- series keys -----------------------------------------------------------------------

@dataclass
class SeriesTable:
    """Canonical series seen in one query: (name, type, labels text, sandbox or '')."""

    names: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    items: list[tuple[tuple[str, str], ...]] = field(default_factory=list)
    sandboxes: list[str] = field(default_factory=list)
    index: dict[tuple[str, str, str, str], int] = field(default_factory=dict)

    def add(self, name: str, type_: str, labels: str | None, sandbox: str | None) -> int:
        text, items = canonical_labels(labels)
        key = (name, type_, text, sandbox or "")
        found = self.index.get(key)
        if found is not None:
            return found
        n = len(self.names)
        self.index[key] = n
        self.names.append(name)
        self.types.append(type_)
        self.labels.append(text)
        self.items.append(items)
        self.sandboxes.append(sandbox or "")
        return n

    def __len__(self) -> int:
        return len(self.names)

    def is_counter(self) -> np.ndarray:
        return np.array([t == "counter" for t in self.types], dtype=bool)

    def release(self) -> None:
        """Empty it a step at a time (see :func:`release`)."""
        for items in (self.names, self.types, self.labels, self.items, self.sandboxes):
            release(items)
        release(self.index)


@dataclass
class RawSamples:
    series: np.ndarray  # int64 index into the SeriesTable
    t: np.ndarray  # int64 µs
    v: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.v)

    @classmethod
    def empty(cls) -> "RawSamples":
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))

    def then(self, more: "RawSamples") -> "RawSamples":
        """These samples followed by ``more`` (series indexes into the same table)."""
        if not len(more):
            return self
        return RawSamples(np.concatenate([self.series, more.series]), np.concatenate([self.t, more.t]),
                          np.concatenate([self.v, more.v]))

    def keep(self, ok: np.ndarray) -> "RawSamples":
        """The samples where ``ok`` holds (itself when it holds everywhere)."""
        return self if ok.all() else RawSamples(self.series[ok], self.t[ok], self.v[ok])


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection for a while: a bulk read makes millions of tuples
    (none in a cycle), and the collector would walk them again and again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def release(items: list[Any] | dict[Any, Any], step: int = 4_096) -> None:
    """Empty a list from its end, ``step`` items a ``del`` (a dict an entry at a time).
    Dropping a big container at once is one deallocation pass with the GIL held (16,700
    series: 35 ms; 117k known series: 80 ms); between two steps another thread, the
    GUI's, may run."""
    if isinstance(items, dict):
        while items:
            items.popitem()
        return
    for start in reversed(range(0, len(items), step)):
        del items[start:]
