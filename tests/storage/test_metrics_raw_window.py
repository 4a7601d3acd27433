"""A narrow window's raw samples, read between the texts the name/time index finds for
it, are exactly those the whole-day prefilter reads: across offsets, separators, odd
values, other periods, metrics and sandboxes."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import pytest

from sandbox_admin.storage import create_store
from sandbox_admin.storage.metrics import raw_window as rw

from .test_metrics_raw_extent import _near, _store_with

UTC = timezone.utc


def _answer(store, name, start, end, **kw):
    series = store.metrics.aggregate(name, step_seconds=60, start=start, end=end, source="raw", **kw)
    return json.dumps([s.as_dict() for s in series], sort_keys=True, default=str)


def _both(store, monkeypatch, name, start, end, **kw):
    narrowed = _answer(store, name, start, end, **kw)
    monkeypatch.setattr(rw, "NARROW", -1.0)  # never: the day prefilter alone
    try:
        return narrowed, _answer(store, name, start, end, **kw)
    finally:
        monkeypatch.setattr(rw, "NARROW", 0.5)


@pytest.mark.parametrize("seed", range(10))
def test_a_narrow_window_reads_the_same_samples(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    rows = []
    for text in _near(rng, 400):
        value = rng.choice([1.0, 2, "n/a", b"\x01"]) if rng.random() < 0.15 else rng.random()
        period = "1m" if rng.random() < 0.1 else rng.choice(["raw", None])
        rows.append(("cpu" if rng.random() < 0.8 else "mem", value, text, period))
    rows.append(("cpu", 1.0, None, "raw"))
    store = _store_with(tmp_path, rows)
    try:
        seen = 0
        for _ in range(12):
            start = datetime(2026, 11, 10, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 6 * 1440))
            end = start + timedelta(minutes=rng.choice([1, 30, 60, 180, 720, 1440]))
            for name in ("cpu", "mem"):
                narrowed, whole = _both(store, monkeypatch, name, start, end)
                assert narrowed == whole, (seed, name, start, end)
                seen += narrowed != "[]"
        assert seen, "some windows hold samples"
    finally:
        store.close()


def test_offsets_put_the_window_s_texts_far_from_its_hours(tmp_path, monkeypatch):
    """An hour's samples written with offsets of -12 and +14 hours: their texts lie a day
    apart, and the rows between them are read and left out by their instants."""
    rows = [("cpu", 1.0, "2026-11-20 10:30:00", "raw"),  # in
            ("cpu", 2.0, "2026-11-20 00:15:00-10:00", "raw"),  # 10:15 UTC: in
            ("cpu", 3.0, "2026-11-21 00:45:00+14:00", "raw"),  # 10:45 UTC: in
            ("cpu", 4.0, "2026-11-20 12:00:00", "raw"),  # between the texts, out
            ("cpu", 5.0, "2026-11-20T10:59:59.999999Z", "raw"),  # in
            ("cpu", 6.0, "2026-11-20 11:00:00", "raw")]  # the end: out
    store = _store_with(tmp_path, rows)
    try:
        start, end = datetime(2026, 11, 20, 10, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC)
        with store.connection(), store.db.atomic():
            texts = rw.window_texts(store.metrics, ["cpu"], int(start.timestamp() * 1e6), int(end.timestamp() * 1e6))
        assert texts == ("2026-11-20 00:15:00-10:00", "2026-11-21 00:45:00+14:00")
        narrowed, whole = _both(store, monkeypatch, "cpu", start, end)
        assert narrowed == whole
        points = json.loads(narrowed)[0]["points"]
        assert sum(p["count"] for p in points) == 4 and max(p["max"] for p in points) == 5.0
    finally:
        store.close()


def test_no_sample_in_the_window_reads_no_row(tmp_path, monkeypatch):
    store = _store_with(tmp_path, [("cpu", 1.0, "2026-11-20 10:30:00", "raw")])
    try:
        start = datetime(2026, 11, 20, 12, tzinfo=UTC)
        with store.connection(), store.db.atomic():
            assert rw.window_texts(store.metrics, ["cpu"], int(start.timestamp() * 1e6),
                                   int(start.timestamp() * 1e6) + 3_600_000_000) == rw.EMPTY
        assert _both(store, monkeypatch, "cpu", start, start + timedelta(hours=1)) == ("[]", "[]")
    finally:
        store.close()


def test_a_wide_window_keeps_the_day_prefilter(tmp_path):
    store = create_store(tmp_path / "x.db")
    try:
        with store.connection(), store.db.atomic():
            day = 86_400_000_000
            assert rw.window_texts(store.metrics, ["cpu"], 0, 7 * day) is None  # a week
            assert rw.window_texts(store.metrics, ["cpu"], 0, day // 24) == rw.EMPTY  # an hour
            assert rw.window_texts(store.metrics, None, 0, day // 24) is None  # every metric
    finally:
        store.close()


def test_a_sandbox_s_narrow_window(tmp_path, monkeypatch):
    rng = random.Random(7)
    store = create_store(tmp_path / "x.db")
    try:
        for sid in ("sb-a", "sb-b"):
            store.models.Sandbox.create(id=sid, status="running")
        rows = [("cpu", rng.random(), text, rng.choice(["sb-a", "sb-b"])) for text in _near(rng, 300)]
        with store.db.atomic():
            store.db.connection().executemany(
                "INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id, "
                "aggregation_period) VALUES (?, 'gauge', '{}', ?, ?, ?, 'raw')", rows)
        start = datetime(2026, 11, 12, 6, tzinfo=UTC)
        narrowed, whole = _both(store, monkeypatch, "cpu", start, start + timedelta(hours=6), sandbox_id="sb-b")
        assert narrowed == whole and narrowed != "[]"
    finally:
        store.close()
