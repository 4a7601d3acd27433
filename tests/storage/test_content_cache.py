"""ContentCache on real files: statistics, listing and eviction least recently used first
under a size budget (by instant, whatever zone a row was written in), clear, Go shapes."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from sandbox_admin.storage import errors

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def cached(fresh_store):
    """Five cached files of 100..500 bytes, read at different times."""
    fresh_store.sandboxes.create("sb", "running")
    ids = [fresh_store.files.create("sb", f"/f{i}.txt", b"x" * (100 * (i + 1))).id for i in range(5)]
    c = fresh_store.cache
    for i, fid in enumerate(ids):
        c.put(fid, b"x" * (100 * (i + 1)), at=T0)
    # last reads: f3 oldest, then f0, f4, f1; f2 read never (cached at T0: the oldest of all)
    for fid, minutes in ((ids[3], 5), (ids[0], 10), (ids[4], 20), (ids[1], 30)):
        c.touch(fid, at=T0 + timedelta(minutes=minutes))
    c.touch(ids[1], at=T0 + timedelta(minutes=31))
    con = sqlite3.connect(fresh_store.path)  # f2 written by a server at -07:00, never read
    con.execute("UPDATE file_content_cache SET last_accessed=NULL, cached_at='2026-11-20 04:59:00-07:00' "
                "WHERE file_id=?", (ids[2],))
    con.commit()
    con.close()
    return fresh_store, ids


def test_stats_and_listing(cached):
    store, ids = cached
    s = store.cache.stats()
    assert (s.entries, s.bytes, s.hits, s.compressed) == (5, 1500, 5, 0)
    assert s.oldest_access == T0 - timedelta(minutes=1) and s.newest_access == T0 + timedelta(minutes=31)
    entries = store.cache.entries()
    assert [e.file_id for e in entries] == [ids[2], ids[3], ids[0], ids[4], ids[1]]
    assert entries[0].file_path == "/f2.txt" and entries[0].size_bytes == 300
    assert entries[-1].access_count == 2
    assert store.cache.entries(after=(entries[1].key, entries[1].file_id), limit=2) == entries[2:4]
    row = sqlite3.connect(store.path).execute(
        "SELECT content_hash, compressed, access_count FROM file_content_cache WHERE file_id=?",
        (ids[0],)).fetchone()
    assert row == (hashlib.sha256(b"x" * 100).hexdigest(), 0, 1)


def test_eviction_removes_least_recently_accessed_first_until_the_budget_fits(cached):
    store, ids = cached
    r = store.cache.evict_to(1000)  # 1500 -> drop f2 (300), f3 (400): 800 left
    assert r.removed_ids == [ids[2], ids[3]] and (r.freed_bytes, r.remaining_bytes) == (700, 800)
    assert store.cache.evict_to(800).removed == 0  # fits already
    r = store.cache.evict_to(799)
    assert r.removed_ids == [ids[0]] and r.remaining_bytes == 700 and r.remaining_entries == 2
    assert [e.file_id for e in store.cache.entries()] == [ids[4], ids[1]]
    assert store.files.read_content(ids[2]) == b"x" * 300  # the file itself is untouched
    with pytest.raises(errors.InvalidInput):
        store.cache.evict_to(-1)


def test_clear_and_read_only(cached, tmp_path):
    store, ids = cached
    r = store.cache.clear()
    assert (r.removed, r.freed_bytes, r.remaining_bytes) == (5, 1500, 0)
    assert store.cache.stats().entries == 0 and store.cache.stats().oldest_access is None
    from sandbox_admin.storage import open_store

    with open_store(store.path, read_only=True) as ro:
        with pytest.raises(errors.ReadOnly):
            ro.cache.clear()


def test_go_fixture_cache_is_empty_and_writable(go_store):
    assert go_store.cache.stats().entries == 0
    fid = go_store.db.execute_sql("SELECT id FROM file_metadata LIMIT 1").fetchone()[0]
    go_store.cache.put(fid, b"abc", compressed=True)
    s = go_store.cache.stats()
    assert (s.entries, s.bytes, s.compressed) == (1, 3, 1)
