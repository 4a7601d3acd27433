"""Full-text search: ranking, snippets, filters, typed text never fails, fallback, index upkeep."""

from __future__ import annotations

import json
import random
import sqlite3
import string
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sandbox_admin.storage import errors, open_store
from sandbox_admin.storage.files.search import (
    MARK_END,
    MARK_START,
    clean_query,
    like_terms,
    literal_query,
    search_files,
    snippet_html,
    snippet_matches,
    snippet_plain,
    snippet_spans,
    to_fts_query,
)

from .file_helpers import add_sandbox, go_file, raw

UTC = timezone.utc


@pytest.fixture
def corpus(fresh_store):  # type: ignore[no-untyped-def]
    """A small set of files in two sandboxes, some written as the Go server writes them."""
    store = fresh_store
    add_sandbox(store, "sb-1")
    add_sandbox(store, "sb-2")
    f = store.files
    ids = {
        "main": f.create("sb-1", "/app/main.py", "import os\nimport json\n\ndef main():\n    print('hello world')\n").id,
        "utils": f.create("sb-1", "/app/utils.py", "import os\n" + "def helper():\n    return 42\n" * 30).id,
        "docker": f.create("sb-1", "/app/Dockerfile", 'FROM python:3.11\nCMD ["python", "main.py"]\n').id,
        "readme": f.create("sb-2", "/docs/README.md", "# Grüße\n\nThe foo-bar tool, in C++ and <b>&amp;</b> HTML.\n").id,
        "go": f.create("sb-2", "/src/main.go", 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi") }\n').id,
        "png": f.create("sb-2", "/img/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4).id,
    }
    conn = raw(store.path)
    # Go rows: an offset other than UTC, a CURRENT_TIMESTAMP form, a partial 4 KiB index.
    ids["tz"] = go_file(conn, "sb-2", "/data/zone.csv", search_content="alpha,beta\nimport,zone\n",
                        size=22, mime="text/csv; charset=utf-8", updated_at="2026-11-24 23:30:00-07:00")
    ids["plain"] = go_file(conn, "sb-2", "/data/plain.txt", search_content="import plain text",
                           size=17, updated_at="2026-11-25 01:00:00")
    big = ("import line\n" * 400)[:4096]
    ids["log"] = go_file(conn, "sb-1", "/data/logs/train.log", search_content=big, size=196_673,
                         updated_at="2026-11-20 10:00:00.5+00:00")
    conn.close()
    store.ids = ids  # type: ignore[attr-defined]
    return store


def _bm25_order(store, fts_query: str) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    rows = conn.execute(
        "SELECT f.id, bm25(file_search_fts, 4.0, 1.0) FROM file_search_fts "
        "JOIN file_metadata f ON f.id = file_search_fts.rowid "
        "WHERE file_search_fts MATCH ? AND f.deleted_at IS NULL ORDER BY 2", (fts_query,)).fetchall()
    conn.close()
    return rows


def test_results_are_best_first_by_bm25(corpus) -> None:  # type: ignore[no-untyped-def]
    result = corpus.files.search("import")
    ranks = [h.rank for h in result.hits]
    assert ranks == sorted(ranks) and all(r < 0 for r in ranks)
    expected = _bm25_order(corpus, '"import"')
    assert [round(h.rank, 9) for h in result.hits] == [round(r, 9) for _, r in expected]
    assert {h.file_id for h in result.hits} == {i for i, _ in expected}
    assert not result.fallback and result.fts_query == '"import"'


def test_path_matches_come_first(corpus) -> None:  # type: ignore[no-untyped-def]
    hits = corpus.files.search("main.py").hits
    assert hits[0].file_path == "/app/main.py"
    assert {h.file_path for h in hits} == {"/app/main.py", "/app/Dockerfile"}
    assert MARK_START in hits[0].path_highlight


def test_snippets_mark_the_matches(corpus) -> None:  # type: ignore[no-untyped-def]
    hit = corpus.files.search("hello").hits[0]
    assert f"{MARK_START}hello{MARK_END}" in hit.snippet
    assert snippet_plain(hit.snippet).count("[hello]") == 1
    readme = corpus.files.search("html").hits[0]
    rendered = snippet_html(readme.snippet)
    assert "<b>HTML</b>" in rendered and "&lt;b&gt;&amp;amp;&lt;/b&gt;" in rendered  # the text stays text


def test_snippet_helpers() -> None:
    text = f"a {MARK_START}b<{MARK_END} c{MARK_END}\n d"
    assert snippet_spans(text) == [("a ", False), ("b<", True), (" c", False), ("\n d", False)]
    assert snippet_html(text, "mark") == "a <mark>b&lt;</mark> c\n d"
    assert snippet_plain(text) == "a [b<] c d"
    assert snippet_matches(text) == [(2, 4)]


@pytest.mark.parametrize(
    "typed, expected_paths",
    [
        ("import", None),
        ("main.py", {"/app/main.py", "/app/Dockerfile"}),
        ('"unbalanced', set()),
        ("foo-bar", {"/docs/README.md"}),
        ("C++", {"/docs/README.md"}),
        ("grüße", {"/docs/README.md"}),
        ("GRUSSE", set()),
        ("*", set()),
        ("", set()),
        ("   ", set()),
        ("AND OR NOT", set()),
        ("((((", set()),
        ('"print(\'hello world\')"', {"/app/main.py"}),  # a phrase with punctuation
        ("impo*", None),  # prefix
        ("helper OR fmt", {"/app/utils.py", "/src/main.go"}),
        ("import NOT os", {"/src/main.go", "/data/zone.csv", "/data/plain.txt", "/data/logs/train.log"}),
        ("import -os -line", {"/src/main.go", "/data/zone.csv", "/data/plain.txt"}),
        ("path:main", {"/app/main.py", "/src/main.go"}),
        ("file_path:utils", {"/app/utils.py"}),
        ("content:python", {"/app/Dockerfile"}),
        ('"path:main"', set()),  # quoted: words, not a column filter
        ("no-such-word-anywhere", set()),
    ],
)
def test_typed_text_gives_sensible_results(corpus, typed: str, expected_paths) -> None:  # type: ignore[no-untyped-def]
    result = corpus.files.search(typed, limit=100)
    assert not result.fallback
    paths = {h.file_path for h in result.hits}
    if expected_paths is None:
        assert "/app/main.py" in paths
    else:
        assert paths == expected_paths, result.fts_query


def test_nothing_to_search_says_so(corpus) -> None:  # type: ignore[no-untyped-def]
    result = corpus.files.search("*")
    assert result.hits == [] and "Nothing to search for" in result.message and result.fts_query == '""'


def test_fuzz_random_text_never_raises(corpus) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(20261126)
    alphabet = string.printable + '"()*:-^+{}[]\\' + "äß中文🙂\u0301\ud800\x00\x1f" + "AND OR NOT NEAR"
    specials = ['"', "(", ")", "*", ":", "-", "AND", "OR", "NOT", "file_path:", "path:", "{", "}", "NEAR(",
                "^", "+", "'", "\\", "import", "main.py"]
    for i in range(400):
        if i % 2:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        else:
            text = " ".join(rng.choice(specials) for _ in range(rng.randint(1, 8)))
        result = corpus.files.search(text, limit=5)
        assert not result.fallback, (text, result.fts_query, result.message)
        assert isinstance(result.hits, list)
    assert corpus.files.search("x" * 50_000).hits == []  # long input is cut, not an error
    assert corpus.files.search("(" * 500 + "import").hits  # deep nesting is flattened


def test_query_translation_helpers() -> None:
    assert to_fts_query("main.py") == '"main.py"'
    assert to_fts_query("path:x content:y") == '("file_path": "x") AND ("search_content": "y")'
    assert to_fts_query('"path:x"') == '"path:x"'
    assert to_fts_query("*") == '""'
    assert clean_query("a\x00b\ud800") == "a b?"
    assert clean_query(None) == ""
    assert literal_query('say "hi" now *') == '"say" AND """hi""" AND "now"'
    assert literal_query("* ()") == '""'
    assert like_terms('path:main.py "a phrase" -not AND x* (y)') == ["main.py", "a phrase", "not", "x", "y"]


def test_filters(corpus) -> None:  # type: ignore[no-untyped-def]
    f = corpus.files
    ids = corpus.ids

    def found(**kw) -> set[int]:  # type: ignore[no-untyped-def]
        return {h.file_id for h in f.search("import", limit=100, **kw).hits}

    everything = found()
    assert found(sandbox_id="sb-1") == {ids["main"], ids["utils"], ids["log"]}
    assert found(mime_prefix="text/csv") == {ids["tz"]}  # '; charset=utf-8' does not get in the way
    assert found(mime_prefix="TEXT/X-") == {ids["main"], ids["utils"], ids["go"]}
    assert found(path_prefix="/data/") == {ids["tz"], ids["plain"], ids["log"]}
    assert found(path_prefix="/DATA/") == set()  # paths are case-sensitive
    assert found(min_size=1000) == {ids["log"]}
    assert found(max_size=20) == {ids["plain"]}
    # Times are compared as instants: 23:30 at -07:00 is 06:30 UTC the next day.
    assert ids["tz"] in found(since=datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    assert ids["tz"] not in found(until=datetime(2026, 11, 25, 6, 0, tzinfo=UTC))
    assert ids["plain"] in found(since=datetime(2026, 11, 25, 0, 59, tzinfo=UTC),
                                 until=datetime(2026, 11, 25, 1, 1, tzinfo=UTC))
    assert found(until=datetime(2026, 11, 21, tzinfo=UTC)) == {ids["log"]}
    assert found(since=datetime(2026, 1, 1, tzinfo=UTC), time_field="last_accessed") == set()
    f.record_access(ids["go"])
    assert found(since=datetime(2026, 1, 1, tzinfo=UTC), time_field="last_accessed") == {ids["go"]}
    assert ids["main"] in found(since=datetime(2026, 1, 1, tzinfo=UTC), time_field="created_at")
    with pytest.raises(errors.InvalidInput, match="time_field"):
        f.search("import", time_field="deleted_at")
    f.delete(ids["main"])
    assert ids["main"] not in found() and ids["main"] in found(include_deleted=True)
    deleted_hit = next(h for h in f.search("import", include_deleted=True, limit=100).hits if h.file_id == ids["main"])
    assert deleted_hit.deleted
    assert found(include_deleted=True) == everything


def test_paging(corpus) -> None:  # type: ignore[no-untyped-def]
    f = corpus.files
    full = [h.file_id for h in f.search("import", limit=100).hits]
    first = f.search("import", limit=3)
    second = f.search("import", limit=3, offset=3)
    assert first.has_more and [h.file_id for h in first.hits + second.hits] == full[:6]
    last = f.search("import", limit=100, offset=len(full) - 1)
    assert len(last.hits) == 1 and not last.has_more


def test_index_state_of_hits(corpus) -> None:  # type: ignore[no-untyped-def]
    hits = {h.file_id: h for h in corpus.files.search("import", limit=100).hits}
    log = hits[corpus.ids["log"]]
    assert log.partial_index and log.index_state == "partial" and log.indexed_bytes == 4096
    assert hits[corpus.ids["main"]].index_state == "full"
    png = corpus.files.search("path:logo", limit=5).hits[0]
    assert png.index_state == "none" and not png.partial_index
    as_json = json.loads(json.dumps(log.as_dict()))
    assert as_json["partial_index"] is True and as_json["updated_at"].endswith("Z")


def test_result_as_dict(corpus) -> None:  # type: ignore[no-untyped-def]
    data = corpus.files.search("hello").as_dict()
    assert data["fallback"] is False and data["hits"][0]["file_path"] == "/app/main.py"


# -- fallback and index upkeep -----------------------------------------------------------------

def test_missing_index_falls_back_to_like_and_rebuild_restores_it(corpus) -> None:  # type: ignore[no-untyped-def]
    f = corpus.files
    corpus.db.execute_sql("DROP TABLE file_search_fts")
    result = f.search("main.py")
    assert result.fallback and "missing" in result.message and "Rebuild" in result.message
    assert result.hits[0].file_path == "/app/main.py" and result.hits[0].rank is None  # path match first
    assert {h.file_path for h in result.hits} == {"/app/main.py", "/app/Dockerfile"}
    assert MARK_START in result.hits[0].path_highlight
    assert "[import]" in snippet_plain(f.search("import", sandbox_id="sb-2").hits[0].snippet)
    assert f.search("100%_").hits == []  # LIKE wildcards are text
    assert f.search("*").hits == [] and f.search("(").hits == []
    status = f.index.status()
    assert not status.exists and not status.in_step
    assert not f.index.integrity_check().ok
    rebuilt = f.index.rebuild()
    assert rebuilt.exists and rebuilt.in_step and rebuilt.documents == rebuilt.files
    assert not f.search("main.py").fallback
    assert f.index.integrity_check().ok


def test_damaged_index_falls_back_and_is_rebuilt(corpus) -> None:  # type: ignore[no-untyped-def]
    f = corpus.files
    corpus.db.execute_sql("DROP TABLE file_search_fts_data")
    result = f.search("import")
    assert result.fallback and "damaged" in result.message and result.hits
    assert f.index.status().problem
    f.index.rebuild()
    result = f.search("import")
    assert not result.fallback and result.hits
    assert f.index.integrity_check().ok and f.index.status().in_step


def test_rebuild_restores_lost_triggers(corpus) -> None:  # type: ignore[no-untyped-def]
    f = corpus.files
    corpus.db.execute_sql("DROP TRIGGER file_metadata_ai")
    check = f.index.integrity_check()
    assert not check.ok and any("file_metadata_ai" in p for p in check.problems)
    f.index.rebuild()
    record = f.create("sb-1", "/new.txt", "zebra")
    assert [h.file_id for h in f.search("zebra").hits] == [record.id]


def test_integrity_check_finds_an_index_out_of_step(corpus) -> None:  # type: ignore[no-untyped-def]
    f = corpus.files
    conn = raw(corpus.path)
    conn.execute("DROP TRIGGER file_metadata_au")
    conn.execute("UPDATE file_metadata SET search_content = 'changed behind its back' WHERE id = ?",
                 (corpus.ids["main"],))
    conn.close()
    check = f.index.integrity_check()
    assert not check.ok and check.thorough
    f.index.rebuild()
    assert f.index.integrity_check().ok
    assert f.search("behind").hits[0].file_id == corpus.ids["main"]


def test_optimize_and_read_only_checks(corpus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus.files.index.optimize()
    assert corpus.files.search("import").hits
    path = corpus.path
    corpus.close()
    with open_store(path, read_only=True) as store:
        check = store.files.index.integrity_check()
        assert check.ok and not check.thorough
        assert search_files(store, "import").hits
        with pytest.raises(errors.ReadOnly):
            store.files.index.optimize()
        with pytest.raises(errors.ReadOnly):
            store.files.index.rebuild()


def test_fts5_syntax_error_is_retried_literally(corpus, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from sandbox_admin.storage.files import search as search_module

    monkeypatch.setattr(search_module, "to_fts_query", lambda text: "AND AND (")  # a broken translation
    result = corpus.files.search("hello world")
    assert not result.fallback and result.fts_query == '"hello" AND "world"'
    assert "plain words" in result.message and result.hits
    monkeypatch.setattr(search_module, "literal_query", lambda text: "OR OR")  # still broken
    result = corpus.files.search("hello world")
    assert result.fallback and "could not be run" in result.message and result.hits


def test_locked_database_is_an_error_not_a_fallback(corpus) -> None:  # type: ignore[no-untyped-def]
    from sandbox_admin.storage import PoolConfig

    path = corpus.path
    corpus.close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("PRAGMA journal_mode=DELETE")  # so that an exclusive lock keeps readers out
    with open_store(path, read_only=True, pool=PoolConfig(busy_timeout_ms=50)) as store:
        assert store.files.search("import").hits
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(errors.DatabaseLocked):
                store.files.search("import")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()


def test_punctuated_words_rank_files_holding_the_literal_text_first(fresh_store):
    """The tokenizer reads C++ as "c": LICENSE files full of "(c)" must not bury the C++ file."""
    add_sandbox(fresh_store)
    f = fresh_store.files
    licence = "Copyright (c) 2024 (c) the authors (c) all rights reserved (c).\n"
    noise = [f.create("sb-1", f"/vendor/lib{i}/LICENSE", licence * 3).id for i in range(6)]
    cpp = f.create("sb-1", "/docs/languages.md", "We write the engine in C++ and the tools in Go. " * 2
                   + "filler words " * 200).id
    node = f.create("sb-1", "/docs/web.md", "The web front end runs on node.js 20.\n" + "more text " * 300).id
    slash = f.create("sb-1", "/notes.txt", "switch a/b testing on\n" + "x " * 400).id
    f.create("sb-1", "/other.txt", "node is a graph term; js is short for javascript; a and b\n")
    for query, wanted in (("C++", cpp), ("node.js", node), ("a/b", slash)):
        hits = f.search(query, limit=10).hits
        assert hits and hits[0].file_id == wanted, (query, [h.file_path for h in hits])
    # without punctuation the order is exactly FTS5's bm25
    plain = [h.file_id for h in f.search("copyright", limit=10).hits]
    raw = [r[0] for r in fresh_store.db.execute_sql(
        "SELECT rowid FROM file_search_fts WHERE file_search_fts MATCH 'copyright' "
        "AND rank MATCH 'bm25(4.0, 1.0)' ORDER BY rank").fetchall()]
    assert plain == raw and set(plain) == set(noise)
