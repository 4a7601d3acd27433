"""The Workflows pane: which workflows ran, which failed at which step and why.

A filter bar (status, workflow, sandbox), a headline with the count, then the lazy
list of executions (newest first by instant, keyset pages from workers) beside the
selected run: its status, duration and error, its steps as bars on a time axis
(:class:`StepTimeline`: failed steps red with their error, retries hatched with
``↻ N``), the steps as a table, and its input, output and metadata as JSON trees.
"From a sandbox": :meth:`WorkflowsPane.show_sandbox` filters on one sandbox (the
Sandboxes pane's "Workflow runs" calls it).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...storage import EXECUTION_STATES, ExecutionRecord, Timeline, WorkflowFilter, errors, utcnow
from .. import display
from ..jobs import JobContext, JobRunner
from ..models.paged import ROW_ROLE, PagedColumn, PagedTableModel
from ..theme import ink_name
from ..widgets.badges import BadgeDelegate
from ..widgets.detail import StackedDetail, field_grid
from ..widgets.json_tree import JsonTree, one_line
from ..widgets.record_table import record_table
from ..widgets.step_timeline import StepTimeline
from .base import Latest, Pane

SETTINGS_PREFIX = "workflows"
ANY = "Any"
PAGE = 500
TEXT_DEBOUNCE_MS = 300


def _badge(status: str) -> list[tuple[str, str]]:
    return [(status or "(none)", display.workflow_colour(status or "").name())]


def _step_text(e: ExecutionRecord) -> str:
    if not e.step_count:
        return ""
    return f"{min(e.current_step + 1, e.step_count)}/{e.step_count}"


COLUMNS = [
    PagedColumn("Started", lambda e: display.local_time(e.started_at), lambda e: display.utc_tooltip(e.started_at)),
    PagedColumn("Workflow", lambda e: e.workflow_name),
    PagedColumn("Status", lambda e: e.status, badge=lambda e: _badge(e.status)),
    PagedColumn("Duration", lambda e: display.duration(e.duration()), right=True,
                header_tip="Completed runs: start to end; running ones: so far"),
    PagedColumn("Step", _step_text, right=True, header_tip="The step it is at (or failed at) / steps"),
    PagedColumn("Error", lambda e: one_line(e.error_message, 200), lambda e: e.error_message,
                foreground=lambda e: "#b71c1c" if e.error_message else None),
    PagedColumn("Sandbox", lambda e: e.sandbox_id or "—", lambda e: e.sandbox_id or "no sandbox (deleted)"),
]


class WorkflowDetail(StackedDetail):
    GRID = (("started", "Started"), ("ended", "Ended"), ("duration", "Duration"), ("steps", "Steps"),
            ("sandbox", "Sandbox"), ("retries", "Retries"))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Select a workflow run to see its steps.", parent)
        self.timeline: Timeline | None = None
        _row, self.name_label, self.badges = self.add_title_row()
        self.id_label = QLabel()
        self.id_label.setStyleSheet(f"color: {ink_name('label')};")
        self.id_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.page_layout.addWidget(self.id_label)
        grid, self.fields = field_grid(self.GRID)
        self.page_layout.addLayout(grid)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet("color: #b71c1c; background: #ffebee; padding: 4px; border-radius: 3px;")
        self.page_layout.addWidget(self.error)
        self.chart = StepTimeline()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.chart)
        scroll.setMinimumHeight(140)
        self.chart_scroll = scroll
        self.tabs = QTabWidget()
        self.steps = QTreeWidget()
        self.steps.setRootIsDecorated(False)
        self.steps.setHeaderLabels(["#", "Step", "Status", "Started", "Duration", "Retries", "Error"])
        for column, width in enumerate((26, 100, 72, 150, 72, 48)):
            self.steps.setColumnWidth(column, width)
        self.json = JsonTree()
        self.json.setColumnWidth(0, 150)
        self.tabs.addTab(self.steps, "Steps")
        self.tabs.addTab(self.json, "Input, output, metadata")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(scroll)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        self.page_layout.addWidget(split, 1)

    def show_timeline(self, tl: Timeline) -> None:
        self.timeline = tl
        e, now = tl.execution, utcnow()
        self.name_label.setText(e.workflow_name)
        self.badges.set_badges(_badge(e.status))
        self.id_label.setText(e.id)
        f = self.fields
        f["started"].set(display.local_time(e.started_at) or "—", display.utc_tooltip(e.started_at))
        f["ended"].set(display.local_time(e.completed_at) or ("still running" if not e.finished else "—"),
                       display.utc_tooltip(e.completed_at))
        f["duration"].set(display.duration(e.duration(now)) or "—")
        done = sum(1 for s in tl.steps if s.status == "completed")
        f["steps"].set(f"{done} of {len(tl.steps)} completed")
        f["sandbox"].set(e.sandbox_id or "— (deleted)")
        f["retries"].set(str(tl.retries) if tl.retries else "none")
        failed = tl.failed_step
        if e.error_message or failed is not None:
            where = f"Failed at step {failed.step_order + 1}, <b>{html.escape(failed.step_name)}</b>: " if failed else ""
            self.error.setText(where + html.escape(failed.error_message if failed and failed.error_message
                                                   else e.error_message))
            self.error.setVisible(True)
        else:
            self.error.setVisible(False)
        self.chart.set_timeline(tl, now)
        self.chart_scroll.setMinimumHeight(min(self.chart.sizeHint().height() + 4, 380))
        self.steps.clear()
        for s in tl.steps:
            item = QTreeWidgetItem(self.steps, [
                str(s.step_order + 1), s.step_name, s.status, display.local_time(s.started_at),
                display.duration(s.duration(now)) if s.started_at else "", str(s.retry_count or ""),
                one_line(s.error_message, 300)])
            item.setForeground(2, display.workflow_colour(s.status))
            item.setToolTip(3, display.utc_tooltip(s.started_at))
            if s.error_message:
                item.setToolTip(6, s.error_message)
                item.setForeground(6, QColor("#b71c1c") if s.failed else QColor("#757575"))
        self.json.set_value({"input_data": e.input_data, "output_data": e.output_data,
                             "metadata": e.metadata}, expand_depth=1)
        self.show_page()


class WorkflowsPane(Pane):
    """See the module docstring."""

    key = "workflows"

    #: the detail panel shows this execution (its steps were loaded)
    details_loaded = Signal(str)
    #: workflow names and facet counts arrived
    facets_loaded = Signal()

    def __init__(self, runner: JobRunner, parent: QWidget | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(runner, parent, settings)
        self.model = PagedTableModel(runner, COLUMNS, "workflow runs", self)
        self._detail_latest = Latest()
        self._count_latest = Latest()
        self._total: int | None = None
        self._counts: dict[str, int] = {}
        self._wanted: str | None = None
        self._stale = False
        self._filter = WorkflowFilter()
        self._build()
        self.set_store(None)

    def _build(self) -> None:
        self.refresh_action = QAction("Refresh", self)
        self.refresh_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        self.refresh_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.refresh_action.setToolTip("Reload the runs (F5)")
        self.refresh_action.triggered.connect(self.refresh)
        self.addAction(self.refresh_action)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        bar = QHBoxLayout()
        self.status_combo = QComboBox()
        self.status_combo.addItem(ANY)
        for status in EXECUTION_STATES:
            self.status_combo.addItem(status)
        self.status_combo.setToolTip("Only runs in this state")
        self.name_combo = QComboBox()
        self.name_combo.addItem(ANY)
        self.name_combo.setMinimumContentsLength(14)
        self.name_combo.setToolTip("Only runs of this workflow")
        self.sandbox_edit = QLineEdit()
        self.sandbox_edit.setPlaceholderText("Sandbox id  (Ctrl+F)")
        self.sandbox_edit.setClearButtonEnabled(True)
        self.sandbox_edit.setToolTip("Only runs in this sandbox (its whole id)")
        self.refresh_button = QToolButton()
        self.refresh_button.setDefaultAction(self.refresh_action)
        for label, widget, stretch in (("Status:", self.status_combo, 0), ("Workflow:", self.name_combo, 0),
                                       ("Sandbox:", self.sandbox_edit, 1)):
            bar.addWidget(QLabel(label))
            bar.addWidget(widget, stretch)
        bar.addWidget(self.refresh_button)
        layout.addLayout(bar)
        self.headline = QLabel()
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setWordWrap(True)
        layout.addWidget(self.headline)

        self.table = record_table(self.model)
        self.table.setItemDelegateForColumn(2, BadgeDelegate(self.table))
        fm = self.table.fontMetrics()
        for column, sample in enumerate(("2026-11-26 01:35:22", "deploy-preview", "completed",
                                         "12 min 05 s", "Step", "step push-image failed")):
            self.table.setColumnWidth(column, fm.horizontalAdvance(sample) + 14)
        self.detail = WorkflowDetail()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.fill_list_detail(self.splitter, self.table, self.detail, [660, 520], f"{SETTINGS_PREFIX}/splitter")
        layout.addWidget(self.splitter, 1)

        self._text_timer = self.single_shot_timer(TEXT_DEBOUNCE_MS)
        self._text_timer.timeout.connect(self._apply_filter)
        self.sandbox_edit.textChanged.connect(lambda _: self._text_timer.start())
        self.sandbox_edit.returnPressed.connect(self._apply_filter)
        self.status_combo.currentIndexChanged.connect(lambda _: self._apply_filter())
        self.name_combo.currentIndexChanged.connect(lambda _: self._apply_filter())
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._load_details())
        self.model.first_page_loaded.connect(self._first_page)
        self.model.page_loaded.connect(lambda _: self._page_loaded())
        self.model.load_failed.connect(lambda e: self.show_error(e, "Loading workflow runs"))

    # -- the Pane contract -------------------------------------------------------------
    def set_store(self, store: Any) -> None:
        self.store = store
        self._wanted = None
        self._detail_latest.invalidate()
        self.detail.show_message("Select a workflow run to see its steps." if store is not None
                                 else "No database is open.")
        self.name_combo.blockSignals(True)
        self.name_combo.clear()
        self.name_combo.addItem(ANY)
        self.name_combo.blockSignals(False)
        self._stale = store is not None
        if store is None or self.isVisible():
            self._load()
        else:  # a hidden pane waits until it is shown
            self.model.set_query(None, None)
            self._filter = self.current_filter()
            self._update_headline()
            self.when_shown(self._load)

    def _load(self) -> None:
        self._stale = False
        self._apply_filter(force=True)
        if self.store is not None:
            self._load_names()

    def refresh(self) -> None:
        """Reload the runs and the workflow names (F5); a hidden pane waits until shown."""
        if self.store is None:
            return
        self._wanted = self.selected_id() or self._wanted
        self._stale = not self.isVisible()
        self.when_shown(self._load)

    def focus_filter(self) -> None:
        self.sandbox_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.sandbox_edit.selectAll()

    # -- filters -----------------------------------------------------------------------
    def current_filter(self) -> WorkflowFilter:
        status = self.status_combo.currentText()
        name = self.name_combo.currentText()
        return WorkflowFilter(statuses=frozenset() if status == ANY else frozenset({status}),
                              sandbox_id=self.sandbox_edit.text().strip() or None,
                              workflow_name=None if name == ANY else name)

    def current_place(self) -> dict[str, Any]:
        return {"sandbox": self.sandbox_edit.text().strip()}

    def show_place(self, place: dict[str, Any]) -> None:
        if "sandbox" in place:
            self.show_sandbox(place["sandbox"] or "")

    def show_sandbox(self, sandbox_id: str) -> None:
        """Only the runs in this sandbox (from the Sandboxes pane's "Workflow runs")."""
        self.status_combo.setCurrentIndex(0)
        self.sandbox_edit.setText(sandbox_id)
        self._apply_filter()

    def set_status(self, status: str) -> None:
        index = self.status_combo.findText(status)
        self.status_combo.setCurrentIndex(max(0, index))

    def _apply_filter(self, force: bool = False) -> None:
        self._text_timer.stop()
        flt = self.current_filter()
        if self._stale:  # hidden: remembered, loaded when shown
            self._filter = flt
            return
        if not force and self._filter == flt:
            return
        self._filter = flt
        self._total = None
        store = self.store
        if store is None:
            self.model.set_query(None, None)
            self._update_headline()
            return

        def fetch(s: Any, cursor: Any, limit: int) -> tuple[list[ExecutionRecord], Any]:
            page = s.workflows.page(flt, after=cursor, limit=min(limit, PAGE))
            return page.rows, page.next_cursor

        self.model.set_query(store, fetch)
        self._update_headline()

    def _load_names(self) -> None:
        store = self.store

        def work(ctx: JobContext) -> list[str]:
            return store.workflows.workflow_names()

        def done(names: list[str]) -> None:
            if store is not self.store:
                return
            current = self.name_combo.currentText()
            self.name_combo.blockSignals(True)
            self.name_combo.clear()
            self.name_combo.addItems([ANY, *names])
            self.name_combo.setCurrentIndex(max(0, self.name_combo.findText(current)))
            self.name_combo.blockSignals(False)
            self.facets_loaded.emit()

        self.runner.submit(work, name="List workflow names", store=store, on_result=done,
                           on_error=lambda e: self.show_error(e, "Listing workflows"))

    def _count(self) -> None:
        store, flt, token = self.store, self._filter, self._count_latest.next()

        def work(ctx: JobContext) -> tuple[int, dict[str, int]]:
            return store.workflows.count(flt), store.workflows.status_counts(flt)

        def done(result: tuple[int, dict[str, int]]) -> None:
            if self._count_latest.is_current(token):
                self._total, self._counts = result
                self._update_headline()

        self.runner.submit(work, name="Count workflow runs", store=store, on_result=done,
                           on_error=lambda e: self.show_error(e, "Counting workflow runs"))

    def _update_headline(self) -> None:
        if self.store is None:
            self.headline.setText("No database is open.")
            return
        loaded = self.model.rowCount()
        total = self._total
        count = f"{total:,}" if total is not None else (f"{loaded:,}+" if not self.model.loaded_all else f"{loaded:,}")
        text = f"<b>{count} workflow run{'s' if total != 1 else ''}</b>"
        flt = self._filter
        where = []
        if flt.statuses:
            where.append(f"status = {html.escape(next(iter(flt.statuses)))}")
        if flt.workflow_name:
            where.append(f"workflow = {html.escape(flt.workflow_name)}")
        if flt.sandbox_id:
            where.append(f"sandbox = {html.escape(flt.sandbox_id)}")
        if where:
            text += " where " + " and ".join(where)
        if self._counts and not flt.statuses:
            parts = [f"<span style='color:{display.workflow_colour(s).name()}'>{html.escape(s)} {n:,}</span>"
                     for s, n in sorted(self._counts.items(), key=lambda kv: -kv[1])]
            text += " · " + ", ".join(parts)
        if self.model.loading:
            text += " · loading…"
        self.headline.setText(text)

    # -- list and selection ------------------------------------------------------------
    def _first_page(self) -> None:
        self._count()
        if self._wanted is not None:
            self.select_id(self._wanted)

    def _page_loaded(self) -> None:
        self._update_headline()
        if self._wanted is not None and self.selected_id() != self._wanted:
            self.select_id(self._wanted)

    def selected(self) -> ExecutionRecord | None:
        index = self.table.selectionModel().currentIndex()
        if not index.isValid():
            return None
        return self.model.data(self.model.index(index.row(), 0), ROW_ROLE)

    def selected_id(self) -> str | None:
        e = self.selected()
        return e.id if e else None

    def select_id(self, execution_id: str) -> bool:
        row = self.model.row_of(lambda e: e.id == execution_id)
        if row is None:
            self._wanted = execution_id
            if self.model.canFetchMore():
                self.model.fetchMore()
            return False
        self._wanted = None
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0), QAbstractItemView.ScrollHint.EnsureVisible)
        return True

    def _load_details(self) -> None:
        e = self.selected()
        if e is None or self.store is None:
            return
        store, token = self.store, self._detail_latest.next()
        if self.detail.timeline is None or self.detail.timeline.execution.id != e.id:
            self.detail.show_message(f"Loading the steps of {e.workflow_name} {e.id}…")

        def done(tl: Timeline) -> None:
            if self._detail_latest.is_current(token):
                self.detail.show_timeline(tl)
                self.details_loaded.emit(tl.execution.id)

        def failed(error: errors.StorageError) -> None:
            if self._detail_latest.is_current(token):
                self.detail.show_message(f"Cannot load {e.id}: {error}")
                self.show_error(error, "Loading a workflow run")

        self.runner.submit(lambda ctx: store.workflows.timeline(e.id), name="Load workflow steps",
                           store=store, on_result=done, on_error=failed)
