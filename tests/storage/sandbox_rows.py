"""Sandbox rows written the way the Go server (and SQLite defaults) write them, in bulk.

Raw sqlite3 ``executemany``: 200,000 rows in a couple of seconds, with the timestamp
forms SCHEMA.md lists mixed in (Go's nanoseconds with ``+00:00``, other offsets,
``CURRENT_TIMESTAMP``'s ``2026-11-26 01:35:19``).
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

UTC = timezone.utc
BASE = datetime(2026, 9, 1, tzinfo=UTC)
STATUSES = ("running", "stopped", "failed", "creating")
INSERT = (
    "INSERT INTO sandboxes (id, container_id, status, working_dir, environment, created_at, "
    "updated_at, config, metadata, version, deleted_at, recovery_data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


_ZONES: dict[int, timezone] = {}


def go_text(instant: datetime, nanos: int = 0, offset_minutes: int = 0, *, current: bool = False) -> str:
    """``instant`` as stored text: Go's driver form in a zone ``offset_minutes`` east of
    UTC (fraction with nanoseconds, zeros trimmed), or CURRENT_TIMESTAMP's form."""
    if current:
        return instant.astimezone(UTC).isoformat(sep=" ", timespec="seconds")[:19]
    zone = _ZONES.get(offset_minutes)
    if zone is None:
        zone = _ZONES[offset_minutes] = timezone(timedelta(minutes=offset_minutes))
    text = instant.astimezone(zone).isoformat(sep=" ", timespec="microseconds")
    body, offset = text[:-6], text[-6:]
    fraction = (body[20:] + f"{nanos:03d}").rstrip("0")
    return body[:19] + ("." + fraction if fraction else "") + offset


def random_text(rnd: random.Random, instant: datetime) -> str:
    """One of the forms found in real databases, chosen at random."""
    pick = rnd.random()
    if pick < 0.6:
        return go_text(instant, rnd.randrange(1000))
    if pick < 0.85:
        return go_text(instant, rnd.randrange(1000), rnd.choice((-420, 330, 120, -300, 60)))
    return go_text(instant.replace(microsecond=0), current=True)


def generate(n: int, *, seed: int = 1, prefix: str = "sbx", deleted_share: float = 0.01,
             start: int = 0) -> Iterator[tuple]:
    rnd = random.Random(seed)
    for i in range(start, start + n):
        created = BASE + timedelta(microseconds=rnd.randrange(60 * 86400 * 10**6))
        updated = created + timedelta(microseconds=rnd.randrange(86400 * 10**6))
        deleted = random_text(rnd, updated) if rnd.random() < deleted_share else None
        yield (
            f"{prefix}-{i:07d}", f"ctr-{i:x}", rnd.choice(STATUSES), "/workspace",
            '{"HOME":"/root"}', random_text(rnd, created), random_text(rnd, updated), "{}",
            "null", 1, deleted, "null",
        )


def insert(path: Path | str, rows: Iterator[tuple]) -> None:
    con = sqlite3.connect(path, timeout=30)
    try:
        con.execute("PRAGMA cache_size = -64000")  # random index inserts: keep pages in memory
        with con:
            con.executemany(INSERT, rows)
    finally:
        con.close()
