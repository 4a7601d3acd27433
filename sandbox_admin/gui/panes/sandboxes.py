"""The Sandboxes pane: browse, filter and act on the sandboxes of one database.

Layout: filter bar (text, created range, show deleted, actions), status facets with
counts, a Datasette-like headline, then the lazy table beside the detail panel.
Every query runs as a job (``gui/jobs.py``); every write goes through SandboxStore,
which audits it. A version conflict (somebody else changed the sandbox) is shown as
"changed elsewhere — Reload" in the pane, not as an error.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from PySide6.QtCore import (
    QDateTime,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QSettings,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QGuiApplication,
    QIcon,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QSplitter,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QFlowLayout

from ...storage import SandboxFilter, errors, utcnow
from .. import display
from ..jobs import JobContext, JobRunner
from ..message_bar import MessageBar
from ..models.sandboxes import COLUMNS, PaintGate, SandboxTableModel, column_index, headline
from ..widgets.badges import BadgeDelegate
from ..widgets.columns import ColumnChooser, ColumnSpec
from ..widgets.record_table import record_table
from .base import Latest, Pane
from .sandbox_actions import SETTINGS_PREFIX, TIPS, SandboxActions
from .sandbox_detail import SandboxDetail, SandboxDetails

CREATED_PRESETS: tuple[tuple[str, timedelta | None], ...] = (
    ("Any time", None),
    ("Last 24 hours", timedelta(hours=24)),
    ("Last 7 days", timedelta(days=7)),
    ("Last 30 days", timedelta(days=30)),
)
CUSTOM_RANGE = "Custom range…"
#: Facets look like chips; a chosen one stands out.
FACET_STYLE = (
    "QToolButton#facet { border: 1px solid #bdbdbd; border-radius: 10px; padding: 1px 8px; }"
    "QToolButton#facet:hover { border-color: #757575; }"
    "QToolButton#facet:checked { background: #e3f2fd; border: 1px solid #1565c0; font-weight: bold; }"
)
TEXT_DEBOUNCE_MS = 300
SELECT_DEBOUNCE_MS = 60
AUDIT_LIMIT = 200


def _dot_icon(colour: str) -> QIcon:
    pix = QPixmap(10, 10)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(colour))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 8, 8)
    painter.end()
    return QIcon(pix)


class SandboxTable(QTableView):
    """The sandboxes table: holds the paging worker at the model's paint gate from the
    moment rows arrive until they are painted, so that the paint does not compete with
    the worker for the GIL (or wait while the OS has paused a worker holding it; see
    PaintGate). Should no paint follow, the gate opens after PAINT_EXPECTED_MS."""

    PAINT_EXPECTED_MS = 100

    def __init__(self, gate: PaintGate, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._gate = gate
        self._reopen = QTimer(self)
        self._reopen.setSingleShot(True)
        self._reopen.setInterval(self.PAINT_EXPECTED_MS)
        self._reopen.timeout.connect(gate.open)

    def rowsInserted(self, parent: QModelIndex | QPersistentModelIndex, start: int,  # noqa: N802
                     end: int) -> None:
        super().rowsInserted(parent, start, end)
        if self.isVisible():  # a paint is coming
            self._gate.close()
            self._reopen.start()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        self._gate.close()
        try:
            super().paintEvent(event)
        finally:
            self._reopen.stop()
            self._gate.open()


class SandboxesPane(Pane):
    """See the module docstring. Public API per notes/API_JOBS.md."""

    key = "sandboxes"

    #: The detail panel now shows this sandbox (loaded from the database).
    details_loaded = Signal(str)
    #: Facet counts arrived.
    facets_loaded = Signal()
    #: An action finished: name ("soft_delete", "recover", "checkpoint", "purge"), ok.
    action_finished = Signal(str, bool)
    #: "Workflow runs" of this sandbox were asked for (the window shows the Workflows pane).
    workflow_runs_requested = Signal(str)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(runner, parent, settings)
        self.sandbox_actions = SandboxActions(self)
        self.model = SandboxTableModel(runner, self)
        self._detail_latest = Latest()
        self._facet_latest = Latest()
        self._facet_key: SandboxFilter | None = None
        self._facet_counts: dict[str, int] = {}
        self._facet_order: list[str] = []  # statuses in the order their chips first appeared
        self._facets_due = False
        self._wanted_id: str | None = None

        self._build_actions()
        self._build_ui()
        self._connect()
        self.set_store(None)

    # == building ==================================================================================
    def _build_actions(self) -> None:
        def action(text: str, slot: Callable[[], None], shortcut: QKeySequence | str | None = None,
                   tip: str = "") -> QAction:
            act = QAction(text, self)
            act.triggered.connect(slot)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
                act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.setToolTip(tip or text)
            self.addAction(act)
            return act

        self.refresh_action = action("Refresh", self.refresh, QKeySequence.StandardKey.Refresh,
                                     "Reload the list from the database (F5)")
        self.filter_action = action("Find", self.focus_filter, QKeySequence.StandardKey.Find,
                                    "Filter by id or container (Ctrl+F)")
        self.delete_action = action("Soft delete", self.sandbox_actions.soft_delete, QKeySequence.StandardKey.Delete,
                                    TIPS["delete"])
        self.recover_action = action("Recover", self.sandbox_actions.recover, None,
                                     TIPS["recover"])
        self.checkpoint_action = action("Checkpoint…", self.sandbox_actions.checkpoint, None,
                                        TIPS["checkpoint"])
        self.purge_action = action("Purge deleted…", self.sandbox_actions.purge_deleted, None,
                                   TIPS["purge"])
        self.copy_id_action = action("Copy ID", self._copy_id, None, "Copy the sandbox id")
        self.files_link = action("Show Files", self.show_files, None,
                                 "This sandbox's files, in the Files pane")
        self.metrics_link = action("Chart Metrics", self.chart_metrics, None,
                                   "This sandbox's metrics, in the Metrics pane")
        self.audit_link = action("Audit Trail", self.show_audit, None, "This sandbox's audit trail")
        self.workflow_runs_action = action("Workflow Runs", self._workflow_runs, None,
                                           "The workflow runs of the selected sandbox (Workflows pane)")
        self.write_actions = (self.delete_action, self.recover_action, self.checkpoint_action,
                              self.purge_action)

    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)

        bar = QHBoxLayout()
        self.filter_edit = QLineEdit()
        # short enough to read whole at 180 px, so the toolbar keeps all its actions at 1024 px
        self.filter_edit.setPlaceholderText("Filter by id or container")
        self.filter_edit.setToolTip("Filter by id or container (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(180)
        self.created_combo = QComboBox()
        for label, _ in CREATED_PRESETS:
            self.created_combo.addItem(label)
        self.created_combo.addItem(CUSTOM_RANGE)
        self.created_combo.setToolTip("Created within")
        self.created_from = QDateTimeEdit()
        self.created_to = QDateTimeEdit()
        now = QDateTime.currentDateTime()
        for edit, value in ((self.created_from, now.addDays(-7)), (self.created_to, now)):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.setDateTime(value)
            edit.setVisible(False)
        self.created_from.setToolTip("Created from (local time)")
        self.created_to.setToolTip("Created until (local time)")
        self.deleted_check = QCheckBox("Show deleted")
        self.deleted_check.setToolTip("Include soft-deleted sandboxes (shown greyed and struck through)")
        self.only_deleted_check = QCheckBox("Only deleted")
        self.only_deleted_check.setToolTip("Show the soft-deleted sandboxes alone (to recover or purge)")
        bar.addWidget(self.filter_edit, 2)
        bar.addWidget(QLabel("Created:"))
        bar.addWidget(self.created_combo)
        bar.addWidget(self.created_from)
        bar.addWidget(self.created_to)
        bar.addWidget(self.deleted_check)
        bar.addWidget(self.only_deleted_check)
        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for act in (self.refresh_action, None, self.delete_action, self.recover_action,
                    self.checkpoint_action, None, self.purge_action):
            if act is None:
                self.toolbar.addSeparator()
            else:
                self.toolbar.addAction(act)
        bar.addStretch(1)
        bar.addWidget(self.toolbar)
        layout.addLayout(bar)

        self.facet_bar = QWidget()  # its own style sheet: the table keeps the plain style
        self.facet_bar.setStyleSheet(FACET_STYLE)
        facets = QHBoxLayout(self.facet_bar)
        facets.setContentsMargins(0, 0, 0, 0)
        facets.setSpacing(4)
        self.facets_label = QLabel("Status:")
        facets.addWidget(self.facets_label, 0, Qt.AlignmentFlag.AlignTop)
        self.facets_hint = QLabel("")
        self.facets_hint.setStyleSheet("color: #757575;")
        facets.addWidget(self.facets_hint, 0, Qt.AlignmentFlag.AlignTop)
        # the chips wrap onto a second line rather than widen the window (eight statuses
        # with counts in the thousands are wider than a 1024 px screen)
        chips = QWidget()
        self.facet_box = QFlowLayout(chips)
        self.facet_box.setContentsMargins(0, 0, 0, 0)
        self.facet_box.setHorizontalSpacing(4)
        self.facet_box.setVerticalSpacing(4)
        facets.addWidget(chips, 1)
        layout.addWidget(self.facet_bar)
        self.facet_buttons: dict[str, QToolButton] = {}

        self.headline = QLabel()
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setWordWrap(True)
        layout.addWidget(self.headline)

        self.notice = MessageBar()  # in-pane notices with an action ("changed elsewhere — Reload")
        layout.addWidget(self.notice)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.table = record_table(self.model, table=SandboxTable(self.model.paint_gate))
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row sizing
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        self.table.setItemDelegateForColumn(column_index("status"), BadgeDelegate(self.table))
        self.columns = ColumnChooser(
            self.table, [ColumnSpec(c.title, c.visible, self._default_width(c.key, c.width))
                         for c in COLUMNS], self.settings, f"{SETTINGS_PREFIX}/header",
        )
        self.columns.restore()
        self._show_sort_indicator()

        self.detail = SandboxDetail()
        self.detail.files_requested.connect(self.show_files)
        self.detail.metrics_requested.connect(self.chart_metrics)
        self.detail.runs_requested.connect(lambda sid: self.workflow_runs_requested.emit(sid))
        self.fill_list_detail(self.splitter, self.table, self.detail, [660, 340],
                              f"{SETTINGS_PREFIX}/splitter")  # proportions: the default columns fit at 1600 px
        layout.addWidget(self.splitter, 1)

        self._text_timer = self.single_shot_timer(TEXT_DEBOUNCE_MS)
        self._select_timer = self.single_shot_timer(SELECT_DEBOUNCE_MS)

    def _default_width(self, key: str, fallback: int) -> int:
        """Wide enough for a whole UUID / timestamp in this font (not more)."""
        sample = {"id": "8fa731f1-4041-4479-bcc9-892308e296b3", "created": "2026-11-26 01:35:22",
                  "updated": "2026-11-26 01:35:22", "container": "sandbox-8fa731f1"}.get(key)
        if sample is None:
            return fallback
        return self.table.fontMetrics().horizontalAdvance(sample) + 18

    def _connect(self) -> None:
        self.filter_edit.textChanged.connect(lambda _: self._text_timer.start())
        self.filter_edit.returnPressed.connect(self._apply_filter)
        self._text_timer.timeout.connect(self._apply_filter)
        self.created_combo.currentIndexChanged.connect(self._created_changed)
        self.created_from.dateTimeChanged.connect(lambda _: self._text_timer.start())
        self.created_to.dateTimeChanged.connect(lambda _: self._text_timer.start())
        self.deleted_check.toggled.connect(lambda _: self._apply_filter())
        self.only_deleted_check.toggled.connect(lambda _: self._apply_filter())
        self.table.installEventFilter(self)
        self.table.horizontalHeader().sortIndicatorChanged.connect(self._sort_changed)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._select_timer.start())
        self.table.customContextMenuRequested.connect(self._table_menu)
        self._select_timer.timeout.connect(self._load_details)
        self.model.total_changed.connect(self._update_headline)
        self.model.loading_changed.connect(lambda _: self._update_headline())
        self.model.page_loaded.connect(self._page_loaded)
        self.model.first_page_loaded.connect(self._first_page_loaded)
        self.model.load_failed.connect(self._load_failed)
        self.model.modelReset.connect(self.sandbox_actions.update_state)
        self.runner.exclusive_changed.connect(lambda _: self.sandbox_actions.update_state())

    # == public API ==================================================================================
    def set_store(self, store: Any) -> None:
        """Show ``store``'s sandboxes (None: nothing open)."""
        self.store = store
        self.notice.clear()
        self._facet_key = None
        self._facet_order = []
        self._wanted_id = None
        self.detail.show_message("Select a sandbox to see its details." if store is not None
                                 else "No database is open.")
        self.model.set_store(store, replace(self.model.query, flt=self._build_filter()))
        self._facets_after_first_page()
        self.sandbox_actions.update_state()
        self._update_headline()

    def apply_preferences(self, prefs: Any) -> None:
        self.model.first_page = prefs.page_size
        self.model.clear_formatting()  # times in another zone
        self.table.viewport().update()

    # -- links --------------------------------------------------------------------------------------------
    def show_files(self, sandbox_id: str | None = None) -> None:
        sid = sandbox_id or self.selected_id()
        if sid:
            self.navigate.emit("files", {"sandbox": sid})

    def chart_metrics(self, sandbox_id: str | None = None) -> None:
        sid = sandbox_id or self.selected_id()
        if sid:
            self.navigate.emit("metrics", {"sandbox": sid})

    def show_audit(self) -> None:
        if self.selected_id():
            self.detail.show_audit()

    def current_place(self) -> dict[str, Any]:
        return {"select": self.selected_id()} if self.selected_id() else {}

    def show_place(self, place: dict[str, Any]) -> None:
        """Select a sandbox, clearing the filters that would hide it."""
        sid = place.get("select")
        if not sid:
            return
        if self.model.row_of(sid) is None and (self.filter_edit.text() or any(
                b.isChecked() for b in self.facet_buttons.values())):
            self.filter_edit.clear()
            self.set_status_filter(set())
        self.select_id(sid)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt)
        """Ctrl+End / Ctrl+Home go to the last / first row and stay in the column
        (Qt would also jump to the last column, out of the ID's sight)."""
        if obj is self.table and event.type() == QEvent.Type.KeyPress and \
                event.modifiers() & Qt.KeyboardModifier.ControlModifier and \
                event.key() in (Qt.Key.Key_End, Qt.Key.Key_Home):
            rows = self.model.rowCount()
            if rows:
                row = rows - 1 if event.key() == Qt.Key.Key_End else 0
                column = max(0, self.table.currentIndex().column())
                index = self.model.index(row, column)
                self.table.setCurrentIndex(index)
                self.table.scrollTo(index)
            return True
        return super().eventFilter(obj, event)

    def current_dialog(self) -> QDialog | None:
        """The confirmation or input dialog the pane has open (tests answer it)."""
        return self.sandbox_actions.current_dialog()

    def refresh(self) -> None:
        """Reload the list, the facets and the shown sandbox (F5)."""
        if self.store is None:
            return
        self._wanted_id = self.selected_id() or self._wanted_id
        self._facet_key = None
        self.model.reload()
        self._facets_after_first_page()

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    # == filtering ======================================================================================
    def _created_changed(self) -> None:
        custom = self.created_combo.currentText() == CUSTOM_RANGE
        self.created_from.setVisible(custom)
        self.created_to.setVisible(custom)
        self._apply_filter()

    def _created_range(self) -> tuple[datetime | None, datetime | None]:
        text = self.created_combo.currentText()
        if text == CUSTOM_RANGE:
            start = self.created_from.dateTime().toSecsSinceEpoch()
            end = self.created_to.dateTime().toSecsSinceEpoch()
            return (datetime.fromtimestamp(start, timezone.utc),
                    datetime.fromtimestamp(end, timezone.utc))
        delta = dict(CREATED_PRESETS).get(text)
        return (utcnow() - delta if delta else None), None

    def _build_filter(self) -> SandboxFilter:
        created_from, created_to = self._created_range()
        statuses = frozenset(s for s, b in self.facet_buttons.items() if b.isChecked())
        return SandboxFilter(
            statuses=statuses,
            text=self.filter_edit.text().strip(),
            created_from=created_from,
            created_to=created_to,
            include_deleted=self.deleted_check.isChecked() or self.only_deleted_check.isChecked(),
            only_deleted=self.only_deleted_check.isChecked(),
        )

    def _apply_filter(self) -> None:
        self._text_timer.stop()
        flt = self._build_filter()
        if flt == self.model.query.flt:
            return
        self._wanted_id = self.selected_id() or self._wanted_id
        self.model.set_query(replace(self.model.query, flt=flt))
        self._facets_after_first_page()

    def _sort_changed(self, column: int, order: Qt.SortOrder) -> None:
        if not self.model.sortable(column):
            self._show_sort_indicator()  # not sortable: keep the current one
            self.message_requested.emit(
                "info", f"“{COLUMNS[column].title}” cannot be sorted by the database.", "")
            return
        self._wanted_id = self.selected_id() or self._wanted_id
        self.model.sort(column, order)

    def _show_sort_indicator(self) -> None:
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        order = Qt.SortOrder.DescendingOrder if self.model.query.descending else Qt.SortOrder.AscendingOrder
        header.setSortIndicator(self.model.sort_column(), order)
        header.blockSignals(False)

    # -- facets ----------------------------------------------------------------------------------------
    def _refresh_facets(self) -> None:
        if self.store is None:
            self._set_facets({})
            return
        key = replace(self._build_filter(), statuses=frozenset())
        if key == self._facet_key:
            return
        self._facet_key = key
        generation, store = self._facet_latest.next(), self.store
        self.facets_hint.setText("counting…")

        def work(ctx: JobContext) -> dict[str, int]:
            return dict(store.sandboxes.status_counts(key))

        def done(counts: dict[str, int]) -> None:
            if self._facet_latest.is_current(generation):
                self._set_facets(counts)
                self.facets_loaded.emit()

        def failed(error: errors.StorageError) -> None:
            if self._facet_latest.is_current(generation):
                self.facets_hint.setText("")
                if not isinstance(error, errors.Cancelled):
                    self.message_requested.emit("error", str(error), error.detail)

        self.runner.submit(work, name="Count sandboxes by status", on_result=done, on_error=failed,
                           store=store)

    def _set_facets(self, counts: dict[str, int]) -> None:
        self._facet_counts = dict(counts)
        checked = {s for s, b in self.facet_buttons.items() if b.isChecked()}
        for button in self.facet_buttons.values():
            self.facet_box.removeWidget(button)
            button.hide()  # at once: deleteLater waits for the event loop, and until then
            button.deleteLater()  # the old chip would still be painted under the new ones
        self.facet_buttons = {}
        # chips keep their places: the first order seen (most first), newcomers at the end
        for status in sorted(set(counts) - set(self._facet_order), key=lambda s: (-counts.get(s, 0), s)):
            self._facet_order.append(status)
        names = [s for s in self._facet_order if s in counts or s in checked]
        for status in names:
            button = QToolButton()
            button.setObjectName("facet")
            button.setCheckable(True)
            button.setChecked(status in checked)
            button.setText(f"{status or '(none)'}  {counts.get(status, 0):,}")
            button.setIcon(_dot_icon(display.status_colour(status).name()))
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setToolTip(f"Show only {status} sandboxes (click again to clear)")
            button.toggled.connect(lambda _: self._apply_filter())
            self.facet_box.addWidget(button)
            self.facet_buttons[status] = button
        if self.facet_buttons:  # "Status:" centred on the first line of chips
            button.ensurePolished()
            self.facets_label.setMinimumHeight(button.sizeHint().height())
        self.facets_hint.setText("" if names or self.store is None else "no sandboxes")

    def set_status_filter(self, statuses: set[str]) -> None:
        """Check exactly these status facets (as clicking them would)."""
        for status, button in self.facet_buttons.items():
            button.blockSignals(True)
            button.setChecked(status in statuses)
            button.blockSignals(False)
        self._apply_filter()

    # == table and selection ============================================================================
    def _update_headline(self) -> None:
        if self.store is None:
            self.headline.setText("No database is open.")
            return
        m = self.model
        text = headline(m.query, m.total, m.total_exact, m.rowCount(), m.loading)
        if m.error is not None:
            text += " · <span style='color:#b71c1c'>loading failed</span>"
        if self.store.read_only:
            text += " · <span style='color:#5d4037'>read-only</span>"
        self.headline.setText(text)

    def _facets_after_first_page(self) -> None:
        """Count the facets once the first page is in: the first rows come first."""
        if self.store is None:
            self._refresh_facets()
        else:
            self._facets_due = True

    def _first_page_loaded(self) -> None:
        if self._facets_due:
            self._facets_due = False
            self._refresh_facets()
        self._show_sort_indicator()
        if self.selected_id() is None and self.model.rowCount() and self._wanted_id is None:
            self.detail.show_message("Select a sandbox to see its details.")

    def _page_loaded(self, added: int, seconds: float) -> None:
        self._update_headline()
        if self._wanted_id is not None and self.selected_id() is None:
            row = self.model.row_of(self._wanted_id)
            if row is not None:
                self.select_row(row)
                self._wanted_id = None
            elif self.model.loaded_all:
                self._wanted_id = None
                self.detail.show_message("Select a sandbox to see its details.")

    def _load_failed(self, error: errors.StorageError) -> None:
        self._update_headline()
        self.message_requested.emit("error", str(error), error.detail)

    def selected_row(self) -> int | None:
        index = self.table.selectionModel().currentIndex()
        if not index.isValid() or not self.table.selectionModel().isRowSelected(index.row(), QModelIndex()):
            return None
        return index.row()

    def selected_id(self) -> str | None:
        row = self.selected_row()
        r = self.model.row_at(row) if row is not None else None
        return r.id if r else None

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))

    def select_id(self, sandbox_id: str) -> bool:
        row = self.model.row_of(sandbox_id)
        if row is None:
            self._wanted_id = sandbox_id
            return False
        self.select_row(row)
        return True

    def _copy_id(self) -> None:
        sid = self.selected_id()
        if sid:
            QGuiApplication.clipboard().setText(sid)

    def _workflow_runs(self) -> None:
        sid = self.selected_id()
        if sid:
            self.workflow_runs_requested.emit(sid)

    def _table_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if index.isValid():
            self.table.selectRow(index.row())
        menu = QMenu(self)
        for act in (self.files_link, self.metrics_link, self.workflow_runs_action, self.audit_link, None,
                    self.delete_action, self.recover_action, self.checkpoint_action, None,
                    self.copy_id_action, self.refresh_action, None, self.purge_action):
            if act is None:
                menu.addSeparator()
            else:
                menu.addAction(act)
        menu.exec(self.table.viewport().mapToGlobal(pos))

    # -- details ------------------------------------------------------------------------------------------
    def _load_details(self, sandbox_id: str | None = None) -> None:
        sandbox_id = sandbox_id or self.selected_id()
        self.sandbox_actions.update_state()
        if sandbox_id is None or self.store is None:
            return
        generation, store = self._detail_latest.next(), self.store
        self.detail.show_loading(sandbox_id)

        def work(ctx: JobContext) -> SandboxDetails:
            s = store.sandboxes
            record = s.get(sandbox_id)
            return SandboxDetails(record, s.checkpoints(sandbox_id),
                                  s.audit(sandbox_id, newest_first=True, limit=AUDIT_LIMIT))

        def done(details: SandboxDetails) -> None:
            if not self._detail_latest.is_current(generation):
                return
            self.detail.show_details(details)
            self.model.update_record(details.record)
            self.sandbox_actions.update_state()
            self.details_loaded.emit(sandbox_id)

        def failed(error: errors.StorageError) -> None:
            if not self._detail_latest.is_current(generation):
                return
            if isinstance(error, errors.NotFound):
                self.detail.show_message(f"{sandbox_id} no longer exists (removed elsewhere). "
                                         "Press F5 to refresh the list.")
            elif not isinstance(error, errors.Cancelled):
                self.detail.show_message(f"Cannot load {sandbox_id}: {error}")
                self.message_requested.emit("error", str(error), error.detail)

        self.runner.submit(work, name="Load sandbox details", on_result=done, on_error=failed,
                           store=store)

    def current_record(self) -> Any:
        """The full record in the detail panel (when it is the selected one)."""
        d = self.detail.details
        return d.record if d is not None and d.record.id == self.selected_id() else None
