"""instant_us's fast path (julianday) gives exactly what the general text path gives."""

from __future__ import annotations

import itertools
import random
import sqlite3

import peewee

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


def test_every_layout_and_damage_reads_the_same():
    texts: list[str | None] = [None, "", "now", "2461000.5", "2461000.500000000000001",
                               "1764120919", "  2026-11-26 01:35:19", "2026-11-26"]
    for d, sep, t, f, o in itertools.product(DATES, [" ", "T", "t", "_"], TIMES, FRACTIONS, OFFSETS):
        texts.append(f"{d}{sep}{t}{f}{o}")
    _compare(texts)


def test_random_instants_read_the_same():
    rng = random.Random(15)
    texts: list[str | None] = []
    for _ in range(20000):
        y, mo, d = rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28)
        h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        frac = "" if rng.random() < 0.2 else "." + "".join(rng.choice("0123456789")
                                                         for _ in range(rng.randint(1, 9)))
        off = rng.choice(["", "Z", f"{rng.choice('+-')}{rng.randint(0, 14):02d}:{rng.choice([0, 30, 45]):02d}"])
        texts.append(f"{y:04d}-{mo:02d}-{d:02d}{rng.choice(' T')}{h:02d}:{mi:02d}:{s:02d}{frac}{off}")
    _compare(texts)


def test_the_fast_path_is_the_usual_one():
    conn = sqlite3.connect(":memory:")
    assert conn.execute("SELECT julianday('2026-11-24 05:21:38.261790967+00:00')").fetchone()[0]
