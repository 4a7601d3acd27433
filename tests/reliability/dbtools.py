"""Test tools for backup/restore: sandbox databases with data, and content digests.

The digest is for "old or new, never a mix" checks.

Every table in ``sqlite_master`` (FTS5 shadow tables and sqlite_sequence included),
in name order; every row, sorted by its repr (WITHOUT ROWID tables have no rowid to
order by). Two databases with the same digest hold the same data.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Iterable


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _row_key(row: tuple) -> tuple:
    """Blobs by their hash (repr of big blobs is slow); everything else as it is."""
    return tuple(("blob", hashlib.sha256(v).hexdigest()) if isinstance(v, bytes) else v
                 for v in row)


def content_digest(conn: sqlite3.Connection, exclude_audit_ids: Iterable[int] = ()) -> str:
    """Digest of everything ``conn`` sees (call inside a transaction for one snapshot)."""
    skip = set(exclude_audit_ids)
    digest = hashlib.sha256()
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    for name in names:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name=?", (name,)).fetchone()[0]
        if sql and sql.upper().startswith("CREATE VIRTUAL TABLE"):
            continue  # its content lives in its shadow tables, which are digested
        digest.update(b"\x00table\x00" + name.encode())
        if name == "audit_trail" and skip:
            rows = conn.execute("SELECT id, * FROM audit_trail").fetchall()
            rows = [r[1:] for r in rows if r[0] not in skip]
        elif name == "sqlite_sequence" and skip:
            # AUTOINCREMENT: each skipped audit entry took the next number (seq + 1).
            # (The row appears with the first entry ever: seq 0 means "no row".)
            rows = [(n, s - len(skip)) if n == "audit_trail" else (n, s)
                    for n, s in conn.execute("SELECT name, seq FROM sqlite_sequence")]
            rows = [r for r in rows if not (r[0] == "audit_trail" and r[1] <= 0)]
        else:
            rows = conn.execute("SELECT * FROM " + _quoted(name)).fetchall()
        for text in sorted(repr(_row_key(r)) for r in rows):
            digest.update(text.encode() + b"\n")
    return digest.hexdigest()


def file_digest(path: str, exclude_audit_ids: Iterable[int] = (), *, immutable: bool = False) -> str:
    """Digest of a database file (a normal connection: WAL content included; or
    ``immutable`` for a read-only original such as the Go fixture)."""
    if immutable:
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?immutable=1", uri=True)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("BEGIN")
        return content_digest(conn, exclude_audit_ids)
    finally:
        conn.close()


def last_audit(conn: sqlite3.Connection) -> tuple | None:
    """(id, entity_type, action, user_id, metadata) of the newest audit entry."""
    return conn.execute(
        "SELECT id, entity_type, action, user_id, metadata FROM audit_trail ORDER BY id DESC LIMIT 1"
    ).fetchone()


def make_sandbox_db(path, *, seed: int, sandboxes: int = 5, metrics: int = 500,
                    blob_kib: int = 1024) -> "object":
    """A new sandbox database at the latest schema with deterministic data; returns it closed.

    ``blob_kib`` of random chunk data (incompressible, so the file really has that size).
    """
    import random
    from datetime import datetime, timedelta, timezone

    from sandbox_admin.storage import create_store

    rng = random.Random(seed)
    store = create_store(path)
    m = store.models
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=seed)
    with store.transaction():
        for i in range(sandboxes):
            m.Sandbox.create(id=f"sb-{seed}-{i}", status="running", created_at=t0, updated_at=t0,
                             container_id=f"c{i}", working_dir="/work")
        m.Metric.insert_many([
            {"metric_name": "cpu_usage", "metric_type": "gauge", "labels": {"seed": str(seed)},
             "value": rng.random(), "timestamp": t0 + timedelta(seconds=i),
             "sandbox_id": f"sb-{seed}-{i % sandboxes}", "aggregation_period": "raw"}
            for i in range(metrics)
        ]).execute()
        chunks = []
        for _ in range(max(0, blob_kib // 64)):
            data = rng.randbytes(64 * 1024)
            chunks.append({"chunk_hash": hashlib.sha256(data).hexdigest(), "data": data,
                           "size_bytes": len(data), "ref_count": 1, "created_at": t0})
        for start in range(0, len(chunks), 50):
            m.FileChunk.insert_many(chunks[start:start + 50]).execute()
    store.close()
    return path
