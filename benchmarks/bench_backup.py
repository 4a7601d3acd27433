"""Backup and restore of a ~500 MB database vs ``cp`` of the same file, in the same run.

The database is generated once (random 64 KiB chunk blobs, so nothing compresses)
in a scratch folder that is deleted afterwards. ``--quick`` uses 64 MB.

Figures:
- the copy alone (SQLite's backup API from a held snapshot) against ``cp``, for
  several pages-per-step choices and page sizes;
- copy + fsync against ``cp`` + fsync (our backups are made durable; ``cp`` is not);
- the whole backup (copy, fsync, integrity_check, sha256, description) and the whole
  restore (verify the backup, safety backup, copy into the live WAL database in one
  transaction, integrity_check, checkpoint, audit entry) against ``cp`` + fsync.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from pathlib import Path

from sandbox_admin.storage import create_store, open_store
from sandbox_admin.storage.backup import DEFAULT_PAGES_PER_STEP
from sandbox_admin.storage.backup_files import fsync_file

from .harness import Figure, best_of, scratch_dir

_INSERT = ("INSERT INTO file_chunks (chunk_hash, data, size_bytes, ref_count, created_at) "
           "VALUES (?, ?, ?, 1, '2026-01-01 00:00:00+00:00')")
_PAGE_SIZE_SQL = {16384: "PRAGMA page_size=16384", 65536: "PRAGMA page_size=65536"}


def _generate(path: Path, megabytes: int) -> None:
    create_store(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    batch = []
    for _ in range(megabytes * 16):
        data = os.urandom(65536)
        batch.append((hashlib.sha256(data).hexdigest(), data, len(data)))
        if len(batch) == 128:
            conn.executemany(_INSERT, batch)
            batch = []
    if batch:
        conn.executemany(_INSERT, batch)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _with_page_size(src: Path, dst: Path, page_size: int) -> None:
    conn = sqlite3.connect(src, isolation_level=None)
    try:
        conn.execute("VACUUM INTO ?", (str(dst),))  # a path bound as a parameter
    finally:
        conn.close()
    conn = sqlite3.connect(dst, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute(_PAGE_SIZE_SQL[page_size])
        conn.execute("VACUUM")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def _remove(*paths: Path) -> None:
    for p in paths:
        for q in (p, Path(f"{p}-wal"), Path(f"{p}-shm"), Path(f"{p}-journal")):
            if q.exists():
                q.unlink()


def _cp(src: Path, dst: Path, sync: bool = False) -> None:
    _remove(dst)
    subprocess.run(["cp", str(src), str(dst)], check=True)
    if sync:
        fsync_file(dst)


def run(quick: bool = False) -> list[Figure]:
    megabytes = 64 if quick else 500
    repeat = 2 if quick else 3
    figures: list[Figure] = []
    with scratch_dir() as tmp:
        src = tmp / "source.db"
        _generate(src, megabytes)
        size = src.stat().st_size
        label = f"{size / 1e6:.0f} MB"
        copy = tmp / "copy.db"
        backups = tmp / "backups"
        part = tmp / "partial.db"

        cp_time = best_of(lambda: _cp(src, copy), repeat)
        cp_sync = best_of(lambda: _cp(src, copy, sync=True), repeat)

        with open_store(src) as store:
            manager = store.backups

            def copy_only(pages: int) -> None:
                _remove(part)
                manager._copy_out(part, None, None, pages, 30.0)

            def copy_sync() -> None:
                copy_only(DEFAULT_PAGES_PER_STEP)
                fsync_file(part)

            for pages in (256, DEFAULT_PAGES_PER_STEP, 65536, -1):
                t = best_of(lambda: copy_only(pages), repeat)
                chosen = " (default)" if pages == DEFAULT_PAGES_PER_STEP else ""
                figures.append(Figure(
                    f"backup copy {label}, {'all' if pages < 0 else pages} pages/step{chosen}",
                    t, cp_time, target="<= 1.2x" if chosen else "",
                    note="backup API from a held snapshot vs cp"))
            figures.append(Figure(f"backup copy + fsync {label}", best_of(copy_sync, repeat),
                                  cp_sync, note="vs cp + fsync"))

            created: list[Path] = []

            def full_backup() -> None:
                created.append(manager.create(backups).path)

            figures.append(Figure(f"full backup {label}", best_of(full_backup, repeat), cp_sync,
                                  note="copy, fsync, integrity_check, sha256, description; "
                                       "vs cp + fsync"))
            backup = created[-1]
            for p in created[:-1]:
                _remove(p, Path(f"{p}.json"))
        _remove(part)

        live = tmp / "live.db"
        _cp(src, live)
        with open_store(live) as store:
            manager = store.backups

            def restore_copy() -> None:
                manager._copy_in(backup, backup, None, None, DEFAULT_PAGES_PER_STEP, 30.0)

            figures.append(Figure(
                f"restore copy {label}", best_of(restore_copy, repeat), cp_sync,
                note="backup API into the live WAL db: one durable transaction (WAL), then "
                     "checkpoint; vs cp + fsync"))
            safety = tmp / "safety"

            def full_restore() -> None:
                result = manager.restore(backup, safety_dir=safety)
                _remove(result.safety_backup, Path(f"{result.safety_backup}.json"))

            figures.append(Figure(
                f"full restore {label}", best_of(full_restore, repeat), cp_sync,
                note="verify backup, safety backup, copy, integrity_check, checkpoint, audit; "
                     "vs cp + fsync"))
        _remove(live, copy, backup)

        # Page size: fewer, larger pages mean fewer write calls (a smaller file to keep it short).
        small = tmp / "small.db"
        _generate(small, max(16, megabytes // 4))
        for page_size in (16384, 65536):
            variant = tmp / f"p{page_size}.db"
            _with_page_size(small, variant, page_size)
            base = best_of(lambda: _cp(variant, copy), repeat)
            with open_store(variant) as store:
                def copy_variant() -> None:
                    _remove(part)
                    store.backups._copy_out(part, None, None, DEFAULT_PAGES_PER_STEP, 30.0)

                t = best_of(copy_variant, repeat)
            figures.append(Figure(
                f"backup copy {variant.stat().st_size / 1e6:.0f} MB, page size {page_size}",
                t, base, note="vs cp of the same file"))
            _remove(variant, part, copy)
        base = best_of(lambda: _cp(small, copy), repeat)
        with open_store(small) as store:
            def copy_small() -> None:
                _remove(part)
                store.backups._copy_out(part, None, None, DEFAULT_PAGES_PER_STEP, 30.0)

            figures.append(Figure(
                f"backup copy {small.stat().st_size / 1e6:.0f} MB, page size 4096",
                best_of(copy_small, repeat), base, note="vs cp of the same file"))
    return figures
