"""The Metrics pane's legend: one row per line of the chart, with its numbers over the
visible range. A row's box shows or hides its line; hovering a row highlights its line;
the context menu isolates one line, shows all or hides all, or opens the sandbox.

Rows come in the chart's order (a fleet's aggregate, then its top series by rank) until
a header is clicked; sorted either way, the fleet's row stays first."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableWidget, QTableWidgetItem, QWidget

from .. import display
from .metrics_chart import number

COLUMNS = ("Series", "Samples", "Min", "Max", "Last")
INDEX_ROLE = Qt.ItemDataRole.UserRole
PINNED_ROLE = Qt.ItemDataRole.UserRole + 1  # the fleet's row: first whatever the sort


class SeriesLegend(QTableWidget):
    """See the module docstring; rows refer to lines by their index in the chart."""

    #: (line index, shown) after a box was ticked or unticked
    visibility_changed = Signal(int, bool)
    #: line index under the mouse, -1 when it leaves
    hovered = Signal(int)
    #: show only this line
    isolate_requested = Signal(int)
    #: show every line (True) or none (False)
    all_requested = Signal(bool)
    #: open the sandbox of this line
    sandbox_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setToolTip("The legend: untick a series to hide its line; hover to highlight it; "
                        "right-click to show only it")
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # sized to their contents once per fill (ResizeToContents measures on every setItem)
        for c in range(1, len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.Interactive)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the chart's order until a click
        for c, tip in ((1, "Samples in the visible range"),
                       (2, "Lowest sample in the visible range (a counter: its lowest rate per second)"),
                       (3, "Highest sample in the visible range (a counter: its highest rate per second)"),
                       (4, "Last sample in the visible range (a counter: its last rate per second)")):
            self.horizontalHeaderItem(c).setToolTip(tip)
        self.setMouseTracking(True)
        self.viewport().installEventFilter(self)
        self.itemChanged.connect(self._item_changed)
        self.cellEntered.connect(lambda row, _col: self.hovered.emit(self.line_of(row)))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.itemDoubleClicked.connect(lambda item: self._sandbox(item.row()))

    # == filling ======================================================================
    def fill(self, series: Sequence[Any], labels: Sequence[str], palette: Sequence[tuple[int, int, int]],
             hidden: set[str], units: str | None, x0: float, x1: float, pinned: int = -1) -> None:
        """One row per line; its numbers over the buckets overlapping ``[x0, x1]``;
        line ``pinned`` (a fleet's aggregate) stays the first row however rows sort."""
        self.blockSignals(True)
        self.setSortingEnabled(False)
        self.setRowCount(len(series))
        for row, (s, label, rgb) in enumerate(zip(series, labels, palette)):
            n, lo, hi, last = window(s.points, s.step_seconds, x0, x1, rate=s.type == "counter")
            pix = QPixmap(12, 12)
            pix.fill(QColor(*rgb))
            first = _NameItem(QIcon(pix), label)
            first.setFlags(first.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            first.setCheckState(Qt.CheckState.Unchecked if label in hidden else Qt.CheckState.Checked)
            first.setData(INDEX_ROLE, row)
            tip = [f"sandbox: {s.sandbox_id or '—'}"] + [f"{k}: {v}" for k, v in sorted(s.labels.items())]
            first.setToolTip("\n".join(tip))
            cells = [first, num_item(n, display.count(n)), num_item(lo, units=units), num_item(hi, units=units),
                     num_item(last, units=units)]
            for col, item in enumerate(cells):
                item.setData(PINNED_ROLE, row == pinned)
                self.setItem(row, col, item)
        for c in range(1, len(COLUMNS)):
            self.resizeColumnToContents(c)
        self.setSortingEnabled(True)
        self.blockSignals(False)

    def line_of(self, row: int) -> int:
        """The chart line shown in table row ``row`` (rows sort; lines do not), -1: none."""
        item = self.item(row, 0) if row >= 0 else None
        index = item.data(INDEX_ROLE) if item is not None else None
        return -1 if index is None else int(index)

    def row_of(self, line: int) -> int:
        for row in range(self.rowCount()):
            if self.line_of(row) == line:
                return row
        return -1

    def set_checked(self, line: int, shown: bool) -> None:
        """Tick or untick ``line``'s box without telling anyone (the pane did it)."""
        row = self.row_of(line)
        if row >= 0:
            self.blockSignals(True)
            self.item(row, 0).setCheckState(Qt.CheckState.Checked if shown else Qt.CheckState.Unchecked)
            self.blockSignals(False)

    def mark(self, line: int) -> None:
        """Select ``line``'s row (the line the mouse is on in the chart); -1: none."""
        row = self.row_of(line)
        self.blockSignals(True)
        if row < 0:
            self.clearSelection()
        else:
            self.selectRow(row)
        self.blockSignals(False)

    # == events =======================================================================
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt)
        if obj is self.viewport() and event.type() == QEvent.Type.Leave:
            self.hovered.emit(-1)
        return super().eventFilter(obj, event)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 0 and item.data(INDEX_ROLE) is not None:
            self.visibility_changed.emit(int(item.data(INDEX_ROLE)), item.checkState() == Qt.CheckState.Checked)

    def _menu(self, pos: Any) -> None:
        row = self.rowAt(pos.y())
        menu = QMenu(self)
        if row >= 0:
            line = self.line_of(row)
            menu.addAction("Show Only This Series", lambda: self.isolate_requested.emit(line))
        menu.addAction("Show All Series", lambda: self.all_requested.emit(True))
        menu.addAction("Hide All Series", lambda: self.all_requested.emit(False))
        if row >= 0:
            menu.addSeparator()
            menu.addAction("Show Sandbox", lambda: self._sandbox(row))
        menu.exec(self.viewport().mapToGlobal(pos))

    def _sandbox(self, row: int) -> None:
        line = self.line_of(row)
        if line >= 0:
            self.sandbox_requested.emit(line)


def window(points: Any, step: float, x0: float, x1: float,
           rate: bool = False) -> tuple[int, float | None, float | None, float | None]:
    """Samples, min, max and last value of the buckets overlapping ``[x0, x1]``; with
    ``rate`` (counters) those of the line drawn, the rate per second: the lowest, highest
    and last rate, not the counter's running total."""
    keep = (points.t < x1) & (points.t + step > x0)
    if not keep.any():
        return 0, None, None, None
    n = int(points.count[keep].sum())
    if rate and points.rate is not None:
        r = points.rate[keep]
        r = r[np.isfinite(r)]
        return (n, None, None, None) if not len(r) else (n, float(r.min()), float(r.max()), float(r[-1]))
    return n, float(points.min[keep].min()), float(points.max[keep].max()), float(points.last[keep][-1])


def _pinned_first(item: QTableWidgetItem, other: QTableWidgetItem) -> bool | None:
    """``item < other`` when one of them is the pinned row (first in either order:
    Qt sorts a descending column by asking ``other < item``), else None."""
    a, b = bool(item.data(PINNED_ROLE)), bool(other.data(PINNED_ROLE))
    if a == b:
        return None
    table = item.tableWidget()
    order = table.horizontalHeader().sortIndicatorOrder() if table is not None else Qt.SortOrder.AscendingOrder
    return a if order == Qt.SortOrder.AscendingOrder else b


class _NameItem(QTableWidgetItem):
    """A line's name: sorts as text, after the pinned row."""

    def __lt__(self, other: QTableWidgetItem) -> bool:  # noqa: D105
        first = _pinned_first(self, other)
        # (text compared here: the base class's operator calls this method again)
        return self.text() < other.text() if first is None else first


class _NumItem(QTableWidgetItem):
    """Sorts by number (after the pinned row), shows formatted text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:  # noqa: D105
        first = _pinned_first(self, other)
        if first is not None:
            return first
        a, b = self.data(INDEX_ROLE), other.data(INDEX_ROLE)
        if a is None or b is None:
            return (a is None) > (b is None)
        return a < b


def num_item(value: float | int | None, text: str | None = None, units: str | None = None) -> QTableWidgetItem:
    item = _NumItem(text if text is not None else number(value, units))
    item.setData(INDEX_ROLE, value)
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item

