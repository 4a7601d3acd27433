"""FileStore on real SQLite files: metadata, versions, dedup content, export, GC, stats."""

from __future__ import annotations

import hashlib
import io
import os
import random
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox_admin.storage import create_store, errors, open_store
from sandbox_admin.storage.files import (
    FileStore,
    go_default_checksum,
    safe_relative_path,
)
from sandbox_admin.storage.files.chunking import CDCChunker, CDCParams, FixedChunker
from sandbox_admin.storage.files.filetypes import (
    base_type,
    decode_text,
    detect_mime,
    is_textual,
    looks_like_text,
)
from sandbox_admin.storage.files.records import EMPTY_SHA256

from .file_helpers import add_sandbox, go_file, raw

SMALL = CDCParams(min_size=64, avg_size=256, max_size=1024)


@pytest.fixture
def store(fresh_store):  # type: ignore[no-untyped-def]
    add_sandbox(fresh_store, "sb-1")
    add_sandbox(fresh_store, "sb-2")
    return fresh_store


@pytest.fixture
def files(store) -> FileStore:  # type: ignore[no-untyped-def]
    return FileStore(store, chunker=CDCChunker(SMALL))


def raw_row(store, file_id: int) -> dict:  # type: ignore[no-untyped-def]
    cur = store.db.execute_sql("SELECT * FROM file_metadata WHERE id = ?", (file_id,))
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone()))


# -- creating -------------------------------------------------------------------------------

def test_create_with_content_derives_everything(store, files: FileStore) -> None:
    text = "import os\nprint('héllo')\n"
    record = files.create("sb-1", "/app/main.py", text, metadata={"owner": "sandbox"})
    assert record.checksum == hashlib.sha256(text.encode()).hexdigest()
    assert record.size_bytes == len(text.encode())
    assert record.mime_type == "text/x-python"
    assert record.version == 1 and record.parent_file_id is None
    assert record.index_state == "full"
    assert files.search_text(record.id) == text
    row = raw_row(store, record.id)
    # Go-compatible values: no NULL where Go cannot read it, UTC text with a space.
    for column in ("checksum", "size_bytes", "mime_type", "metadata", "search_content", "access_count"):
        assert row[column] is not None, column
    assert row["metadata"] == '{"owner":"sandbox"}'
    assert row["created_at"][10] == " " and row["created_at"].endswith("+00:00")
    assert files.read_content(record.id) == text.encode()


def test_create_without_content_uses_the_go_checksum(store, files: FileStore) -> None:
    record = files.create("sb-1", "/data/model.bin")
    assert record.checksum == go_default_checksum("sb-1", "/data/model.bin")
    assert record.checksum == hashlib.sha256(b"sb-1:/data/model.bin").hexdigest()
    assert record.mime_type == "application/octet-stream"
    assert not record.has_content_checksum
    row = raw_row(store, record.id)
    assert row["search_content"] == "" and row["size_bytes"] == 0 and row["metadata"] == "{}"
    with pytest.raises(errors.ContentUnavailable, match="no stored content"):
        files.open_content(record.id)


def test_binary_content_has_no_search_text(files: FileStore) -> None:
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)
    record = files.create("sb-1", "/img/logo.txt", png)  # the name lies; the content wins
    assert record.mime_type == "image/png"
    assert record.index_state == "none" and record.indexed_bytes == 0


def test_long_text_is_indexed_up_to_the_limit(store) -> None:  # type: ignore[no-untyped-def]
    files = FileStore(store, index_limit=1000)
    text = ("word " * 1000).encode()
    record = files.create("sb-1", "/notes.txt", text)
    assert record.indexed_bytes == 1000 and record.index_state == "partial"
    assert files.read_content(record.id) == text


def test_content_from_a_stream_is_chunked_without_reading_it_whole(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    files = FileStore(store)  # default CDC sizes
    data = random.Random(1).randbytes(3 * 1024 * 1024)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    with open(source, "rb") as handle:
        record = files.create("sb-1", "/data/big.bin", handle)
    assert record.size_bytes == len(data)
    assert record.checksum == hashlib.sha256(data).hexdigest()
    stream = files.open_content(record.id)
    blocks = list(stream)
    assert max(len(b) for b in blocks) <= CDCParams().max_size  # one chunk at a time
    assert b"".join(blocks) == data and stream.verified is True and stream.chunk_count == len(blocks)


def test_identical_content_is_stored_once(store, files: FileStore) -> None:
    data = os.urandom(20_000)
    a = files.create("sb-1", "/a.bin", data)
    b = files.create("sb-2", "/b.bin", data)
    chunks = store.db.execute_sql("SELECT count(*), sum(size_bytes), min(ref_count), max(ref_count) "
                                  "FROM file_chunks").fetchone()
    refs = store.db.execute_sql("SELECT count(*) FROM file_chunk_refs").fetchone()[0]
    assert chunks[1] == len(data)  # each piece once
    assert chunks[2] == chunks[3] == 2 and refs == 2 * chunks[0]
    assert files.read_content(a.id) == files.read_content(b.id) == data


def test_a_chunk_repeated_inside_one_file(store) -> None:  # type: ignore[no-untyped-def]
    files = FileStore(store, chunker=FixedChunker(1000))
    block = os.urandom(1000)
    other = os.urandom(1000)
    data = block + other + block + block
    record = files.create("sb-1", "/rep.bin", data)
    refs = store.db.execute_sql(
        "SELECT chunk_order, chunk_hash FROM file_chunk_refs WHERE file_id = ? ORDER BY chunk_order",
        (record.id,)).fetchall()
    assert [o for o, _ in refs] == [0, 1, 2, 3]
    assert refs[0][1] == refs[2][1] == refs[3][1]
    assert store.db.execute_sql("SELECT ref_count FROM file_chunks WHERE chunk_hash = ?",
                                (refs[0][1],)).fetchone()[0] == 3
    assert files.read_content(record.id) == data


def test_empty_content(files: FileStore) -> None:
    record = files.create("sb-1", "/empty.txt", b"")
    assert record.checksum == EMPTY_SHA256 and record.size_bytes == 0
    stream = files.open_content(record.id)
    assert stream.source == "empty" and stream.read_all() == b"" and stream.verified is True


@pytest.mark.parametrize(
    "sandbox, path, kwargs, error, message",
    [
        ("nope", "/a", {}, errors.NotFound, "no sandbox nope"),
        ("gone", "/a", {}, errors.InvalidInput, "is deleted"),
        ("", "/a", {}, errors.InvalidInput, "needs a sandbox"),
        ("sb-1", "", {}, errors.InvalidInput, "needs a path"),
        ("sb-1", "/a\x00b", {}, errors.InvalidInput, "NUL"),
        ("sb-1", "/a", {"content": b"x", "checksum": "abc"}, errors.InvalidInput, "come from the content"),
        ("sb-1", "/a", {"content": 42}, errors.InvalidInput, "must be bytes"),
        ("sb-1", "/a", {"parent_file_id": 999}, errors.NotFound, "id 999"),
    ],
)
def test_create_refuses_bad_input(store, files, sandbox, path, kwargs, error, message) -> None:  # type: ignore[no-untyped-def]
    add_sandbox(store, "gone", deleted=True)
    with pytest.raises(error, match=message):
        files.create(sandbox, path, **kwargs)
    assert store.db.execute_sql("SELECT count(*) FROM file_metadata").fetchone()[0] == 0


def test_read_only_store_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    with create_store(path) as store:
        add_sandbox(store)
    with open_store(path, read_only=True) as store:
        with pytest.raises(errors.ReadOnly):
            store.files.create("sb-1", "/a.txt", b"x")


def test_unknown_trigger_blocks_file_writes(store, files: FileStore) -> None:
    store.db.execute_sql("CREATE TRIGGER sneaky AFTER INSERT ON file_metadata BEGIN SELECT 1; END")
    with pytest.raises(errors.StorageError, match="sneaky"):
        files.create("sb-1", "/a.txt", b"x")
    # ...and trusted_schema is off again afterwards.
    assert store.db.execute_sql("PRAGMA trusted_schema").fetchone()[0] == 0


# -- reading ---------------------------------------------------------------------------------

def test_get_by_path_and_list(files: FileStore) -> None:
    a = files.create("sb-1", "/app/a.py", "a = 1\n")
    b = files.create("sb-1", "/app/b.py", "b = 2\n")
    c = files.create("sb-2", "/lib/c.py", "c = 3\n")
    assert files.get_by_path("sb-1", "/app/b.py").id == b.id
    assert [r.id for r in files.list("sb-1")] == [a.id, b.id]
    assert [r.id for r in files.list(path_prefix="/lib/")] == [c.id]
    assert [r.id for r in files.list(after_id=a.id, limit=1)] == [b.id]
    files.delete(a.id)
    assert [r.id for r in files.list("sb-1")] == [b.id]
    assert [r.id for r in files.list("sb-1", include_deleted=True)] == [a.id, b.id]
    with pytest.raises(errors.NotFound, match="has no file /app/a.py"):
        files.get_by_path("sb-1", "/app/a.py")
    assert files.get_by_path("sb-1", "/app/a.py", include_deleted=True).id == a.id
    with pytest.raises(errors.NotFound, match="no file with id 999"):
        files.get(999)
    with pytest.raises(errors.NotFound):
        files.search_text(999)


# -- changing --------------------------------------------------------------------------------

def test_update_bumps_version_and_updated_at(files: FileStore) -> None:
    record = files.create("sb-1", "/a.txt", "x")
    changed = files.update(record.id, expected_version=1, metadata={"k": "v"}, mime_type="text/markdown",
                           file_path="/b.md", search_content="hello")
    assert changed.version == 2 and changed.metadata == {"k": "v"} and changed.file_path == "/b.md"
    assert changed.mime_type == "text/markdown" and files.search_text(record.id) == "hello"
    assert changed.updated_at > record.updated_at
    with pytest.raises(errors.VersionConflict) as info:
        files.update(record.id, expected_version=1, metadata={})
    assert info.value.current.version == 2 and "version 2" in str(info.value)
    with pytest.raises(errors.NotFound):
        files.update(999, metadata={})
    with pytest.raises(errors.InvalidInput):
        files.update(record.id, file_path="")


def test_record_access_keeps_updated_at_byte_for_byte(store, files: FileStore) -> None:
    record = files.create("sb-1", "/a.txt", "x")
    go_text = "2026-11-24 05:21:38.261790967+00:00"  # Go's nanoseconds: we could not write these
    conn = raw(store.path)
    conn.execute("UPDATE file_metadata SET updated_at = ? WHERE id = ?", (go_text, record.id))
    conn.close()
    after = files.record_access(record.id)
    files.record_access(record.id)
    row = raw_row(store, record.id)
    assert row["updated_at"] == go_text
    assert row["access_count"] == 2 and after.access_count == 1
    assert after.last_accessed is not None and row["last_accessed"].endswith("+00:00")
    # The trap it avoids: a plain UPDATE that leaves updated_at alone fires the Go trigger.
    conn = raw(store.path)
    conn.execute("UPDATE file_metadata SET access_count = 5 WHERE id = ?", (record.id,))
    conn.close()
    assert raw_row(store, record.id)["updated_at"] != go_text
    with pytest.raises(errors.NotFound):
        files.record_access(999)


def test_soft_delete_recover_and_purge(store, files: FileStore) -> None:
    record = files.create("sb-1", "/a.txt", os.urandom(5000))
    deleted = files.delete(record.id)
    assert deleted.is_deleted and files.delete(record.id).deleted_at == deleted.deleted_at  # idempotent
    assert files.read_content(record.id)  # content kept while soft-deleted
    recovered = files.recover(record.id)
    assert not recovered.is_deleted and files.recover(record.id) == recovered
    with pytest.raises(errors.InvalidInput, match="delete it before purging"):
        files.purge(record.id)
    files.delete(record.id)
    files.purge(record.id)
    with pytest.raises(errors.NotFound):
        files.get(record.id)
    assert store.db.execute_sql("SELECT count(*) FROM file_chunk_refs").fetchone()[0] == 0
    assert store.db.execute_sql("SELECT max(ref_count) FROM file_chunks").fetchone()[0] == 0
    assert files.gc().removed_chunks == 0  # too young: a live server may be about to link them
    result = files.gc(min_age=timedelta(0))
    assert result.removed_chunks > 0 and result.freed_bytes == 5000
    assert store.db.execute_sql("SELECT count(*) FROM file_chunks").fetchone()[0] == 0


# -- versions --------------------------------------------------------------------------------

def test_version_chain_both_ways_and_diff(store, files: FileStore) -> None:
    v1 = files.create("sb-1", "/app/main.py", "a = 1\nb = 2\n", metadata={"owner": "me"})
    v2 = files.new_version(v1.id, "a = 1\nb = 3\n")
    v3 = files.new_version(v2.id, "a = 1\nb = 3\nc = 4\n")
    other = files.new_version(v1.id, "a = 0\n")  # a branch
    assert v2.parent_file_id == v1.id and v2.version == 1 and v2.metadata == {"owner": "me"}
    assert [r.id for r in files.ancestors(v3.id)] == [v2.id, v1.id]
    assert [r.id for r in files.descendants(v1.id)] == [v2.id, v3.id, other.id]
    assert [r.id for r in files.versions(v2.id)] == [v1.id, v2.id, v3.id, other.id]
    assert [r.id for r in files.versions(v2.id, newest_first=True)] == [other.id, v3.id, v2.id, v1.id]
    diff = files.diff(v1.id, v3.id)
    assert "-b = 2\n" in diff and "+b = 3\n" in diff and "+c = 4\n" in diff
    assert diff.startswith("--- /app/main.py (id %d)" % v1.id)
    binary = files.new_version(v3.id, b"\x00\x01\x02" * 100)
    with pytest.raises(errors.InvalidInput, match="binary"):
        files.diff(v3.id, binary.id)
    files.delete(v3.id)
    with pytest.raises(errors.InvalidInput, match="recover it"):
        files.new_version(v3.id, "x")
    # Purging a middle version keeps the chain connected.
    files.purge(v3.id)
    assert files.get(binary.id).parent_file_id == v2.id


def test_version_chain_survives_a_cycle_and_a_dangling_parent(store, files: FileStore) -> None:
    a = files.create("sb-1", "/a", "1")
    b = files.new_version(a.id, "2")
    conn = raw(store.path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("UPDATE file_metadata SET parent_file_id = ? WHERE id = ?", (b.id, a.id))  # a <-> b
    conn.close()
    assert [r.id for r in files.ancestors(b.id)] == [a.id]
    conn = raw(store.path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("UPDATE file_metadata SET parent_file_id = 12345 WHERE id = ?", (a.id,))
    conn.close()
    assert [r.id for r in files.ancestors(b.id)] == [a.id]


# -- verifying and exporting -----------------------------------------------------------------

def test_verify_finds_damage(store, files: FileStore) -> None:
    record = files.create("sb-1", "/a.bin", os.urandom(4000))
    assert files.verify(record.id).ok is True
    first = store.db.execute_sql("SELECT chunk_hash FROM file_chunk_refs WHERE file_id = ? AND chunk_order = 0",
                                 (record.id,)).fetchone()[0]
    conn = raw(store.path)
    conn.execute("UPDATE file_chunks SET data = zeroblob(length(data)) WHERE chunk_hash = ?", (first,))
    conn.close()
    result = files.verify(record.id)
    assert result.ok is False
    assert any("does not hash to its name" in p for p in result.problems)
    assert any("differs from the recorded checksum" in p for p in result.problems)
    with pytest.raises(errors.ChecksumMismatch, match="may be damaged"):
        files.read_content(record.id)
    assert files.read_content(record.id, verify=False)


def test_missing_chunk_is_a_clear_error(store, files: FileStore) -> None:
    record = files.create("sb-1", "/a.bin", os.urandom(4000))
    conn = raw(store.path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("DELETE FROM file_chunks WHERE chunk_hash IN "
                 "(SELECT chunk_hash FROM file_chunk_refs WHERE file_id = ? AND chunk_order = 1)", (record.id,))
    conn.close()
    with pytest.raises(errors.ContentUnavailable, match="missing from file_chunks"):
        files.read_content(record.id)
    assert files.verify(record.id).ok is False
    out = store.path.parent / "out"
    out.mkdir()
    with pytest.raises(errors.ContentUnavailable):
        files.export_to_file(record.id, out / "a.bin")
    assert list(out.iterdir()) == []  # no half-written file left behind


def test_verify_reports_gaps_and_size(store, files: FileStore) -> None:
    record = files.create("sb-1", "/a.bin", os.urandom(4000))
    conn = raw(store.path)
    conn.execute("UPDATE file_chunk_refs SET chunk_order = chunk_order + 10 WHERE file_id = ? AND chunk_order > 0",
                 (record.id,))
    conn.execute("UPDATE file_metadata SET size_bytes = 1 WHERE id = ?", (record.id,))
    conn.close()
    problems = files.verify(record.id).problems
    assert any("chunk_order" in p for p in problems) and any("size_bytes says 1" in p for p in problems)


def test_content_unavailable_is_reported_by_verify(files: FileStore) -> None:
    record = files.create("sb-1", "/only-metadata.bin")
    result = files.verify(record.id)
    assert result.ok is None and result.source == "none" and "no stored content" in result.problems[0]


def test_export_into_a_folder_maps_stored_paths(tmp_path: Path, files: FileStore) -> None:
    data = os.urandom(10_000)
    record = files.create("sb-1", "/app/data/blob.bin", data)
    out = tmp_path / "out"
    out.mkdir()
    done = files.export_into(record.id, out)
    assert done.path == (out / "app" / "data" / "blob.bin").resolve()
    assert done.path.read_bytes() == data and done.verified is True and done.sha256 == record.checksum
    with pytest.raises(errors.InvalidInput, match="already exists"):
        files.export_into(record.id, out)
    assert files.export_into(record.id, out, overwrite=True).size_bytes == len(data)
    assert not list(out.rglob("*.partial"))


@pytest.mark.parametrize("stored", ["../../etc/passwd", "/app/../../x", "..", "/", "C:\\..\\..\\boot.ini"])
def test_export_refuses_paths_outside_the_folder(tmp_path: Path, store, stored: str) -> None:  # type: ignore[no-untyped-def]
    files = FileStore(store)
    record = files.create("sb-1", stored, b"secret")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(errors.UnsafePath):
        files.export_into(record.id, out)
    assert list(out.iterdir()) == []


def test_export_refuses_a_symlink_out_of_the_folder(tmp_path: Path, files: FileStore) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    base = tmp_path / "base"
    base.mkdir()
    (base / "app").symlink_to(outside)
    record = files.create("sb-1", "/app/x.txt", b"x")
    with pytest.raises(errors.UnsafePath, match="outside"):
        files.export_into(record.id, base)
    assert list(outside.iterdir()) == []


def test_safe_relative_path() -> None:
    assert str(safe_relative_path("/etc/passwd")) == "etc/passwd"
    assert str(safe_relative_path("a/./b/../c")) == "a/c"
    assert str(safe_relative_path("C:\\Users\\x.txt")) == "Users/x.txt"
    with pytest.raises(errors.UnsafePath, match="NUL"):
        safe_relative_path("a\x00b")


def test_export_to_a_chosen_file(tmp_path: Path, files: FileStore) -> None:
    record = files.create("sb-1", "/../../escape.txt", b"hello")
    done = files.export_to_file(record.id, tmp_path / "mine.txt")  # the person chose the name
    assert done.path.read_bytes() == b"hello"
    with pytest.raises(errors.InvalidInput, match="does not exist"):
        files.export_to_file(record.id, tmp_path / "no" / "such.txt")
    with pytest.raises(errors.InvalidInput, match="is a folder"):
        files.export_to_file(record.id, tmp_path, overwrite=True)
    with pytest.raises(errors.InvalidInput, match="is not a folder"):
        files.export_into(record.id, tmp_path / "mine.txt")


def test_export_reports_what_the_system_refuses(tmp_path: Path, files: FileStore) -> None:
    record = files.create("sb-1", "/a.txt", b"hello")
    with pytest.raises(errors.StorageError, match="Cannot write"):
        files.export_to_file(record.id, tmp_path / ("x" * 300))  # longer than a name may be
    assert not list(tmp_path.glob(".*partial"))


def test_read_content_refuses_big_files(files: FileStore) -> None:
    record = files.create("sb-1", "/big.bin", os.urandom(5000))
    with pytest.raises(errors.InvalidInput, match="export it instead"):
        files.read_content(record.id, max_bytes=1000)


def test_go_sources_without_chunks(store, files: FileStore) -> None:
    conn = raw(store.path)
    text = "package main\n"
    small = go_file(conn, "sb-1", "/main.go", search_content=text, size=len(text))
    conn.execute("UPDATE file_metadata SET checksum = ? WHERE id = ?", (hashlib.sha256(text.encode()).hexdigest(), small))
    unverifiable = go_file(conn, "sb-1", "/go.mod", search_content="module x\n", size=9)
    cached = go_file(conn, "sb-1", "/cached.bin", size=5)
    import zlib
    blob = b"hello"
    conn.execute("UPDATE file_metadata SET checksum = ? WHERE id = ?", (hashlib.sha256(blob).hexdigest(), cached))
    conn.execute("INSERT INTO file_content_cache (file_id, content_hash, content_data, compressed) VALUES (?, ?, ?, 1)",
                 (cached, hashlib.sha256(blob).hexdigest(), zlib.compress(blob)))
    conn.close()
    stream = files.open_content(small)
    assert stream.source == "search_content" and stream.read_all() == text.encode() and stream.verified is True
    stream = files.open_content(unverifiable)
    assert stream.read_all() == b"module x\n" and stream.verified is None
    assert files.verify(unverifiable).ok is None
    stream = files.open_content(cached)
    assert stream.source == "cache" and stream.read_all() == blob and stream.verified is True


# -- GC and statistics -----------------------------------------------------------------------

def test_gc_repairs_ref_counts_and_dry_run_changes_nothing(store, files: FileStore) -> None:
    record = files.create("sb-1", "/a.bin", os.urandom(3000))
    conn = raw(store.path)
    conn.execute("UPDATE file_chunks SET ref_count = 99")
    conn.execute("INSERT INTO file_chunks (chunk_hash, data, size_bytes, ref_count, created_at) "
                 "VALUES ('orphan', x'00', 1, 5, '2026-01-01 00:00:00')")
    conn.execute("INSERT INTO file_chunks (chunk_hash, data, size_bytes, ref_count) VALUES ('young', x'00', 1, 0)")
    conn.execute("UPDATE file_chunks SET created_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE chunk_hash = 'young'")
    conn.close()
    preview = files.gc(dry_run=True)
    assert preview.removed_chunks == 1 and preview.freed_bytes == 1 and preview.ref_counts_fixed > 0
    assert store.db.execute_sql("SELECT count(*) FROM file_chunks WHERE chunk_hash = 'orphan'").fetchone()[0] == 1
    done = files.gc()
    assert (done.removed_chunks, done.freed_bytes, done.ref_counts_fixed) == (1, 1, preview.ref_counts_fixed)
    assert store.db.execute_sql("SELECT count(*) FROM file_chunks WHERE chunk_hash = 'young'").fetchone()[0] == 1
    assert store.db.execute_sql("SELECT max(ref_count) FROM file_chunks").fetchone()[0] == 1
    assert files.read_content(record.id)


def test_storage_stats_dedup_ratio(store, files: FileStore) -> None:
    shared = os.urandom(8000)
    files.create("sb-1", "/a.bin", shared)
    files.create("sb-1", "/b.bin", shared)
    files.create("sb-2", "/c.bin", shared)
    gone = files.create("sb-2", "/d.bin", os.urandom(2000))
    files.delete(gone.id)
    files.create("sb-2", "/meta-only.txt")
    stats = files.storage_stats()
    assert stats.live_files == 4 and stats.deleted_files == 1
    assert stats.overall.logical_bytes == 3 * 8000  # live files with content
    assert stats.overall.physical_bytes == 8000 + 2000  # every stored chunk
    assert stats.overall.dedup_ratio == pytest.approx(24000 / 10000)
    assert stats.deleted_only_bytes == 2000 and stats.unreferenced_bytes == 0
    assert stats.per_sandbox["sb-1"].dedup_ratio == pytest.approx(2.0)
    assert stats.per_sandbox["sb-2"].dedup_ratio == pytest.approx(1.0)
    assert stats.as_dict()["overall"]["dedup_ratio"] == pytest.approx(2.4)
    files.purge(gone.id)
    after = files.storage_stats()
    assert after.unreferenced_bytes == 2000 and after.unreferenced_chunks > 0
    files.gc(min_age=timedelta(0))
    assert files.storage_stats().overall.dedup_ratio == pytest.approx(3.0)


def test_stats_of_an_empty_store(files: FileStore) -> None:
    stats = files.storage_stats()
    assert stats.overall.dedup_ratio is None and stats.per_sandbox == {} and stats.chunks == 0


# -- the property test -----------------------------------------------------------------------

edits = st.lists(
    st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.floats(0, 1), st.binary(min_size=1, max_size=300)),
    min_size=1, max_size=4,
)


def _apply(data: bytes, edit: tuple[str, float, bytes]) -> bytes:
    kind, where, blob = edit
    pos = int(where * len(data))
    if kind == "insert":
        return data[:pos] + blob + data[pos:]
    if kind == "delete":
        return data[:pos] + data[pos + len(blob):]
    return data[:pos] + blob + data[pos + len(blob):]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.lists(st.binary(min_size=0, max_size=12_000), min_size=1, max_size=3),
    edit_lists=st.lists(edits, min_size=1, max_size=3),
    purge_mask=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_property_reconstruct_dedup_gc(base: list[bytes], edit_lists: list, purge_mask: list[bool]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = create_store(Path(tmp) / "p.db")
        try:
            add_sandbox(store)
            files = FileStore(store, chunker=CDCChunker(SMALL))
            contents: dict[int, bytes] = {}
            for data in base:
                record = files.create("sb-1", "/f", data)
                contents[record.id] = data
                current = record
                for edit_list in edit_lists:
                    for edit in edit_list:
                        data = _apply(data, edit)
                    current = files.new_version(current.id, io.BytesIO(data))
                    contents[current.id] = data
            _check_store(store, files, contents)
            for (file_id, _data), purge in zip(list(contents.items()), purge_mask):
                if purge:
                    files.delete(file_id)
                    files.purge(file_id)
                    del contents[file_id]
            files.gc(min_age=timedelta(0))
            _check_store(store, files, contents)
            orphans = store.db.execute_sql(
                "SELECT count(*) FROM file_chunks c WHERE NOT EXISTS "
                "(SELECT 1 FROM file_chunk_refs r WHERE r.chunk_hash = c.chunk_hash)").fetchone()[0]
            assert orphans == 0
        finally:
            store.close()


def _check_store(store, files: FileStore, contents: dict[int, bytes]) -> None:  # type: ignore[no-untyped-def]
    for file_id, data in contents.items():
        stream = files.open_content(file_id)
        assert stream.read_all() == data
        assert stream.verified is True
    db = store.db
    # Every referenced piece is stored exactly once, under the hash of its bytes...
    for chunk_hash, data, size in db.execute_sql("SELECT chunk_hash, data, size_bytes FROM file_chunks"):
        assert hashlib.sha256(data).hexdigest() == chunk_hash and len(data) == size
    # ...and ref_count is the number of references to it.
    bad = db.execute_sql(
        "SELECT count(*) FROM file_chunks c WHERE ref_count != "
        "(SELECT count(*) FROM file_chunk_refs r WHERE r.chunk_hash = c.chunk_hash)").fetchone()[0]
    assert bad == 0
    missing = db.execute_sql(
        "SELECT count(*) FROM file_chunk_refs r WHERE NOT EXISTS "
        "(SELECT 1 FROM file_chunks c WHERE c.chunk_hash = r.chunk_hash)").fetchone()[0]
    assert missing == 0
    # Shared pieces are stored once: no two rows hold the same bytes, and no row is unused.
    distinct = db.execute_sql("SELECT count(DISTINCT chunk_hash) FROM file_chunk_refs").fetchone()[0]
    rows, distinct_data = db.execute_sql("SELECT count(*), count(DISTINCT data) FROM file_chunks").fetchone()
    assert rows == distinct_data == distinct


# -- file types --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name, sample, expected",
    [
        ("/a/main.go", b"package main\n", "text/x-go"),
        ("/a/README.md", b"# hi\n", "text/markdown"),
        ("/a/c.yaml", b"a: 1\n", "application/x-yaml"),
        ("/a/Makefile", b"all:\n\techo\n", "text/x-makefile"),
        ("/a/noext", b"just words\n", "text/plain"),
        ("/a/noext", b"\x00\x01\x02\x03", "application/octet-stream"),
        ("/a/x.py", b"\x00\x00binary", "application/octet-stream"),
        ("/a/pic.txt", b"\x89PNG\r\n\x1a\n....", "image/png"),
        ("/a/x.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        ("/a/archive", b"x" * 257 + b"ustar", "application/x-tar"),
        ("/a/latin1.txt", "café crème".encode("latin-1"), "text/plain"),
        ("/a/model.bin", None, "application/octet-stream"),
        ("/a/data.csv", None, "text/csv"),
        ("/a/empty.txt", b"", "text/plain"),
    ],
)
def test_detect_mime(name: str, sample: bytes | None, expected: str) -> None:
    assert detect_mime(name, sample) == expected


def test_text_helpers() -> None:
    assert base_type("text/csv; charset=utf-8") == "text/csv"
    assert is_textual("application/json") and is_textual("application/vnd.api+json")
    assert not is_textual("image/png")
    assert decode_text("héllo".encode()[:2]) == "h"  # a cut character is dropped
    assert decode_text("\ufeffabc".encode("utf-8")) == "abc"
    assert decode_text("hi".encode("utf-16")) == "hi"
    assert looks_like_text("x".encode("utf-16")) and not looks_like_text(os.urandom(64) + b"\x00")


def test_store_files_is_the_file_store(fresh_store) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(fresh_store.files, FileStore)
    assert fresh_store.files.chunker.describe()["kind"] == "fastcdc2020"


def test_sqlite_errors_are_translated(store, files: FileStore) -> None:
    store.db.execute_sql("ALTER TABLE file_metadata RENAME COLUMN mime_type TO mime")
    with pytest.raises(errors.StorageError):
        files.get(1)
    assert isinstance(sqlite3.Error(), Exception)


def test_latest_only_lists_each_version_chain_once_with_its_count(go_store):
    files = go_store.files
    everything = files.list(newest_first=True, limit=1000)
    assert files.list(newest_first=True, latest_only=True, limit=1000) == everything  # v6: no index yet
    go_store.migrate()
    assert files.chains_indexed()
    latest = files.list(newest_first=True, latest_only=True, limit=1000)
    parents = {r.parent_file_id for r in everything if r.parent_file_id is not None}
    assert {r.id for r in latest} == {r.id for r in everything} - parents
    counts = files.version_counts([r.id for r in latest])
    for r in latest:
        assert counts[r.id] == 1 + len(files.ancestors(r.id))
    assert any(n > 1 for n in counts.values())
    # keyset pages of the newest rows cover them all, each once
    seen, after = [], None
    while True:
        page = files.list(newest_first=True, latest_only=True, after_id=after, limit=7)
        if not page:
            break
        seen += [r.id for r in page]
        after = page[-1].id
    assert seen == [r.id for r in latest]
