"""The bulk read of raw samples: rows straight from the cursor into numpy arrays.

Charts from raw samples, the rows since the last rollup build and the build itself read
hundreds of thousands of rows at once. Four things keep that fast and keep a GUI
thread (which shares Python's lock with the worker) responsive:

- the series is read as one JSON text (:func:`.sql.series_key_json`), not four columns, and
  the timestamp as text turned into µs by numpy (:mod:`.instants`): SQLite's
  ``instant_us`` expression costs more than reading the row;
- the rows are mapped a slice at a time: each ``itemgetter`` / ``dict.fromkeys`` /
  ``fromiter`` pass is one C loop that holds the GIL throughout;
- the cyclic garbage collector is paused: a full collection walking the fresh row
  tuples (in no cycle) held the GIL for 100-200 ms;
- the rows are fetched a slice at a time too, and the texts freed in steps: 277k row
  tuples held at once were 100 MB, and dropping them one deallocation pass of 30-40 ms
  with the GIL held.
"""

from __future__ import annotations

import json
import sqlite3
from operator import itemgetter
from typing import Any, Callable, TypeVar

import numpy as np
import peewee

from .instants import instants_us
from .sql import NO_INSTANT, RawSamples, SeriesTable, gc_paused, release

T = TypeVar("T")

#: Rows handled per C-level pass. Each holds the GIL throughout: looking up 32k keys
#: among 16,700 series took up to 21 ms, 4k take 2-3 ms.
_SLICE = 4_096


def fetch_raw(db: peewee.Database, query: peewee.Select, table: SeriesTable,
              plain: peewee.Select | None = None) -> RawSamples:
    """Run a query selecting (series key, timestamp text, value), the key being
    :func:`.sql.series_key_json` or its four columns (name, type, labels, sandbox_id) in
    turn, and map its rows onto ``table`` (no model instances). ``plain``, the same
    rows with the four columns, is read instead when a key cannot be JSON (a BLOB in
    one of them). A time that cannot be read is :data:`.sql.NO_INSTANT`; a value that
    is not a number is NaN."""
    with gc_paused():
        try:
            return _fetch_raw(db, query, table)
        except sqlite3.OperationalError as exc:
            if plain is None or "JSON" not in str(exc):
                raise
        return _fetch_raw(db, plain, table)


def _fetch_raw(db: peewee.Database, query: peewee.Select, table: SeriesTable) -> RawSamples:
    rows = _decoded(db, lambda: _Rows(db.execute(query)))
    if not rows.texts:
        return RawSamples.empty()
    if rows.width == 3:  # one JSON text for the four key columns
        mapping = np.array([table.add(*json.loads(k)) for k in rows.keys], dtype=np.int64)
    else:
        mapping = np.array([table.add(*k) for k in rows.keys], dtype=np.int64)
    instants = instants_us(db, rows.texts, NO_INSTANT)
    release(rows.texts, _SLICE)
    return RawSamples(mapping[np.concatenate(rows.series)], instants, np.concatenate(rows.values))


def first_column(db: peewee.Database, query: peewee.Select) -> list[Any]:
    """The first column of ``query``'s rows, the collector paused."""
    with gc_paused():
        return _decoded(db, lambda: [row[0] for row in db.execute(query)])


def _decoded(db: peewee.Database, read: Callable[[], T]) -> T:
    """``read()`` with C-speed text decoding; again with the connection's lenient decoding
    when a text is not UTF-8."""
    conn = db.connection()
    lenient = conn.text_factory
    conn.text_factory = str
    try:
        try:
            return read()
        except sqlite3.OperationalError as exc:
            if "decode" not in str(exc):
                raise
            conn.text_factory = lenient
            return read()
    finally:
        conn.text_factory = lenient


class _Rows:
    """A cursor's rows taken ``_SLICE`` at a time (never all of them at once: 277k row
    tuples were 100 MB): each row's series (an index into ``keys``, the raw key
    columns in first-seen order), value and timestamp text. A row is (key, text, value)
    or (four key columns, text, value): ``width``."""

    def __init__(self, cursor: Any) -> None:
        self.keys: dict[Any, int] = {}  # a JSON text or the four columns
        self.series: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.texts: list[Any] = []
        self.width = 0
        while part := cursor.fetchmany(_SLICE):
            self.width = width = len(part[0])
            keys = list(map(itemgetter(0) if width == 3 else itemgetter(0, 1, 2, 3), part))
            for k in dict.fromkeys(keys):
                self.keys.setdefault(k, len(self.keys))
            self.series.append(np.fromiter(map(self.keys.__getitem__, keys), np.int64, len(keys)))
            try:
                self.values.append(np.fromiter(map(itemgetter(width - 1), part), np.float64, len(part)))
            except (TypeError, ValueError):  # a NULL (None: NaN) or text among them
                self.values.append(np.array([r[width - 1] for r in part], dtype=np.float64))
            self.texts += map(itemgetter(width - 2), part)
