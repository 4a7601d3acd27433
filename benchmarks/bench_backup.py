"""Backup and restore of a ~500 MB database vs ``cp`` of the same file, in the same run.

The database is generated once (random 64 KiB chunk blobs, so nothing compresses)
in a scratch folder that is deleted afterwards. ``--quick`` uses 64 MB.

Figures:
- the copy alone, by the path the manager really takes ("auto": the snapshot copy of
  backup_snapshot.py on this idle WAL database), against ``cp``: the headline;
- the same snapshot copy done by ``cp`` in the child (the frozen-app copier);
- the copy with SQLite's backup API from a held snapshot (the fallback path), and the
  backup API for larger page sizes;
- copy + fsync against ``cp`` + fsync (our backups are made durable; ``cp`` is not);
- the whole backup (copy, then fsync, sha256 and integrity_check side by side,
  description) and the whole restore (the pages written into the live WAL database,
  uncommitted, while the backup is verified and the safety backup taken; the commit
  after both; check, checkpoint, audit entry) against ``cp`` + fsync.

Every timed call that ends with an fsync, ours and the ``cp`` + fsync baseline alike,
starts with the disk's pending writes flushed (``os.sync``, untimed): otherwise its
fsync also waits for the kernel's writeback of the gigabytes earlier calls wrote.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Callable

from sandbox_admin.storage import BACKUP_API, DEFAULT_PAGES_PER_STEP, SNAPSHOT_COPY, create_store, fsync_file, open_store
from sandbox_admin.storage.backup.files import verify_backup
from sandbox_admin.storage.backup.restore import Restore
from sandbox_admin.storage.backup.restore import _identity as restore_identity

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

    def settled(fn: Callable[[], object]) -> float:
        """Best of ``repeat`` calls that end with an fsync (see the module docstring)."""
        return best_of(fn, repeat, settled=True)
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
        cp_sync = settled(lambda: _cp(src, copy, sync=True))

        with open_store(src) as store:
            manager = store.backups
            taken: list[str] = []

            def copy_only(method: str = "auto") -> None:
                _remove(part)
                taken.append(manager._copy_out(part, None, None, DEFAULT_PAGES_PER_STEP, 30.0,
                                               method)[0])

            def copy_by_cp() -> None:
                _remove(part)
                manager._snapshot_copy(part, None, None, 30.0, copier="cp")

            def copy_sync() -> None:
                copy_only()
                fsync_file(part)

            t = best_of(copy_only, repeat)
            how = {SNAPSHOT_COPY: "snapshot copy: a child copies the file while a read "
                                  "transaction keeps it frozen",
                   BACKUP_API: "backup API from a held snapshot"}
            figures.append(Figure(f"backup copy {label} (auto: {taken[-1]})", t, cp_time,
                                  target="<= 1.2x", note=how[taken[-1]] + "; vs cp"))
            figures.append(Figure(f"backup copy {label}, snapshot copy by cp in the child",
                                  best_of(copy_by_cp, repeat), cp_time,
                                  note="the copier of a frozen app; vs cp"))
            figures.append(Figure(
                f"backup copy {label}, backup API, {DEFAULT_PAGES_PER_STEP} pages/step",
                best_of(lambda: copy_only(BACKUP_API), repeat), cp_time,
                note="the fallback path: backup API from a held snapshot vs cp"))
            figures.append(Figure(f"backup copy + fsync {label}", settled(copy_sync),
                                  cp_sync, note=f"auto ({taken[-1]}); vs cp + fsync"))

            created: list[Path] = []

            def full_backup() -> None:
                created.append(manager.create(backups).path)

            figures.append(Figure(f"full backup {label}", settled(full_backup), cp_sync,
                                  target="<= 3x (#15)", note="copy (auto), then fsync || sha256 || integrity_check, "
                                       "description; vs cp + fsync"))
            backup = created[-1]
            for p in created[:-1]:
                _remove(p, Path(f"{p}.json"))
        _remove(part)

        live = tmp / "live.db"
        _cp(src, live)
        with open_store(live) as store:
            manager = store.backups

            def restore_copy() -> None:
                Restore(manager)._copy_in(backup, backup, None, None, DEFAULT_PAGES_PER_STEP, 30.0)

            figures.append(Figure(
                f"restore copy {label}", settled(restore_copy), cp_sync,
                note="backup API into the live WAL db: one durable transaction (WAL), full "
                     "integrity_check, checkpoint; vs cp + fsync"))
            assert verify_backup(backup).ok
            verified = restore_identity(backup)

            def restore_copy_verified() -> None:
                Restore(manager)._copy_in(backup, backup, None, None, DEFAULT_PAGES_PER_STEP, 30.0,
                                          verified=verified)

            figures.append(Figure(
                f"  restore copy of a verified backup {label}", settled(restore_copy_verified),
                cp_sync, note="as restore does it: WAL write + commit, read-back, checkpoint "
                              "(the write-twice floor of an in-place restore); vs cp + fsync"))
            safety = tmp / "safety"

            def verify_and_safety() -> None:
                _, result = Restore(manager)._verify_and_keep_safety(
                    backup, safety, None, None, DEFAULT_PAGES_PER_STEP, 30.0)
                _remove(result.path, Path(f"{result.path}.json"))

            figures.append(Figure(
                f"  restore: verify backup || safety backup {label}",
                settled(verify_and_safety), cp_sync,
                note="sha256 of the backup (its recorded integrity_check reused when the sha256 "
                     "matches) while the live db is copied and checked, then hashed; vs cp + fsync"))

            def full_restore() -> None:
                # The backup was made from source.db, not live.db: consent is required.
                result = manager.restore(backup, safety_dir=safety, allow_other_database=True)
                _remove(result.safety_backup, Path(f"{result.safety_backup}.json"))

            figures.append(Figure(
                f"full restore {label}", settled(full_restore), cp_sync,
                target="<= 4x (#15)", note="copy (WAL, uncommitted) || verify backup || safety backup, "
                     "commit, check, checkpoint || safety sha256, audit; vs cp + fsync"))
        _remove(live, copy, backup)

        # The backup API's cost is per page: fewer, larger pages mean fewer write calls
        # (a smaller file to keep it short). The snapshot copy does not depend on it.
        small = tmp / "small.db"
        _generate(small, max(16, megabytes // 4))
        for page_size in (16384, 65536):
            variant = tmp / f"p{page_size}.db"
            _with_page_size(small, variant, page_size)
            base = best_of(lambda: _cp(variant, copy), repeat)
            with open_store(variant) as store:
                def copy_variant() -> None:
                    _remove(part)
                    store.backups._copy_out(part, None, None, DEFAULT_PAGES_PER_STEP, 30.0,
                                            BACKUP_API)

                t = best_of(copy_variant, repeat)
            figures.append(Figure(
                f"backup API copy {variant.stat().st_size / 1e6:.0f} MB, page size {page_size}",
                t, base, note="vs cp of the same file"))
            _remove(variant, part, copy)
        base = best_of(lambda: _cp(small, copy), repeat)
        with open_store(small) as store:
            def copy_small() -> None:
                _remove(part)
                store.backups._copy_out(part, None, None, DEFAULT_PAGES_PER_STEP, 30.0,
                                        BACKUP_API)

            figures.append(Figure(
                f"backup API copy {small.stat().st_size / 1e6:.0f} MB, page size 4096",
                best_of(copy_small, repeat), base, note="vs cp of the same file"))
    return figures
