"""Full-text search over files, and upkeep of the index.

The index is the Go server's FTS5 table ``file_search_fts`` over ``file_path`` and
``search_content`` (external content: the text lives in ``file_metadata``, triggers
keep the index in step).

What a person types is never an error. :func:`to_fts_query` turns search-box text into
a valid FTS5 query with ``playhouse.fts_parser``: plain words are ANDed, each word is
quoted (so ``main.py``, ``foo-bar``, ``C++`` or ``"unbalanced`` are just text), and FTS5
syntax still works for those who type it - ``"exact phrase"``, ``prefix*``,
``AND``/``OR``/``NOT``, ``-word``, parentheses and column filters
(``file_path:main`` or the short ``path:main``, ``content:import``). A query with no
word in it (``*``, ``""``, punctuation) finds nothing and says so.

Results come best first: FTS5's ``rank`` is bm25, where lower is better, so the order
is ascending (the Go server sorted ``rank DESC``, worst first). A match in the path
weighs :data:`PATH_WEIGHT` times one in the text (``rank MATCH 'bm25(4.0, 1.0)'``), so
``main.py`` lists main.py files before files that mention it; for words found only in
the text the rank is exactly SQLite's ``bm25(file_search_fts)``. ``ORDER BY rank`` is
handed to FTS5, which sorts internally, so snippets are computed only for the page
returned.

**Snippet markers**: :attr:`SearchHit.snippet` (from ``search_content``) and
:attr:`SearchHit.path_highlight` (the path) mark each match with ``\\x02`` before and
``\\x03`` after (:data:`MARK_START`, :data:`MARK_END`); ``…`` shows where text was cut.
These control characters do not occur in text people write and survive any
escaping, so a GUI can HTML-escape everything and then turn the markers into
highlighting: :func:`snippet_html` does exactly that, :func:`snippet_spans` gives
(text, matched) pieces and :func:`snippet_plain` swaps in printable brackets.

If the FTS table is missing or damaged, search falls back to a LIKE scan of path and
text (every word must appear), flags ``fallback=True`` and says why in ``message``.
:class:`SearchIndex` rebuilds (recreating a lost table and its triggers), optimizes and
integrity-checks the index.
"""

from __future__ import annotations

import html
import re
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import peewee
from peewee import SQL, Case, Cast, NodeList, fn
from playhouse import fts_parser

from .. import errors
from ..fields import format_timestamp, parse_timestamp, to_iso
from .records import index_state

if TYPE_CHECKING:
    from ..store import Store

MARK_START = "\x02"
MARK_END = "\x03"
ELLIPSIS = "…"
#: Tokens of context a snippet shows around the matches.
SNIPPET_TOKENS = 24
#: FTS5's snippet() costs the square of a document's hits (1 MiB of one repeated word:
#: minutes). Documents with more indexed text than this get a snippet computed here
#: from a window around the first match instead: linear, and bounded.
SNIPPET_FTS_MAX_BYTES = 8 * 1024
#: Characters of context around the first match in such a snippet.
_WINDOW_CHARS = 120
#: bm25 weight of a match in the path against one in the text: a person typing
#: ``main.py`` wants main.py files before files that mention main.py.
PATH_WEIGHT = 4.0
#: Longer queries are cut here (a search box, not a document).
MAX_QUERY_CHARS = 1000
FTS_TABLE = "file_search_fts"
COLUMNS = ("file_path", "search_content")
_ALIASES = {"path": "file_path", "content": "search_content", "text": "search_content"}
_ALIAS_RE = re.compile(r"(?<![\w\"])(path|content|text)(?=\s*:)", re.IGNORECASE)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_WORD_RE = re.compile(r"\w")
_OPERATORS = {"AND", "OR", "NOT"}
_TIME_FIELDS = ("updated_at", "created_at", "last_accessed")


# -- results -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SearchHit:
    file_id: int
    sandbox_id: str
    file_path: str
    rank: float | None  # bm25: lower is better; None for the LIKE fallback
    snippet: str  # search_content around the matches, matches marked (see module doc)
    path_highlight: str  # file_path with matches marked
    mime_type: str
    size_bytes: int
    updated_at_text: str | None  # as stored; parsed on first use (most hits are never asked)
    deleted: bool
    indexed_bytes: int

    @cached_property
    def updated_at(self) -> datetime | None:
        return parse_timestamp(self.updated_at_text)

    @property
    def index_state(self) -> str:
        """``full``, ``partial`` (only the first part is searchable) or ``none`` (no text)."""
        return index_state(self.indexed_bytes, self.size_bytes)

    @property
    def partial_index(self) -> bool:
        return self.index_state == "partial"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["updated_at_text"]
        data["updated_at"] = to_iso(self.updated_at)
        data["index_state"] = self.index_state
        data["partial_index"] = self.partial_index
        return data


@dataclass(frozen=True)
class SearchResult:
    query: str  # what was typed
    fts_query: str  # what was sent to FTS5 ('' for the LIKE fallback)
    hits: list[SearchHit] = field(default_factory=list)
    fallback: bool = False  # True: the index could not be used; LIKE scan, unranked
    message: str = ""  # for the person: why nothing / why fallback / what was changed
    offset: int = 0
    has_more: bool = False
    #: True for a first page shown while the exact ranking runs (see ``first_page.py``):
    #: real matches, but not (yet) the best ones in bm25 order.
    provisional: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "fts_query": self.fts_query,
            "fallback": self.fallback,
            "message": self.message,
            "offset": self.offset,
            "has_more": self.has_more,
            "provisional": self.provisional,
            "hits": [h.as_dict() for h in self.hits],
        }


# -- snippets --------------------------------------------------------------------------------------

def snippet_spans(text: str) -> list[tuple[str, bool]]:
    """``[(piece, is_match), ...]`` from marked text; stray markers are dropped."""
    spans: list[tuple[str, bool]] = []
    inside = False
    for part in re.split(r"([\x02\x03])", text):
        if part == MARK_START:
            inside = True
        elif part == MARK_END:
            inside = False
        elif part:
            spans.append((part, inside))
    return spans


def snippet_html(text: str, tag: str = "b") -> str:
    """Marked text as safe HTML: everything escaped, matches wrapped in ``<tag>``."""
    return "".join(
        f"<{tag}>{html.escape(piece)}</{tag}>" if matched else html.escape(piece)
        for piece, matched in snippet_spans(text)
    )


def snippet_plain(text: str, start: str = "[", end: str = "]") -> str:
    """Marked text with printable markers (for terminals), on one line."""
    joined = "".join(f"{start}{piece}{end}" if matched else piece for piece, matched in snippet_spans(text))
    return re.sub(r"\s+", " ", joined).strip()


def snippet_matches(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the matches in the text without markers."""
    found: list[tuple[int, int]] = []
    pos = 0
    for piece, matched in snippet_spans(text):
        if matched:
            found.append((pos, pos + len(piece)))
        pos += len(piece)
    return found


# -- turning typed text into FTS5 ----------------------------------------------------------------

def clean_query(text: Any) -> str:
    """Typed text made safe to handle: valid UTF-8, no control characters, bounded."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> '?'
    text = _CONTROL_RE.sub(" ", text)
    return text[:MAX_QUERY_CHARS].strip()


def _apply_aliases(text: str) -> str:
    """``path:`` / ``content:`` -> the real column names, outside quoted phrases."""
    out = []
    last = 0
    for match in _ALIAS_RE.finditer(text):
        if text.count('"', 0, match.start()) % 2:
            continue  # inside a phrase
        out.append(text[last:match.start()])
        out.append(_ALIASES[match.group(1).lower()])
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def literal_query(text: str) -> str:
    """Every word of ``text`` as a quoted phrase, ANDed: always valid, no syntax."""
    words = [w.replace('"', '""') for w in re.split(r"\s+", text) if _WORD_RE.search(w)]
    return " AND ".join(f'"{w}"' for w in words) or '""'


def to_fts_query(text: str) -> str:
    """The FTS5 query for search-box text (``'""'`` when it has no word to look for)."""
    cleaned = _apply_aliases(clean_query(text))
    try:
        return fts_parser.parse(cleaned, COLUMNS)
    except Exception:  # the parser promises not to fail; if it does, read the text literally
        return literal_query(cleaned)


def like_terms(text: str) -> list[str]:
    """The words of a query for the LIKE fallback (operators and syntax stripped)."""
    terms = []
    for token in re.findall(r'"[^"]*"|\S+', clean_query(text)):
        if token in _OPERATORS:
            continue
        token = token.strip('"').lstrip("-").rstrip("*").strip("()")
        column, sep, rest = token.partition(":")
        if sep and (column in COLUMNS or column.lower() in _ALIASES):
            token = rest
        if token and _WORD_RE.search(token):
            terms.append(token)
    return terms


_LITERAL_RE = re.compile(r"\w[^\w\s]|[^\w\s]\w")


def literal_term(text: str) -> str:
    """The first typed word whose punctuation the index cannot see (``C++``, ``node.js``,
    ``a/b``), lowercased; '' when there is none. The tokenizer reads ``C++`` as ``c``
    (which "(c)" matches too), so files holding the literal text are ranked first."""
    for term in like_terms(text):
        if _LITERAL_RE.search(term) or (term[-1:] in "+#" and _WORD_RE.search(term)):
            return term.lower()
    return ""


# -- searching ---------------------------------------------------------------------------------------

def fts_available(store: "Store") -> bool:
    row = store.db.execute_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (FTS_TABLE,)
    ).fetchone()
    return row is not None


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _like(column: Any, term: str) -> NodeList:
    return NodeList((column, SQL("LIKE"), _like_pattern(term), SQL("ESCAPE '\\'")))


class _Slot:
    """A named placeholder in a cached statement, filled with the search's value."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _slot(name: str) -> peewee.Value:
    return peewee.Value(_Slot(name), converter=False)


#: Statements Peewee generated, by shape (which filters are set): generating the SQL
#: costs ~0.4 ms, more than a rare word's whole FTS5 lookup.
_STATEMENTS: dict[tuple, tuple[str, list[Any]]] = {}


class _Search:
    def __init__(self, store: "Store", **filters: Any) -> None:
        self.store = store
        self.m = store.models
        self.filters = filters

    def shape(self) -> tuple:
        f = self.filters
        present = tuple(f.get(k) not in (None, "") for k in
                        ("sandbox_id", "mime_prefix", "path_prefix", "min_size", "max_size", "since", "until"))
        return present + (f.get("time_field") or "updated_at", bool(f.get("include_deleted")))

    def values(self) -> dict[str, Any]:
        """The values of the filters, converted as the columns store them."""
        f = self.filters
        values: dict[str, Any] = {}
        if f.get("sandbox_id"):
            values["sandbox"] = str(f["sandbox_id"])
        if f.get("mime_prefix"):
            values["mime"] = str(f["mime_prefix"]).lower()
            values["mime_len"] = len(values["mime"])
        if f.get("path_prefix"):
            values["path"] = str(f["path_prefix"])
            values["path_len"] = len(values["path"])
        for key, name in (("min_size", "min"), ("max_size", "max")):
            if f.get(key) is not None:
                values[name] = int(f[key])
        for key in ("since", "until"):
            if f.get(key) is not None:
                values[key] = format_timestamp(f[key])
        return values

    def conditions(self) -> list[Any]:
        """The filters, with each value a named slot (see :func:`_slot`)."""
        FM = self.m.FileMetadata
        f = self.filters
        conds: list[Any] = []
        if f.get("sandbox_id"):
            conds.append(FM.sandbox == _slot("sandbox"))
        if f.get("mime_prefix"):
            conds.append(fn.lower(fn.substr(FM.mime_type, 1, _slot("mime_len"))) == _slot("mime"))
        if f.get("path_prefix"):
            conds.append(fn.substr(FM.file_path, 1, _slot("path_len")) == _slot("path"))
        if f.get("min_size") is not None:
            conds.append(FM.size_bytes >= _slot("min"))
        if f.get("max_size") is not None:
            conds.append(FM.size_bytes <= _slot("max"))
        # Instants, not text: stored timestamps mix offsets and formats.
        column = getattr(FM, f.get("time_field") or "updated_at")
        if f.get("since") is not None:
            conds.append(fn.julianday(column) >= fn.julianday(_slot("since")))
        if f.get("until") is not None:
            conds.append(fn.julianday(column) <= fn.julianday(_slot("until")))
        if not f.get("include_deleted"):
            conds.append(FM.deleted_at.is_null())
        return conds

    def columns(self) -> list[Any]:
        FM = self.m.FileMetadata
        return [
            FM.id, FM.sandbox, FM.file_path, FM.mime_type, FM.size_bytes, FM.updated_at, FM.deleted_at,
            fn.COALESCE(fn.length(Cast(FM.search_content, "BLOB")), 0).alias("indexed_bytes"),
        ]

    def rows(self, statement: tuple[str, list[Any]], values: dict[str, Any]) -> list[tuple]:
        """Run a statement Peewee generated with the slots filled in, and take the rows as
        they come: no per-value conversion (a hit's ``updated_at`` is parsed on first use)."""
        sql, template = statement
        params = [values[p.name] if isinstance(p, _Slot) else p for p in template]
        return self.store.db.execute_sql(sql, params).fetchall()

    @staticmethod
    def hit(row: tuple, rank: float | None, snippet: str, path_hl: str) -> SearchHit:
        file_id, sandbox_id, file_path, mime, size, updated, deleted, indexed = row[:8]
        return SearchHit(
            file_id=file_id,
            sandbox_id=sandbox_id,
            file_path=file_path,
            rank=rank,
            snippet=snippet or "",
            path_highlight=path_hl or file_path,
            mime_type=mime or "",
            size_bytes=int(size or 0),
            updated_at_text=updated,
            deleted=deleted is not None,
            indexed_bytes=int(indexed or 0),
        )

    def rank_function(self) -> str:
        weight = self.filters.get("path_weight")
        weight = float(PATH_WEIGHT if weight is None else weight)
        return f"bm25({weight!r}, 1.0)"  # a bound value, not SQL text

    def fts_statement(self, literal: bool = False, bounded: bool = False) -> tuple[str, list[Any]]:
        """The ranked FTS5 query; with ``literal``, rows holding the typed text itself
        (slot ``lit``, in the path or the indexed text) come first, bm25 within each.
        With ``bounded``, only rows from rowid ``lo`` on are ranked (FTS5 seeks there)."""
        key = ("fts", literal, bounded, *self.shape())
        statement = _STATEMENTS.get(key)
        if statement is None:
            FM, FS = self.m.FileMetadata, self.m.FileSearch
            table = FS._meta.entity
            order: list[Any] = [SQL("rank")]  # handed to FTS5, which sorts by bm25 ascending
            if literal:
                holds = ((fn.instr(fn.lower(FM.file_path), _slot("lit")) > 0)
                         | (fn.instr(fn.lower(FM.search_content), _slot("lit")) > 0))
                order.insert(0, Case(None, [(holds, 0)], 1))
            query = (
                FS.select(
                    *self.columns(),
                    SQL("rank").alias("score"),
                    Case(None, [(fn.COALESCE(fn.length(Cast(FM.search_content, "BLOB")), 0)
                                 <= SNIPPET_FTS_MAX_BYTES,
                                 fn.snippet(table, 1, MARK_START, MARK_END, ELLIPSIS, SNIPPET_TOKENS))],
                         None).alias("snip"),
                    fn.highlight(table, 0, MARK_START, MARK_END).alias("path_hl"),
                )
                .join(FM, on=(FM.id == FS.rowid))
                .where(FS.match(_slot("fts")), NodeList((SQL("rank MATCH"), _slot("rank"))), *self.conditions(),
                       *([FS.rowid >= _slot("lo")] if bounded else []))
                .order_by(*order)
                .limit(_slot("limit"))
                .offset(_slot("offset"))
            )
            statement = _STATEMENTS[key] = query.sql()
        return statement

    def fts(self, fts_query: str, limit: int, offset: int, typed: str = "",
            min_rowid: int | None = None) -> list[SearchHit]:
        values = self.values() | {"fts": fts_query, "rank": self.rank_function(), "limit": limit, "offset": offset}
        literal = literal_term(typed)
        if literal:
            values["lit"] = literal
        if min_rowid is not None:
            values["lo"] = min_rowid
        hits = []
        for r in self.rows(self.fts_statement(bool(literal), min_rowid is not None), values):
            snippet = r[9]
            if snippet is None and (r[7] or 0) > SNIPPET_FTS_MAX_BYTES:
                snippet = self.window_snippet(r[0], like_terms(typed or fts_query))
            hits.append(self.hit(r, r[8], snippet, r[10]))
        return hits

    def window_snippet(self, file_id: int, terms: list[str]) -> str:
        """A snippet around the first match of any term in a big document, found with one
        linear scan (the document's indexed text is at most INDEX_LIMIT)."""
        FM = self.m.FileMetadata
        row = FM.select(FM.search_content).where(FM.id == file_id).tuples().first()
        text = (row[0] if row else "") or ""
        if not terms or not text:
            return text[: 2 * _WINDOW_CHARS]
        words = [re.escape(t) for t in sorted(terms, key=len, reverse=True)]
        pattern = re.compile("|".join(words), re.IGNORECASE)
        found = pattern.search(text)
        if found is None:
            return text[: 2 * _WINDOW_CHARS] + ELLIPSIS
        start = max(0, found.start() - _WINDOW_CHARS)
        end = min(len(text), found.end() + _WINDOW_CHARS)
        window = _mark(text[start:end], terms)
        return (ELLIPSIS if start else "") + window + (ELLIPSIS if end < len(text) else "")

    def like(self, terms: list[str], limit: int, offset: int) -> list[SearchHit]:
        FM = self.m.FileMetadata
        conds = self.conditions()
        for term in terms:
            conds.append(_like(FM.file_path, term) | _like(FM.search_content, term))
        first = terms[0]
        position = fn.instr(fn.lower(FM.search_content), first.lower())
        excerpt = fn.substr(FM.search_content, fn.MAX(position - 60, 1), 200)
        path_first = Case(None, [(_like(FM.file_path, first), 0)], 1)
        query = (
            FM.select(*self.columns(), excerpt.alias("excerpt"), position.alias("pos"))
            .where(*conds)
            .order_by(path_first, FM.id.desc())
            .limit(limit)
            .offset(offset)
        )
        hits = []
        for r in self.rows(query.sql(), self.values()):
            text, pos = r[8] or "", r[9] or 0
            if text and pos > 61:
                text = ELLIPSIS + text
            hits.append(self.hit(r, None, _mark(text, terms), _mark(r[2], terms)))
        return hits


def _mark(text: str, terms: list[str]) -> str:
    """Mark case-insensitive occurrences of the terms (for fallback results)."""
    if not text or not terms:
        return text
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    return pattern.sub(lambda m: f"{MARK_START}{m.group(0)}{MARK_END}", text)


def _is_query_problem(message: str) -> bool:
    low = message.lower()
    return "fts5: syntax error" in low or "no such column" in low or "unknown special query" in low


def search_files(
    store: "Store",
    query: str,
    *,
    sandbox_id: str | None = None,
    mime_prefix: str | None = None,
    path_prefix: str | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_deleted: bool = False,
    limit: int = 50,
    offset: int = 0,
    path_weight: float = PATH_WEIGHT,
    time_field: str = "updated_at",
) -> SearchResult:
    """Search file paths and indexed text; best match first. Never fails on what was typed.

    Filters: ``sandbox_id``; ``mime_prefix`` (``text/`` or ``text/x-python``, parameters
    like ``; charset=utf-8`` do not get in the way); ``path_prefix``; ``min_size`` /
    ``max_size`` in bytes; ``since`` / ``until`` (compared as instants) on ``time_field``:
    ``updated_at`` (default), ``created_at`` or ``last_accessed``;
    ``include_deleted``. ``limit`` / ``offset`` page through the results; ``path_weight``
    is the bm25 weight of the path column.
    """
    if time_field not in _TIME_FIELDS:
        raise errors.InvalidInput(f"time_field must be one of {', '.join(_TIME_FIELDS)}, not {time_field!r}.")
    typed = query if isinstance(query, str) else clean_query(query)
    limit = max(1, min(int(limit), 1000))
    offset = max(0, int(offset))
    search = _Search(
        store, sandbox_id=sandbox_id, mime_prefix=mime_prefix, path_prefix=path_prefix,
        min_size=min_size, max_size=max_size, since=since, until=until, include_deleted=include_deleted,
        path_weight=path_weight, time_field=time_field,
    )
    fts_query = to_fts_query(typed)
    if fts_query == '""':
        return SearchResult(typed, fts_query, message="Nothing to search for: type a word or part of a path.")
    try:
        with store.connection():
            return _run(search, typed, fts_query, limit, offset)
    except (sqlite3.Error, peewee.PeeweeException) as exc:  # not the query's fault: locked, gone...
        raise errors.translate(exc, str(store.path)) from exc


def _run(search: "_Search", typed: str, fts_query: str, limit: int, offset: int) -> SearchResult:
    store = search.store
    note = ""
    attempt = fts_query
    while True:  # the translation, then (if FTS5 still objects) the words read literally
        try:
            rows = search.fts(attempt, limit + 1, offset, typed)
        except (sqlite3.Error, peewee.PeeweeException) as exc:
            message = str(exc)
            if "no such table" in message.lower() and not fts_available(store):
                return _fallback(search, typed, limit, offset, "The full-text index (file_search_fts) is missing")
            if _is_query_problem(message):
                if note:
                    return _fallback(search, typed, limit, offset, "The query could not be run on the full-text index")
                note = "Your query was read as plain words."
                attempt = literal_query(_apply_aliases(clean_query(typed)))
                continue
            translated = errors.translate(exc, str(store.path))
            if isinstance(translated, (errors.DatabaseLocked, errors.Cancelled)):
                raise translated from exc
            return _fallback(search, typed, limit, offset, f"The full-text index is damaged ({exc})")
        return SearchResult(typed, attempt, rows[:limit], message=note, offset=offset, has_more=len(rows) > limit)


def _fallback(search: _Search, typed: str, limit: int, offset: int, why: str) -> SearchResult:
    terms = like_terms(typed)
    message = (
        f"{why}; these results come from a plain text scan, are not ranked and may be slow. "
        "Rebuild the index (sandbox-admin check shows its state) to get ranked search back."
    )
    if not terms:
        return SearchResult(typed, "", fallback=True, message=message)
    rows = search.like(terms, limit + 1, offset)
    return SearchResult(typed, "", rows[:limit], fallback=True, message=message, offset=offset,
                        has_more=len(rows) > limit)
