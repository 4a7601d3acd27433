"""Listing sandboxes: SandboxStore pages vs raw sqlite3 on the same 200,000 rows.

Baselines:
- "same SQL": the exact statement(s) SandboxStore runs, through a bare sqlite3
  connection, rows left as tuples: the ratio is our overhead (query building and
  turning rows into records with parsed times and JSON).
- "text order": the query one would write by hand, ``ORDER BY created_at DESC`` on the
  Go server's index. Faster still, but wrong across time zones (SCHEMA.md); the ratio is
  the price of ordering by instant and returning records.
- "exact count": ``count(*)`` with the filter, which count_estimate avoids.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from sandbox_admin.storage import SandboxFilter, create_store, open_store

from .harness import Figure, best_of, scratch_dir

UTC = timezone.utc
INSERT = (
    "INSERT INTO sandboxes (id, container_id, status, working_dir, environment, created_at, "
    "updated_at, config, metadata, version, deleted_at, recovery_data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
ZONES = [timezone(timedelta(minutes=m)) for m in (0, 0, 0, -420, 330, 120)]


def _text(rnd: random.Random, instant: datetime) -> str:
    """Go's driver form in a random zone, or CURRENT_TIMESTAMP's."""
    if rnd.random() < 0.15:
        return instant.strftime("%Y-%m-%d %H:%M:%S")
    local = instant.astimezone(rnd.choice(ZONES))
    return local.isoformat(sep=" ")


def _rows(n: int):
    rnd = random.Random(11)
    base = datetime(2026, 9, 1, tzinfo=UTC)
    for i in range(n):
        created = base + timedelta(microseconds=rnd.randrange(60 * 86400 * 10**6))
        updated = created + timedelta(seconds=rnd.randrange(86400))
        deleted = _text(rnd, updated) if rnd.random() < 0.01 else None
        yield (f"sbx-{i:07d}", f"ctr-{i:x}", rnd.choice(("running", "stopped", "failed", "creating")),
               "/workspace", '{"HOME":"/root","LANG":"C.UTF-8"}', _text(rnd, created),
               _text(rnd, updated), '{"image":"python:3.11"}', "null", 1, deleted, "null")


def _build(path: Path, n: int) -> None:
    create_store(path).close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA cache_size = -64000")
    with con:
        con.executemany(INSERT, _rows(n))
    con.close()


def _captured(store: Any, action: Callable[[], Any]) -> list[tuple[str, list]]:
    """The SELECTs ``action`` runs (to replay them through bare sqlite3)."""
    seen: list[tuple[str, list]] = []
    hook = lambda event: seen.append((event.sql, list(event.params)))  # noqa: E731
    store.db.query_hooks.append(hook)
    try:
        action()
    finally:
        store.db.query_hooks.remove(hook)
    return [(sql, params) for sql, params in seen if "ORDER BY" in sql or "count" in sql.lower()]


def run(quick: bool = False) -> list[Figure]:
    n = 50_000 if quick else 200_000
    repeat = 5 if quick else 20
    label = f"{n // 1000}k"
    with scratch_dir() as tmp:
        path = tmp / "sandboxes.db"
        _build(path, n)
        raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        store = open_store(path, read_only=True)
        st = store.sandboxes
        try:
            first = _captured(store, lambda: st.page(limit=200))

            def replay(statements: list[tuple[str, list]]) -> Callable[[], None]:
                return lambda: [raw.execute(sql, params).fetchall() for sql, params in statements]

            figures = [
                Figure(f"first page of {label} sandboxes (newest by instant)",
                       best_of(lambda: st.page(limit=200), repeat), best_of(replay(first), repeat),
                       note="vs the same SQL through bare sqlite3 (tuples, no parsing)"),
                Figure(f"first page of {label} sandboxes vs text order",
                       best_of(lambda: st.page(limit=200), repeat),
                       best_of(lambda: raw.execute(
                           "SELECT * FROM sandboxes WHERE +deleted_at IS NULL "
                           "ORDER BY created_at DESC, id DESC LIMIT 200").fetchall(), repeat),
                       note="hand-written text ORDER BY: fast but wrong across offsets"),
            ]
            cursor = None
            for _ in range(n // 400):  # half way through at 200 a page
                cursor = st.page(after=cursor, limit=200).next_cursor
            deep = _captured(store, lambda: st.page(after=cursor, limit=200))
            figures.append(Figure(
                f"page {n // 400 + 1} of {label} sandboxes (keyset)",
                best_of(lambda: st.page(after=cursor, limit=200), repeat), best_of(replay(deep), repeat),
                note="vs the same SQL through bare sqlite3; no OFFSET, so as fast as page 1"))
            flt = SandboxFilter(statuses=frozenset({"running"}), text="ctr-")
            figures.append(Figure(
                f"count_estimate, {label} sandboxes, status + text filter",
                best_of(lambda: st.count_estimate(flt), repeat),
                best_of(lambda: raw.execute(
                    "SELECT count(*) FROM sandboxes WHERE deleted_at IS NULL AND status = 'running' "
                    "AND (id LIKE '%ctr-%' OR container_id LIKE '%ctr-%')").fetchone(), max(3, repeat // 4)),
                note="vs the exact count(*) it stands in for"))
        finally:
            store.close()
            raw.close()
    return figures
