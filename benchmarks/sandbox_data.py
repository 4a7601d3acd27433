"""Generated sandboxes for paging tests and GUI benchmarks (raw executemany: fast).

Values are written as the Go server writes them (SCHEMA.md): UTC text timestamps
with a space separator, compact JSON, the text ``null`` for absent maps, no SQL NULL
where Go forbids it. Deterministic for a given ``n`` and ``seed``.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

STATUSES = ("running", "running", "running", "stopped", "stopped", "creating", "failed", "paused")
COLUMNS = (
    "id", "container_id", "status", "working_dir", "environment", "created_at", "updated_at",
    "config", "metadata", "version", "deleted_at", "recovery_data", "cpu_usage_seconds",
    "memory_usage_bytes", "disk_usage_bytes", "network_rx_bytes", "network_tx_bytes",
    "last_resource_update",
)
INSERT = (f"INSERT INTO sandboxes ({', '.join(COLUMNS)}) "  # constant text, values are bound
          f"VALUES ({', '.join('?' for _ in COLUMNS)})")


def _ts(value: datetime) -> str:
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    return text + "+00:00"


def rows(n: int, seed: int = 7, deleted_every: int = 20,
         now: datetime | None = None) -> Iterator[tuple]:
    """``n`` sandbox rows; every ``deleted_every``-th one is soft-deleted."""
    rnd = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    span = 60 * 86400
    for i in range(n):
        sid = f"{rnd.getrandbits(32):08x}-{i >> 16 & 0xffff:04x}-4{i & 0xfff:03x}-8{rnd.getrandbits(12):03x}-{i:012x}"
        created = now - timedelta(seconds=rnd.random() * span)
        updated = created + timedelta(seconds=rnd.random() * 3600)
        deleted = _ts(updated + timedelta(minutes=5)) if deleted_every and i % deleted_every == 0 else None
        status = STATUSES[rnd.randrange(len(STATUSES))]
        yield (
            sid, f"sandbox-{sid[:8]}", status, "/workspace",
            '{"HOME":"/root","LANG":"C.UTF-8"}', _ts(created), _ts(updated),
            '{"image":"python:3.12-slim"}', "null", 1 + (i % 3), deleted, "null",
            round(rnd.random() * 5000, 3), rnd.randrange(1 << 31), rnd.randrange(1 << 33),
            rnd.randrange(1 << 30), rnd.randrange(1 << 28), _ts(updated),
        )


def generate(path: Path, n: int, **kwargs) -> dict[str, int]:
    """Insert ``n`` sandboxes into the (existing, migrated) database at ``path``.

    Returns counts: ``total``, ``live`` (not soft-deleted), ``deleted``.
    """
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-262144")  # 256 MiB: random-id index inserts stay in memory
        with con:
            con.executemany(INSERT, rows(n, **kwargs))
        con.execute("ANALYZE")
        live = con.execute("SELECT count(*) FROM sandboxes WHERE deleted_at IS NULL").fetchone()[0]
    finally:
        con.close()
    return {"total": n, "live": live, "deleted": n - live}
