"""The Maintenance pane: health, statistics, schema, backups, restore and housekeeping.

The point-and-click front of ``storage/maintenance.py`` (check, statistics, vacuum,
optimize, checkpoint), ``storage/backup.py`` (create, list, verify, restore, the
schedule) and ``Store.migrate``. Every call runs as a job; restore, vacuum and the
schema upgrade are exclusive jobs. Long work shows a progress bar with Cancel.
A read-only store keeps its backups (they read the database only) and loses the
writes, with a tooltip saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ... import paths
from ...storage import (
    BackupInfo,
    CheckpointResult,
    CheckReport,
    DatabaseStats,
    MigrationStatus,
    RestoreResult,
    SafeMigration,
    ScheduledRun,
    VacuumReport,
    errors,
    latest_version,
    list_backups,
    read_sidecar,
)
from .. import display
from ..jobs import Job, JobContext, JobRunner
from ..upgrade import ask_upgrade, upgrade_work, upgraded_text
from .base import Latest, Pane
from .maintenance_backups import BackupActions
from .maintenance_cache import CLEAR_TIP, CacheBox
from .maintenance_views import BackupTable, StatsTable, escape, stats_summary

SETTINGS_PREFIX = "maintenance"
_OWN_STORE: Any = object()  # _run(store=...) default: the pane's store
#: How often the automatic-backup timer asks whether a backup is due.
AUTO_CHECK_MS = 5 * 60 * 1000
READ_ONLY_TIP = ("The database is open read-only, so {what} is not possible. Reopen it "
                 "read-write (File → Open…) to do it.")


@dataclass
class Health:
    """What the statistics job reads."""

    stats: DatabaseStats
    migrations: MigrationStatus
    rows: dict[str, int]
    cache: Any = None  # CacheStats; None before the Go schema's version 4


class MaintenancePane(Pane):
    """See the module docstring. Public API per notes/API_JOBS.md."""

    key = "maintenance"

    #: Statistics and schema status arrived.
    stats_loaded = Signal()
    #: The backup list was (re)read.
    backups_loaded = Signal()
    #: An action finished: name ("check", "backup", "verify", "restore", "vacuum",
    #: "optimize", "checkpoint", "migrate", "auto-backup"), ok.
    action_finished = Signal(str, bool)
    #: the metric rollups were brought up to date (charts can ask again)
    rollups_built = Signal()

    def __init__(self, runner: JobRunner, parent: QWidget | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(runner, parent, settings)
        self.backups = BackupActions(self)
        #: what says that another program uses the database now ('' when nothing does);
        #: the window fills it in from its change watch
        self.outside_activity: Callable[[], str] = lambda: ""
        self._dialog_upgrade: QMessageBox | None = None
        self.health: Health | None = None
        self.last_check: CheckReport | None = None
        self.last_restore: RestoreResult | None = None
        self.last_verify: Any = None  # the last VerifyReport shown
        self.last_vacuum: VacuumReport | None = None
        self.last_scheduled: ScheduledRun | None = None
        self._busy: Job | None = None  # the job shown in the progress row
        self._auto_job: Job | None = None
        self._stats_latest = Latest()
        self._list_latest = Latest()
        self._build_ui()
        self._load_settings()
        self._connect()
        self.auto_timer = QTimer(self)
        self.auto_timer.setInterval(AUTO_CHECK_MS)
        self.auto_timer.timeout.connect(self.backups.run_auto_backup)
        self.set_store(None)

    # == building =====================================================================
    def _build_ui(self) -> None:
        # In a scroll area: the pane never forces the window wider than people make it.
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        content = QWidget()
        scroll.setWidget(content)
        outer.addWidget(scroll)
        layout = QVBoxLayout(content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        self.headline = QLabel("No database is open.")
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setWordWrap(True)
        layout.addWidget(self.headline)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_health())
        splitter.addWidget(self._build_backups())
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        layout.addWidget(splitter, 1)

        row = QHBoxLayout()
        self.progress_label = QLabel("")
        self.progress_bar = QProgressBar()
        self.progress_bar.setMinimumWidth(160)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running operation (nothing is left half done)")
        row.addWidget(self.progress_label, 1)
        row.addWidget(self.progress_bar)
        row.addWidget(self.cancel_button)
        self.progress_row = QWidget()
        self.progress_row.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        self.progress_row.setVisible(False)
        layout.addWidget(self.progress_row)

    def _build_health(self) -> QWidget:
        box = QGroupBox("Health and statistics")
        v = QVBoxLayout(box)
        self.summary = QFormLayout()
        self.summary.setHorizontalSpacing(12)
        self.summary_labels: dict[str, QLabel] = {}
        for name in ("Size", "File on disk", "WAL", "Pages", "Free pages"):
            label = QLabel("—")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.summary_labels[name] = label
            self.summary.addRow(name + ":", label)
        # in a widget of its own: the form gives a nested layout no height for the wrapped
        # second line (clipped at 1024 px), a widget field it does
        schema_field = QWidget()
        schema_row = QHBoxLayout(schema_field)
        schema_row.setContentsMargins(0, 0, 0, 0)
        self.schema_label = QLabel("—")
        self.schema_label.setWordWrap(True)
        self.upgrade_button = QPushButton("Upgrade schema…")
        schema_row.addWidget(self.schema_label, 1)
        schema_row.addWidget(self.upgrade_button)
        self.summary.addRow("Schema:", schema_field)
        v.addLayout(self.summary)

        self.stats_table = StatsTable()
        v.addWidget(self.stats_table, 1)

        check_row = QHBoxLayout()
        self.quick_check_button = QPushButton("Quick check")
        self.quick_check_button.setToolTip("PRAGMA quick_check, foreign keys, full-text index, "
                                           "migrations (seconds)")
        self.full_check_button = QPushButton("Full integrity check")
        self.full_check_button.setToolTip("PRAGMA integrity_check: also compares every index "
                                          "with its table (slower)")
        self.check_result = QLabel("")
        self.check_result.setWordWrap(True)
        # shown when a check finds the search index damaged: what repairs it, here
        self.reindex_button = QPushButton("Rebuild search index")
        self.reindex_button.setVisible(False)
        check_row.addWidget(self.quick_check_button)
        check_row.addWidget(self.full_check_button)
        check_row.addWidget(self.check_result, 1)
        check_row.addWidget(self.reindex_button)
        v.addLayout(check_row)
        self.problems = QPlainTextEdit()
        self.problems.setReadOnly(True)
        self.problems.setMaximumHeight(110)
        self.problems.setVisible(False)
        v.addWidget(self.problems)

        house = QHBoxLayout()
        self.vacuum_button = QPushButton("Vacuum")
        self.optimize_button = QPushButton("Optimize")
        self.checkpoint_button = QPushButton("WAL checkpoint")
        self.rollups_button = QPushButton("Build metric rollups")
        self.write_tips = {
            self.vacuum_button: ("Rebuild the file without its free pages (runs alone; other "
                                 "work waits)", "vacuuming"),
            self.optimize_button: ("PRAGMA optimize: refresh the query planner's statistics "
                                   "where they are stale", "optimizing"),
            self.checkpoint_button: ("Move the WAL into the database file and empty it",
                                     "a checkpoint"),
            self.reindex_button: ("Rebuild the full-text search index from the files' metadata "
                                  "(the Go server's own table and triggers; runs alone)",
                                  "rebuilding the search index"),
            self.rollups_button: ("Fold the metric samples not rolled up yet into per-minute to "
                                  "per-day summaries (sandbox-admin's own tables), so charts of any "
                                  "range read a few rows; safe to cancel and resume", "building rollups"),
            self.upgrade_button: ("Apply the pending migrations (sandbox-admin's own tables; "
                                  "runs alone)", "upgrading the schema"),
        }
        for b in (self.vacuum_button, self.optimize_button, self.checkpoint_button, self.rollups_button):
            house.addWidget(b)
        self.house_result = QLabel("")
        self.house_result.setWordWrap(True)
        house.addWidget(self.house_result, 1)
        v.addLayout(house)
        self.cache_box = CacheBox()
        v.addWidget(self.cache_box)
        return box

    def _build_backups(self) -> QWidget:
        box = QGroupBox("Backups")
        v = QVBoxLayout(box)
        folder_row = QHBoxLayout()
        folder_row.addWidget(QLabel("Folder:"))
        self.folder_edit = QLineEdit()
        self.folder_edit.setReadOnly(True)
        self.browse_button = QToolButton()
        self.browse_button.setText("Choose…")
        self.browse_button.setToolTip("Show the backups of another folder (and back up there)")
        self.default_folder_button = QToolButton()
        self.default_folder_button.setText("Default")
        self.default_folder_button.setToolTip(
            f"Back to the default: a folder for each database in {paths.backups_dir()}")
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)
        folder_row.addWidget(self.default_folder_button)
        v.addLayout(folder_row)

        self.backup_table = BackupTable()
        v.addWidget(self.backup_table, 1)
        self.backup_hint = QLabel("")
        self.backup_hint.setWordWrap(True)
        self.backup_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.backup_hint)

        buttons = QHBoxLayout()
        self.backup_button = QPushButton("Back up now")
        self.backup_button.setToolTip("A consistent online copy, verified and described; the "
                                      "server may keep writing (Ctrl+B)")
        self.verify_button = QPushButton("Verify")
        self.verify_button.setToolTip("Check the selected backup completely: checksum, "
                                      "integrity check, schema version")
        self.restore_button = QPushButton("Restore…")
        self.refresh_list_button = QToolButton()
        self.refresh_list_button.setText("Reload list")
        for b in (self.backup_button, self.verify_button, self.restore_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_list_button)
        v.addLayout(buttons)

        auto = QGroupBox("Automatic backups while sandbox-admin runs")
        a = QHBoxLayout(auto)
        self.auto_check = QCheckBox("Back up every")
        self.auto_hours = QSpinBox()
        self.auto_hours.setRange(1, 24 * 30)
        self.auto_hours.setSuffix(" h")
        self.auto_keep = QSpinBox()
        self.auto_keep.setRange(0, 1000)
        self.auto_keep.setSpecialValueText("all")
        self.auto_keep.setToolTip("How many of this database's backups to keep in the folder "
                                  "(the newest; 'all' keeps every one)")
        self.auto_status = QLabel("")
        self.auto_status.setStyleSheet("color: #616161;")
        a.addWidget(self.auto_check)
        a.addWidget(self.auto_hours)
        a.addWidget(QLabel("keep last"))
        a.addWidget(self.auto_keep)
        a.addWidget(self.auto_status, 1)
        v.addWidget(auto)
        return box

    def _connect(self) -> None:
        self.backup_action = QAction("Back up now", self)
        self.backup_action.setShortcut(QKeySequence("Ctrl+B"))
        self.backup_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.backup_action.triggered.connect(
            lambda: self.backups.back_up() if self.backup_button.isEnabled() else None)
        self.addAction(self.backup_action)
        self.cache_box.clear_button.clicked.connect(lambda: self.clear_cache())
        self.quick_check_button.clicked.connect(lambda: self.check(quick=True))
        self.full_check_button.clicked.connect(lambda: self.check(quick=False))
        self.upgrade_button.clicked.connect(self.upgrade_schema)
        self.vacuum_button.clicked.connect(self.vacuum)
        self.optimize_button.clicked.connect(self.optimize)
        self.checkpoint_button.clicked.connect(self.checkpoint)
        self.rollups_button.clicked.connect(self.build_rollups)
        self.reindex_button.clicked.connect(self.rebuild_search_index)
        self.backup_button.clicked.connect(self.backups.back_up)
        self.verify_button.clicked.connect(self.backups.verify_selected)
        self.restore_button.clicked.connect(self.backups.restore_selected)
        self.refresh_list_button.clicked.connect(self.load_backups)
        self.browse_button.clicked.connect(self._choose_folder)
        self.default_folder_button.clicked.connect(lambda: self.set_backup_dir(None))
        self.cancel_button.clicked.connect(self.cancel)
        self.backup_table.itemSelectionChanged.connect(self._update_actions)
        self.backup_table.itemDoubleClicked.connect(lambda _: self.backups.verify_selected())
        self.auto_check.toggled.connect(self.backups._auto_changed)
        self.auto_hours.valueChanged.connect(self.backups._auto_changed)
        self.auto_keep.valueChanged.connect(self.backups._auto_changed)
        self.runner.exclusive_changed.connect(lambda _: self._update_actions())

    # == settings =====================================================================
    def _key(self, name: str) -> str:
        return f"{SETTINGS_PREFIX}/{name}"

    def _load_settings(self) -> None:
        folder = self.settings.value(self._key("backup_dir"), "")
        self.backup_dir: Path | None = Path(str(folder)) if folder else None
        self.folder_edit.setText(str(self.backups_folder()))
        for widget in (self.auto_check, self.auto_hours, self.auto_keep):
            widget.blockSignals(True)
        self.auto_check.setChecked(str(self.settings.value(self._key("auto_enabled"), "false"))
                                   .lower() in ("true", "1"))
        self.auto_hours.setValue(self._int_setting("auto_hours", 24))
        self.auto_keep.setValue(self._int_setting("auto_keep", 10))
        for widget in (self.auto_check, self.auto_hours, self.auto_keep):
            widget.blockSignals(False)

    def _int_setting(self, name: str, default: int) -> int:
        try:
            return int(self.settings.value(self._key(name), default))
        except (TypeError, ValueError):
            return default  # a hand-edited settings file: fall back, do not fail the pane

    def apply_preferences(self, prefs: Any) -> None:
        """The backup settings changed in Preferences (same keys): show and use them."""
        self._load_settings()
        self.backups._update_auto()
        self.backup_table.reports.clear()
        self.load_backups()

    def backups_folder(self) -> Path:
        if self.backup_dir is not None:
            return self.backup_dir
        return paths.backups_dir(self.store.path if self.store is not None else None)

    def set_backup_dir(self, folder: str | Path | None) -> None:
        """Show (and back up into) ``folder``; None: the default folder."""
        self.backup_dir = Path(folder).expanduser() if folder else None
        self.settings.setValue(self._key("backup_dir"), str(self.backup_dir or ""))
        self.folder_edit.setText(str(self.backups_folder()))
        self.backup_table.reports.clear()
        self.load_backups()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Backup folder", str(self.backups_folder()))
        if folder:
            self.set_backup_dir(folder)

    # == public API ===================================================================
    def set_store(self, store: Any) -> None:
        self.store = store
        self.backup_table.database = store.path if store is not None else None
        self.folder_edit.setText(str(self.backups_folder()))  # the default is per database
        self.health = None
        self.last_check = None
        self.check_result.setText("")
        self.house_result.setText("")
        self.problems.setVisible(False)
        self.stats_table.show_stats(None)
        for label in self.summary_labels.values():
            label.setText("—")
        self.schema_label.setText("—")
        self._update_headline()
        self._update_actions()
        self.backups._update_auto()
        if store is not None:
            self.refresh()
            if self.auto_check.isChecked():
                QTimer.singleShot(0, self.backups.run_auto_backup)

    def refresh(self) -> None:
        """Reload the statistics, the schema status and the backup list (F5).

        While the pane is hidden this waits until it is shown: the statistics read
        every page of the file (dbstat), which need not slow down opening a big database.
        """
        if self.store is not None:
            self.when_shown(self._load)

    def _load(self) -> None:
        if self.store is not None:
            self.load_stats()
            self.load_backups()

    def focus_filter(self) -> None:
        self.backup_table.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def current_dialog(self) -> QMessageBox | None:
        """The open confirmation (tests answer it by clicking its buttons)."""
        return self.backups.current_dialog() or self.cache_box.dialog

    def clear_cache(self) -> QMessageBox | None:
        """Ask, then empty the file content cache (a job); the statistics follow."""
        if self.store is None or self.store.read_only:
            return None

        def go() -> None:
            def done(result: Any) -> None:
                text = (f"Cleared the content cache: {display.plural(result.removed, 'entry', 'entries')}, "
                        f"{display.size(result.freed_bytes)}.")
                self.cache_box.result.setText(text)
                self.message_requested.emit("info", text, "")
                self.action_finished.emit("clear_cache", True)
                self.load_stats()

            self._run(lambda ctx: ctx.store.cache.clear(), "Clear cache", done,
                      lambda e: self._failed("clear_cache", e))

        return self.cache_box.ask_clear(self, go)

    # == reading ======================================================================
    def load_stats(self) -> None:
        store = self.store
        if store is None:
            return
        generation = self._stats_latest.next()

        def work(ctx: JobContext) -> Health:
            s = ctx.store
            rows = dict(s.row_counts())
            cache = s.cache.stats() if "file_content_cache" in rows else None
            return Health(s.maintenance.statistics(), s.migration_status(), rows, cache)

        def done(health: Health) -> None:
            if self._stats_latest.is_current(generation) and store is self.store:
                self._show_health(health)

        self.runner.submit(work, name="Read database statistics", store=store, on_result=done,
                           on_error=self._error)

    def _show_health(self, health: Health) -> None:
        self.health = health
        for name, value, tip in stats_summary(health.stats):
            self.summary_labels[name].setText(value)
            self.summary_labels[name].setToolTip(tip)
        self.stats_table.show_stats(health.stats)
        self.cache_box.show_stats(health.cache)
        m = health.migrations
        known = latest_version()
        if m.unknown:
            text = (f"version {m.current}: newer than this sandbox-admin knows ({known}). "
                    "Upgrade sandbox-admin before writing to it.")
        elif m.pending:
            text = (f"version {m.current}; this sandbox-admin uses {known}: migration"
                    f"{'s' * (len(m.pending) > 1)} {', '.join(map(str, m.pending))} pending")
        else:
            text = f"version {m.current} (up to date)"
        if m.problems:
            text += " · " + "; ".join(m.problems[:2])
        self.schema_label.setText(text)
        self._update_headline()
        self._update_actions()
        self.stats_loaded.emit()

    def load_backups(self) -> None:
        """Read the folder's backups (ours and the Go server's) in a worker."""
        folder = self.backups_folder()
        self.folder_edit.setText(str(folder))
        generation = self._list_latest.next()

        def work(ctx: JobContext) -> tuple[list[BackupInfo], dict[Path, str]]:
            entries = list_backups(folder)
            methods = {}
            for e in entries:
                side = read_sidecar(e.path) if e.origin == "sandbox-admin" else None
                methods[e.path] = str(side.get("method", "")) if side else ""
            return entries, methods

        def done(result: tuple[list[BackupInfo], dict[Path, str]]) -> None:
            if not self._list_latest.is_current(generation):
                return
            entries, methods = result
            self.backup_table.show_backups(entries, methods)
            if not entries:
                self.backup_hint.setText(f"No backups in {folder} yet. Press “Back up now”.")
            elif not self.backup_hint.text() or self.backup_hint.property("auto"):
                self.backup_hint.setText(display.plural(len(entries), "backup") + f" in {folder}")
                self.backup_hint.setProperty("auto", True)
            self._update_actions()
            self.backups_loaded.emit()

        self.runner.submit(work, name="List backups", store=None, quiet=True, on_result=done,
                           on_error=self._error)

    # == health actions ===============================================================
    def check(self, quick: bool = True) -> Job | None:
        if self.store is None:
            return None
        what = "Quick check" if quick else "Integrity check"
        self.check_result.setText(f"{what}: running…")
        self.problems.setVisible(False)

        def done(report: CheckReport) -> None:
            self.last_check = report
            self.reindex_button.setVisible(report.search_index_damaged)
            if report.ok:
                self.check_result.setText(f"<span style='color:#2e7d32'><b>{what}: ok</b></span> "
                                          f"({', '.join(report.checks)})")
            else:
                self.check_result.setText(
                    f"<span style='color:#c62828'><b>{what}: "
                    f"{display.plural(len(report.problems), 'problem')}</b></span>")
                self.problems.setPlainText("\n".join(report.problems))
                self.problems.setVisible(True)
            self.action_finished.emit("check", True)

        def failed(error: errors.StorageError) -> None:
            self.check_result.setText(f"{what} failed: {error}")
            self._failed("check", error)

        return self._run(lambda ctx: ctx.store.maintenance.check(quick=quick), what, done, failed,
                         progress=not quick)

    def rebuild_search_index(self) -> Job | None:
        """Rebuild the full-text index (a check found it damaged), then check again."""
        if self.store is None or self.store.read_only:
            return None

        def done(status: Any) -> None:
            self.reindex_button.setVisible(False)
            self.check_result.setText(f"Search index rebuilt: {status.documents:,} documents for "
                                      f"{status.files:,} files.")
            self.action_finished.emit("reindex", True)
            self.check(quick=True)

        return self._run(lambda ctx: ctx.store.files.index.rebuild(), "Rebuild search index", done,
                         lambda e: self._failed("reindex", e), exclusive=True)

    def upgrade_schema(self) -> QMessageBox | None:
        """Ask what the window asks (what is added, the safety backup), then upgrade.
        Before the statistics are read, the schema status is read first (in a job)."""
        self._dialog_upgrade = None
        if self.store is None or self.store.read_only:
            return None
        if self.health is None:
            self._run(lambda ctx: ctx.store.migration_status(), "Read the schema version",
                      self._ask_upgrade, lambda e: self._failed("migrate", e), progress=False)
            return None
        return self._ask_upgrade(self.health.migrations)

    def _ask_upgrade(self, m: MigrationStatus) -> QMessageBox | None:
        if self.store is None or not m.pending:
            return None
        self._dialog_upgrade = ask_upgrade(self, self.store.path.name, m.current, list(m.pending),
                                           self.backups_folder(), self.run_upgrade)
        return self._dialog_upgrade

    def run_upgrade(self) -> Job | None:
        """The confirmed upgrade: a verified safety backup, then the migrations."""
        if self.store is None or self.store.read_only:
            return None

        def done(result: SafeMigration) -> None:
            text = upgraded_text(result)
            self.house_result.setText(text)
            self.message_requested.emit("info", text, "")
            self.action_finished.emit("migrate", True)
            self.database_replaced.emit()
            self.load_stats()
            self.load_backups()

        return self._run(upgrade_work(self.backups_folder()), "Upgrade schema", done,
                         lambda e: self._failed("migrate", e), exclusive=True, progress=True)

    def vacuum(self) -> Job | None:
        if self.store is None or self.store.read_only:
            return None

        phases = {"vacuum": "rewriting the file (Cancel leaves it as it was)",
                  "finish": "optimizing and checkpointing (too late to cancel)"}

        def work(ctx: JobContext) -> VacuumReport:
            return ctx.store.maintenance.vacuum(
                cancel=lambda: ctx.cancelled,
                progress=lambda phase, done, total: ctx.report(done, total, phases.get(phase, phase)))

        def done(report: VacuumReport) -> None:
            self.last_vacuum = report
            late = " (Cancel came after the file was rewritten: it finished.)" if job.cancelled else ""
            self.house_result.setText(
                f"Vacuum reclaimed {display.size(report.bytes_reclaimed)} "
                f"({display.size(report.size_before)} → {display.size(report.size_after)}) "
                f"in {report.duration_s:.1f} s.{late}")
            self.house_result.setToolTip(f"{report.bytes_reclaimed:,} bytes; file on disk "
                                         f"{report.file_bytes_before:,} → {report.file_bytes_after:,}")
            self.action_finished.emit("vacuum", True)
            self.load_stats()

        job = self._run(work, "Vacuum", done, lambda e: self._failed("vacuum", e), exclusive=True)
        return job

    def build_rollups(self) -> Job | None:
        """Bring the metric rollups up to date (in chunks; Cancel stops after the current one)."""
        if self.store is None or self.store.read_only:
            return None

        def work(ctx: JobContext) -> Any:
            def progress(done: int, total: int) -> bool:
                ctx.report(done, total, f"{done:,} of {total:,} samples rolled up")
                return not ctx.cancelled

            return ctx.store.metrics.build_rollups(progress)

        def done(report: Any) -> None:
            stopped = " (cancelled: the rest is rolled up next time)" if job.cancelled else ""
            self.house_result.setText(
                f"Rolled up {report.samples:,} samples into {report.rows_written:,} rollup rows in "
                f"{report.seconds:.1f} s{stopped}." if report.samples else "The metric rollups were up to date.")
            self.action_finished.emit("rollups", True)
            self.rollups_built.emit()

        job = self._run(work, "Build metric rollups", done, lambda e: self._failed("rollups", e))
        return job

    def show_place(self, place: dict[str, Any]) -> None:
        """``{"focus": "rollups"}``: the rollups button, ready to be pressed (a link from the
        Metrics pane; building is a write, so it waits for the click)."""
        if place.get("focus") == "rollups":
            self.rollups_button.setFocus(Qt.FocusReason.OtherFocusReason)
            self.house_result.setText("Build metric rollups to chart big metrics in well under a second.")

    def optimize(self) -> Job | None:
        if self.store is None or self.store.read_only:
            return None

        def done(result: dict[str, Any]) -> None:
            self.house_result.setText(f"Optimized in {result['duration_s']:.2f} s: the query "
                                      "planner's statistics are fresh.")
            self.action_finished.emit("optimize", True)

        return self._run(lambda ctx: ctx.store.maintenance.optimize(), "Optimize", done,
                         lambda e: self._failed("optimize", e))

    def checkpoint(self) -> Job | None:
        if self.store is None or self.store.read_only:
            return None

        def done(r: CheckpointResult) -> None:
            text = (f"Checkpoint: {r.checkpointed_frames:,} of {r.wal_frames:,} WAL frames copied; "
                    f"WAL {display.size(r.wal_bytes_before)} → {display.size(r.wal_bytes_after)}.")
            if r.busy:
                text += " Another connection is reading: the rest follows when it finishes."
            self.house_result.setText(text)
            self.action_finished.emit("checkpoint", True)
            self.load_stats()

        return self._run(lambda ctx: ctx.store.maintenance.checkpoint("TRUNCATE"), "WAL checkpoint",
                         done, lambda e: self._failed("checkpoint", e))

    # == running jobs =================================================================
    def _run(self, fn: Callable[[JobContext], Any], name: str, on_result: Callable[[Any], None],
             on_error: Callable[[errors.StorageError], None], *, exclusive: bool = False,
             progress: bool = True, store: Any = _OWN_STORE) -> Job:
        """Submit ``fn`` with the progress row (name, bar, Cancel) while it runs."""
        job = self.runner.submit(fn, name=name, exclusive=exclusive, on_result=on_result,
                                 on_error=on_error,
                                 store=self.store if store is _OWN_STORE else store)
        if progress or exclusive:
            self._busy = job
            self.progress_label.setText(name + ("…" if not exclusive else " (other work waits)…"))
            self.progress_bar.setRange(0, 0)
            self.progress_row.setVisible(True)
            job.progress.connect(lambda d, t, m, j=job: self._on_progress(j, d, t, m))
            job.finished.connect(lambda j=job: self._job_done(j))
        self._update_actions()
        return job

    def _on_progress(self, job: Job, done: int, total: int, message: str) -> None:
        if job is not self._busy:
            return
        if message:
            late = "too late to cancel" in message
            self.cancel_button.setEnabled(not late and not job.cancelled)
            self.cancel_button.setToolTip("This last step cannot be cancelled; it is nearly done" if late
                                          else "Stop the running operation (nothing is left half done)")
            self.progress_label.setText(f"{job.name}: {message}")
        if total > 0:
            scale = max(1, total // 1_000_000)  # QProgressBar takes ints up to 2**31
            self.progress_bar.setRange(0, total // scale)
            self.progress_bar.setValue(min(done, total) // scale)
        else:
            self.progress_bar.setRange(0, 0)

    def _job_done(self, job: Job) -> None:
        if job is self._busy:
            self._busy = None
            self.progress_row.setVisible(False)
        self._update_actions()

    def cancel(self) -> None:
        if self._busy is not None:
            self._busy.cancel()
            self.progress_label.setText(f"{self._busy.name}: cancelling…")

    def _failed(self, action: str, error: errors.StorageError) -> None:
        cancelled = isinstance(error, errors.Cancelled)
        if action in ("backup", "verify", "restore", "auto-backup"):
            self.backups._say_backup(str(error), "info" if cancelled else "error")
        elif cancelled:
            self.house_result.setText(escape(str(error)))
        else:
            self.house_result.setText(f"<span style='color:#c62828'>{escape(str(error))}</span>")
        if not cancelled:
            self.message_requested.emit("error", str(error), error.detail)
        self.action_finished.emit(action, False)

    def _error(self, error: errors.StorageError) -> None:
        if not isinstance(error, errors.Cancelled):
            self.message_requested.emit("error", str(error), error.detail)

    # == little helpers ===============================================================
    def _update_headline(self) -> None:
        store = self.store
        if store is None:
            self.headline.setText("No database is open.")
            return
        text = f"<b>{escape(store.path.name)}</b> <span style='color:#616161'>{escape(str(store.path))}</span>"
        if store.read_only:
            text += (" · <span style='color:#5d4037'>read-only: backups and checks only</span>")
        self.headline.setText(text)

    def _update_actions(self) -> None:
        has = self.store is not None
        read_only = bool(has and self.store.read_only)
        busy = self._busy is not None
        gate = self.runner.exclusive_active
        for button, (tip, what) in self.write_tips.items():
            button.setEnabled(has and not read_only and not busy and not gate)
            button.setToolTip(READ_ONLY_TIP.format(what=what) if read_only else tip)
        pending = bool(self.health and self.health.migrations.pending
                       and not self.health.migrations.unknown)
        self.upgrade_button.setVisible(pending or not has)
        for b in (self.quick_check_button, self.full_check_button):
            b.setEnabled(has and not busy)
        self.backup_button.setEnabled(has and not busy)
        selected = self.backup_table.selected() is not None
        self.verify_button.setEnabled(selected and not busy)
        self.restore_button.setEnabled(has and selected and not read_only and not busy and not gate)
        self.restore_button.setToolTip(
            READ_ONLY_TIP.format(what="restoring a backup") if read_only else
            "Replace the database's content with the selected backup (a safety backup is made "
            "first; runs alone)")
        self.cancel_button.setEnabled(busy)
        cache = bool(self.health and self.health.cache is not None)
        self.cache_box.clear_button.setEnabled(has and cache and not read_only and not busy and not gate)
        self.cache_box.clear_button.setToolTip(
            READ_ONLY_TIP.format(what="clearing the cache") if read_only else CLEAR_TIP)
