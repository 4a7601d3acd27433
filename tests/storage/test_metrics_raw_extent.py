"""A metric's extent without rollups, walked from both ends of the name/time index, is
exactly the extent read from every row: across offsets, separators, impossible dates,
damaged values, other periods and metrics, and whatever the walking step."""

from __future__ import annotations

import random

import pytest

from sandbox_admin.storage import create_store
from sandbox_admin.storage.metrics import raw_extent as rx

from .test_metrics_instants import _random_instants

COLUMNS = ("metric_name, metric_type, labels, value, timestamp, sandbox_id, aggregation_period")


def _store_with(tmp_path, rows):
    store = create_store(tmp_path / "x.db")
    store.models.Sandbox.create(id="sb-a", status="running")
    with store.db.atomic():
        store.db.connection().executemany(
            f"INSERT INTO metrics ({COLUMNS}) VALUES (?, 'gauge', '{{}}', ?, ?, 'sb-a', ?)", rows)
    return store


def _both(store, name):
    with store.connection(), store.db.atomic():
        return rx.raw_extent(store.metrics, name), rx.every_instant(store.metrics, name)


def _near(rng: random.Random, n: int) -> list[str]:
    """Texts a few days apart at most, with offsets that reorder them against the text."""
    texts = []
    for _ in range(n):
        day, hour = rng.randint(10, 14), rng.randint(0, 24)
        minute, second = rng.randint(0, 59), rng.randint(0, 59)
        sep = rng.choice(" T")
        off = rng.choice(["", "Z", f"{rng.choice('+-')}{rng.randint(0, 14):02d}:{rng.choice([0, 30, 45]):02d}"])
        frac = rng.choice(["", ".5", ".123456", ".999999999"])
        texts.append(f"2026-11-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}{frac}{off}")
    return texts


@pytest.mark.parametrize("seed", range(12))
def test_the_walked_extent_is_the_extent_of_every_row(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    monkeypatch.setattr(rx, "WINDOW", rng.choice([1, 3, 17, 2_000]))
    texts = _near(rng, 300) if seed % 2 else _random_instants(rng, 300)
    rows = []
    for text in texts:
        value = rng.choice([1.0, 2, "n/a", b"\x01"]) if rng.random() < 0.2 else rng.random()
        period = "1m" if rng.random() < 0.1 else rng.choice(["raw", None])
        rows.append(("cpu" if rng.random() < 0.8 else "mem", value, text, period))
    rows.append(("cpu", 1.0, None, "raw"))  # no time at all
    store = _store_with(tmp_path, rows)
    try:
        for name in ("cpu", "mem", "none"):
            walked, every = _both(store, name)
            assert walked == every, (name, seed)
        assert _both(store, "cpu")[0][0] is not None
    finally:
        store.close()


def test_the_offsets_reorder_the_ends_and_the_walk_still_finds_them(tmp_path, monkeypatch):
    """The smallest text is not the first instant, nor the largest the last."""
    monkeypatch.setattr(rx, "WINDOW", 1)
    rows = [("cpu", 1.0, "2026-11-20 10:00:00+14:00", "raw"),  # 2026-11-19 20:00 UTC: the first
            ("cpu", 1.0, "2026-11-19 23:00:00-00:00", "raw"),  # the smallest text
            ("cpu", 1.0, "2026-11-20 12:00:00", "raw"),
            ("cpu", 1.0, "2026-11-21 05:00:00-14:00", "raw"),  # 2026-11-21 19:00 UTC: the last
            ("cpu", 1.0, "2026-11-21 18:00:00Z", "raw"),  # the largest text
            ("cpu", "n/a", "2026-11-25 00:00:00", "raw"),  # no number: not a sample
            ("cpu", 1.0, "2026-11-18 00:00:00", "5m")]  # the Go server's own rollup row
    store = _store_with(tmp_path, rows)
    try:
        walked, every = _both(store, "cpu")
        assert walked == every
        first, last = walked
        assert (first // 1_000_000, last // 1_000_000) == (1795118400, 1795287600)
    finally:
        store.close()


@pytest.mark.parametrize("odd", ["1764120919", "2461000.5", "Nov 20 2026", "now", 1764120919, 2461000.5, b"2026-11-20"])
def test_any_other_layout_reads_every_row(tmp_path, monkeypatch, odd):
    """A number, a Julian day, another layout, a blob: the date part is no longer in text
    order, so the whole metric is read (and the answer is the same)."""
    calls = []
    every = rx.every_instant
    monkeypatch.setattr(rx, "every_instant", lambda *a: calls.append(1) or every(*a))
    store = _store_with(tmp_path, [("cpu", 1.0, "2026-11-20 10:00:00", "raw"),
                                   ("cpu", 1.0, odd, "raw"),
                                   ("cpu", 1.0, "2026-11-22 10:00:00", "raw")])
    try:
        with store.connection(), store.db.atomic():
            assert rx.raw_extent(store.metrics, "cpu") == every(store.metrics, "cpu")
        assert calls == [1]
    finally:
        store.close()


def test_a_31st_of_february_sorts_before_the_1st_of_march_but_comes_after(tmp_path, monkeypatch):
    """SQLite reads 2026-02-31 as 2026-03-03: the last instant can sort two days early."""
    monkeypatch.setattr(rx, "WINDOW", 1)
    rows = [("cpu", 1.0, "2026-02-31 00:00:00", "raw"),  # 2026-03-03 00:00 UTC: the last
            ("cpu", 1.0, "2026-03-01 23:00:00-14:00", "raw"),  # 2026-03-02 13:00 UTC
            ("cpu", 1.0, "2026-02-27 12:00:00", "raw")]
    store = _store_with(tmp_path, rows)
    try:
        walked, every = _both(store, "cpu")
        assert walked == every and walked[1] // 1_000_000 == 1772496000
    finally:
        store.close()


def test_data_spanning_less_than_the_margin_is_walked_once(tmp_path, monkeypatch):
    """A day of samples (the seed's raw retention): the walk from the start meets every
    row, so it has the last instant too and no walk from the end follows."""
    monkeypatch.setattr(rx, "WINDOW", 7)
    walks = []
    walk = rx._walk
    monkeypatch.setattr(rx, "_walk", lambda m, n, ascending: walks.append(ascending) or walk(m, n, ascending))
    rows = [("cpu", float(i), f"2026-11-20 {i % 24:02d}:{i % 60:02d}:00+0{i % 3}:00", "raw") for i in range(50)]
    store = _store_with(tmp_path, rows)
    try:
        walked, every = _both(store, "cpu")
        assert walked == every and walks == [True]
    finally:
        store.close()


def test_data_spanning_weeks_is_walked_from_both_ends_and_not_through(tmp_path, monkeypatch):
    monkeypatch.setattr(rx, "WINDOW", 10)
    seen = []
    instants = rx.instants_us
    monkeypatch.setattr(rx, "instants_us", lambda db, texts, u: seen.append(len(texts)) or instants(db, texts, u))
    rows = [("cpu", 1.0, f"2026-{10 + d // 28:02d}-{1 + d % 28:02d} {h:02d}:00:00", "raw")
            for d in range(56) for h in range(0, 24, 2)]  # 672 rows over eight weeks
    store = _store_with(tmp_path, rows)
    try:
        with store.connection(), store.db.atomic():
            walked = rx.raw_extent(store.metrics, "cpu")
            walked_rows = sum(seen)
            assert walked == rx.every_instant(store.metrics, "cpu")
        assert walked_rows < 200, walked_rows  # about five days from each end, not 672 rows
    finally:
        store.close()
