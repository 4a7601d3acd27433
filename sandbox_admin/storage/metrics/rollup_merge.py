"""The SQL functions a rollup UPSERT merges an existing row with a new one by.

An exact sum is kept as (rounded sum, residual): ``sa_fsum_hi`` / ``sa_fsum_lo`` add two
such pairs exactly. ``sa_sketch_merge`` merges two percentile sketches (:mod:`.sketch`;
``NULL`` is a sketch not stored because the row's minimum and maximum say everything,
:func:`.sketch.implied`; ``b""`` no sketch at all, as for counters).
"""

from __future__ import annotations

import math
import sqlite3

import numpy as np

from . import sketch as sk


def _fsum_hi(a: float, ae: float, b: float, be: float) -> float:
    return math.fsum((a, ae, b, be))


def _fsum_lo(a: float, ae: float, b: float, be: float) -> float:
    return math.fsum((a, ae, b, be, -math.fsum((a, ae, b, be))))


def _bins_of(blob: bytes | None, lo: float, hi: float, count: int) -> sk.Bins | None:
    if blob is None:  # min and max say it all: not stored
        if not sk.implied(count, lo, hi):
            return None
        return sk.implied_bins(np.zeros(1, np.int64), [count], [lo], [hi])
    return sk.decode_rows([blob], [0])


def _sketch_merge(a: bytes | None, amin: float, amax: float, acount: int,
                  b: bytes | None, bmin: float, bmax: float, bcount: int) -> bytes | None:
    if a == b"" or b == b"":
        return b""  # not sketched (counters)
    if sk.implied(acount + bcount, min(amin, bmin), max(amax, bmax)):
        return None  # as a build of all the values at once stores it
    first, second = _bins_of(a, amin, amax, acount), _bins_of(b, bmin, bmax, bcount)
    if first is None or second is None:
        return b""
    merged = sk.merge(sk.Bins.concat([first, second]))
    return sk.encode_rows(merged, [0])[0]


def register_functions(connection: sqlite3.Connection) -> None:
    connection.create_function("sa_fsum_hi", 4, _fsum_hi, deterministic=True)
    connection.create_function("sa_fsum_lo", 4, _fsum_lo, deterministic=True)
    connection.create_function("sa_sketch_merge", 8, _sketch_merge, deterministic=True)
