"""A lazy table model for any keyset-paged store listing (templates, workflow runs…).

Qt's "Fetch More" pattern, as in the sandboxes model but generic: the model is given
``fetch(store, cursor, limit) -> (rows, next_cursor)`` (run in a worker job) and a list
of :class:`PagedColumn`\\ s saying how a row looks. ``fetchMore`` submits one page job
and returns at once; rows are inserted when the page arrives. Every job carries the
generation it was started for, so an answer for an old query is dropped. The GUI
thread runs no SQL and never counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from ...storage import errors
from ..jobs import Job, JobContext, JobRunner
from ..widgets.badges import BADGES_ROLE

Index = QModelIndex | QPersistentModelIndex
ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the row object
#: The first page is small (a quick first paint); later pages are bigger.
FIRST_PAGE = 100
NEXT_PAGE = 500


@dataclass(frozen=True)
class PagedColumn:
    title: str
    text: Callable[[Any], str]
    tip: Callable[[Any], str] | None = None
    badge: Callable[[Any], list[tuple[str, str]]] | None = None
    right: bool = False
    header_tip: str = ""
    foreground: Callable[[Any], str | None] | None = None


Fetch = Callable[[Any, Any, int], tuple[list[Any], Any]]


class PagedTableModel(QAbstractTableModel):
    """See the module docstring."""

    #: a page arrived (rows added)
    page_loaded = Signal(int)
    #: the first page of a new query arrived
    first_page_loaded = Signal()
    load_failed = Signal(object)

    def __init__(self, runner: JobRunner, columns: list[PagedColumn], name: str,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.columns = columns
        self.name = name
        self._fetch_fn: Fetch | None = None
        self._store: Any = None
        self._rows: list[Any] = []
        self._cursor: Any = None
        self._more = False
        self._loading = False
        self._generation = 0
        self._job: Job | None = None
        self.error: errors.StorageError | None = None

    # -- the query -------------------------------------------------------------------
    def set_query(self, store: Any, fetch: Fetch | None) -> None:
        """Show what ``fetch`` lists from ``store`` (None for either: empty)."""
        self._generation += 1
        if self._job is not None:
            self._job.cancel()
            self._job = None
        self.beginResetModel()
        self._store, self._fetch_fn = store, fetch
        self._rows, self._cursor, self._loading, self.error = [], None, False, None
        self._more = store is not None and fetch is not None
        self.endResetModel()
        if self._more:
            self._fetch(FIRST_PAGE)

    def reload(self) -> None:
        self.set_query(self._store, self._fetch_fn)

    @property
    def loading(self) -> bool:
        return self._loading

    @property
    def loaded_all(self) -> bool:
        return not self._more and not self._loading

    # -- fetch more ------------------------------------------------------------------
    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: N802 - Qt API
        return not parent.isValid() and self._more and not self._loading

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: N802
        if self.canFetchMore(parent):
            self._fetch(NEXT_PAGE)

    def _fetch(self, limit: int) -> None:
        generation, store, fetch, cursor = self._generation, self._store, self._fetch_fn, self._cursor
        self._loading = True

        def work(ctx: JobContext) -> tuple[list[Any], Any]:
            return fetch(store, cursor, limit)  # type: ignore[misc]

        self._job = self.runner.submit(
            work, name=f"Load {self.name}", store=store,
            on_result=lambda result: self._on_page(generation, result),
            on_error=lambda error: self._on_error(generation, error))

    def _on_page(self, generation: int, result: tuple[list[Any], Any]) -> None:
        if generation != self._generation:
            return
        rows, cursor = result
        self._job, self._loading = None, False
        first = not self._rows
        if rows:
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self._cursor, self._more = cursor, cursor is not None
        self.page_loaded.emit(len(rows))
        if first:
            self.first_page_loaded.emit()

    def _on_error(self, generation: int, error: errors.StorageError) -> None:
        if generation != self._generation:
            return
        self._job, self._loading, self._more, self.error = None, False, False, error
        if not isinstance(error, errors.Cancelled):
            self.load_failed.emit(error)

    # -- rows ------------------------------------------------------------------------
    def row_at(self, row: int) -> Any:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rows(self) -> list[Any]:
        return list(self._rows)

    def row_of(self, key: Callable[[Any], bool]) -> int | None:
        return next((i for i, r in enumerate(self._rows) if key(r)), None)

    def replace_row(self, row: int, value: Any) -> None:
        if 0 <= row < len(self._rows):
            self._rows[row] = value
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))

    # -- Qt model API ----------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.header_tip or None
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, column = self._rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tip(row) if column.tip else None
        if role == BADGES_ROLE and column.badge is not None:
            return column.badge(row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = Qt.AlignmentFlag.AlignRight if column.right else Qt.AlignmentFlag.AlignLeft
            return horizontal | Qt.AlignmentFlag.AlignVCenter
        if role == Qt.ItemDataRole.ForegroundRole and column.foreground is not None:
            colour = column.foreground(row)
            return QBrush(QColor(colour)) if colour else None
        return None
