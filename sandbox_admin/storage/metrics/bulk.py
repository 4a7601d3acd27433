"""The bulk read of raw samples: rows straight from the cursor into numpy arrays.

Charts from raw samples, the rows since the last rollup build and the build itself read
hundreds of thousands of rows at once. Three things keep that fast and keep a GUI
thread (which shares Python's lock with the worker) responsive:

- the timestamp is read as text and turned into µs by numpy (:mod:`.instants`):
  SQLite's ``instant_us`` expression costs more than reading the row;
- the rows are mapped a slice at a time: each ``itemgetter`` / ``dict.fromkeys`` /
  ``fromiter`` pass is one C loop that holds the GIL throughout;
- the cyclic garbage collector is paused: a full collection walking the fresh row
  tuples (in no cycle) held the GIL for 100-200 ms;
- the rows and texts are freed a slice at a time too: dropping a list of 277k row
  tuples at once is one deallocation pass of 30-40 ms with the GIL held.
"""

from __future__ import annotations

import sqlite3
from operator import itemgetter
from typing import Any

import numpy as np
import peewee

from .instants import instants_us
from .sql import NO_INSTANT, RawSamples, SeriesTable, gc_paused, release

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
    conn = db.connection()
    lenient = conn.text_factory
    conn.text_factory = str  # the bulk path: C-speed decoding; the lenient one only if needed
    try:
        rows = db.execute(query).fetchall()
    except sqlite3.OperationalError as exc:
        if "decode" not in str(exc):
            raise
        conn.text_factory = lenient
        rows = db.execute(query).fetchall()
    finally:
        conn.text_factory = lenient
    n = len(rows)
    if not n:
        return RawSamples(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
    raw_index: dict[tuple[Any, ...], int] = {}
    per_row = np.empty(n, np.int64)
    values = np.empty(n, np.float64)
    texts: list[Any] = []
    for start in range(0, n, _SLICE):
        part = rows[start:start + _SLICE]
        end = start + len(part)
        keys = list(map(itemgetter(0, 1, 2, 3), part))
        for k in dict.fromkeys(keys):
            raw_index.setdefault(k, len(raw_index))
        per_row[start:end] = np.fromiter(map(raw_index.__getitem__, keys), np.int64, len(keys))
        try:
            values[start:end] = np.fromiter(map(itemgetter(5), part), np.float64, len(part))
        except (TypeError, ValueError):  # a NULL (None: NaN) or text among them
            values[start:end] = np.array([r[5] for r in part], dtype=np.float64)
        texts += map(itemgetter(4), part)
    del part
    release(rows, _SLICE)
    mapping = np.array([table.add(*k) for k in raw_index], dtype=np.int64)
    instants = instants_us(db, texts, NO_INSTANT)
    release(texts, _SLICE)
    return RawSamples(mapping[per_row], instants, values)
