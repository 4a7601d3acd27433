"""Health checks and housekeeping on an open store.

Checks (integrity_check / quick_check, foreign_key_check, the FTS index, migrations),
VACUUM with the bytes it reclaims, ANALYZE / PRAGMA optimize, WAL checkpoints, and
statistics (page size and count, freelist, WAL size, per-table rows and bytes from
the ``dbstat`` virtual table when SQLite has it).

VACUUM and checkpoints run on a connection of their own (PRAGMAs Peewee cannot
express; a connection whose temp_store we may change without touching the pool).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import peewee

from . import errors
from .database import raw_connection

if TYPE_CHECKING:
    from .store import Store


# -- VACUUM, optimize, checkpoints, statistics ---------------------------------------------

#: Above this size VACUUM builds its temporary copy in a file, not in memory.
TEMP_IN_MEMORY_MAX_BYTES = 256 << 20
CHECKPOINT_SQL = {
    "PASSIVE": "PRAGMA wal_checkpoint(PASSIVE)",
    "FULL": "PRAGMA wal_checkpoint(FULL)",
    "RESTART": "PRAGMA wal_checkpoint(RESTART)",
    "TRUNCATE": "PRAGMA wal_checkpoint(TRUNCATE)",
}
_SHADOW_SUFFIXES = ("_data", "_idx", "_docsize", "_config", "_content")


@dataclass
class VacuumReport:
    """Sizes are logical (page_count x page_size): what the file is after a checkpoint."""

    size_before: int
    size_after: int
    bytes_reclaimed: int
    page_size: int
    pages_before: int
    pages_after: int
    freelist_before: int
    file_bytes_before: int
    file_bytes_after: int
    wal_bytes_after: int
    checkpoint_complete: bool
    analyzed: bool
    optimized: bool
    duration_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"duration_s": round(self.duration_s, 3)}


@dataclass
class CheckpointResult:
    mode: str
    busy: bool  # another connection kept it from finishing
    wal_frames: int
    checkpointed_frames: int
    wal_bytes_before: int
    wal_bytes_after: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TableStats:
    name: str
    rows: int | None  # None for virtual tables (their data is in their shadow tables)
    bytes: int | None  # table + its indexes (+ FTS shadow tables); None without dbstat
    table_bytes: int | None = None
    index_bytes: int | None = None
    pages: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DatabaseStats:
    path: str
    page_size: int
    page_count: int
    freelist_count: int
    size_bytes: int  # page_count x page_size
    file_bytes: int
    wal_bytes: int
    journal_mode: str
    dbstat: bool  # per-table bytes available
    tables: list[TableStats] = field(default_factory=list)

    @property
    def free_bytes(self) -> int:
        return self.freelist_count * self.page_size

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["free_bytes"] = self.free_bytes
        data["tables"] = [t.as_dict() for t in self.tables]
        return data


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size  # stat only: never open() a database file we have open
    except OSError:
        return 0


def _interrupt(cancel: Callable[[], bool] | None) -> Callable[[], int] | None:
    return None if cancel is None else (lambda: 1 if cancel() else 0)


class _Housekeeping:
    """Mixed into Maintenance: the operations that change or measure the file."""

    store: "Store"
    db: Any

    def _own_connection(self, timeout_s: float) -> sqlite3.Connection:
        return raw_connection(self.db.database, timeout_s=timeout_s)

    def _wal_path(self) -> Path:
        return Path(f"{self.store.path}-wal")

    def _pages(self, conn: sqlite3.Connection) -> tuple[int, int, int]:
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        page_count = int(conn.execute("PRAGMA page_count").fetchone()[0])
        freelist = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        return page_size, page_count, freelist

    def vacuum(self, *, analyze: bool = False, cancel: Callable[[], bool] | None = None,
               lock_timeout_s: float = 30.0,
               progress: Callable[[str, int, int], None] | None = None) -> VacuumReport:
        """VACUUM, PRAGMA optimize (and ANALYZE), then a checkpoint so the file really shrinks.

        VACUUM is one transaction: cancelled or failed, it leaves the database as it was.
        Once it has committed, what follows is not cancellable: ``progress(phase, 0, 0)``
        says "vacuum" (cancellable) and then "finish" (not any more).
        """
        self.store.require_writable()
        if self.db.in_transaction():
            raise errors.InvalidInput("Cannot VACUUM inside a transaction; finish it first.")
        started = time.monotonic()
        path = self.store.path
        file_before = _file_size(path)
        conn = self._own_connection(lock_timeout_s)
        try:
            page_size, pages_before, free_before = self._pages(conn)
            size_before = page_size * pages_before
            needed = size_before + (16 << 20)
            if shutil.disk_usage(path.parent).free < needed:
                raise errors.NotEnoughSpace(
                    f"VACUUM of {path.name} needs about {needed:,} bytes free beside it; there "
                    "is less. Free some space first."
                )
            if size_before > TEMP_IN_MEMORY_MAX_BYTES:
                conn.execute("PRAGMA temp_store=FILE")
            handler = _interrupt(cancel)
            if handler is not None:
                conn.set_progress_handler(handler, 20000)
            if progress is not None:
                progress("vacuum", 0, 0)
            conn.execute("VACUUM")
            conn.set_progress_handler(None, 0)
            if progress is not None:
                progress("finish", 0, 0)
            if analyze:
                conn.execute("ANALYZE")
            conn.execute("PRAGMA optimize")
            complete = True
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                complete = conn.execute(CHECKPOINT_SQL["TRUNCATE"]).fetchone()[0] == 0
            _, pages_after, _ = self._pages(conn)
        except sqlite3.Error as exc:
            raise errors.translate(exc, str(path)) from exc
        finally:
            conn.close()
        self.db.close_idle_older_than(0)  # pooled connections re-prepare on the new file
        size_after = page_size * pages_after
        return VacuumReport(
            size_before=size_before,
            size_after=size_after,
            bytes_reclaimed=max(0, size_before - size_after),
            page_size=page_size,
            pages_before=pages_before,
            pages_after=pages_after,
            freelist_before=free_before,
            file_bytes_before=file_before,
            file_bytes_after=_file_size(path),
            wal_bytes_after=_file_size(self._wal_path()),
            checkpoint_complete=complete,
            analyzed=analyze,
            optimized=True,
            duration_s=time.monotonic() - started,
        )

    def optimize(self, *, analyze: bool = False) -> dict[str, Any]:
        """PRAGMA optimize (cheap, run it often); ANALYZE too when asked (reads every index)."""
        self.store.require_writable()
        started = time.monotonic()
        try:
            with self.store.connection():
                if analyze:
                    self.db.execute_sql("ANALYZE")
                self.db.execute_sql("PRAGMA optimize")
        except (sqlite3.Error, peewee.PeeweeException) as exc:
            raise errors.translate(exc, str(self.store.path)) from exc
        return {"analyzed": analyze, "optimized": True,
                "duration_s": round(time.monotonic() - started, 3)}

    def analyze(self) -> dict[str, Any]:
        return self.optimize(analyze=True)

    def checkpoint(self, mode: str = "PASSIVE", *, lock_timeout_s: float = 5.0) -> CheckpointResult:
        """Copy the WAL into the database file (TRUNCATE also empties the -wal file)."""
        self.store.require_writable()
        sql = CHECKPOINT_SQL.get(mode.upper())
        if sql is None:
            raise errors.InvalidInput(
                f"Unknown checkpoint mode {mode!r}; use one of {', '.join(CHECKPOINT_SQL)}."
            )
        wal_before = _file_size(self._wal_path())
        conn = self._own_connection(lock_timeout_s)
        try:
            busy, frames, done = conn.execute(sql).fetchone()
        except sqlite3.Error as exc:
            raise errors.translate(exc, str(self.store.path)) from exc
        finally:
            conn.close()
        return CheckpointResult(mode.upper(), bool(busy), int(frames), int(done), wal_before,
                                _file_size(self._wal_path()))

    def quick_check(self) -> "CheckReport":
        return self.check(quick=True)  # type: ignore[attr-defined]

    def integrity_check(self) -> "CheckReport":
        return self.check(quick=False)  # type: ignore[attr-defined]

    def statistics(self, *, sizes: bool = True) -> DatabaseStats:
        """Page size/count, freelist, WAL size, and per table: rows and bytes (dbstat).

        ``sizes=False`` skips dbstat, which reads every page of the file.
        """
        store = self.store
        try:
            with store.connection():
                row = self.db.execute_sql(
                    "SELECT page_size, page_count, freelist_count "
                    "FROM pragma_page_size, pragma_page_count, pragma_freelist_count"
                ).fetchone()
                page_size, page_count, freelist = (int(v) for v in row)
                counts = store.row_counts()
                bytes_by_object = self._dbstat() if sizes else None
                master = self.db.execute_sql(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master"
                ).fetchall()
        except (sqlite3.Error, peewee.PeeweeException) as exc:
            raise errors.translate(exc, str(store.path)) from exc
        stats = DatabaseStats(
            path=str(store.path),
            page_size=page_size,
            page_count=page_count,
            freelist_count=freelist,
            size_bytes=page_size * page_count,
            file_bytes=_file_size(store.path),
            wal_bytes=_file_size(self._wal_path()),
            journal_mode=store.journal_mode(),
            dbstat=bytes_by_object is not None,
        )
        stats.tables = _table_stats(store.table_names(), counts, master, bytes_by_object)
        return stats

    def _dbstat(self) -> dict[str, tuple[int, int]] | None:
        """name -> (bytes, pages) for every table and index; None when SQLite lacks dbstat."""
        try:
            rows = self.db.execute_sql(
                "SELECT name, SUM(pgsize), COUNT(*) FROM dbstat GROUP BY name"
            ).fetchall()
        except (sqlite3.OperationalError, peewee.OperationalError) as exc:
            if "no such table" in str(exc):
                return None
            raise
        return {str(name): (int(size), int(pages)) for name, size, pages in rows}


def _table_stats(
    tables: list[str],
    counts: dict[str, int],
    master: list[tuple[Any, ...]],
    sizes: dict[str, tuple[int, int]] | None,
) -> list[TableStats]:
    """Attribute every b-tree (indexes, FTS shadow tables) to the table it serves."""
    owner: dict[str, str] = {}
    is_index: dict[str, bool] = {}
    virtual = {n for t, n, _, sql in master if t == "table" and sql and
               str(sql).upper().startswith("CREATE VIRTUAL TABLE")}
    for kind, name, tbl_name, _ in master:
        if kind == "index":
            owner[name], is_index[name] = tbl_name, True
        elif kind == "table":
            parent = next((v for v in virtual for s in _SHADOW_SUFFIXES if name == v + s), name)
            owner[name], is_index[name] = parent, parent != name
    result = []
    for name in tables:
        entry = TableStats(name=name, rows=counts.get(name), bytes=None)
        if sizes is not None:
            table_bytes = index_bytes = pages = 0
            for obj, (nbytes, npages) in sizes.items():
                if owner.get(obj, obj if obj == name else None) != name:
                    continue
                pages += npages
                if is_index.get(obj, False):
                    index_bytes += nbytes
                else:
                    table_bytes += nbytes
            entry.table_bytes, entry.index_bytes, entry.pages = table_bytes, index_bytes, pages
            entry.bytes = table_bytes + index_bytes
        result.append(entry)
    result.sort(key=lambda t: (-(t.bytes or 0), t.name))
    return result


#: How a check's problems of the full-text index begin.
_FTS_PROBLEM = "full-text index: "


@dataclass
class CheckReport:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    def add(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)

    @property
    def search_index_damaged(self) -> bool:
        """A problem of the full-text index, which rebuilding it repairs."""
        return any(p.startswith(_FTS_PROBLEM) for p in self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "checks": self.checks}


class Maintenance(_Housekeeping):
    def __init__(self, store: "Store") -> None:
        self.store = store
        self.db = store.db

    def check(self, quick: bool = False) -> CheckReport:
        """integrity_check (or quick_check), foreign_key_check, FTS index and migrations."""
        report = CheckReport()
        pragma = "quick_check" if quick else "integrity_check"
        try:
            rows = self.db.execute_sql("PRAGMA " + pragma).fetchall()
            report.checks.append(pragma)
            for (line,) in rows:
                if line != "ok":
                    report.add(f"{pragma}: {line}")
            rows = self.db.execute_sql("PRAGMA foreign_key_check").fetchall()
            report.checks.append("foreign_key_check")
            for table, rowid, parent, _fk in rows[:100]:
                report.add(f"foreign key: {table} row {rowid} points to a missing {parent} row")
            if len(rows) > 100:
                report.add(f"foreign key: … and {len(rows) - 100} more rows")
            self._check_fts(report)
        except (sqlite3.Error, peewee.PeeweeException) as exc:
            report.add(str(errors.translate(exc, str(self.store.path))))
        for problem in self.store.migration_status().problems:
            report.add(f"migrations: {problem}")
        report.checks.append("migrations")
        self._check_schema_objects(report)
        return report

    def _check_schema_objects(self, report: CheckReport) -> None:
        """Triggers and views this program did not create: a foreign trigger would run
        during our writes (which refuse to start while one is there)."""
        from .triggers import foreign_triggers, foreign_views

        try:
            with self.store.connection():
                triggers, views = foreign_triggers(self.db), foreign_views(self.db)
                sql = dict(self.db.execute_sql(
                    "SELECT name, sql FROM sqlite_master WHERE type IN ('trigger', 'view')").fetchall())
        except (sqlite3.Error, peewee.PeeweeException) as exc:
            report.add(str(errors.translate(exc, str(self.store.path))))
            return
        report.checks.append("triggers and views")
        for name in triggers:
            report.add(f"unknown trigger {name!r} (not created by this program; writes are refused "
                       f"while it exists): {' '.join(str(sql.get(name) or '').split())[:200]}")
        for name in views:
            report.add(f"unknown view {name!r} (not created by this program)")

    def _check_fts(self, report: CheckReport) -> None:
        """The full-text index: FTS5's own integrity-check (a row-count comparison when
        read-only, since SQLite runs integrity-check as an INSERT), triggers in place."""
        check = self.store.files.index.integrity_check()
        report.checks.append("fts integrity-check" if check.thorough else "fts document count")
        for problem in check.problems:
            report.add(f"{_FTS_PROBLEM}{problem} (rebuilding the search index repairs it)")

