"""The bulk read of raw samples: rows straight from the cursor into numpy arrays.

Charts from raw samples, the rows since the last rollup build and the build itself read
hundreds of thousands of rows at once. Four things keep that fast and keep a GUI
thread (which shares Python's lock with the worker) responsive:

- the timestamp is read as text and turned into µs by numpy (:mod:`.instants`):
  SQLite's ``instant_us`` expression costs more than reading the row;
- the rows are mapped a slice at a time: each ``itemgetter`` / ``dict.fromkeys`` /
  ``fromiter`` pass is one C loop that holds the GIL throughout;
- the cyclic garbage collector is paused: a full collection walking the fresh row
  tuples (in no cycle) held the GIL for 100-200 ms;
- the rows are fetched a slice at a time too, and the texts freed in steps: 277k row
  tuples held at once were 100 MB, and dropping them one deallocation pass of 30-40 ms
  with the GIL held.
"""

from __future__ import annotations

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


def fetch_raw(db: peewee.Database, query: peewee.Select, table: SeriesTable) -> RawSamples:
    """Run a query selecting (name, type, labels, sandbox_id, timestamp text, value) and
    map its rows onto ``table`` (no model instances). A time that cannot be read is
    :data:`.sql.NO_INSTANT`; a value that is not a number is NaN."""
    with gc_paused():
        return _fetch_raw(db, query, table)


def _fetch_raw(db: peewee.Database, query: peewee.Select, table: SeriesTable) -> RawSamples:
    rows = _decoded(db, lambda: _Rows(db.execute(query)))
    if not rows.texts:
        return RawSamples.empty()
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
    columns in first-seen order), value and timestamp text."""

    def __init__(self, cursor: Any) -> None:
        self.keys: dict[tuple[Any, ...], int] = {}
        self.series: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.texts: list[Any] = []
        while part := cursor.fetchmany(_SLICE):
            keys = list(map(itemgetter(0, 1, 2, 3), part))
            for k in dict.fromkeys(keys):
                self.keys.setdefault(k, len(self.keys))
            self.series.append(np.fromiter(map(self.keys.__getitem__, keys), np.int64, len(keys)))
            try:
                self.values.append(np.fromiter(map(itemgetter(5), part), np.float64, len(part)))
            except (TypeError, ValueError):  # a NULL (None: NaN) or text among them
                self.values.append(np.array([r[5] for r in part], dtype=np.float64))
            self.texts += map(itemgetter(4), part)
