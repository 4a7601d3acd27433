"""Helpers for the file store tests: sandboxes and Go-style file rows written raw."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from sandbox_admin.storage.fields import utcnow


def add_sandbox(store, sandbox_id: str = "sb-1", *, deleted: bool = False) -> str:  # type: ignore[no-untyped-def]
    now = utcnow()
    store.models.Sandbox.insert(
        id=sandbox_id, status="running", created_at=now, updated_at=now,
        deleted_at=now if deleted else None,
    ).execute()
    return sandbox_id


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection (foreign keys off, trusted schema) for writing Go-like rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    return conn


GO_INSERT = (
    "INSERT INTO file_metadata (sandbox_id, file_path, checksum, size_bytes, mime_type, created_at, "
    "updated_at, version, parent_file_id, metadata, search_content, access_count, last_accessed) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 1, NULL, '{}', ?, 0, NULL)"
)


def go_file(conn: sqlite3.Connection, sandbox_id: str, file_path: str, *, content: bytes | None = None,
            search_content: str = "", size: int | None = None, mime: str = "text/plain",
            updated_at: str = "2026-11-24 05:21:38.261790967+00:00", chunk_size: int = 65536) -> int:
    """A file row as the Go server writes it; with ``content``, fixed-size chunks too."""
    if content is None:
        checksum = hashlib.sha256(f"{sandbox_id}:{file_path}".encode()).hexdigest()
    else:
        checksum = hashlib.sha256(content).hexdigest()
    cur = conn.execute(GO_INSERT, (sandbox_id, file_path, checksum,
                                   len(content) if content is not None else (size or 0), mime,
                                   updated_at, updated_at, search_content))
    file_id = int(cur.lastrowid)
    if content:
        for order, start in enumerate(range(0, len(content), chunk_size)):
            piece = content[start:start + chunk_size]
            digest = hashlib.sha256(piece).hexdigest()
            conn.execute(
                "INSERT INTO file_chunks (chunk_hash, data, size_bytes, ref_count, created_at) "
                "VALUES (?, ?, ?, 1, CURRENT_TIMESTAMP) "
                "ON CONFLICT(chunk_hash) DO UPDATE SET ref_count = ref_count + 1",
                (digest, piece, len(piece)),
            )
            conn.execute("INSERT INTO file_chunk_refs (file_id, chunk_hash, chunk_order) VALUES (?, ?, ?)",
                         (file_id, digest, order))
    return file_id
