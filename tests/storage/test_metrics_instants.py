"""instant_us's fast path (julianday) gives exactly what the general text path gives,
and the numpy reading of the usual layout (the rollup build's) gives exactly instant_us."""

from __future__ import annotations

import itertools
import random
import sqlite3

import numpy as np
import peewee
import pytest
from peewee import Case

from sandbox_admin.storage.metrics.instants import instants_us, usual_instants_us
from sandbox_admin.storage.metrics.sql import _instant_us_by_text, instant_us

DATES = ["2026-11-26", "1970-01-01", "1969-12-31", "0001-01-02", "9999-12-30", "2024-02-29",
         "2023-02-29", "2026-13-01", "2026-1-5", "+2026-11-26", "-0001-01-01", "20261126"]
TIMES = ["01:35:19", "23:59:59", "00:00:00", "24:00:00", "12:60:00", "01:35", "1:35:19", "01:35:60"]
FRACTIONS = ["", ".", ".0", ".5", ".9995", ".99949", ".999999", ".9999999", ".261790967",
             ".000003", ".0005", ".123456789012", ".12.5", "..5", ".5e3", ".-1"]
OFFSETS = ["", "Z", "z", "+00:00", "-07:00", "+14:00", "+05:30", " +01:00", "+0530", "+5:30",
           " ", "  ", "x", "+00:00 ", "UTC"]


def _compare(texts: list[str | None]) -> None:
    db = peewee.SqliteDatabase(":memory:")

    class T(peewee.Model):
        ts = peewee.TextField(null=True)

        class Meta:
            database = db

    db.create_tables([T])
    T.insert_many([(t,) for t in texts], fields=[T.ts]).execute()
    rows = list(T.select(T.ts, instant_us(T.ts), _instant_us_by_text(T.ts)).tuples())
    bad = [(ts, fast, slow) for ts, fast, slow in rows if fast != slow]
    assert not bad, bad[:10]
    assert sum(fast is not None for _, fast, _ in rows) > len(rows) // 20  # many readable


def _compare_numpy(texts: list) -> np.ndarray:
    """instants_us (numpy where it can) against the SQL expression on every text;
    returns which texts numpy read itself."""
    db = peewee.SqliteDatabase(":memory:")
    values = peewee.ValuesList([(i, t) for i, t in enumerate(texts)], alias="v")
    expected = dict(db.execute(peewee.Select([values], [values.c.column1, instant_us(values.c.column2)])))
    got = instants_us(db, texts, unreadable=-(1 << 62))
    bad = [(t, expected[i], int(got[i])) for i, t in enumerate(texts)
           if (-(1 << 62) if expected[i] is None else expected[i]) != got[i]]
    assert not bad, bad[:10]
    return usual_instants_us(texts)[1]


def _every_layout() -> list[str | None]:
    texts: list[str | None] = [None, "", "now", "NOW", "Now", "2461000.5", "2461000.500000000000001",
                               "1764120919", "  2026-11-26 01:35:19", "2026-11-26"]
    for d, sep, t, f, o in itertools.product(DATES, [" ", "T", "t", "_"], TIMES, FRACTIONS, OFFSETS):
        texts.append(f"{d}{sep}{t}{f}{o}")
    return texts


def _random_instants(rng: random.Random, n: int, last_day: int = 31) -> list[str | None]:
    """Texts of the usual layout (with ``last_day`` 31, some impossible days too)."""
    texts: list[str | None] = []
    for _ in range(n):
        y, mo, d = rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, last_day)
        h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        frac = "" if rng.random() < 0.2 else "." + "".join(rng.choice("0123456789")
                                                         for _ in range(rng.randint(1, 9)))
        off = rng.choice(["", "Z", f"{rng.choice('+-')}{rng.randint(0, 14):02d}:{rng.choice([0, 30, 45]):02d}"])
        texts.append(f"{y:04d}-{mo:02d}-{d:02d}{rng.choice(' T')}{h:02d}:{mi:02d}:{s:02d}{frac}{off}")
    return texts


def test_now_is_unreadable_not_the_time_of_the_query():
    """SQLite reads ``now`` as the current time: a sample stored so would move with
    every read (and fall in a different bucket each build)."""
    db = peewee.SqliteDatabase(":memory:")
    texts = ["now", "NOW", "Now", " now", "2026-11-26 01:35:19"]
    values = peewee.ValuesList(list(enumerate(texts)), alias="v")
    got = dict(db.execute(peewee.Select([values], [values.c.column1, instant_us(values.c.column2)])))
    assert [got[i] for i in range(4)] == [None] * 4
    assert got[4] == 1795656919 * 1_000_000
    assert list(instants_us(db, texts, unreadable=-1)) == [-1] * 4 + [1795656919 * 1_000_000]


def test_every_layout_and_damage_reads_the_same():
    _compare(_every_layout())


def test_numpy_reads_every_layout_and_damage_as_sqlite_does():
    read = _compare_numpy(_every_layout())
    assert 1000 < read.sum() < len(read)  # numpy read many itself, and left the rest to SQLite


def test_numpy_reads_random_instants_as_sqlite_does():
    texts = _random_instants(random.Random(16), 20000)
    read = _compare_numpy(texts)
    # every valid date of the usual layout is numpy's; only impossible days (Feb 30…) go to SQLite
    assert read.sum() > len(texts) * 0.95


def test_numpy_leaves_what_is_not_a_text_to_sqlite():
    texts = [None, 5, 1.5, b"2026-11-26 01:35:19", b"\xff\xfe", "2026-11-26 01:35:19\u00e9",
             "２０２６-11-26 01:35:19", "2026-11-26 01:35:19.123456789+00:00", "2026-11-26 01:35:19" + " " * 40,
             "2026-11-26 01:35:19.123456789+00:00" + "0" * 30]
    read = _compare_numpy(texts)
    assert read.tolist() == [False] * 7 + [True, False, False]


@pytest.mark.parametrize("digits", [0, 3, 9])
def test_texts_of_one_layout_throughout_read_the_same(digits):
    """A writer's texts share their fraction's length (the tail is then read as a
    slice, not gathered), damaged tails of that length too."""
    rng = random.Random(digits)
    texts = []
    for _ in range(3000):
        frac = "." + "".join(rng.choice("0123456789") for _ in range(digits)) if digits else ""
        texts.append(f"{rng.randint(1, 9999):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                     f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}{frac}"
                     f"{rng.choice(['+00:00', '-07:00', '+14:00', '+15:00', '+05:6x', 'Z0000', '      '])}")
    read = _compare_numpy(texts)
    assert len(texts) // 3 < read.sum() < len(texts)  # 3 of the 7 tails are sound


def test_go_layout_is_read_by_numpy():
    texts = ["2026-11-24 05:21:38.261790967+00:00", "2026-11-26 01:35:19", "2026-11-26T01:35:19Z",
             "2026-11-26 01:35:19.5-07:00"]
    us, read = usual_instants_us(texts)
    assert read.all()
    assert us.tolist()[0] == 1795497698261790  # 05:21:38.261790 UTC on 2026-11-24


def test_random_instants_read_the_same():
    _compare(_random_instants(random.Random(15), 20000, last_day=28))


def test_the_fast_path_is_the_usual_one():
    conn = sqlite3.connect(":memory:")
    assert conn.execute("SELECT julianday('2026-11-24 05:21:38.261790967+00:00')").fetchone()[0]


def test_readable_sample_reads_the_instant_once_and_means_the_same():
    """readable_sample (BETWEEN: the instant evaluated once) keeps exactly the rows the
    three separate comparisons kept, in both of its modes, on every layout and damage
    and on values that are not numbers."""
    from sandbox_admin.storage.metrics.sql import _FIRST_US, _LAST_US, MAX_US, MIN_US, readable_sample

    db = peewee.SqliteDatabase(":memory:")

    class Metric(peewee.Model):
        timestamp = peewee.TextField(null=True)
        value = peewee.BareField(null=True)

        class Meta:
            database = db

    db.create_tables([Metric])
    texts = _every_layout() + ["0001-01-01 00:00:00", "0001-01-02 00:00:00", "9999-12-30 23:59:59",
                               "9999-12-31 23:59:59.999999", "9999-12-31 12:00:00-14:00"]
    rows = [(t, 1.5) for t in texts] + [(t, v) for t in texts[:300] + texts[-5:] for v in (2, "x", None)]
    for start in range(0, len(rows), 5000):
        Metric.insert_many(rows[start:start + 5000], fields=[Metric.timestamp, Metric.value]).execute()
    instant = instant_us(Metric.timestamp)
    number = peewee.fn.typeof(Metric.value).in_(["integer", "real"])
    old = number & instant.is_null(False) & (instant >= MIN_US) & (instant <= MAX_US)
    old_listing = number & (instant.is_null() | ((instant >= _FIRST_US) & (instant <= _LAST_US)))
    for new, before in ((readable_sample(Metric), old), (readable_sample(Metric, listing=True), old_listing)):
        got = list(Metric.select(Metric.id, Case(None, [(new, 1)], 0), Case(None, [(before, 1)], 0)).tuples())
        assert [r for r in got if r[1] != r[2]] == []
        assert 0 < sum(r[1] for r in got) < len(got)
