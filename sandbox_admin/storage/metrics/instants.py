"""Timestamp texts to integer µs in numpy: the bulk path of :func:`.sql.instant_us`.

SQLite spends about 1 µs a row on the ``instant_us`` expression (``julianday``, two
``substr``, a ``CAST``), more than Python spends fetching the row. The texts the Go
server writes have one layout, which numpy reads column by column:

    YYYY-MM-DD HH:MM:SS[.f…f][Z|±HH:MM]      (``T`` for the space is fine)

with 1 to 9 fraction digits. Any other text (another layout, an impossible date, a
NULL, a blob, a number) is answered by the SQL expression itself, so the result is the
expression's for every row: :func:`usual_instants_us` is tested against it.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import peewee

from .sql import instant_us

#: Longest text of the usual layout: 19 + '.' + 9 digits + '+HH:MM'.
_LONGEST = 35
_WIDTH = _LONGEST + 1  # one more: a longer text shows a character there
#: Texts per statement when SQL answers the unusual ones (well under 32,766 variables).
_SQL_BATCH = 5_000
#: Texts converted to bytes per call (each call holds the GIL: 65k took up to 20 ms
#: on a busy machine, 16k a few).
_SLICE = 16_384
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)


def days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _ascii_chars(texts: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The texts as an (n, _WIDTH) uint8 array, and which rows are ASCII texts at all
    (the others are left empty: no text of the usual layout is anything else)."""
    n = len(texts)
    if set(map(type, texts)) == {str}:
        try:
            # a slice at a time: each conversion holds the GIL (a GUI thread waits for it)
            chars = np.empty(n, dtype=f"S{_WIDTH}")
            for start in range(0, n, _SLICE):
                chars[start:start + _SLICE] = texts[start:start + _SLICE]
            return chars.view(np.uint8).reshape(n, _WIDTH), np.ones(n, bool)
        except UnicodeEncodeError:
            pass
    usable = [type(t) is str and t.isascii() for t in texts]
    chars = np.array([t if ok else "" for t, ok in zip(texts, usable)], dtype=f"S{_WIDTH}")
    return chars.view(np.uint8).reshape(n, _WIDTH), np.array(usable, bool)


def usual_instants_us(texts: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(µs since the epoch, read) for each text; ``read`` is False where the text is
    not of the usual layout (or not a text) and the µs there mean nothing."""
    n = len(texts)
    if not n:
        return np.empty(0, np.int64), np.empty(0, bool)
    c, read = _ascii_chars(texts)

    def digit(i: int) -> np.ndarray:
        return (c[:, i] - np.uint8(48)) <= 9  # below '0' wraps round to a large number

    def number(*at: int) -> np.ndarray:
        out = np.zeros(n, np.int64)
        for i in at:
            read[:] &= digit(i)
            out = out * 10 + c[:, i] - 48
        return out

    year, month, day = number(0, 1, 2, 3), number(5, 6), number(8, 9)
    hour, minute, second = number(11, 12), number(14, 15), number(17, 18)
    read &= (c[:, 4] == 45) & (c[:, 7] == 45) & (c[:, 13] == 58) & (c[:, 16] == 58)
    read &= (c[:, 10] == 32) | (c[:, 10] == 84)  # ' ' or 'T'

    # the fraction: '.' then 1..9 digits (the first six are the µs)
    dot = c[:, 19] == 46
    run = np.zeros(n, np.int64)  # how many digits follow the '.'
    going = dot.copy()
    micros = np.zeros(n, np.int64)  # six digits, the missing ones 0
    for j in range(10):
        going &= digit(20 + j)
        run += going
        if j < 6:
            micros = micros * 10 + np.where(going, c[:, 20 + j].astype(np.int64) - 48, 0)
    read &= ~dot | ((run >= 1) & (run <= 9))

    # what follows: nothing, 'Z' or ±HH:MM, then the end of the text
    at = np.where(dot, 20 + np.minimum(run, 9), 19)
    if (at == at[0]).all():  # one fraction length throughout (a writer's): a slice
        tail = c[:, at[0]:at[0] + 7].astype(np.int64)
    else:
        tail = c[np.arange(n)[:, None], at[:, None] + np.arange(7)].astype(np.int64)
    ends = tail[:, 0] == 0
    zulu = (tail[:, 0] == 90) & (tail[:, 1] == 0)
    hhmm = tail[:, [1, 2, 4, 5]] - 48
    signed = (((tail[:, 0] == 43) | (tail[:, 0] == 45)) & (tail[:, 3] == 58) & (tail[:, 6] == 0)
              & ((hhmm >= 0) & (hhmm <= 9)).all(axis=1))
    read &= ends | zulu | signed
    off_h = hhmm[:, 0] * 10 + hhmm[:, 1]
    off_m = hhmm[:, 2] * 10 + hhmm[:, 3]
    read &= ~signed | ((off_h <= 14) & (off_m <= 59))
    offset = np.where(signed, np.where(tail[:, 0] == 45, -1, 1) * (off_h * 3600 + off_m * 60), 0)

    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_ok = (month >= 1) & (month <= 12)
    longest = _DAYS_IN_MONTH[np.where(month_ok, month, 0)] + (leap & (month == 2))
    read &= (year >= 1) & month_ok & (day >= 1) & (day <= longest)
    read &= (hour <= 23) & (minute <= 59) & (second <= 59)

    seconds = (days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
               - offset)
    return np.where(read, seconds * 1_000_000 + micros, 0), read


def instants_us(db: peewee.Database, texts: Sequence[Any], unreadable: int) -> np.ndarray:
    """µs since the epoch of each timestamp text, exactly :func:`.sql.instant_us`;
    ``unreadable`` where that is NULL. The usual layout is read by numpy, the rest by
    SQLite in a few statements."""
    us, read = usual_instants_us(texts)
    others = np.flatnonzero(~read)
    for start in range(0, len(others), _SQL_BATCH):
        at = others[start:start + _SQL_BATCH]
        # SQLite names a VALUES list's columns column1, column2, …
        values = peewee.ValuesList([(i, texts[i]) for i in at.tolist()], alias="v")
        query = peewee.Select([values], [values.c.column1, instant_us(values.c.column2)])
        for i, got in db.execute(query).fetchall():
            us[i] = unreadable if got is None else got
    return us
