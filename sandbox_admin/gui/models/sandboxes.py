"""The sandboxes table: a lazy model fed by keyset pages from worker jobs.

Qt's "Fetch More" pattern: the view asks ``canFetchMore``/``fetchMore`` as it scrolls;
``fetchMore`` submits one page job (``SandboxStore.page`` with the last cursor) and
returns at once; rows are inserted when the page arrives. The GUI thread runs no SQL
and never counts: after the first page a worker estimates the total
(``count_estimate``), then counts it exactly (``count``), and the model says so with
``total_changed``. Every job carries the generation it was started for, so an answer
for an old query (the filter changed meanwhile) is dropped, and its job cancelled.

Rows are kept as the plain tuples sqlite3 reads (``SandboxStore.listing``: the shown
columns as stored), so the worker runs almost no Python per row and barely holds the
GIL; a million full records with parsed JSON would cost gigabytes and seconds of
Python. The GUI thread types and formats a row only when it is painted (a small cache
of formatted rows), never per arrived row; while the table paints, the paging worker
waits (:class:`PaintGate`), so painting does not queue for the GIL behind it. The
detail panel loads the full record by id.
"""

from __future__ import annotations

import gc
import html
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont

from ...storage import SandboxFilter, SandboxRecord, errors, listing_row, listing_values
from .. import display
from ..jobs import Job, JobContext, JobRunner
from ..widgets.badges import BADGES_ROLE, DIMMED_ROLE

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the Row object
ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the sandbox id
SORT_KEY_ROLE = Qt.ItemDataRole.UserRole + 3  # the raw value (datetime, number…)

#: The first page is small (quick first paint); later pages grow up to MAX_PAGE.
FIRST_PAGE = 100
MAX_PAGE = 50_000  # the store's largest page: a page read per paint of the table, not five
#: Formatted rows kept for painting (a few screens); the cache starts over when full.
CELL_CACHE = 1024
#: Longest pause of the paging worker for one paint (a safety net: a paint is ~10-30 ms).
GATE_WAIT_S = 0.25

Index = QModelIndex | QPersistentModelIndex
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


class Column(NamedTuple):
    key: str
    title: str
    sort: str | None  # the store's sort field; None: not sortable
    tip: str
    numeric: bool = False
    visible: bool = True  # shown by default
    width: int = 0  # default width in pixels (0: from the contents)


COLUMNS: tuple[Column, ...] = (
    Column("id", "ID", "id", "The sandbox id", width=250),
    Column("status", "Status", "status", "Status; soft-deleted sandboxes carry a 'deleted' badge",
           width=122),
    Column("container", "Container", "container_id", "The container id", width=135),
    Column("created", "Created", "created_at", "Created (local time; UTC in the tooltip)", width=140),
    Column("updated", "Updated", "updated_at", "Last updated (local time; UTC in the tooltip)",
           width=140),
    Column("version", "Version", "version", "Optimistic-locking version", numeric=True, width=60),
    Column("cpu", "CPU s", "cpu_usage_seconds", "CPU time used, in seconds", numeric=True, width=70),
    Column("memory", "Memory", "memory_usage_bytes", "Memory in use", numeric=True, width=80),
    Column("disk", "Disk", "disk_usage_bytes", "Disk in use", numeric=True, visible=False, width=84),
    Column("network", "Net rx / tx", None, "Network bytes received / sent (not sortable)",
           numeric=True, visible=False, width=150),
    Column("resources_at", "Resources updated", "last_resource_update",
           "When the resource figures were last updated", visible=False, width=150),
    Column("deleted", "Deleted", "deleted_at", "When the sandbox was soft-deleted", visible=False,
           width=150),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
_COLUMN_COUNT = len(COLUMNS)


def column_index(key: str) -> int:
    return COLUMN_KEYS.index(key)


class Row(NamedTuple):
    """What the table shows of one sandbox (typed: datetimes, numbers).

    The model keeps each row as the *plain* tuple sqlite3 read (fields in this order,
    timestamps as stored text, then the sort key) and makes a Row of it on access.
    """

    id: str
    status: str
    container: str
    created: datetime | None
    updated: datetime | None
    deleted: datetime | None
    version: int
    cpu: float
    memory: int
    disk: int
    rx: int
    tx: int
    resources_at: datetime | None

    @property
    def is_deleted(self) -> bool:
        return self.deleted is not None


def typed_row(values: tuple) -> Row:
    """A stored row (a listing row) as a :class:`Row`."""
    return Row._make(listing_values(values))


_ID = Row._fields.index("id")


@dataclass(frozen=True)
class Query:
    flt: SandboxFilter = SandboxFilter()
    sort: str = "created_at"
    descending: bool = True


@dataclass
class _PageResult:
    rows: list[tuple]  # listing rows, see Row
    cursor: Any
    seconds: float


class PaintGate:
    """Closed from the moment rows arrive in a shown table until they are painted, and
    while any paint runs (see panes.sandboxes.SandboxTable); the paging worker waits at
    it before its query and between batches of rows.

    Painting calls the Python model once per cell from C++, and every such call takes
    the GIL. A worker reading rows at the same time takes and drops the GIL per row, so
    each of those calls could wait up to the interpreter's switch interval (5 ms): a
    10 ms paint became 80-160 ms. With the gate the worker sits in ``Event.wait``
    (GIL released) until the paint is done; it loses a paint's time per page at most.
    """

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def wait(self, timeout: float = GATE_WAIT_S) -> None:
        self._open.wait(timeout)


def fetch_rows(ctx: JobContext, store: Any, query: Query, cursor: Any, limit: int,
               gate: PaintGate | None = None) -> _PageResult:
    """``limit`` rows after ``cursor`` as listing rows (runs in a worker).

    One keyset page read in batches; between batches the job looks at its cancel flag
    and waits while the table paints (``gate``). No Python of ours runs per row.
    """
    start = time.perf_counter()

    def between() -> None:
        if gate is not None:
            gate.wait()
        ctx.check_cancelled()

    between()  # a paint under way: building the query is Python too
    page = store.sandboxes.listing(query.flt, sort=query.sort, descending=query.descending,
                                   after=cursor, limit=limit, between=between)
    return _PageResult(page.rows, page.next_cursor, time.perf_counter() - start)


def _matches(row: Row, flt: SandboxFilter) -> bool:
    """Whether a changed row still belongs in the current view (deleted-ness and status
    only: the other criteria do not change through this app's actions)."""
    if row.is_deleted and not (flt.include_deleted or flt.only_deleted):
        return False
    if flt.only_deleted and not row.is_deleted:
        return False
    return not flt.statuses or row.status in flt.statuses


_HANDLED_ROLES = frozenset(int(r) for r in (
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.FontRole, Qt.ItemDataRole.TextAlignmentRole, BADGES_ROLE, DIMMED_ROLE,
    ROW_ROLE, ID_ROLE, SORT_KEY_ROLE,
))
_ALIGN = tuple(RIGHT if c.numeric else LEFT for c in COLUMNS)
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_LAZY = object()  # a role not formatted in advance (see _lazy_value)


class _Formatted:
    """A painted row: typed once, each cell's roles made when the cell is first painted."""

    __slots__ = ("row", "deleted", "cells")

    def __init__(self, row: Row) -> None:
        self.row = row
        self.deleted = row.is_deleted
        self.cells: list[dict[int, Any] | None] = [None] * _COLUMN_COUNT

    def badges(self) -> list[tuple[str, str]]:
        status = self.row.status
        badges = [(status or "(none)", display.status_colour(status or "").name())]
        if self.deleted:
            badges.append(("deleted", display.STATUS_COLOURS["deleted"]))
        return badges


class SandboxTableModel(QAbstractTableModel):
    """Lazy, read-only table of sandboxes for one query (filter + sort)."""

    loading_changed = Signal(bool)
    #: A page arrived: number of rows added, seconds the query took.
    page_loaded = Signal(int, float)
    first_page_loaded = Signal()
    #: The total changed (see ``total`` / ``total_exact``).
    total_changed = Signal()
    load_failed = Signal(object)  # errors.StorageError

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._store: Any = None
        self._query = Query()
        self._rows: list[tuple] = []  # listing rows (see Row)
        self._index: dict[str, int] | None = {}  # id -> row, filled when asked (row_of)
        self._indexed = 0  # rows[:_indexed] are in _index
        self._cells: dict[int, _Formatted] = {}  # painted rows, formatted
        #: Rows typed and formatted for painting so far (on the GUI thread; tests bound it).
        self.rows_formatted = 0
        #: The paging worker waits at this gate while the view paints (see PaintGate).
        self.paint_gate = PaintGate()
        self._cursor: Any = None
        self._has_more = False
        self._fetching = False
        self._generation = 0
        self.first_page = FIRST_PAGE
        self._next_page = self.first_page
        self._jobs: set[Job] = set()
        self._error: errors.StorageError | None = None
        self.total: int | None = None
        self.total_exact = False
        self.first_page_seconds: float | None = None
        self._deleted_ink = QBrush(QColor(display.DELETED_TEXT_COLOUR))
        self._struck = QFont()
        self._struck.setStrikeOut(True)

    # -- query ------------------------------------------------------------------------------
    @property
    def query(self) -> Query:
        return self._query

    @property
    def store(self) -> Any:
        return self._store

    def set_store(self, store: Any, query: Query | None = None) -> None:
        self._store = store
        if query is not None:
            self._query = query
        self.reload()

    def set_query(self, query: Query) -> None:
        self._query = query
        self.reload()

    def reload(self) -> None:
        """Forget the rows and load the first page of the current query again."""
        self._cancel_jobs()
        self._generation += 1
        self.beginResetModel()
        self._rows = []
        self._index, self._indexed = {}, 0
        self._cells.clear()
        self._cursor = None
        self._error = None
        self._next_page = FIRST_PAGE
        self.total = None
        self.total_exact = False
        self.first_page_seconds = None
        self._has_more = self._store is not None
        self.endResetModel()
        self.total_changed.emit()
        if self._store is not None:
            self._fetch()

    @property
    def loading(self) -> bool:
        return self._fetching

    @property
    def loaded_all(self) -> bool:
        return not self._has_more and not self._fetching and self._error is None

    @property
    def error(self) -> errors.StorageError | None:
        return self._error

    # -- Qt: size and fetching ----------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        """QAbstractTableModel's, in one Python call: its C++ version asks rowCount() and
        columnCount() for every painted cell, two more calls into Python (and two more
        waits for the GIL when a worker holds it)."""
        if 0 <= row < len(self._rows) and 0 <= column < _COLUMN_COUNT and not parent.isValid():
            return self.createIndex(row, column)
        return QModelIndex()

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: N802
        if parent.isValid():
            return False
        return self._has_more and not self._fetching and self._error is None

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: N802
        if self.canFetchMore(parent):
            self._fetch()

    def _fetch(self) -> None:
        store, query, cursor, limit = self._store, self._query, self._cursor, self._next_page
        generation, gate = self._generation, self.paint_gate
        self._fetching = True
        self.loading_changed.emit(True)

        def work(ctx: JobContext) -> _PageResult:
            return fetch_rows(ctx, store, query, cursor, limit, gate)

        self._submit(work, "Load sandboxes", generation,
                     lambda result: self._on_page(generation, result),
                     lambda error: self._on_page_error(generation, error), store)

    def _on_page(self, generation: int, result: _PageResult) -> None:
        if generation != self._generation:
            return
        first = not self._rows and self.first_page_seconds is None
        if result.rows:
            # No loop over the rows here: they are stored as read; the id index catches up
            # when asked (row_of), and rows are formatted when painted.
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(result.rows) - 1)
            self._rows += result.rows
            self.endInsertRows()
            # The rows live as long as the view: move them (and everything else alive now)
            # out of the cyclic GC's reach. Otherwise every full collection - run in
            # whichever thread allocates, holding the GIL - walks a million rows: 70-90 ms
            # event-loop stalls at 1M sandboxes, measured. (Garbage cycles alive at this
            # moment are kept too: a few objects per page.)
            gc.freeze()
        self._cursor = result.cursor
        self._has_more = result.cursor is not None
        self._next_page = min(MAX_PAGE, self._next_page * 4)
        self._fetching = False
        self.loading_changed.emit(False)
        self.page_loaded.emit(len(result.rows), result.seconds)
        if first:
            self.first_page_seconds = result.seconds
            self.first_page_loaded.emit()
            if self._has_more:
                self._count(generation)
        if not self._has_more and not self.total_exact:
            self._cancel_jobs()  # a running count is no longer needed
            self._set_total(len(self._rows), exact=True)

    def _on_page_error(self, generation: int, error: errors.StorageError) -> None:
        if generation != self._generation:
            return
        self._fetching = False
        self._error = error
        self.loading_changed.emit(False)
        self.load_failed.emit(error)

    # -- counting -------------------------------------------------------------------------------
    def _count(self, generation: int) -> None:
        store, flt = self._store, self._query.flt

        def estimate(ctx: JobContext) -> int:
            return int(store.sandboxes.count_estimate(flt))

        def exact(ctx: JobContext) -> int:
            return int(store.sandboxes.count(flt))

        def estimated(n: int) -> None:
            if generation == self._generation and not self.total_exact:
                self._set_total(max(n, len(self._rows)), exact=False)
                self._submit(exact, "Count sandboxes", generation, counted, ignore, store)

        def counted(n: int) -> None:
            if generation == self._generation and not self.total_exact:
                self._set_total(n, exact=True)

        def ignore(error: errors.StorageError) -> None:
            if generation == self._generation and not isinstance(error, errors.Cancelled):
                self.load_failed.emit(error)

        self._submit(estimate, "Estimate sandbox count", generation, estimated, ignore, store)

    def recount(self) -> None:
        """Count again (after an action changed which rows match)."""
        if self._store is None:
            return
        if not self._has_more and not self._fetching:
            self._set_total(len(self._rows), exact=True)
            return
        self.total_exact = False
        self._count(self._generation)

    def _set_total(self, n: int, *, exact: bool) -> None:
        self.total = n
        self.total_exact = exact
        self.total_changed.emit()

    # -- jobs ------------------------------------------------------------------------------------
    def _submit(self, fn, name: str, generation: int, on_result, on_error, store) -> Job:  # type: ignore[no-untyped-def]
        job = self._runner.submit(fn, name=name, on_result=on_result, on_error=on_error, store=store)
        self._jobs.add(job)
        job.finished.connect(lambda j=job: self._jobs.discard(j))
        return job

    def _cancel_jobs(self) -> None:
        for job in list(self._jobs):
            job.cancel()
        self._jobs.clear()
        if self._fetching:
            self._fetching = False
            self.loading_changed.emit(False)

    # -- rows --------------------------------------------------------------------------------------
    def row_at(self, row: int) -> Row | None:
        return typed_row(self._rows[row]) if 0 <= row < len(self._rows) else None

    def rows(self) -> list[Row]:
        """Every loaded row, typed (for tests and small lists: it loops over them all)."""
        return [typed_row(r) for r in self._rows]

    def row_of(self, sandbox_id: str) -> int | None:
        if self._index is None:
            self._index, self._indexed = {}, 0
        if self._indexed < len(self._rows):  # the rows that arrived since the last question
            ids = [r[_ID] for r in self._rows[self._indexed:]]
            self._index.update(zip(ids, range(self._indexed, len(self._rows))))
            self._indexed = len(self._rows)
        return self._index.get(sandbox_id)

    def update_record(self, record: SandboxRecord) -> None:
        """A sandbox changed through this app: update its row in place, or remove it
        when it no longer matches (soft-deleted while deleted ones are hidden)."""
        i = self.row_of(record.id)
        if i is None:
            return
        values = listing_row(record)
        if not _matches(typed_row(values), self._query.flt):
            self.beginRemoveRows(QModelIndex(), i, i)
            del self._rows[i]
            self._index = None
            self._cells.clear()  # the rows below moved up
            self.endRemoveRows()
            if self.total is not None:
                self._set_total(max(0, self.total - 1), exact=self.total_exact)
            return
        self._rows[i] = values
        self._cells.pop(i, None)
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def remove_ids(self, ids: set[str]) -> None:
        """Rows that no longer exist (purged)."""
        keep = [r for r in self._rows if r[_ID] not in ids]
        if len(keep) == len(self._rows):
            return
        removed = len(self._rows) - len(keep)
        self.beginResetModel()
        self._rows = keep
        self._index = None
        self._cells.clear()
        self.endResetModel()
        if self.total is not None:
            self._set_total(max(0, self.total - removed), exact=self.total_exact)

    # -- Qt: data -----------------------------------------------------------------------------------
    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        col = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return col.tip + (" · click to sort" if col.sort else "")
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if col.numeric else LEFT
        if role == Qt.ItemDataRole.InitialSortOrderRole:  # first click: newest / largest first
            text_like = col.key in ("id", "status", "container")
            return Qt.SortOrder.AscendingOrder if text_like else Qt.SortOrder.DescendingOrder
        return None

    # flags(): QAbstractTableModel's own (enabled, selectable) - no Python call per cell.

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        i = index.row()
        if role not in _HANDLED_ROLES or not index.isValid() or i >= len(self._rows):
            return None
        value = self._cell(i, index.column()).get(role, _LAZY)
        return self._lazy_value(i, index.column(), role) if value is _LAZY else value

    def multiData(self, index: Index, roleDataSpan: QModelRoleDataSpan) -> None:  # noqa: N802,N803
        """All the roles a delegate asks for in one call (Qt 6 ``initStyleOption`` uses it):
        one Python call per painted cell instead of one per role, each a dictionary
        look-up in the row's formatted cells."""
        i = index.row()
        if not index.isValid() or i >= len(self._rows):
            for item in roleDataSpan:
                item.clearData()
            return
        column = index.column()
        cell = self._cell(i, column)
        for item in roleDataSpan:
            role = item.role()
            value = cell.get(role, _LAZY)
            if value is _LAZY:
                value = self._lazy_value(i, column, role) if role in _HANDLED_ROLES else None
            if value is None:
                item.clearData()
            else:
                item.setData(value)

    def clear_formatting(self) -> None:
        """Format rows again when next painted (the time zone or palette changed)."""
        self._cells.clear()

    def _cell(self, i: int, column: int) -> dict[int, Any]:
        """Role -> value of a painted cell: formatted when first painted, then cached."""
        formatted = self._cells.get(i)
        if formatted is None:
            formatted = self._format(i)
        cell = formatted.cells[column]
        if cell is None:
            row, key, deleted = formatted.row, COLUMN_KEYS[column], formatted.deleted
            cell = formatted.cells[column] = {
                _DISPLAY: self._text(row, key), _ALIGNMENT: _ALIGN[column],
                _FOREGROUND: self._deleted_ink if deleted else None,
                _FONT: self._struck if deleted and key != "status" else None,
                DIMMED_ROLE: deleted, ID_ROLE: row.id,
                BADGES_ROLE: formatted.badges() if key == "status" else None,
            }
        return cell

    def _format(self, i: int) -> _Formatted:
        """Row ``i`` typed, its cells to be formatted as they are painted (hidden columns
        never are)."""
        self.rows_formatted += 1
        if len(self._cells) >= CELL_CACHE:
            self._cells.clear()
        formatted = self._cells[i] = _Formatted(typed_row(self._rows[i]))
        return formatted

    def _lazy_value(self, i: int, column: int, role: int) -> Any:
        """The roles nobody paints (tooltips, the Row, sort keys): made when asked."""
        row = typed_row(self._rows[i])
        key = COLUMN_KEYS[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, key)
        if role == ROW_ROLE:
            return row
        if role == SORT_KEY_ROLE:
            return getattr(row, key if key != "network" else "rx")
        return None

    @staticmethod
    def _text(row: Row, key: str) -> str:
        if key == "id":
            return row.id
        if key == "status":
            return row.status + (" (deleted)" if row.is_deleted else "")
        if key == "container":
            return row.container
        if key in ("created", "updated", "deleted", "resources_at"):
            return display.local_time(getattr(row, key))
        if key == "version":
            return str(row.version)
        if key == "cpu":
            return display.seconds(row.cpu)
        if key in ("memory", "disk"):
            return display.size(getattr(row, key))
        if key == "network":
            return f"{display.size(row.rx)} / {display.size(row.tx)}"
        return ""

    @staticmethod
    def _tooltip(row: Row, key: str) -> str:
        if key in ("created", "updated", "deleted", "resources_at"):
            return display.utc_tooltip(getattr(row, key))
        if key in ("memory", "disk"):
            return f"{getattr(row, key):,} bytes"
        if key == "network":
            return f"received {row.rx:,} bytes, sent {row.tx:,} bytes"
        if key == "cpu":
            return f"{row.cpu:,.3f} CPU seconds"
        if key == "status" and row.is_deleted:
            return f"{row.status}; soft-deleted {display.local_time(row.deleted)}"
        if key in ("id", "container"):
            return getattr(row, key)
        return ""

    # -- sorting: done by the store -------------------------------------------------------------------
    def sortable(self, column: int) -> bool:
        return 0 <= column < len(COLUMNS) and COLUMNS[column].sort is not None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Reload sorted by ``column`` (the store sorts by instant / value, keyset pages)."""
        if not self.sortable(column):
            return
        self.set_query(replace(self._query, sort=COLUMNS[column].sort or "created_at",
                               descending=order == Qt.SortOrder.DescendingOrder))

    def sort_column(self) -> int:
        for i, col in enumerate(COLUMNS):
            if col.sort == self._query.sort:
                return i
        return -1


# -- the headline ------------------------------------------------------------------------------
SORT_TITLES = {c.sort: c.title.lower() for c in COLUMNS if c.sort}


def describe_filter(flt: SandboxFilter) -> list[str]:
    """The criteria in words (Datasette's "where status = running and …")."""
    parts: list[str] = []
    if flt.statuses:
        parts.append("status is " + " or ".join(sorted(flt.statuses)))
    if flt.text:
        parts.append(f"id or container contains “{flt.text}”")
    if flt.created_from and flt.created_to:
        parts.append(f"created between {display.local_time(flt.created_from)} and "
                     f"{display.local_time(flt.created_to)}")
    elif flt.created_from:
        parts.append(f"created since {display.local_time(flt.created_from)}")
    elif flt.created_to:
        parts.append(f"created before {display.local_time(flt.created_to)}")
    if flt.only_deleted:
        parts.append("soft-deleted")
    return parts


def headline(query: Query, total: int | None, exact: bool, loaded: int, loading: bool) -> str:
    """``1,234 sandboxes where status is running · deleted included · sorted by created ↓``."""
    noun = "sandbox" if total == 1 else "sandboxes"
    if total is None:
        amount = f"at least {loaded:,}" if loaded else ("Loading" if loading else "No")
        if not loaded and loading:
            noun = "sandboxes…"
    elif exact:
        amount = f"{total:,}"
    else:
        amount = f"about {total:,}"
    text = f"<b>{amount}</b> {noun}"
    where = describe_filter(query.flt)
    if where:
        text += " where " + html.escape(" and ".join(where))
    if query.flt.include_deleted and not query.flt.only_deleted:
        text += " (soft-deleted ones included)"
    arrow = "↓" if query.descending else "↑"
    text += f" · sorted by {SORT_TITLES.get(query.sort, query.sort)} {arrow}"
    if total is not None and not exact:
        text += " · counting…"
    elif total is None and loaded:
        text += " · counting…"
    return text
