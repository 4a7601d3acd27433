"""The Metrics pane: chart a metric per series, Grafana-like, never double counting.

Left: the metric names (with their type), which sandboxes (all, one, or a chosen few:
:mod:`.metrics_sandboxes`), lines per series or per label value, and what ranks the
top series. Right: range presets, a pyqtgraph chart (local-time axis), and the legend
(:mod:`.metrics_legend`): each line's numbers over the visible range, a box to hide it.
Lines are highlighted, isolated and read with the crosshair by :mod:`.metrics_focus`,
exported by :mod:`.metrics_export`.

Every query is a job. More than 12 series chart as the fleet (``storage.fleet_chart``:
an aggregate with its band and the top few, folded by SQLite over the rollups when they
are built); a metric's series are listed afterwards, for the sandbox filter, from the
rollup tables. Zooming or panning asks again, debounced, at a step chosen from the
visible range and the plot's width; a newer request cancels the older one and a late
answer of an older one is dropped. Gauges chart the bucket average, counters the rate
per second (never an average of a counter), histograms and summaries the average of
their observations. A pane that is not shown does no database work.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyqtgraph as pg  # after PySide6 (gui/__init__.py sets PYQTGRAPH_QT_LIB)
from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel

from ...storage import (
    DEFAULT_STATS,
    FLEET_ABOVE,
    TOP_BY,
    TOP_N,
    FleetChart,
    errors,
    fleet_frame,
    fleet_overview,
    fleet_top,
    plotted,
)
from .. import display
from ..jobs import Job, JobContext, JobRunner
from ..theme import ink, ink_name
from .base import Latest, Pane
from .metrics_chart import (
    ALL_DATA,
    PRESETS,
    ChartAnswer,
    ChartRequest,
    Description,
    axis_label,
    axis_units,
    colours_for,
    gap_threshold,
    preset_range,
    series_labels,
    step_text,
    target_points,
    value_units,
    with_gaps,
)
from .metrics_export import ChartExport
from .metrics_focus import LineFocus
from .metrics_legend import SeriesLegend
from .metrics_sandboxes import Choice, SandboxChoices, SandboxPicker
from .metrics_serve import ServeControl

ZOOM_DEBOUNCE_MS = 250
#: A metric's series are listed (for the sandbox filter) this long after its chart.
DESCRIBE_AFTER_MS = 400
SETTINGS = "metrics"
NAME_ROLE = Qt.ItemDataRole.UserRole
#: Types whose chart also shows the 95th percentile (dashed), when few series are shown.
QUANTILE_TYPES = ("histogram", "summary")
MAX_P95_SERIES = 4
#: The fleet's percentiles (histograms, summaries) and how they are drawn.
FLEET_QUANTILES = DEFAULT_STATS + ("p50", "p95", "p99")
#: Merging every series' sketches reads all of their rollup rows: up to this many series
#: (beyond, the fleet keeps its average and min–max band; a chosen few show their p95).
FLEET_QUANTILES_UP_TO = 2000
FLEET_QUANTILE_STYLES = {"p95": Qt.PenStyle.DashLine, "p50": Qt.PenStyle.DotLine, "p99": Qt.PenStyle.DotLine}


class MetricsPane(LineFocus, ChartExport, Pane):
    """See the module docstring. Public API per notes/API_JOBS.md."""

    key = "metrics"

    #: Metric names arrived (name -> type).
    names_loaded = Signal(dict)
    #: A chart answer was drawn whole (or an empty one shown).
    chart_drawn = Signal()
    #: A chart was first shown: the whole of it, or a fleet's aggregate and band before
    #: its top lines (chart_drawn follows when they are drawn too).
    chart_shown = Signal()
    #: An export was written (its path).
    exported = Signal(str)
    #: The fleet's percentiles were drawn (histograms and summaries).
    fleet_quantiles_drawn = Signal()

    def __init__(self, runner: JobRunner, parent: QWidget | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(runner, parent, settings)
        self.types: dict[str, str] = {}
        self.answer: ChartAnswer | None = None
        self.curves: list[pg.PlotDataItem] = []
        self.p95_curves: list[pg.PlotDataItem | None] = []  # dashed 95th percentile, per series
        self.requests: list[ChartRequest] = []  # every chart request sent (tests, diagnostics)
        self._latest = Latest()
        self._names_latest = Latest()
        self._describe_latest = Latest()
        self._job: Job | None = None
        self._top_job: Job | None = None
        #: (generation, (frame, top series, seconds) or None) of the top lines' job
        self._top_result: tuple[int, Any] | None = None
        self._answer_generation = -1
        saved = self.settings.value(f"{SETTINGS}/preset", ALL_DATA)
        self._preset: str | None = saved if saved in dict(PRESETS) else ALL_DATA
        self._setting_range = False
        self._labels: list[str] = []
        self._curve_data: list[tuple[Any, Any, float]] = []
        self._sandboxes_shown: list[tuple[str, int, str]] = []
        self._palette: list[tuple[int, int, int]] = []
        self._drawn_span = 1.0
        self._hidden: set[str] = set()  # series labels unticked in the table
        self._descriptions: dict[str, Description] = {}  # per metric, until a refresh
        self._extents: dict[str, tuple[float, float]] = {}  # per metric, until a refresh

        self._build_ui()
        self._curve_pool, self._p95_pool = [], []
        self._band_fill: pg.PlotCurveItem | None = None
        self._band_erase: pg.PlotCurveItem | None = None
        self._describe_timer = QTimer(self, singleShot=True, interval=DESCRIBE_AFTER_MS)
        self._describe_timer.timeout.connect(lambda: self._describe(self._describe_name))
        self._describe_name = ""
        self._zoom_timer = QTimer(self, singleShot=True, interval=ZOOM_DEBOUNCE_MS)
        self._zoom_timer.timeout.connect(self._zoomed)
        self.plot.getViewBox().sigXRangeChanged.connect(self._x_range_changed)
        self._mouse_proxy = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=60,
                                           slot=self._mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        for i in range(FLEET_ABOVE):  # the items a chart needs, made before any chart is asked for
            self._line(self._curve_pool, i)
        self.set_store(None)

    # == building ================================================================================
    def _build_ui(self) -> None:
        refresh = QAction("Refresh", self)
        refresh.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        refresh.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        refresh.triggered.connect(self.refresh)
        self.addAction(refresh)
        find = QAction("Find", self)
        find.setShortcut(QKeySequence(QKeySequence.StandardKey.Find))
        find.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.triggered.connect(self.focus_filter)
        self.addAction(find)

        # left: names + sandbox filter
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(6, 6, 0, 6)
        self.filter_edit = QLineEdit(placeholderText="Filter metrics (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._filter_names)
        self.names_list = QListWidget()
        self.names_list.currentItemChanged.connect(lambda *_: self._metric_changed())
        self.sandbox_combo = QComboBox()
        self.sandbox_choices = SandboxChoices(self.sandbox_combo)
        self.sandbox_combo.setModel(self.sandbox_choices)
        self.sandbox_combo.setEditable(True)  # type part of an id to find it among thousands
        self.sandbox_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        # as wide as the column, not as its longest choice (a container name and a uuid)
        self.sandbox_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.sandbox_combo.setMinimumContentsLength(14)
        self.sandbox_combo.completer().setFilterMode(Qt.MatchFlag.MatchContains)
        self.sandbox_combo.completer().setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.sandbox_combo.setToolTip("Chart every sandbox's series, or only one sandbox's "
                                      "(type part of its id to find it)")
        self.sandbox_combo.currentIndexChanged.connect(lambda _: self._sandbox_changed())
        lv.addWidget(self.filter_edit)
        lv.addWidget(self.names_list, 1)
        sandbox_row = QHBoxLayout()
        sandbox_row.addWidget(QLabel("Sandbox"), 1)
        self.choose_button = QToolButton(text="Choose…", autoRaise=True)
        self.choose_button.setToolTip("Tick several sandboxes to chart them side by side")
        self.choose_button.clicked.connect(self.open_picker)
        sandbox_row.addWidget(self.choose_button)
        lv.addLayout(sandbox_row)
        lv.addWidget(self.sandbox_combo)
        lv.addWidget(QLabel("Lines"))
        self.group_combo = QComboBox()
        self.group_combo.addItem("One per series", None)
        self.group_combo.setToolTip("One line per series (the fleet and its top series when there are "
                                    "many), or one line per value of a label, its series merged")
        self.group_combo.currentIndexChanged.connect(lambda _: self._redraw_range())
        lv.addWidget(self.group_combo)
        self.top_by_label = QLabel("Top series by")
        lv.addWidget(self.top_by_label)
        self.top_by_combo = QComboBox()
        self.top_by_combo.addItems(list(TOP_BY))
        self.top_by_combo.setToolTip(f"With more than {FLEET_ABOVE} series, the chart shows the fleet "
                                     f"(an aggregate with its min–max band) and the top {TOP_N} series by "
                                     "this statistic over the range")
        self.top_by_combo.currentIndexChanged.connect(lambda _: self._redraw_range())
        lv.addWidget(self.top_by_combo)

        # right: presets, chart, table
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 6, 6, 6)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Range:"))
        self.preset_group = QButtonGroup(self)
        self.preset_buttons: dict[str, QToolButton] = {}
        for label, seconds in PRESETS:
            button = QToolButton(text=label, checkable=True, autoRaise=True)
            button.setToolTip("The metric's whole extent" if seconds is None
                              else f"The last {label} up to the metric's newest sample")
            button.clicked.connect(lambda _=False, p=label: self.set_preset(p))
            self.preset_group.addButton(button)
            self.preset_buttons[label] = button
            bar.addWidget(button)
        self.preset_buttons[self._preset or ALL_DATA].setChecked(True)
        # the spare width is the label's: it elides (full text in its tooltip) rather than
        # widening the window past 1024 px when a metric has tens of thousands of series
        self.info_label = QElidingLabel()
        self.info_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.info_label.setToolTip("Bucket step and where the numbers come from "
                                   "(raw samples or rollups)")
        bar.addWidget(self.info_label, 1)
        self.export_button = QToolButton(text="Export", autoRaise=True)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setToolTip("Save the chart's visible data (CSV, JSON) or the chart itself (PNG)")
        export_menu = QMenu(self.export_button)
        export_menu.addAction("Visible Data as CSV…", lambda: self._ask_export("csv"))
        export_menu.addAction("Visible Data as JSON…", lambda: self._ask_export("json"))
        export_menu.addAction("Chart as PNG…", lambda: self._ask_export("png"))
        self.export_button.setMenu(export_menu)
        bar.addWidget(self.export_button)
        rv.addLayout(bar)
        self.rollup_hint = QLabel()
        self.rollup_hint.setWordWrap(True)
        self.rollup_hint.setTextFormat(Qt.TextFormat.RichText)
        self.rollup_hint.linkActivated.connect(lambda _: self.navigate.emit("maintenance", {"focus": "rollups"}))
        self.rollup_hint.hide()
        rv.addWidget(self.rollup_hint)

        self.date_axis = pg.DateAxisItem(orientation="bottom")  # local time
        self.plot = pg.PlotWidget(axisItems={"bottom": self.date_axis})
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "local time")
        vb = self.plot.getViewBox()
        vb.setMouseEnabled(x=True, y=False)
        vb.enableAutoRange(x=False, y=True)
        vb.setAutoVisible(y=True)
        self.plot.setMenuEnabled(False)
        self.vline = pg.InfiniteLine(angle=90, movable=False)
        self.vline.setVisible(False)
        self.plot.addItem(self.vline, ignoreBounds=True)
        self.hover_label = QLabel(self.plot)
        self.hover_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hover_label.hide()
        self.empty_label = QLabel(self.plot)
        self.empty_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.plot.installEventFilter(self)
        self._style_chart()

        self.table = SeriesLegend()
        self.table.visibility_changed.connect(self._set_line_shown)
        self.table.hovered.connect(self.highlight)
        self.table.isolate_requested.connect(self.isolate)
        self.table.all_requested.connect(self.show_all)
        self.table.sandbox_requested.connect(self._show_line_sandbox)

        legend = QWidget()
        legend_layout = QVBoxLayout(legend)
        legend_layout.setContentsMargins(0, 0, 0, 0)
        legend_layout.setSpacing(2)
        legend_bar = QHBoxLayout()
        self.legend_label = QLabel("")
        legend_bar.addWidget(self.legend_label, 1)
        self.show_all_button = QToolButton(text="Show All", autoRaise=True)
        self.show_all_button.setToolTip("Show every line (Ctrl+Shift+A)")
        self.show_all_button.setShortcut(QKeySequence("Ctrl+Shift+A"))
        self.show_all_button.clicked.connect(lambda: self.show_all(True))
        self.hide_all_button = QToolButton(text="Hide All", autoRaise=True)
        self.hide_all_button.setToolTip("Hide every line (tick one to see it alone)")
        self.hide_all_button.clicked.connect(lambda: self.show_all(False))
        legend_bar.addWidget(self.show_all_button)
        legend_bar.addWidget(self.hide_all_button)
        legend_layout.addLayout(legend_bar)
        legend_layout.addWidget(self.table, 1)

        charts = QSplitter(Qt.Orientation.Vertical)
        charts.addWidget(self.plot)
        charts.addWidget(legend)
        charts.setStretchFactor(0, 3)
        charts.setStretchFactor(1, 1)
        charts.setSizes([600, 220])
        rv.addWidget(charts, 1)
        self.serve = ServeControl(self.runner)
        self.serve.message_requested.connect(self.message_requested)
        rv.addWidget(self.serve)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([240, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def _style_chart(self) -> None:
        """Colours of the chart for the current palette (light or dark)."""
        self.plot.setBackground(ink("chart_bg"))
        for side in ("left", "bottom"):
            axis = self.plot.getAxis(side)
            axis.setPen(pg.mkPen(ink("chart_axis")))
            axis.setTextPen(pg.mkPen(ink("chart_text")))
        self.vline.setPen(pg.mkPen(ink("chart_cursor"), style=Qt.PenStyle.DashLine))
        self.hover_label.setStyleSheet(
            f"QLabel {{ background: {ink_name('panel_bg')}; border: 1px solid {ink_name('panel_border')};"
            f" padding: 4px; color: {ink_name('chart_text')}; }}")
        self.empty_label.setStyleSheet(
            f"QLabel {{ color: {ink_name('label')}; font-size: 15px; background: transparent; }}")
        if getattr(self, "answer", None) is not None:
            self.plot.setTitle(self.answer.request.name, size="10pt", color=ink_name("chart_text"))

    def apply_preferences(self, prefs: Any) -> None:
        utc = prefs.time_zone == "utc"
        self.date_axis.utcOffset = 0 if utc else None
        self.plot.setLabel("bottom", "UTC" if utc else "local time")
        self.date_axis.picture = None  # redraw the tick labels
        self.date_axis.update()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt)
        if event.type() == QEvent.Type.PaletteChange:
            self._style_chart()
        super().changeEvent(event)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt)
        if obj is self.plot and event.type() == QEvent.Type.Resize:
            self._place_empty_label()
        elif obj is self.plot and event.type() == QEvent.Type.Leave:
            self._hide_crosshair()
        return super().eventFilter(obj, event)

    def _place_empty_label(self) -> None:
        r = self.plot.rect()
        self.empty_label.setGeometry(r.adjusted(40, 40, -40, -40))

    # == public API ==============================================================================
    def set_store(self, store: Any) -> None:
        """Show ``store``'s metrics (None: nothing open)."""
        self.store = store
        self.serve.set_store(store)
        self._cancel_job()
        self._latest.invalidate()
        # the series listing of the last store's metric: not wanted any more
        self._describe_timer.stop()
        self._describe_latest.invalidate()
        if self._describe_job is not None:
            self._describe_job.cancel()
            self._describe_job = None
        self.types = {}
        self._descriptions = {}
        self._extents = {}
        self.names_list.clear()
        self._sandboxes_shown = []
        self._set_sandboxes([], None)
        self._clear_chart("No database is open." if store is None else "Loading metrics…")
        # a hidden pane does no work: the names (and the remembered chart) are read when
        # it is first shown, not while another pane is in front
        self.when_shown(self._load_names if store is not None else (lambda: None))

    def refresh(self) -> None:
        """Reload the names and the chart (F5)."""
        if self.store is not None:
            self._descriptions = {}
            self._extents = {}
            self.when_shown(self._load_names)

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def current_metric(self) -> str | None:
        item = self.names_list.currentItem()
        return item.data(NAME_ROLE) if item is not None else None

    def select_metric(self, name: str, sandbox_id: Choice = None) -> bool:
        """Chart ``name`` (optionally one sandbox's series); False if there is no such metric."""
        for i in range(self.names_list.count()):
            item = self.names_list.item(i)
            if item.data(NAME_ROLE) == name:
                self._wanted_sandbox = sandbox_id
                if self.names_list.currentItem() is item:
                    self._metric_changed()
                else:
                    self.names_list.setCurrentItem(item)
                return True
        return False

    def current_place(self) -> dict[str, Any]:
        return {"metric": self.current_metric(), "sandbox": self.current_sandbox()}

    def show_place(self, place: dict[str, Any]) -> None:
        """Chart a metric (the current one, or the first) for one sandbox or all."""
        if not self.types:  # the names are not read yet: go there when they arrive
            self._pending_place = dict(place)
            return
        name = place.get("metric")
        if name not in self.types:
            name = self.current_metric() or next(iter(self.types))
        self.select_metric(name, place.get("sandbox"))

    def show_series_sandbox(self, row: int) -> None:
        """The Sandboxes pane with the sandbox of the series in table row ``row``."""
        self._show_line_sandbox(self.table.line_of(row))

    def _show_line_sandbox(self, line: int) -> None:
        if self.answer is None or not 0 <= line < len(self.answer.series):
            return
        sid = self.answer.series[line].sandbox_id
        if sid:
            self.navigate.emit("sandboxes", {"select": sid})

    def current_sandbox(self) -> Choice:
        """None (every sandbox), one sandbox's id, or the chosen few (a tuple)."""
        return self.sandbox_combo.currentData()

    def set_sandbox(self, sandbox_id: Choice) -> None:
        i = self.sandbox_choices.row_of(sandbox_id)
        if i or not sandbox_id:
            self.sandbox_combo.setCurrentIndex(i)

    def choose_sandboxes(self, ids: list[str]) -> None:
        """Chart these sandboxes (one line per series); an empty list: every sandbox."""
        self.sandbox_choices.set_chosen(ids)
        self.sandbox_combo.setCurrentIndex(1 if ids else 0)
        self._sandbox_changed()

    def open_picker(self) -> SandboxPicker | None:
        """The dialog to tick sandboxes (returned open; it charts them when accepted)."""
        if self.current_metric() is None:
            return None
        picker = SandboxPicker(self.sandbox_choices.rows, self.sandbox_choices.chosen, self)
        picker.accepted.connect(lambda: self.choose_sandboxes(picker.chosen()))
        picker.finished.connect(picker.deleteLater)
        picker.open()
        return picker

    def set_preset(self, preset: str) -> None:
        """Chart one of :data:`PRESETS` (anchored at the metric's newest sample)."""
        self._preset = preset
        self.preset_buttons[preset].setChecked(True)
        self.settings.setValue(f"{SETTINGS}/preset", preset)
        self._request(preset=preset)

    def visible_x_range(self) -> tuple[float, float]:
        x0, x1 = self.plot.getViewBox().viewRange()[0]
        return float(x0), float(x1)

    def set_x_range(self, start: float, end: float) -> None:
        """Zoom/pan as a person would (the chart asks again after the debounce)."""
        self.plot.getViewBox().setXRange(start, end, padding=0)

    def empty_text(self) -> str:
        return self.empty_label.text() if self.empty_label.isVisible() else ""

    def busy(self) -> bool:
        """A chart or the series listing is on its way (or about to be asked for)."""
        describing = self._describe_job is not None and self._describe_job.state != "done"
        return (self._job is not None or self._top_job is not None or self._zoom_timer.isActive()
                or self._describe_timer.isActive() or describing)

    # == names =====================================================================================
    def _load_names(self) -> None:
        generation, store = self._names_latest.next(), self.store

        def work(ctx: JobContext) -> dict[str, str]:
            return dict(sorted(store.metrics.names().items()))

        def done(names: dict[str, str]) -> None:
            if self._names_latest.is_current(generation) and store is self.store:
                self._set_names(names)

        def failed(error: errors.StorageError) -> None:
            if self._names_latest.is_current(generation) and not isinstance(error, errors.Cancelled):
                self._clear_chart("The metrics could not be read.")
                self.message_requested.emit("error", str(error), error.detail)

        self.runner.submit(work, name="List metrics", on_result=done, on_error=failed, store=store)

    def _set_names(self, names: dict[str, str]) -> None:
        keep = self.current_metric() or self.settings.value(f"{SETTINGS}/metric")
        self.types = names
        self.names_list.blockSignals(True)
        self.names_list.clear()
        for name, typ in names.items():
            item = QListWidgetItem(f"{name}  ({typ})")
            item.setData(NAME_ROLE, name)
            item.setToolTip(f"{name}: {typ}")
            self.names_list.addItem(item)
        self.names_list.blockSignals(False)
        self._filter_names(self.filter_edit.text())
        self.names_loaded.emit(dict(names))
        if not names:
            self._clear_chart("This database has no metrics yet.")
            return
        pending, self._pending_place = self._pending_place, None
        if pending is not None:
            self.show_place(pending)
            return
        if keep in names:
            self.select_metric(keep, self.current_sandbox())
        else:
            self._clear_chart("Select a metric on the left.")

    def _filter_names(self, text: str) -> None:
        text = text.strip().lower()
        for i in range(self.names_list.count()):
            item = self.names_list.item(i)
            item.setHidden(bool(text) and text not in item.text().lower())

    # == requests ===================================================================================
    #: a chart from raw samples slower than this suggests building rollups
    SLOW_RAW_S = 1.0
    _wanted_sandbox: Choice = None
    _describe_job: Job | None = None
    band_items: list[Any] = []  # the fleet's band (edges and fill), when one is drawn
    _curve_pool: list[Any] = []  # plot items reused chart after chart (see _line)
    _p95_pool: list[Any] = []
    fleet_quantile_items: list[Any] = []  # the fleet's p50/p95/p99 (histograms, summaries)
    _pending_place: dict[str, Any] | None = None

    def _metric_changed(self) -> None:
        name = self.current_metric()
        if name is None:
            self._cancel_job()
            self._latest.invalidate()
            self._clear_chart("Select a metric on the left.")
            return
        self.settings.setValue(f"{SETTINGS}/metric", name)
        self._request(sandbox=self._wanted_sandbox, new_metric=True, **self._range_args(name))
        self._wanted_sandbox = None

    def _sandbox_changed(self) -> None:
        name = self.current_metric()
        if name is not None and not self._filling_combo:
            self._request(**self._range_args(name))

    def _range_args(self, name: str) -> dict[str, Any]:
        """The range of the next request: the chosen preset, or, after a zoom, the
        visible range (a refresh or another sandbox keeps the view, Grafana-like)."""
        if self._preset is None and self.answer is not None and self.answer.request.name == name:
            x0, x1 = self.visible_x_range()
            span = x1 - x0
            return {"start": x0 - span / 2, "end": x1 + span / 2, "scale": 2.0}
        if self._preset is None:
            self._preset = ALL_DATA
            self.preset_buttons[ALL_DATA].setChecked(True)
        return {"preset": self._preset}

    _filling_combo = False

    def _set_sandboxes(self, sandboxes: list[tuple[str, int, str]], current: Choice,
                       positions: dict[str, int] | None = None) -> None:
        """The sandbox filter's choices: a model answered on demand, so 20,000 sandboxes cost
        the GUI thread nothing until the list is opened (or typed into)."""
        self._filling_combo = True
        try:
            self.sandbox_choices.set_rows(sandboxes, current if isinstance(current, tuple) else None, positions)
            self.sandbox_combo.setCurrentIndex(self.sandbox_choices.row_of(current))
        finally:
            self._filling_combo = False

    def _request(self, *, preset: str | None = None, start: float | None = None, end: float | None = None,
                 sandbox: str | None = None, new_metric: bool = False, scale: float = 1.0) -> None:
        name = self.current_metric()
        if name is None or self.store is None:
            return
        sandbox_id = sandbox if sandbox is not None else self.current_sandbox()
        width = self.plot.getViewBox().width() or self.plot.width()
        req = ChartRequest(name, sandbox_id, start, end, int(target_points(int(width)) * scale), preset,
                           top_by=self.top_by_combo.currentText() or "max",
                           group_by=self.group_combo.currentData())
        req.known = self._descriptions.get(name)
        req.extent = self._extents.get(name) if sandbox_id is None else None
        self._send(req, keep_view=preset is None)

    def _send(self, req: ChartRequest, keep_view: bool) -> None:
        self._cancel_job()
        self._describe_timer.stop()
        if self._describe_job is not None and self._describe_name != req.name:
            self._describe_job.cancel()  # another metric's listing: not wanted now
        self._zoom_timer.stop()
        generation, store = self._latest.next(), self.store
        self.requests.append(req)
        self.info_label.setText("loading…")

        fallback_type = self.types.get(req.name, "gauge")

        def work(ctx: JobContext) -> ChartAnswer:
            began = time.perf_counter()
            metrics = store.metrics
            described, typ, extent, start, end = _chart_range(metrics, req, fallback_type)
            # the sandbox list, when not known yet, follows in its own job (see done)
            sandboxes = described.counts() if described is not None else None
            ctx.check_cancelled()
            if start is None or end is None:
                return ChartAnswer(req, typ, extent, sandboxes, 0.0, 0.0, [], time.perf_counter() - began,
                                   described)
            stats = chart_stats(typ)
            if req.group_by:  # one line per value of a label: a handful, whatever the fleet
                lines = metrics.chart(req.name, start, end, req.target_points, sandbox_id=req.sandbox_id,
                                      group_by=(req.group_by,), stats=stats)
                chart = FleetChart(lines)
            else:
                # the aggregate first: its top lines follow in their own job (see done)
                chart = fleet_overview(metrics, req.name, start, end, req.target_points,
                                       sandbox_id=req.sandbox_id, metric_type=typ, by=req.top_by, stats=stats)
            answer = ChartAnswer(req, typ, extent, sandboxes, start, end, chart.series, 0.0, described,
                                 chart.band, chart.folded, chart.top_by if chart.folded else "", chart.frame)
            answer.seconds = time.perf_counter() - began
            return answer

        def done(answer: ChartAnswer) -> None:
            if not self._latest.is_current(generation):
                return  # an older request's answer: a newer one is on its way
            self._job = None
            if answer.description is not None and store is self.store:
                self._descriptions[answer.request.name] = answer.description
                self._set_group_choices(answer.description.label_keys)
            if answer.request.sandbox_id is None and answer.extent is not None and store is self.store:
                self._extents[answer.request.name] = answer.extent
            self._answer_generation = generation
            self._draw(answer, keep_view)
            if answer.frame is not None:
                self._join_top(generation)
            else:
                if self._top_job is not None:  # every series is drawn: no top lines to add
                    self._top_job.cancel()
                    self._top_job = None
                self._after_drawn(answer, generation)

        def failed(error: errors.StorageError) -> None:
            if not self._latest.is_current(generation):
                return
            self._job = None
            if isinstance(error, errors.Cancelled):
                return
            self.info_label.setText("")
            self._clear_chart("The chart could not be drawn.")
            self.message_requested.emit("error", str(error), error.detail)

        self._job = self.runner.submit(work, name=f"Chart {req.name}", on_result=done,
                                       on_error=failed, store=store)
        self._top_result = None
        if req.sandbox_id is None and not req.group_by:
            # a fleet's top lines take longest: read them beside its aggregate, not after
            self._top_job = self._start_top(req, generation, store, fallback_type)

    def _after_drawn(self, answer: ChartAnswer, generation: int) -> None:
        """The work that waits for a whole chart (so as not to slow it down)."""
        if answer.description is None and self.store is not None:
            # listed once the chart has been shown a moment: a person clicking through
            # metrics gets each chart without this listing competing for the cores
            self._describe_name = answer.request.name
            self._describe_timer.start()
        if answer.band is not None and answer.metric_type in QUANTILE_TYPES \
                and answer.folded <= FLEET_QUANTILES_UP_TO:
            self._fleet_percentiles(answer, generation)
        self.chart_drawn.emit()

    def _start_top(self, req: ChartRequest, generation: int, store: Any, fallback_type: str,
                   frame: Any = None) -> Job:
        """The top lines of the fleet ``req`` asks for: read beside its overview (both find
        the same frame from the same request; None when it charts every series), or in
        ``frame``, the overview's, when asked for after it."""
        beside = frame is None

        def work(ctx: JobContext) -> tuple[Any, list[Any], float] | None:
            began, metrics, found = time.perf_counter(), store.metrics, frame
            if found is None:
                if not metrics.rollups_built():  # no frame without rollups: the overview
                    return None                  # charts every series (and its extent is its own)
                _, typ, _, start, end = _chart_range(metrics, req, fallback_type)
                if start is None or end is None:
                    return None
                found = fleet_frame(metrics, req.name, start, end, req.target_points, metric_type=typ)
                if found is None:
                    return None
                ctx.check_cancelled()
            top = fleet_top(metrics, found, by=req.top_by, stats=chart_stats(found.metric_type))
            return found, top, time.perf_counter() - began

        def done(result: tuple[Any, list[Any], float] | None) -> None:
            if self._latest.is_current(generation):
                self._top_job = None
                self._top_result = (generation, result)
                self._join_top(generation)

        def failed(error: errors.StorageError) -> None:
            if not self._latest.is_current(generation):
                return
            self._top_job = None
            if beside:  # asked again, in the overview's frame, once the overview is drawn
                self._top_result = (generation, None)
                self._join_top(generation)
            elif not isinstance(error, errors.Cancelled):
                self.message_requested.emit("error", str(error), error.detail)

        return self.runner.submit(work, name=f"Top series of {req.name}", on_result=done,
                                  on_error=failed, store=store, quiet=beside)

    def _join_top(self, generation: int) -> None:
        """Add the fleet's top lines to its drawn aggregate once both are in; ask for
        them in its frame if the job beside the overview did not find the same one."""
        answer = self.answer
        if answer is None or answer.frame is None or self._answer_generation != generation:
            return  # the overview is not drawn yet (or charts every series)
        got = self._top_result
        if got is not None and got[0] == generation:
            self._top_result = None
            if got[1] is not None and got[1][0] == answer.frame:
                self._add_top(answer, got[1][1], got[1][2], generation)
                return
        elif self._top_job is not None:
            return  # on its way
        self._top_job = self._start_top(answer.request, generation, self.store, answer.metric_type,
                                        frame=answer.frame)

    def _add_top(self, answer: ChartAnswer, top: list[Any], seconds: float, generation: int) -> None:
        """The fleet's top lines joined to its drawn aggregate."""
        answer.series, answer.frame, answer.seconds = [answer.series[0], *top], None, answer.seconds + seconds
        self._draw_lines(answer, first=1)
        self._describe_drawn(answer)
        self._after_drawn(answer, generation)

    def _fleet_percentiles(self, answer: ChartAnswer, generation: int) -> None:
        """The fleet's p50/p95/p99 of a histogram or summary, merged over every series (the
        rollups' sketches), drawn dashed over the fleet's average when they arrive."""
        req, store = answer.request, self.store

        def work(ctx: JobContext) -> Any:
            merged = store.metrics.chart(req.name, answer.start, answer.end, req.target_points,
                                         sandbox_id=req.sandbox_id, group_by=(), stats=FLEET_QUANTILES)
            return merged[0] if merged else None

        def done(merged: Any) -> None:
            if merged is None or not self._latest.is_current(generation) or self.answer is not answer:
                return
            gap = gap_threshold(merged.points.t, merged.step_seconds)
            for stat, style in FLEET_QUANTILE_STYLES.items():
                values = merged.points.percentiles.get(stat)
                if values is None:
                    continue
                t, y = with_gaps(merged.points.t, values, gap)
                item = pg.PlotDataItem(t, y, pen=pg.mkPen(fleet_colour(), width=1.5, style=style), connect="finite")
                self.plot.addItem(item)
                item.setVisible(self.line_shown(0))
                self.fleet_quantile_items.append(item)
            self.plot.setLabel("left", axis_label(req.name, answer.metric_type)
                               + " (fleet: dashed p95, dotted p50 and p99)",
                               units=axis_units(req.name, answer.metric_type))
            self.fleet_quantiles_drawn.emit()

        self.runner.submit(work, name=f"Percentiles of {req.name}", on_result=done, store=store, quiet=True)

    def _describe(self, name: str) -> None:
        """List ``name``'s series (for the sandbox filter) after its chart is shown."""
        if self.store is None:
            return
        generation, store = self._describe_latest.next(), self.store
        fallback_type = self.types.get(name, "gauge")

        def work(ctx: JobContext) -> Description:
            return Description.from_infos(store.metrics.catalogue(name), fallback_type)

        def done(described: Description) -> None:
            if not self._describe_latest.is_current(generation) or store is not self.store:
                return
            self._descriptions[name] = described
            if self.current_metric() == name:
                self._sandboxes_shown = described.counts()
                self._set_sandboxes(self._sandboxes_shown, self.current_sandbox(), described.positions)
                self._set_group_choices(described.label_keys)

        def failed(error: errors.StorageError) -> None:
            if self._describe_latest.is_current(generation) and not isinstance(error, errors.Cancelled):
                self.message_requested.emit("error", str(error), error.detail)

        if self._describe_job is not None:
            self._describe_job.cancel()  # the metric before's: not wanted any more
        self._describe_job = self.runner.submit(work, name=f"List the series of {name}", on_result=done,
                                                on_error=failed, store=store)

    def _redraw_range(self) -> None:
        """Ask again for what is shown (the preset, or the visible range)."""
        if self.answer is None:
            return
        if self._preset:
            self._request(preset=self._preset)
        else:
            x0, x1 = self.visible_x_range()
            self._request(start=x0, end=x1)

    def _cancel_job(self) -> None:
        for job in (self._job, self._top_job):
            if job is not None:
                job.cancel()
        self._job = self._top_job = None

    # == zoom ======================================================================================
    def _x_range_changed(self, *_: Any) -> None:
        if self._setting_range or self.answer is None or not self.answer.series and not self.curves:
            return
        self._zoom_timer.start()

    def _zoomed(self) -> None:
        if self.answer is None:
            return
        x0, x1 = self.visible_x_range()
        if x1 <= x0:
            return
        a, span = self.answer, x1 - x0
        if a.start <= x0 and x1 <= a.end and 0.6 < span / self._drawn_span < 1.6:
            self._fill_table()  # a small pan or zoom inside what is loaded: same step will do
            return
        self.preset_group.setExclusive(False)
        for b in self.preset_buttons.values():
            b.setChecked(False)
        self.preset_group.setExclusive(True)
        self._preset = None  # a range of one's own now
        # half a screen either side at the same step, so a pan shows data at once
        self._request(start=x0 - span / 2, end=x1 + span / 2, scale=2.0)

    # == drawing ===================================================================================
    def _clear_chart(self, message: str) -> None:
        self.answer = None
        self._remove_curves()
        self.table.setRowCount(0)
        self.info_label.setText("")
        self.plot.setLabel("left", "")
        self.plot.setTitle(None)
        self.rollup_hint.hide()
        self._axis_values(False)  # no 0–1 scale nor 1970's seconds under "Select a metric"
        self._show_empty(message)

    def _axis_values(self, shown: bool) -> None:
        for side in ("left", "bottom"):
            self.plot.getAxis(side).setStyle(showValues=shown)

    def _show_empty(self, message: str) -> None:
        self.empty_label.setText(message)
        self._place_empty_label()
        self.empty_label.setVisible(bool(message))
        self.empty_label.raise_()

    def _add_band(self, t: Any, band: tuple[Any, Any], step: float, rgb: tuple[int, int, int]) -> None:
        """The fleet's min–max band under its aggregate line, each bucket as wide as its
        step: the top edge filled down to the lowest value in the band's colour, then
        the bottom edge filled down the same way in the background's colour. (Qt took
        time growing with the square of the buckets to fill the polygon between two
        edges: 250 ms of a frozen window for 2,000 buckets; two fills to a level take
        2–4 ms.) The colour is the fleet's blended into the background, opaque."""
        low, high = (np.asarray(b, np.float64) for b in band)
        t = np.asarray(t, np.float64)
        ok = np.isfinite(low) & np.isfinite(high)
        if not ok.any():
            return
        if self._band_fill is None:  # made once, kept for the next chart
            self._band_fill = pg.PlotCurveItem(pen=None)
            self._band_fill.setZValue(-1)  # under the lines
            self.plot.addItem(self._band_fill)
            # a child: shown, hidden and moved with the band, but never dimmed with it
            self._band_erase = pg.PlotCurveItem(pen=None, parent=self._band_fill)
            self._band_erase.setFlag(self._band_erase.GraphicsItemFlag.ItemIgnoresParentOpacity)
        floor = float(low[ok].min())
        t, low, high = t[ok], low[ok], high[ok]
        # each bucket a box: (start, floor), (start, y), (end, y), (end, floor)
        x = np.column_stack([t, t, t + step, t + step]).ravel()

        def edge(y: np.ndarray) -> np.ndarray:
            return np.column_stack([np.full_like(y, floor), y, y, np.full_like(y, floor)]).ravel()

        bg = ink("chart_bg")
        shade = tuple(round(0.25 * c + 0.75 * b) for c, b in zip(rgb, (bg.red(), bg.green(), bg.blue())))
        self._band_fill.setData(x, edge(high), fillLevel=floor, brush=pg.mkBrush(*shade), pen=None)
        self._band_erase.setData(x, edge(low), fillLevel=floor, brush=pg.mkBrush(bg), pen=None)
        self._band_fill.setOpacity(1.0)
        self._band_fill.setVisible(True)
        self.band_items = [self._band_fill]

    def _remove_curves(self) -> None:
        for c in self.fleet_quantile_items:
            self.plot.removeItem(c)
        for c in self.band_items:  # kept for the next chart
            c.setVisible(False)
        for c in self.curves + self.p95_curves:  # emptied, kept for the next chart (see _line)
            if c is not None:
                c.setData([], [])
                c.setVisible(False)
                c.setZValue(0)
        self.band_items = []
        self.fleet_quantile_items = []
        self.curves = []
        self.p95_curves = []
        self._curve_data = []
        self._labels = []
        self._pens = []
        self.highlighted = -1
        self._hide_crosshair()

    def _line(self, pool: list[pg.PlotDataItem], i: int) -> pg.PlotDataItem:
        """Plot item ``i`` of ``pool``, made (and added to the chart) the first time only:
        making and adding nine items was half of drawing a chart, every time."""
        while len(pool) <= i:
            item = pg.PlotDataItem([], [])
            self.plot.addItem(item)
            # after addItem: clipping looks at the item's ViewBox, which it has only now
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
            item.setVisible(False)
            pool.append(item)
        return pool[i]

    def _draw(self, answer: ChartAnswer, keep_view: bool) -> None:
        req = answer.request
        if self.answer is None or self.answer.request.name != req.name:
            self._hidden = set()  # legend choices last while zooming, not across metrics
        self.answer = answer
        self._remove_curves()
        if answer.sandboxes is not None and (answer.sandboxes is not self._sandboxes_shown
                                             or self.current_sandbox() != req.sandbox_id):
            self._sandboxes_shown = answer.sandboxes
            positions = answer.description.positions if answer.description is not None else None
            self._set_sandboxes(answer.sandboxes, req.sandbox_id, positions)
        units = axis_units(req.name, answer.metric_type)
        axis = self.plot.getAxis("left")
        axis.enableAutoSIPrefix(units is not None)  # no "(x0.001)" without units
        if units is None:  # pyqtgraph keeps the last scale it computed (from the metric before)
            axis.autoSIPrefixScale, axis.labelUnitPrefix = 1.0, ""
        self.plot.getViewBox().enableAutoRange(y=True)  # each metric's own values, not the last range
        self.plot.setLabel("left", axis_label(req.name, answer.metric_type), units=units)
        self.plot.setTitle(req.name, size="10pt", color=ink_name("chart_text"))  # exported PNGs say what they show
        self._axis_values(True)
        self._draw_lines(answer, first=0)
        if not keep_view and answer.end > answer.start:
            self._setting_range = True
            try:
                self.plot.getViewBox().setXRange(answer.start, answer.end, padding=0)
            finally:
                self._setting_range = False
        x0, x1 = self.visible_x_range()
        self._drawn_span = max(x1 - x0, 1e-3)
        self._describe_drawn(answer)
        if answer.series:
            self._show_empty("")
        elif answer.extent is None:
            where = ("" if not req.sandbox_id else " in this sandbox" if isinstance(req.sandbox_id, str)
                     else " in these sandboxes")
            self._show_empty(f"No data for {req.name}{where}.")
        else:
            self._show_empty(f"No data for {req.name} in this range. Choose “All data” to see all of it.")
        self.chart_shown.emit()

    def _draw_lines(self, answer: ChartAnswer, first: int) -> None:
        """Lines ``first`` on of ``answer`` (a fleet's top lines join its aggregate)."""
        req = answer.request
        labels = series_labels(answer.series)
        palette = colours_for(answer.series)
        if answer.band is not None:
            how = "sum" if answer.metric_type == "counter" else "average"
            labels[0] = f"all {answer.folded:,} series ({how}; band: min–max)"
            palette[0] = fleet_colour()
        self._labels = labels
        for i, (s, label, rgb) in enumerate(zip(answer.series, labels, palette)):
            if i < first:
                continue
            gap = gap_threshold(s.points.t, s.step_seconds)
            t, y = with_gaps(s.points.t, plotted(s), gap)
            fleet = i == 0 and answer.band is not None
            width = 2.5 if fleet else 1.5
            few = len(s.points.t) <= 2  # too few buckets for a line to show: dots
            curve = self._line(self._curve_pool, i)
            curve.setData(t, y, pen=pg.mkPen(rgb, width=width), name=label, connect="finite",
                          symbol="o" if few else None, symbolSize=6, symbolBrush=pg.mkBrush(*rgb),
                          symbolPen=pg.mkPen(rgb))
            self._pens.append((rgb, width))
            if fleet:
                self._add_band(s.points.t, answer.band, s.step_seconds, rgb)
            curve.setVisible(label not in self._hidden)
            self.curves.append(curve)
            self._curve_data.append((s.points.t, plotted(s), gap))
            p95 = s.points.percentiles.get("p95")
            if p95 is not None and len(answer.series) <= MAX_P95_SERIES and answer.band is None:
                t, y = with_gaps(s.points.t, p95, gap)
                upper = self._line(self._p95_pool, i)
                upper.setData(t, y, pen=pg.mkPen(rgb, width=1, style=Qt.PenStyle.DashLine), connect="finite")
                upper.setVisible(label not in self._hidden)
                self.p95_curves.append(upper)
            else:
                self.p95_curves.append(None)
        self._palette = palette
        if any(c is not None for c in self.p95_curves):
            units = axis_units(req.name, answer.metric_type)
            self.plot.setLabel("left", axis_label(req.name, answer.metric_type) + ", dashed: p95", units=units)

    def _describe_drawn(self, answer: ChartAnswer) -> None:
        """The legend's rows and the words around the chart, for what is drawn now."""
        req = answer.request
        self._fill_table()
        top = len(answer.series) - 1
        by = dict(max="maximum", avg="average", last="last value").get(req.top_by, req.top_by)
        self.legend_label.setText(
            "" if not answer.series else
            f"The fleet; its {TOP_N} series with the highest {by} are on their way…" if answer.frame is not None
            else f"The fleet, and the {top} series with the highest {by}" if answer.band is not None
            else f"{len(answer.series)} lines by {req.group_by}" if req.group_by else "")
        step = answer.series[0].step_seconds if answer.series else 0
        source = answer.series[0].source if answer.series else ""
        where = "rollups" if source.startswith("rollup") else "raw samples"
        # short: at 1280 px the range buttons leave it about 430 px (the legend's title says more)
        count = (f"{answer.folded:,} series" if answer.frame is not None
                 else f"{answer.folded:,} series · top {top} by {answer.top_by}"
                 if answer.band is not None else display.plural(len(answer.series), "series", "series"))
        info = f"{count} · step {step_text(step)} · {where}" if answer.series else ""
        self.info_label.setText(info)
        self.info_label.setToolTip(f"{info}\nAnswered in {answer.seconds * 1000:.0f} ms from {source or 'nothing'}")
        slow = answer.series and where == "raw samples" and answer.seconds > self.SLOW_RAW_S
        self.rollup_hint.setText(
            f"This chart read every raw sample in range ({answer.seconds:.1f} s). "
            "<a href='rollups'>Build metric rollups</a> (Maintenance) to chart it in well under a second."
            if slow else "")
        self.rollup_hint.setVisible(bool(slow))

    def _fill_table(self) -> None:
        """The legend's rows: each line's numbers over the visible range."""
        a = self.answer
        units = None
        if a is not None:  # a counter's row tells its line's rate; other rows their samples
            units = (axis_units(a.request.name, a.metric_type) or "/s" if a.metric_type == "counter"
                     else value_units(a.request.name, a.metric_type))
        x0, x1 = self.visible_x_range()
        self.table.fill(a.series if a is not None else [], self._labels, self._palette, self._hidden, units, x0, x1,
                        pinned=0 if a is not None and a.band is not None else -1)


def _chart_range(metrics: Any, req: ChartRequest, fallback_type: str
                 ) -> tuple[Description | None, str, tuple[float, float] | None, float | None, float | None]:
    """What a chart request is of (runs in a worker): the metric's description when known
    (a sandbox's own is listed here, for its extent), type, extent, and the range."""
    described = req.known
    if described is None and req.sandbox_id is not None:  # that sandbox's own extent
        described = Description.from_infos(metrics.catalogue(req.name), fallback_type)
    if described is None:
        typ, extent = fallback_type, req.extent
        if extent is None:
            first, last = metrics.quick_extent(req.name)
            extent = (first.timestamp(), last.timestamp()) if first and last else None
    else:
        typ, extent = described.type, described.extent(req.sandbox_id)
    start, end = req.start, req.end
    if req.preset is not None:
        start, end = preset_range(req.preset, extent)
    return described, typ, extent, start, end


def chart_stats(metric_type: str) -> tuple[str, ...]:
    """What a chart asks of each bucket: the usual numbers, and p95 where there are
    observations to rank (histograms and summaries)."""
    return DEFAULT_STATS + (("p95",) if metric_type in QUANTILE_TYPES else ())


def fleet_colour() -> tuple[int, int, int]:
    """The fleet's grey, dark on a light chart and light on a dark one."""
    c = ink("chart_fleet")
    return c.red(), c.green(), c.blue()
