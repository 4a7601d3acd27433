"""Issue #15: a quick first page, and the finished order stays exactly FTS5's bm25.

The finished search (``files.search``) is compared with the raw FTS5 statement (bm25
with the path weight the code uses, literal-first for punctuated words) on the Go
fixture and on generated data; the quick first page (``files.search_first``) must show
real matches that pass the filters, labelled provisional unless it is the exact answer.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from pathlib import Path

import pytest

from sandbox_admin.storage import PATH_WEIGHT, create_store, open_store
from sandbox_admin.storage.files import first_page as quick
from sandbox_admin.storage.files.search import literal_term, to_fts_query

QUERIES = [
    "import",  # common
    "json",
    "numpy",  # mid
    "zokaloser",  # no match
    "handle_96",  # rare (one file)
    "imp*",  # prefix
    "con*",  # prefix expanding to many words
    "pa* js*",  # two prefixes
    '"import json"',  # phrase
    "main.py",  # punctuation (literal first)
    "net/http",
    "C++",
    "path:main",  # column filter
    "import NOT json",
]


def raw_order(path: Path, typed: str, limit: int, sandbox_id: str | None = None) -> list[tuple[int, float]]:
    """The exact top ``limit`` straight from FTS5: bm25 with the path weight; files holding
    a punctuated word's literal text first (the existing rule for ``C++`` and friends)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    lit = literal_term(typed)
    order = "rank"
    params: list[object] = [to_fts_query(typed), f"bm25({PATH_WEIGHT!r}, 1.0)"]
    where = ""
    if sandbox_id:
        where = " AND f.sandbox_id = ?"
        params.append(sandbox_id)
    if lit:
        order = ("CASE WHEN instr(lower(f.file_path), ?) > 0 OR instr(lower(f.search_content), ?) > 0 "
                 "THEN 0 ELSE 1 END, rank")
        params += [lit, lit]
    rows = conn.execute(
        "SELECT f.id, rank FROM file_search_fts JOIN file_metadata f ON f.id = file_search_fts.rowid "
        f"WHERE file_search_fts MATCH ? AND rank MATCH ? AND f.deleted_at IS NULL{where} "
        f"ORDER BY {order} LIMIT ?", [*params, limit]).fetchall()
    conn.close()
    return rows


def all_matches(path: Path, typed: str) -> set[int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = conn.execute("SELECT rowid FROM file_search_fts WHERE file_search_fts MATCH ?",
                        (to_fts_query(typed),)).fetchall()
    conn.close()
    return {r[0] for r in rows}


_SYLLABLES = ["ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "con", "fig", "dat", "ser", "pa", "js"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """3,000 files of Zipf-distributed words (many sharing prefixes), some deleted, in 10 sandboxes."""
    path = tmp_path_factory.mktemp("gen") / "generated.db"
    create_store(path).close()
    rng = random.Random(15)
    vocab = sorted({"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(1500)})
    vocab = ["import", "json", "numpy", "main", "print", *vocab]
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    now = "2026-11-26 01:35:19.123456+00:00"
    for i in range(10):
        conn.execute("INSERT INTO sandboxes (id, status, created_at, updated_at) VALUES (?, 'running', ?, ?)",
                     (f"sb-{i}", now, now))
    names = ["main.py", "utils.py", "server.go", "README.md", "handler.js"]
    for i in range(3000):
        words = rng.choices(vocab, weights=weights, k=rng.randint(5, 120))
        if i % 97 == 0:
            words += ["C++", "net/http", "main.py"]
        text = " ".join(words)
        conn.execute(
            "INSERT INTO file_metadata (sandbox_id, file_path, checksum, size_bytes, mime_type, created_at, "
            "updated_at, deleted_at, version, metadata, search_content, access_count) "
            "VALUES (?, ?, ?, ?, 'text/plain', ?, ?, ?, 1, '{}', ?, 0)",
            (f"sb-{i % 10}", f"/app/{rng.choice(vocab)}/{rng.choice(names)}", hashlib.sha256(text.encode()).hexdigest(),
             len(text), now, now, now if i % 50 == 7 else None, text))
    conn.execute("COMMIT")
    conn.close()
    return path


@pytest.fixture(params=["go", "generated"])
def database(request, go_db: Path, generated: Path) -> Path:  # type: ignore[no-untyped-def]
    return go_db if request.param == "go" else generated


@pytest.mark.parametrize("typed", QUERIES)
def test_finished_order_is_exactly_raw_bm25(database: Path, typed: str) -> None:
    with open_store(database, read_only=True) as store:
        hits = store.files.search(typed, limit=50).hits
    expected = raw_order(database, typed, 50)
    assert [h.file_id for h in hits] == [i for i, _ in expected]
    assert [h.rank for h in hits] == [r for _, r in expected]


@pytest.mark.parametrize("typed", QUERIES)
def test_first_page_is_real_matches_or_the_exact_answer(database: Path, typed: str, monkeypatch) -> None:
    monkeypatch.setattr(quick, "CANDIDATES", 40)  # small data: make the bounded plan bite
    matches = all_matches(database, typed)
    with open_store(database, read_only=True) as store:
        first = store.files.search_first(typed, limit=20)
        exact = store.files.search(typed, limit=20)
        deleted = {r.id for r in store.files.list(include_deleted=True, limit=10_000) if r.is_deleted}
    if first is None:  # nothing quick to say: the exact answer alone
        return
    ids = [h.file_id for h in first.hits]
    assert len(ids) == len(set(ids)) <= 20
    assert set(ids) <= matches and not set(ids) & deleted
    if not first.provisional:  # covered every match: it is the exact answer
        assert ids == [h.file_id for h in exact.hits] and first.has_more == exact.has_more


@pytest.mark.parametrize("typed", ["import", "con*", "main.py"])
def test_first_page_keeps_the_filters(generated: Path, typed: str, monkeypatch) -> None:
    monkeypatch.setattr(quick, "CANDIDATES", 40)
    with open_store(generated, read_only=True) as store:
        first = store.files.search_first(typed, limit=20, sandbox_id="sb-3")
        assert first is not None and first.hits
        assert {h.sandbox_id for h in first.hits} == {"sb-3"}
        exact = store.files.search(typed, limit=20, sandbox_id="sb-3").hits
    assert [h.file_id for h in exact] == [i for i, _ in raw_order(generated, typed, 20, "sb-3")]


def test_plans(generated: Path, monkeypatch) -> None:
    """Prefixes are scanned (FTS5's prefix set-up never runs), words ranked by FTS5 on the
    newest candidates (true bm25 values), and few matches give the exact answer at once."""
    assert quick.scan_terms('"con"* AND "ser"') == [("con", True), ("ser", False)]
    assert quick.scan_terms('"import"') is None and quick.scan_terms('"main.py"*') is None
    assert quick.scan_terms('"a"* OR "b"') is None
    monkeypatch.setattr(quick, "CANDIDATES", 40)
    with open_store(generated, read_only=True) as store:
        prefix = store.files.search_first("con*")
        assert prefix is not None and prefix.provisional and prefix.has_more
        assert all(h.rank is None and "\x02con" in (h.path_highlight + h.snippet).lower() for h in prefix.hits)
        word = store.files.search_first("import")
        assert word is not None and word.provisional
        exact = dict(raw_order(generated, "import", 100_000))
        assert all(exact[h.file_id] == h.rank for h in word.hits)  # bm25 of the whole table
        assert [h.rank for h in word.hits] == sorted(h.rank for h in word.hits)
        monkeypatch.setattr(quick, "CANDIDATES", 100_000)
        final = store.files.search_first("import")
        assert final is not None and not final.provisional
        assert [h.file_id for h in final.hits] == [h.file_id for h in store.files.search("import").hits]
        assert store.files.search_first("zokaloser") is not None
        assert store.files.search_first("*") is None


def test_first_page_without_an_index_leaves_it_to_the_exact_search(go_db: Path) -> None:
    conn = sqlite3.connect(go_db)
    conn.execute("DROP TABLE file_search_fts")
    conn.close()
    with open_store(go_db, read_only=True) as store:
        assert store.files.search_first("import") is None
        assert store.files.search("import").fallback
