"""The file store: search latency, chunked-store throughput, dedup of edited files.

* Search on 100,000 files (10,000 with --quick; the generated database is cached in
  the temp folder's ``sandbox-admin-bench-cache/``, or ``$SANDBOX_ADMIN_BENCH_CACHE``):
  issue #15's figures, p95 over queries x runs - the time to the first 50 results a
  search box shows (``files.search_first``: a provisional page, or the exact one when
  that is cheap; target p95 <= 50 ms) for prefix queries and common words, and the
  exact top 50 (``files.search``) - against the raw FTS5 top-50 statement run with
  sqlite3 on a pre-translated query (target <= 1.0x); then the exact top 50 per query
  (best of the runs).
* Storing content (CDC chunking, hashing, SQLite writes, commit) against
  ``hashlib.sha256`` over the same bytes; the chunking backends the same way.
* Dedup ratio (logical / physical bytes) of FastCDC against the Go server's fixed
  64 KiB pieces, on files edited by insertions, both stored through FileStore.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Callable

from sandbox_admin.storage import (
    ELLIPSIS,
    MARK_END,
    MARK_START,
    PATH_WEIGHT,
    SNIPPET_TOKENS,
    CDCChunker,
    FileStore,
    FixedChunker,
    create_store,
    open_store,
    to_fts_query,
    utcnow,
)

from .harness import Figure, best_of, scratch_dir, timings

MB = 1024 * 1024
_SYLLABLES = ["ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "ve", "zo", "in", "ex", "con", "fig", "dat", "ser"]
_CODE = ["import", "def", "return", "package", "func", "class", "json", "os", "main", "self", "print", "error"]


def _vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    words = set(_CODE)
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words, key=lambda w: (w not in _CODE, w))


def _text(rng: random.Random, vocab: list[str], weights: list[float], n_words: int) -> str:
    words = rng.choices(vocab, weights=weights, k=n_words)
    lines = [" ".join(words[i:i + 9]) for i in range(0, len(words), 9)]
    return "\n".join(lines) + "\n"


def _search_db(path: Path, n_files: int) -> None:
    """A database with ``n_files`` text files in 100 sandboxes, written in bulk."""
    create_store(path).close()
    rng = random.Random(42)
    vocab = _vocabulary(rng)
    weights = [1.0 / (i + 1) for i in range(len(vocab))]  # Zipf: 'import' is common
    now = "2026-11-26 01:35:19.123456+00:00"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    sandboxes = [f"sb-{i:03d}" for i in range(100)]
    conn.executemany("INSERT INTO sandboxes (id, status, created_at, updated_at) VALUES (?, 'running', ?, ?)",
                     [(s, now, now) for s in sandboxes])
    names = ["main.py", "utils.py", "server.go", "README.md", "config.yaml", "handler.js", "data.csv"]
    rows = []
    for i in range(n_files):
        text = _text(rng, vocab, weights, rng.randint(40, 160))
        path_ = f"/app/{vocab[rng.randrange(200, 2000)]}/{rng.choice(names)}"
        rows.append((sandboxes[i % 100], path_, hashlib.sha256(text.encode()).hexdigest(), len(text),
                     "text/plain", now, now, "{}", text))
    conn.executemany(
        "INSERT INTO file_metadata (sandbox_id, file_path, checksum, size_bytes, mime_type, created_at, "
        "updated_at, version, metadata, search_content, access_count) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, 0)",
        rows)
    conn.execute("COMMIT")
    conn.execute("INSERT INTO file_search_fts(file_search_fts) VALUES ('optimize')")
    conn.close()


_RAW_SEARCH = (
    "SELECT f.id, f.sandbox_id, f.file_path, f.mime_type, f.size_bytes, f.updated_at, f.deleted_at, "
    "coalesce(length(CAST(f.search_content AS BLOB)), 0), rank, "
    "snippet(file_search_fts, 1, ?, ?, ?, ?), highlight(file_search_fts, 0, ?, ?) "
    "FROM file_search_fts JOIN file_metadata f ON f.id = file_search_fts.rowid "
    "WHERE file_search_fts MATCH ? AND rank MATCH ? AND f.deleted_at IS NULL ORDER BY rank LIMIT ?"
)


def cached_search_db(n_files: int) -> tuple[Path, float]:
    """The generated search database, built once (a minute at 100k files) and kept in the
    bench cache folder; only read afterwards. Returns (path, seconds spent building)."""
    folder = Path(os.environ.get("SANDBOX_ADMIN_BENCH_CACHE", Path(tempfile.gettempdir()) / "sandbox-admin-bench-cache"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"search-{n_files // 1000}k-v{_GENERATOR_VERSION}.db"
    if path.exists():
        return path, 0.0
    started = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    _search_db(partial, n_files)
    partial.rename(path)
    return path, time.perf_counter() - started


#: Bumped whenever _search_db writes different data (the cache is keyed on it).
_GENERATOR_VERSION = 1
#: What typing produces: prefixes (``con*`` expands to ~380 words, ``imp*`` to one).
_PREFIXES = ["imp*", "con*", "ser*", "ka*", "dat*"]
_COMMON = ["import", "def", "return", "json", "class"]


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _paired(ours: Callable[[], object], raw: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    """Times of both, run in turns (which goes first alternates), so that a busy moment of
    the machine falls on both alike."""
    ours_times, raw_times = [], []
    for i in range(repeat):
        pair = ((ours, ours_times), (raw, raw_times))
        for fn, times in (pair if i % 2 == 0 else pair[::-1]):
            times += timings(fn, 1, warm=True)
    return ours_times, raw_times


def _search_figures(quick: bool) -> list[Figure]:
    n_files = 10_000 if quick else 100_000
    db, build = cached_search_db(n_files)
    queries = [
        ("common word", "import", {}),
        ("mid-frequency word", "json", {}),
        ("rare word", "zokaloser", {}),
        ("two words", "import print", {}),
        ("prefix imp*", "imp*", {}),
        ("prefix con*", "con*", {}),
        ("path phrase", "main.py", {}),
        ("common word, one sandbox", "import", {"sandbox_id": "sb-007"}),
    ]
    figures = []
    repeat = 5 if quick else 10
    k = f"{n_files // 1000}k"
    with open_store(db, read_only=True) as store:
        raw = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        # The same pragmas as our connections (database.py), so only our code's overhead differs.
        for pragma in ("PRAGMA cache_size=-64000", "PRAGMA temp_store=MEMORY", "PRAGMA trusted_schema=OFF",
                       "PRAGMA cell_size_check=ON"):
            raw.execute(pragma)
        rank_fn = f"bm25({PATH_WEIGHT!r}, 1.0)"

        def raw_top50(text: str, filters: dict[str, str]) -> Callable[[], object]:
            sql = _RAW_SEARCH
            params: list[object] = [MARK_START, MARK_END, ELLIPSIS, SNIPPET_TOKENS, MARK_START, MARK_END,
                                    to_fts_query(text), rank_fn]
            if filters:
                sql = sql.replace("AND f.deleted_at IS NULL", "AND f.sandbox_id = ? AND f.deleted_at IS NULL")
                params.append(filters["sandbox_id"])
            params.append(51)
            return lambda: raw.execute(sql, params).fetchall()

        # Issue #15: time to the first 50 results a search box can show, p95 over queries x runs.
        for label, texts in (("prefix query (imp*, con*, ser*, ka*, dat*)", _PREFIXES),
                             ("common word (import, def, return, json, class)", _COMMON)):
            firsts: list[float] = []
            exacts: list[float] = []
            raws: list[float] = []
            provisional = 0
            for text in texts:
                answer = store.files.search_first(text, limit=50)
                provisional += answer is not None and answer.provisional
                firsts += timings(lambda: store.files.search_first(text, limit=50), repeat, warm=True)  # noqa: B023
                slow = 3 if quick else 4  # the raw ranking of a wide prefix takes seconds
                ours_t, raw_t = _paired(lambda: store.files.search(text, limit=50), raw_top50(text, {}), slow)  # noqa: B023
                exacts += ours_t
                raws += raw_t
            figures.append(Figure(
                f"search {k} files, {label}: first 50 shown, p95", p95(firsts), p95(raws),
                target="p95 <= 50 ms",
                note=f"files.search_first ({provisional}/{len(texts)} provisional, the rest exact) vs raw "
                     f"FTS5 top-50 p95; {len(firsts)} and {len(raws)} runs",
            ))
            figures.append(Figure(
                f"search {k} files, {label}: exact top-50, p95", p95(exacts), p95(raws),
                target="<= 1.0x", note=f"files.search vs the same FTS5 SQL via sqlite3, in turns; {len(raws)} runs each",
            ))
        for label, text, filters in queries:
            baseline = raw_top50(text, filters)

            def ours() -> None:
                store.files.search(text, limit=50, **filters)  # noqa: B023

            ours_t, raw_t = _paired(ours, baseline, 3 if "*" in text else repeat)
            hits = len(store.files.search(text, limit=50, **filters).hits)
            fts = to_fts_query(text)
            count = raw.execute("SELECT count(*) FROM file_search_fts WHERE file_search_fts MATCH ?", (fts,)).fetchone()[0]
            figures.append(Figure(
                f"search {k} files: {label}, exact top 50", min(ours_t), min(raw_t),
                target="<= 1.0x", note=f"{count:,} matches, top {hits}; best of runs in turns with the same FTS5 SQL via sqlite3",
            ))
        raw.close()
    figures[0].note += f"; data built in {build:.0f} s" if build else "; data from the bench cache"
    return figures


def _store_figures(tmp: Path, quick: bool) -> list[Figure]:
    size = (16 if quick else 64) * MB
    data = random.Random(3).randbytes(size)
    reps = 2 if quick else 3
    times = []
    for i in range(reps):
        store = create_store(tmp / f"store-{i}.db")
        now = utcnow()
        store.models.Sandbox.insert(id="sb", status="running", created_at=now, updated_at=now).execute()
        started = time.perf_counter()
        store.files.create("sb", "/data/blob.bin", data)
        times.append(time.perf_counter() - started)
        store.close()
    ours = min(times)
    sha = best_of(lambda: hashlib.sha256(data).hexdigest(), 5)
    figures = [Figure(
        f"store {size // MB} MiB (CDC + sha256 + SQLite)", ours, sha,
        note=f"{size / MB / ours:,.0f} MB/s vs sha256 {size / MB / sha:,.0f} MB/s, random bytes",
    )]
    for backend, n in (("pyfastcdc", size), ("numpy", size), ("python", 4 * MB)):
        chunker = CDCChunker(backend=backend)  # type: ignore[arg-type]
        part = data[:n]
        took = best_of(lambda: sum(1 for _ in chunker.split(part)), 3 if backend != "python" else 1)
        base = best_of(lambda: hashlib.sha256(part).hexdigest(), 3)
        figures.append(Figure(
            f"FastCDC split, {backend}", took, base,
            note=f"{n / MB / took:,.0f} MB/s on {n // MB} MiB (baseline: sha256 of the same bytes)",
        ))
    return figures


def _edited_versions(rng: random.Random, n_files: int, n_versions: int) -> list[list[bytes]]:
    vocab = _vocabulary(rng, 3000)
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    result = []
    for _ in range(n_files):
        data = _text(rng, vocab, weights, rng.randint(12_000, 150_000)).encode()
        versions = [data]
        for _ in range(n_versions - 1):
            for _ in range(rng.randint(1, 3)):  # a few insertions anywhere in the file
                pos = rng.randrange(len(data))
                data = data[:pos] + _text(rng, vocab, weights, rng.randint(2, 40)).encode() + data[pos:]
            versions.append(data)
        result.append(versions)
    return result


def _dedup_figures(tmp: Path, quick: bool) -> list[Figure]:
    n_files, n_versions = (10, 5) if quick else (40, 6)
    corpus = _edited_versions(random.Random(9), n_files, n_versions)
    ratios = {}
    for name, chunker in (("cdc", CDCChunker()), ("fixed", FixedChunker())):
        store = create_store(tmp / f"dedup-{name}.db")
        now = utcnow()
        store.models.Sandbox.insert(id="sb", status="running", created_at=now, updated_at=now).execute()
        files = FileStore(store, chunker=chunker)
        for i, versions in enumerate(corpus):
            record = files.create("sb", f"/src/file{i}.txt", versions[0])
            for data in versions[1:]:
                record = files.new_version(record.id, data)
        stats = files.storage_stats().overall
        ratios[name] = (stats.dedup_ratio or 0.0, stats.logical_bytes, stats.physical_bytes)
        store.close()
    cdc, fixed = ratios["cdc"], ratios["fixed"]
    return [Figure(
        f"dedup ratio, {n_files} files x {n_versions} versions edited by insertions", cdc[0], fixed[0],
        unit="x", higher_is_better=True,
        note=f"logical {cdc[1] / MB:.1f} MiB; stored: FastCDC {cdc[2] / MB:.1f} MiB, fixed 64 KiB {fixed[2] / MB:.1f} MiB",
    )]


def run(quick: bool = False) -> list[Figure]:
    with scratch_dir() as tmp:
        return _search_figures(quick) + _store_figures(tmp, quick) + _dedup_figures(tmp, quick)
