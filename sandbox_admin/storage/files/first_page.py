"""The first page of a search, fast: what a search box shows while the exact ranking runs.

The exact answer (:func:`.search.search_files`) ranks *every* match with bm25 before it
takes the best 50: ``import`` over 100,000 files is 85,000 matches ranked, and a prefix
such as ``con*`` (hundreds of words start with "con") costs FTS5 most of a second before
the first row, since it merges the doclists of all those words. :func:`first_page`
answers in a bounded time with real matches, labelled ``provisional``; the caller shows
them and replaces them with the exact answer when it comes. Two plans:

* **Newest candidates, ranked by FTS5** (any query without a prefix): find the rowid
  of the :data:`CANDIDATES`-th newest match (FTS5 walks doclists in rowid order and
  stops there), then the usual ranked statement with ``rowid >= that`` — FTS5 ranks only
  those candidates, with the true bm25 (its statistics are the whole table's), snippets
  and the literal-first order of punctuated words. When there are fewer matches than
  that, the bounded query *is* the exact one and the answer is final.
* **A scan of the newest rows** (words and ``prefix*`` ANDed, nothing else): the
  newest rows are read and matched here, token by token as FTS5's unicode61 tokenizer
  splits text, until a page of them matches, and that page is ordered by a bm25
  estimated on the rows read (``rank`` is None: the exact rank comes with the exact
  answer). FTS5's prefix set-up never runs. Fewer than a page of matches among the
  :data:`SCAN_ROWS` newest rows (a rare prefix, whose few postings FTS5 merges
  quickly): the first plan instead.

Whatever this returns, the order of a finished search is exactly
:func:`.search.search_files`' (bm25 with the path weight); only the time to the first
rows shown changes.
"""

from __future__ import annotations

import math
import re
import sqlite3
import unicodedata
from typing import TYPE_CHECKING, Any

import peewee

from .. import errors
from .search import (
    _TIME_FIELDS,
    ELLIPSIS,
    MARK_END,
    MARK_START,
    PATH_WEIGHT,
    SearchHit,
    SearchResult,
    _Search,
    clean_query,
    literal_term,
    search_files,
    to_fts_query,
)

if TYPE_CHECKING:
    from ..store import Store

#: Matches (newest first) ranked by FTS5 for a first page; fewer matches: the answer is final.
CANDIDATES = 2000
#: Newest rows the scan plan may read. It stops at the first page of matches: reading on
#: (to 400 rows, 13 ms for a prefix on 100k files) refined an estimate whose page had at
#: most 1 of the exact top 50 either way, and only delayed the first rows shown.
SCAN_ROWS = 400
#: bm25's constants in FTS5.
_K1, _B = 1.2, 0.75
#: An FTS5 query that is only quoted single words, some with ``*``, ANDed.
_SIMPLE_RE = re.compile(r'^"([^\W_]+)"(\*?)(?: AND "([^\W_]+)"(\*?))*$')
_TERM_RE = re.compile(r'"([^\W_]+)"(\*?)')
_TOKEN_RE = re.compile(r"[^\W_]+")
_CONTEXT_CHARS = 60


def fold(text: str) -> str:
    """Text as unicode61 compares it: lower case, without diacritics."""
    text = text.lower()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def scan_terms(fts_query: str) -> list[tuple[str, bool]] | None:
    """``[(word, is_prefix), ...]`` when the query is words and prefixes ANDed and has a
    prefix (the case the scan plan is for); None otherwise."""
    if "*" not in fts_query or not _SIMPLE_RE.match(fts_query):
        return None
    return [(fold(word), bool(star)) for word, star in _TERM_RE.findall(fts_query)]


def first_page(
    store: "Store",
    query: str,
    *,
    limit: int = 50,
    path_weight: float = PATH_WEIGHT,
    time_field: str = "updated_at",
    **filters: Any,
) -> SearchResult | None:
    """A first page of results for ``query`` in bounded time (see the module doc).

    Takes :func:`.search.search_files`' filters. Returns a result with ``provisional``
    set, or the exact result when the quick plan covered every match, or None when it
    has nothing quick to say (an index problem, no match among the newest rows…): the
    exact search will tell.
    """
    if time_field not in _TIME_FIELDS:
        raise errors.InvalidInput(f"time_field must be one of {', '.join(_TIME_FIELDS)}, not {time_field!r}.")
    typed = query if isinstance(query, str) else clean_query(query)
    limit = max(1, min(int(limit), 1000))
    fts_query = to_fts_query(typed)
    if fts_query == '""':
        return None
    search = _Search(store, path_weight=path_weight, time_field=time_field, **filters)
    terms = None if literal_term(typed) else scan_terms(fts_query)
    try:
        with store.connection():
            found = _scan(search, typed, fts_query, terms, limit, path_weight) if terms else None
            return found or _candidates(search, typed, fts_query, limit, filters | {"path_weight": path_weight,
                                                                       "time_field": time_field})
    except (sqlite3.Error, peewee.PeeweeException) as exc:
        translated = errors.translate(exc, str(store.path))
        if isinstance(translated, (errors.DatabaseLocked, errors.Cancelled)):
            raise translated from exc
        return None  # a query FTS5 rejects, a missing index...: the exact search says why


def _candidates(search: _Search, typed: str, fts_query: str, limit: int,
                filters: dict[str, Any]) -> SearchResult | None:
    FS = search.m.FileSearch
    lowest = (FS.select(FS.rowid).where(FS.match(fts_query))
              .order_by(FS.rowid.desc()).limit(1).offset(CANDIDATES - 1).scalar())
    if lowest is None:  # fewer matches than candidates: ranking them all is cheap and exact
        return search_files(search.store, typed, limit=limit, **filters)
    hits = search.fts(fts_query, limit, 0, typed, min_rowid=lowest)
    if not hits:
        return None
    return SearchResult(typed, fts_query, hits, has_more=True, provisional=True)


def _counter(word: str, prefix: bool) -> re.Pattern[str]:
    return re.compile(r"(?<![^\W_])" + re.escape(word) + ("" if prefix else r"(?![^\W_])"))


def _scan(search: _Search, typed: str, fts_query: str, terms: list[tuple[str, bool]],
          limit: int, path_weight: float) -> SearchResult | None:
    FM = search.m.FileMetadata
    query = (FM.select(*search.columns(), FM.search_content).where(*search.conditions())
             .order_by(FM.id.desc()).limit(SCAN_ROWS))
    rows = search.rows(query.sql(), search.values())
    patterns = [_counter(word, prefix) for word, prefix in terms]
    found: list[tuple[tuple, list[float], int]] = []
    docs = [0] * len(terms)
    lengths = 0
    scanned = 0
    for row in rows:
        if len(found) >= limit:
            break
        scanned += 1
        path, content = fold(row[2] or ""), fold(row[8] or "")
        length = len(_TOKEN_RE.findall(path)) + len(content.split())
        lengths += length
        freqs = []
        for i, pattern in enumerate(patterns):
            freq = path_weight * len(pattern.findall(path)) + len(pattern.findall(content))
            docs[i] += freq > 0
            freqs.append(freq)
        if all(freqs):
            found.append((row, freqs, length))
    if len(found) < limit:  # a rare prefix: few words, few postings - FTS5 is quick there
        return None
    average = lengths / scanned
    idf = [max(1e-6, math.log(0.5 + (scanned - n + 0.5) / (n + 0.5))) for n in docs]

    def estimate(item: tuple[tuple, list[float], int]) -> float:
        _, freqs, length = item
        norm = _K1 * (1 - _B + _B * length / average) if average else _K1
        return -sum(w * f * (_K1 + 1) / (f + norm) for w, f in zip(idf, freqs))

    found.sort(key=lambda item: (estimate(item), -item[0][0]))
    hits = [_scan_hit(search, row, patterns) for row, _, _ in found[:limit]]
    return SearchResult(typed, fts_query, hits, has_more=True, provisional=True)


def _marked(text: str, patterns: list[re.Pattern[str]]) -> tuple[str, int]:
    """``text`` with each matched token marked, and the offset of the first match (-1)."""
    folded = fold(text)
    if len(folded) != len(text):  # folding changed the offsets: no marks, rather than wrong ones
        return text, -1
    spans = sorted({(m.start(), _TOKEN_RE.match(folded, m.start()).end())  # type: ignore[union-attr]
                    for p in patterns for m in p.finditer(folded)})
    out, last = [], 0
    for start, end in spans:
        if start < last:
            continue
        out += [text[last:start], MARK_START, text[start:end], MARK_END]
        last = end
    out.append(text[last:])
    return "".join(out), (spans[0][0] if spans else -1)


def _scan_hit(search: _Search, row: tuple, patterns: list[re.Pattern[str]]) -> SearchHit:
    path_hl, _ = _marked(row[2] or "", patterns)
    content = row[8] or ""
    first = -1
    for pattern in patterns:  # the window is cut first, so that marking stays cheap
        found = pattern.search(fold(content[: 64 * 1024]))
        if found and (first < 0 or found.start() < first):
            first = found.start()
    start = max(0, first - _CONTEXT_CHARS) if first >= 0 else 0
    end = min(len(content), start + 3 * _CONTEXT_CHARS)
    snippet, _ = _marked(content[start:end], patterns)
    snippet = (ELLIPSIS if start else "") + snippet + (ELLIPSIS if end < len(content) else "")
    return search.hit(row, None, snippet, path_hl)
