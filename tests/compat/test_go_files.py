"""The file store on the Go server's own database (the v6 fixture)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from sandbox_admin.storage import open_store
from sandbox_admin.storage.files.store import go_default_checksum


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?immutable=1", uri=True)


@pytest.fixture
def fixture_store(go_fixture: Path):  # type: ignore[no-untyped-def]
    store = open_store(go_fixture, read_only=True)
    yield store
    store.close()


def _chunked_files(path: Path) -> dict[int, bytes]:
    """file id -> its chunks concatenated in chunk_order, computed with plain SQL."""
    conn = _ro(path)
    result: dict[int, bytes] = {}
    for (file_id,) in conn.execute("SELECT DISTINCT file_id FROM file_chunk_refs ORDER BY file_id"):
        rows = conn.execute(
            "SELECT c.data FROM file_chunk_refs r JOIN file_chunks c ON c.chunk_hash = r.chunk_hash "
            "WHERE r.file_id = ? ORDER BY r.chunk_order", (file_id,)).fetchall()
        result[file_id] = b"".join(r[0] for r in rows)
    conn.close()
    return result


def test_import_is_ranked_like_sqlites_bm25(fixture_store, go_fixture: Path) -> None:  # type: ignore[no-untyped-def]
    result = fixture_store.files.search("import", limit=1000)
    conn = _ro(go_fixture)
    expected = conn.execute(
        "SELECT f.id, bm25(file_search_fts) FROM file_search_fts JOIN file_metadata f "
        "ON f.id = file_search_fts.rowid WHERE file_search_fts MATCH 'import' AND f.deleted_at IS NULL "
        "ORDER BY bm25(file_search_fts)").fetchall()
    conn.close()
    assert len(result.hits) == len(expected) > 20
    # Same ranks in the same (ascending, best-first) order; ties may come in any order.
    assert [h.rank for h in result.hits] == pytest.approx([r for _, r in expected], abs=1e-12)
    assert sorted(h.file_id for h in result.hits) == sorted(i for i, _ in expected)
    best = result.hits[0]
    assert best.rank == min(r for _, r in expected) < 0
    assert "\x02import\x03" in best.snippet
    assert all(h.snippet for h in result.hits)


def test_main_py_finds_main_py_files(fixture_store, go_fixture: Path) -> None:  # type: ignore[no-untyped-def]
    conn = _ro(go_fixture)
    main_files = {r[0] for r in conn.execute(
        "SELECT id FROM file_metadata WHERE file_path LIKE '%/main.py' AND deleted_at IS NULL")}
    conn.close()
    result = fixture_store.files.search("main.py", limit=100)
    assert not result.fallback and result.fts_query == '"main.py"'
    found = [h for h in result.hits]
    assert main_files <= {h.file_id for h in found}
    assert all(h.file_path.endswith("main.py") for h in found[: len(main_files)])  # path matches first
    assert "\x02main" in found[0].path_highlight


def test_every_chunked_file_reconstructs_and_exports_byte_exact(
    fixture_store, go_fixture: Path, go_counts: dict, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    chunked = _chunked_files(go_fixture)
    assert len(chunked) == go_counts["files_with_chunks"]
    verified = unverifiable = 0
    for file_id, expected in chunked.items():
        stream = fixture_store.files.open_content(file_id)
        data = stream.read_all()
        assert stream.source == "chunks"
        assert hashlib.sha256(data).hexdigest() == hashlib.sha256(expected).hexdigest(), file_id
        record = stream.record
        if record.checksum == go_default_checksum(record.sandbox_id, record.file_path):
            assert stream.verified is None  # the Go path hash says nothing about content
            unverifiable += 1
        else:
            assert stream.verified is True, file_id
            verified += 1
        done = fixture_store.files.export_to_file(file_id, tmp_path / f"{file_id}.out")
        assert done.path.read_bytes() == expected and done.sha256 == hashlib.sha256(expected).hexdigest()
        assert done.size_bytes == record.size_bytes
    assert verified == 16 and unverifiable == 1


def test_export_into_a_folder_keeps_stored_paths(fixture_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = fixture_store.files.export_into(113, tmp_path)
    assert done.path == tmp_path.resolve() / "data" / "logs" / "train.log"
    assert done.verified is True and done.size_bytes == 196_673


def test_go_files_without_chunks(fixture_store) -> None:  # type: ignore[no-untyped-def]
    stream = fixture_store.files.open_content(1)  # /app/main.py, content only in search_content
    assert stream.source == "search_content"
    assert stream.read_all().startswith(b"import os") and stream.verified is True
    png = fixture_store.files.get(106)
    assert png.index_state == "none"
    assert fixture_store.files.verify(106).ok is None


def test_go_rows_read_as_records(fixture_store, go_counts: dict) -> None:  # type: ignore[no-untyped-def]
    files = fixture_store.files
    everything = files.list(include_deleted=True, limit=1000)
    assert len(everything) == go_counts["file_metadata"]
    assert sum(r.is_deleted for r in everything) == go_counts["files_soft_deleted"]
    csv = files.get(154)
    assert csv.mime_type == "text/csv; charset=utf-8" and csv.index_state == "partial"
    assert csv.indexed_bytes == 4096
    chain = files.versions(226)
    assert [r.id for r in chain] == [13, 226]
    assert files.get(1).version == 2  # the Go optimistic-lock counter


def test_storage_stats_on_the_fixture(fixture_store, go_fixture: Path) -> None:  # type: ignore[no-untyped-def]
    stats = fixture_store.files.storage_stats()
    conn = _ro(go_fixture)
    logical = conn.execute(
        "SELECT sum(c.size_bytes) FROM file_chunk_refs r JOIN file_chunks c ON c.chunk_hash = r.chunk_hash "
        "JOIN file_metadata f ON f.id = r.file_id WHERE f.deleted_at IS NULL").fetchone()[0]
    physical = conn.execute("SELECT sum(size_bytes) FROM file_chunks").fetchone()[0]
    conn.close()
    assert stats.overall.logical_bytes == logical and stats.overall.physical_bytes == physical
    assert stats.overall.dedup_ratio == pytest.approx(logical / physical)
    assert stats.overall.dedup_ratio > 1  # model.bin is stored once for four rows
    assert stats.unreferenced_chunks == 0 and stats.deleted_only_bytes == 0
    assert sum(s.files_with_content for s in stats.per_sandbox.values()) == 16  # one chunked file is deleted


def test_writes_on_a_copy_keep_the_index_and_go_values(go_store, go_db: Path) -> None:  # type: ignore[no-untyped-def]
    files = go_store.files
    before = sqlite3.connect(go_db).execute("SELECT updated_at FROM file_metadata WHERE id = 5").fetchone()[0]
    assert "." in before  # Go's nanoseconds
    files.record_access(5)
    after = sqlite3.connect(go_db).execute(
        "SELECT updated_at, access_count FROM file_metadata WHERE id = 5").fetchone()
    assert after == (before, 9)
    sandbox_id = files.get(5).sandbox_id
    new = files.new_version(5, "module example.com/renamed\n\ngo 1.23\n")
    assert [h.file_id for h in files.search("renamed").hits] == [new.id]
    files.delete(new.id)
    files.purge(new.id)
    assert files.gc(min_age=timedelta(0)).removed_chunks == 1
    check = files.index.integrity_check()
    assert check.ok and check.thorough, check.problems
    report = go_store.maintenance.check()
    assert report.ok, report.problems
    assert files.get_by_path(sandbox_id, "/workspace/go.mod").id == 5


# -- the command line ------------------------------------------------------------------------

def test_cli_search_json(run_cli, go_fixture: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli("search", go_fixture, "import", "--limit", "5", "--json")
    assert code == 0 and err == ""
    rows = json.loads(out)
    assert len(rows) == 5 and {"id", "sandbox_id", "file_path", "rank", "snippet"} <= set(rows[0])
    assert [r["rank"] for r in rows] == sorted(r["rank"] for r in rows)
    assert "[import]" in rows[0]["snippet"] and "\x02" not in rows[0]["snippet"]


def test_cli_search_text_and_filters(run_cli, go_fixture: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli("search", go_fixture, "main.py", "--limit", "2")
    assert code == 0 and "/app/main.py" in out and "raise --limit" in out
    code, out, _ = run_cli("search", go_fixture, "timestamp", "--mime", "text/csv", "--limit", "50")
    assert code == 0 and "only the start is indexed" in out
    sandbox = json.loads(run_cli("search", go_fixture, "import", "--json")[1])[0]["sandbox_id"]
    code, out, _ = run_cli("search", go_fixture, "import", "--sandbox", sandbox, "--json")
    assert code == 0 and {r["sandbox_id"] for r in json.loads(out)} == {sandbox}
    code, out, _ = run_cli("search", go_fixture, "model", "--path", "/data/models/", "--deleted", "--json")
    assert code == 0 and any(r["deleted"] for r in json.loads(out))
    assert run_cli("search", go_fixture, "zzzznothing")[1].strip() == "no matches"
    code, out, err = run_cli("search", go_fixture, '"(unbalanced')
    assert code == 0 and "error" not in err


def test_cli_search_usage_errors(run_cli, go_fixture: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli("search", go_fixture, "import", "--limit", "0")
    assert code == 2 and "--limit must be 1 or more" in err
    code, _, err = run_cli("search", tmp_path / "missing.db", "import")
    assert code == 2 and err.startswith("sandbox-admin: error:")


def test_cli_search_reports_the_fallback(run_cli, go_db: Path) -> None:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(go_db)
    conn.execute("DROP TABLE file_search_fts")
    conn.commit()
    conn.close()
    code, out, err = run_cli("search", go_db, "main.py", "--json")
    assert code == 0 and "note:" in err and "plain text scan" in err
    assert json.loads(out)[0]["rank"] is None


def test_cli_export_file(run_cli, go_fixture: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli("export-file", go_fixture, 113, tmp_path / "train.log", "--json")
    assert code == 0, err
    data = json.loads(out)
    expected = _chunked_files(go_fixture)[113]
    assert data["sha256"] == hashlib.sha256(expected).hexdigest() and data["verified"] is True
    assert Path(data["path"]).read_bytes() == expected and data["size_bytes"] == len(expected)
    code, out, err = run_cli("export-file", go_fixture, 113, tmp_path / "train.log")
    assert code == 2 and "already exists" in err
    code, out, _ = run_cli("export-file", go_fixture, 113, tmp_path / "train.log", "--force")
    assert code == 0 and "checksum verified" in out
    code, out, _ = run_cli("export-file", go_fixture, 110, tmp_path)
    assert code == 0 and "not verified" in out and (tmp_path / "data" / "logs" / "train.log").exists()
    code, _, err = run_cli("export-file", go_fixture, 106, tmp_path / "logo.png")
    assert code == 1 and "no stored content" in err
    code, _, err = run_cli("export-file", go_fixture, 99999, tmp_path / "x")
    assert code == 1 and "no file with id 99999" in err
    with pytest.raises(SystemExit) as exit_info:
        run_cli("export-file", go_fixture, "abc", tmp_path / "x")
    assert exit_info.value.code == 2


def test_cli_export_file_reports_damage(run_cli, go_db: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(go_db)
    conn.execute("UPDATE file_chunks SET data = zeroblob(size_bytes) WHERE chunk_hash = "
                 "(SELECT chunk_hash FROM file_chunk_refs WHERE file_id = 113 AND chunk_order = 1)")
    conn.commit()
    conn.close()
    code, out, _ = run_cli("export-file", go_db, 113, tmp_path / "bad.log")
    assert code == 1 and "does not match the recorded checksum" in out
    assert (tmp_path / "bad.log").stat().st_size == 196_673  # written, and flagged
