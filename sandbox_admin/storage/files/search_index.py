"""Upkeep of the full-text index: its status, an integrity check, optimize and rebuild.

The index is the Go server's FTS5 table ``file_search_fts`` (external content over
``file_metadata``, kept in step by the triggers ``file_metadata_ai/_ad/_au``). A lost
table or trigger is recreated with the Go DDL, text for text.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterator

import peewee

from .. import errors
from ..go_schema import V1_TRIGGERS_AND_FTS
from .search import FTS_TABLE

if TYPE_CHECKING:
    from ..store import Store

# Fixed statements (no values): the Go DDL of the table and of FTS5's shadow tables.
_CREATE_FTS = (
    "CREATE VIRTUAL TABLE file_search_fts USING fts5(file_path, search_content, "
    "content='file_metadata', content_rowid='id')"
)
_SHADOW_DDL = {
    "file_search_fts_data": "CREATE TABLE 'file_search_fts_data'(id INTEGER PRIMARY KEY, block BLOB)",
    "file_search_fts_idx": "CREATE TABLE 'file_search_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID",
    "file_search_fts_docsize": "CREATE TABLE 'file_search_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB)",
    "file_search_fts_config": "CREATE TABLE 'file_search_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID",
}
_FTS_TRIGGERS = ("file_metadata_ai", "file_metadata_ad", "file_metadata_au")


@dataclass(frozen=True)
class IndexStatus:
    exists: bool
    documents: int | None  # rows the index holds (None when unreadable)
    files: int  # rows of file_metadata
    triggers: list[str]  # FTS triggers present
    problem: str = ""

    @property
    def in_step(self) -> bool:
        return self.exists and self.documents == self.files and len(self.triggers) == len(_FTS_TRIGGERS)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"in_step": self.in_step}


@dataclass(frozen=True)
class IndexCheck:
    ok: bool
    problems: list[str]
    thorough: bool  # False: read-only, counts compared instead of FTS5's integrity-check

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def _translated(store: "Store") -> Iterator[None]:
    with errors.translated(store.path), store.connection():
        yield


class SearchIndex:
    """Upkeep of ``file_search_fts`` (``store.files.index``)."""

    def __init__(self, store: "Store") -> None:
        self.store = store
        self.db = store.db
        self.m = store.models

    def _names(self, kind: str) -> set[str]:
        rows = self.db.execute_sql("SELECT name FROM sqlite_master WHERE type = ?", (kind,)).fetchall()
        return {r[0] for r in rows}

    def status(self) -> IndexStatus:
        with _translated(self.store):
            tables = self._names("table")
            triggers = sorted(self._names("trigger") & set(_FTS_TRIGGERS))
            files = self.m.FileMetadata.select().count()
            if FTS_TABLE not in tables:
                return IndexStatus(False, None, files, triggers, "the index table is missing")
            try:
                docs = self.db.execute_sql("SELECT count(*) FROM file_search_fts_docsize").fetchone()[0]
                self.db.execute_sql("SELECT rowid FROM file_search_fts WHERE file_search_fts MATCH ? LIMIT 1", ("a",))
            except (sqlite3.Error, peewee.PeeweeException) as exc:
                return IndexStatus(True, None, files, triggers, str(exc))
            return IndexStatus(True, int(docs), files, triggers)

    def integrity_check(self) -> IndexCheck:
        """FTS5's own integrity-check against file_metadata (counts when read-only)."""
        status = self.status()
        problems = []
        if status.problem:
            problems.append(status.problem)
        missing = sorted(set(_FTS_TRIGGERS) - set(status.triggers))
        if missing:
            problems.append(f"triggers missing: {', '.join(missing)} (the index will fall behind)")
        if not status.exists or status.documents is None:
            return IndexCheck(False, problems, False)
        if self.store.read_only:
            if status.documents != status.files:
                problems.append(f"the index holds {status.documents} documents for {status.files} files")
            return IndexCheck(not problems, problems, False)
        try:
            with self.store.transaction():
                self.m.FileSearch._fts_cmd("integrity-check", rank=1)
        except errors.StorageError as exc:
            problems.append(f"integrity-check: {exc.detail or exc}")
        return IndexCheck(not problems, problems, True)

    def optimize(self) -> None:
        """Merge the index's segments (faster queries, smaller file)."""
        self.store.require_writable()
        with _translated(self.store), self.store.transaction():
            self.m.FileSearch.optimize()

    def rebuild(self) -> IndexStatus:
        """Rebuild the index from file_metadata; recreates a missing or broken table and
        the Go triggers that keep it in step."""
        self.store.require_writable()
        with _translated(self.store), self.store.transaction():
            tables = self._names("table")
            if FTS_TABLE not in tables:
                self.db.execute_sql(_CREATE_FTS)
            try:
                with self.db.atomic():  # a savepoint: a failed rebuild leaves no trace
                    self.m.FileSearch.rebuild()
            except (sqlite3.Error, peewee.PeeweeException):
                self._recreate(tables)
            self._ensure_triggers()
        return self.status()

    def _recreate(self, tables: set[str]) -> None:
        """Drop and create the FTS table again (restoring lost shadow tables so that
        DROP TABLE can run), then fill it."""
        for name, ddl in _SHADOW_DDL.items():
            if name not in tables:
                self.db.execute_sql(ddl)
        try:
            self.db.execute_sql("DROP TABLE file_search_fts")
            self.db.execute_sql(_CREATE_FTS)
            self.m.FileSearch.rebuild()
        except (sqlite3.Error, peewee.PeeweeException) as exc:
            raise errors.CorruptDatabase(
                f"The full-text index cannot be rebuilt ({exc}). Restore the database from a backup.",
                detail=str(exc),
            ) from exc

    def _ensure_triggers(self) -> None:
        present = self._names("trigger")
        for statement in V1_TRIGGERS_AND_FTS:
            for name in _FTS_TRIGGERS:
                if name not in present and f"TRIGGER {name} " in statement:
                    self.db.execute_sql(statement)
