"""The main window: File menu, panes in tabs, message bar, status bar.

Opening a database runs in a worker (``open_store`` reads the file and the schema);
until the result arrives the previous database stays open. Nothing here writes to a
database unless the person asks (Upgrade schema); the GUI thread runs no SQL.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import paths
from ..storage import ChangeProbe, SafeMigration, Store, errors, open_store
from . import display
from .about import AboutDialog
from .change_watch import ChangeWatcher
from .jobs import Job, JobContext, JobRunner
from .message_bar import MessageBar
from .panes.base import Pane
from .panes.files import FilesPane
from .panes.maintenance import MaintenancePane
from .panes.metrics import MetricsPane
from .panes.sandboxes import SandboxesPane
from .panes.templates import TemplatesPane
from .panes.workflows import WorkflowsPane
from .preferences import Preferences, PreferencesDialog
from .resources import app_icon, pane_icon
from .settings import (
    add_recent,
    app_settings,
    clear_recent,
    recent_databases,
    remove_recent,
)
from .status import DatabaseStatus, DatabaseStatusBar, gather_status
from .theme import apply_theme
from .upgrade import ask_upgrade, upgrade_work, upgraded_text

APP_TITLE = "sandbox-admin"
#: Options for the demo databases the window creates (tests make them small).
DEMO_OPTIONS: dict[str, Any] = {}
DB_FILTER = "SQLite databases (*.db *.sqlite *.sqlite3 *.db3);;All files (*)"

#: Panes shown as tabs, in order: (title, icon, class).
PANES: list[tuple[str, str, type[Pane]]] = [
    ("Sandboxes", "sandboxes", SandboxesPane),
    ("Metrics", "metrics", MetricsPane),
    ("Files", "files", FilesPane),
    ("Templates", "templates", TemplatesPane),
    ("Workflows", "workflows", WorkflowsPane),
    ("Maintenance", "maintenance", MaintenancePane),
]


@dataclass
class Opened:
    """What the open job hands to the GUI thread."""

    store: Store
    status: DatabaseStatus
    probe: ChangeProbe
    created_demo: bool


def _demo_module() -> Any:
    from ..demo import generator as demo

    return demo


def open_job(path: Path, read_only: bool, demo: dict[str, Any] | None) -> Callable[[JobContext], Opened]:
    """The worker side of opening: create the demo file if asked, open, read the status."""

    def work(ctx: JobContext) -> Opened:
        created = False
        if demo is not None and not path.exists():
            ctx.report(0, 0, f"Creating a demo database at {path}…")
            _demo_module().create_demo(path, **demo)
            created = True
        ctx.check_cancelled()
        store = open_store(path, read_only=read_only)
        store.backups_dir = paths.backups_dir(path)
        try:
            status = gather_status(store)
            probe = ChangeProbe(store)
            probe.prime()
        except BaseException:
            store.close()
            raise
        finally:
            if not store.db.is_closed():
                store.db.close()  # this worker's connection goes back to the pool
        return Opened(store, status, probe, created)

    return work


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


class MainWindow(QMainWindow):
    """See the module docstring."""

    #: A database is open (or None): tests and panes added later listen to this.
    store_changed = Signal(object)
    #: Opening finished: path, ok.
    open_finished = Signal(str, bool)
    #: Status bar information was (re)read.
    status_updated = Signal(object)

    def __init__(self, runner: JobRunner | None = None, settings: QSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner or JobRunner(self)
        self.settings = settings or app_settings()
        self.store: Store | None = None
        self.status: DatabaseStatus | None = None
        self.probe: ChangeProbe | None = None
        self._open_generation = 0
        self._opening: Job | None = None
        self._temp_dirs: list[tempfile.TemporaryDirectory] = []
        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1280, 800)

        self.message_bar = MessageBar()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.message_bar)  # below: a message never moves what is under the mouse
        self.setCentralWidget(central)
        self.status_bar = DatabaseStatusBar(self.runner)
        self.setStatusBar(self.status_bar)

        self.watcher = ChangeWatcher(self.runner, parent=self)
        self.watcher.changed.connect(self._database_changed)
        self.watcher.failed.connect(lambda e: self.message_bar.show_error(e, key="watch"))
        self.runner.job_finished.connect(self._job_finished)
        self._writes_seen = 0
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(200)
        self._status_timer.timeout.connect(self.refresh_status)

        self.panes: list[Pane] = []
        self._history: list[tuple[Pane, dict[str, Any]]] = []  # places visited (back/forward)
        self._history_at = -1
        self._navigating = False
        self._install_panes()
        self.preferences = Preferences.load(self.settings)
        self.apply_preferences(self.preferences, save=False)
        self._build_actions()
        self._build_menus()
        self.runner.exclusive_changed.connect(lambda _: self._update_actions())
        self._outside_change: tuple[float, str] | None = None  # (when, what) the watch last saw
        self.maintenance.outside_activity = self.outside_activity
        self.tabs.currentChanged.connect(self._tab_changed)
        self._claim_window_shortcuts()
        self._restore_window_state()
        self._update_actions()
        self._update_history_actions()

    # == building ======================================================================
    def _install_panes(self) -> None:
        for title, icon, cls in PANES:
            pane = cls(self.runner, settings=self.settings)
            pane.message_requested.connect(self._pane_message)
            # a restore or upgrade from a pane: everything reloads
            pane.database_replaced.connect(self._database_replaced)
            pane.navigate.connect(self.follow_link)
            self.panes.append(pane)
            self.tabs.addTab(pane, pane_icon(icon), title)
        # related things one click away: a sandbox's workflow runs, a new sandbox listed
        sandboxes, workflows, templates = (self.pane(c) for c in (SandboxesPane, WorkflowsPane, TemplatesPane))
        if sandboxes is not None and workflows is not None:
            sandboxes.workflow_runs_requested.connect(self.show_workflow_runs)
        if sandboxes is not None and templates is not None:
            templates.sandbox_created.connect(lambda _id: sandboxes.refresh())
        metrics, maintenance = self.pane(MetricsPane), self.pane(MaintenancePane)
        if metrics is not None and maintenance is not None:  # charts read the new rollups
            maintenance.rollups_built.connect(metrics.refresh)

    def pane(self, cls: type[Pane]) -> Any:
        """The pane of this class (None when it is not installed)."""
        return next((p for p in self.panes if isinstance(p, cls)), None)

    def pane_by_key(self, key: str) -> Any:
        """The pane that links call ``key`` ("files", "metrics", …)."""
        return next((p for p in self.panes if p.key == key), None)

    def show_workflow_runs(self, sandbox_id: str) -> None:
        """The Workflows pane, showing one sandbox's runs (a link: Alt+Left comes back)."""
        self.follow_link("workflows", {"sandbox": sandbox_id})

    def _build_actions(self) -> None:
        def action(text: str, slot: Callable[[], None], shortcut: Any = None, tip: str = "") -> QAction:
            act = QAction(text, self)
            act.triggered.connect(slot)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.setStatusTip(tip)
            self.addAction(act)
            return act

        self.open_action = action("&Open…", self.choose_database, QKeySequence.StandardKey.Open,
                                  "Open a sandbox database")
        self.open_ro_action = action("Open &Read-Only…", lambda: self.choose_database(True), None,
                                     "Open a database without writing to it")
        self.demo_action = action("Open &Demo Database", self.open_demo, None,
                                  "Create a fresh demo database in a temporary folder and open it")
        self.quit_action = action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.refresh_action = action("&Refresh", self.refresh, QKeySequence.StandardKey.Refresh,
                                     "Reload the panes and the status from the database")
        self.find_action = action("&Find", self.focus_filter, QKeySequence.StandardKey.Find,
                                  "Focus the current pane's filter")
        self.upgrade_action = action("&Upgrade Schema…", self.upgrade_schema, None,
                                     "Back up, then apply the pending migrations")
        self.about_action = action("&About sandbox-admin", self.show_about)
        self.prefs_action = action("&Preferences…", self.show_preferences, "Ctrl+,",
                                   "Backups, tables, times and theme")
        self.prefs_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        # the Database menu: maintenance from any pane (the Maintenance pane does the work)
        m = self.maintenance
        self.backup_action = action("Back &Up Now", lambda: m.backups.back_up(), "Ctrl+B",
                                    "A verified backup of the open database")
        self.restore_action = action("&Restore…", self.choose_restore, None,
                                     "Replace the database's content with a backup's (asks first)")
        self.verify_action = action("&Verify a Backup…", self.choose_verify, None,
                                    "Check a backup file: checksum, integrity, schema")
        self.open_backup_action = action("Open a Backup Read-&Only…", self.choose_backup_to_open, None,
                                         "Look inside a backup without changing it")
        self.check_action = action("Check &Integrity", lambda: self._in_maintenance(
            lambda: m.check(quick=False)), None, "A full integrity check")
        self.vacuum_action = action("&Vacuum", lambda: self._in_maintenance(m.vacuum), None,
                                    "Rewrite the file without its free pages")
        self.optimize_action = action("O&ptimize", lambda: self._in_maintenance(m.optimize), None,
                                      "Update the query planner's statistics")
        self.stats_action = action("&Statistics", lambda: self.tabs.setCurrentWidget(m), None,
                                   "Sizes, pages and rows per table")
        # panes: Ctrl+1…4, Ctrl+Tab / Ctrl+Shift+Tab
        self.pane_actions = []
        for i, pane in enumerate(self.panes):
            act = action(f"&{i + 1} {self.tabs.tabText(i)}", lambda _=False, p=pane: self.show_pane(p),
                         f"Ctrl+{i + 1}", f"Show the {self.tabs.tabText(i)} pane")
            self.pane_actions.append(act)
        self.back_action = action("&Back", self.go_back, QKeySequence.StandardKey.Back,
                                  "Back to the place before (Alt+Left)")
        self.forward_action = action("&Forward", self.go_forward, QKeySequence.StandardKey.Forward,
                                     "Forward again (Alt+Right)")
        self.next_pane_action = action("&Next Pane", lambda: self._step_pane(1), "Ctrl+Tab")
        self.previous_pane_action = action("&Previous Pane", lambda: self._step_pane(-1), "Ctrl+Shift+Tab")

    def _claim_window_shortcuts(self) -> None:
        """F5, Ctrl+F, Ctrl+O… belong to the window, which routes them to the current pane.

        A pane's own action with the same key would make Qt see an ambiguous shortcut
        (and do nothing) whenever the focus is inside that pane, so the pane's copy
        loses its key here; its action stays (menus, buttons).
        """
        mine = {a.shortcut().toString() for a in self.actions() if not a.shortcut().isEmpty()}
        for pane in self.panes:
            for act in pane.actions():
                if act.shortcut().toString() in mine:
                    act.setShortcut(QKeySequence())

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_ro_action)
        self.recent_menu = QMenu("Recent &Databases", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addAction(self.demo_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self.prefs_action)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.refresh_action)
        view_menu.addAction(self.find_action)
        view_menu.addSeparator()
        for act in (self.back_action, self.forward_action, *self.pane_actions, self.next_pane_action,
                    self.previous_pane_action):
            view_menu.addAction(act)
        db_menu = bar.addMenu("&Database")
        for act in (self.backup_action, self.restore_action, self.verify_action, self.open_backup_action,
                    None, self.check_action, self.vacuum_action, self.optimize_action,
                    self.upgrade_action, None, self.stats_action):
            db_menu.addSeparator() if act is None else db_menu.addAction(act)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        items = recent_databases(self.settings)
        for path in items:
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _=False, p=path: self.open_database(p))
        if items:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear List", self._clear_recent)
        else:
            none = self.recent_menu.addAction("(none yet)")
            none.setEnabled(False)

    def _clear_recent(self) -> None:
        clear_recent(self.settings)
        self._fill_recent_menu()

    def _update_actions(self) -> None:
        has = self.store is not None
        self.refresh_action.setEnabled(has)
        pending = bool(self.status and self.status.pending and not self.status.read_only)
        self.upgrade_action.setEnabled(pending and not self.runner.exclusive_active)
        writable = has and not self.store.read_only
        busy = self.runner.exclusive_active
        why = ("" if writable else "No database is open." if not has
               else "The database is open read-only: reopen it for writing (File → Open…) to change it.")
        for act in (self.restore_action, self.vacuum_action, self.optimize_action):
            act.setEnabled(writable and not busy)
            act.setToolTip(why or ("A maintenance job is running; wait for it." if busy else act.statusTip()))
        for act in (self.backup_action, self.check_action, self.stats_action):
            act.setEnabled(has and not busy)

    def outside_activity(self, recent_s: float = 120.0) -> str:
        """'' unless another program changed the open database in the last ``recent_s``
        seconds (the change watch polls every 2 s), e.g. a SandboxRunner server writing."""
        if self._outside_change is None:
            return ""
        when, what = self._outside_change
        age = time.monotonic() - when
        return f"{what} {age:.0f} s ago" if age < recent_s else ""

    # == links between panes, back and forward ============================================
    def follow_link(self, key: str, place: dict[str, Any]) -> None:
        """A pane's link: show pane ``key`` at ``place``; Alt+Left comes back."""
        target = self.pane_by_key(key)
        if target is None:
            return
        self._note_current()
        del self._history[self._history_at + 1:]
        self._history.append((target, dict(place)))
        self._history_at = len(self._history) - 1
        self._go(target, place)

    def go_back(self) -> None:
        if self._history_at > 0:
            self._note_current()
            self._history_at -= 1
            self._go(*self._history[self._history_at])

    def go_forward(self) -> None:
        if self._history_at < len(self._history) - 1:
            self._note_current()
            self._history_at += 1
            self._go(*self._history[self._history_at])

    def _note_current(self) -> None:
        """Remember where the current pane is now (its entry, or a new one)."""
        pane = self.current_pane()
        if not isinstance(pane, Pane):
            return
        entry = (pane, pane.current_place())
        if 0 <= self._history_at < len(self._history) and self._history[self._history_at][0] is pane:
            self._history[self._history_at] = entry
        else:
            del self._history[self._history_at + 1:]
            self._history.append(entry)
            self._history_at = len(self._history) - 1

    def _go(self, pane: Pane, place: dict[str, Any]) -> None:
        self._navigating = True
        try:
            self.tabs.setCurrentWidget(pane)
            pane.show_place(place)
        finally:
            self._navigating = False
        self._update_history_actions()

    def _tab_changed(self, index: int) -> None:
        """A pane chosen by hand is a place too (unless back/forward chose it)."""
        if self._navigating or not self.panes:
            return
        pane = self.tabs.widget(index)
        if isinstance(pane, Pane):
            del self._history[self._history_at + 1:]
            self._history.append((pane, pane.current_place()))
            self._history_at = len(self._history) - 1
        self._update_history_actions()

    def _update_history_actions(self) -> None:
        if hasattr(self, "back_action"):
            self.back_action.setEnabled(self._history_at > 0)
            self.forward_action.setEnabled(self._history_at < len(self._history) - 1)

    # == the Database menu ===============================================================
    @property
    def maintenance(self) -> MaintenancePane:
        return self.pane(MaintenancePane)

    def show_pane(self, pane: Pane) -> None:
        self.tabs.setCurrentWidget(pane)

    def _step_pane(self, step: int) -> None:
        self.tabs.setCurrentIndex((self.tabs.currentIndex() + step) % self.tabs.count())

    def _in_maintenance(self, start: Callable[[], Any]) -> Any:
        """Show the Maintenance pane (its progress row, Cancel and result) and start there."""
        self.tabs.setCurrentWidget(self.maintenance)
        return start()

    def _choose_backup(self, title: str) -> Path | None:
        start = str(self.maintenance.backups_folder())
        path, _ = QFileDialog.getOpenFileName(self, title, start, DB_FILTER)
        return Path(path) if path else None

    def choose_restore(self) -> None:
        path = self._choose_backup("Restore a Backup")
        if path is not None:
            self._in_maintenance(lambda: self.maintenance.backups.restore_path(path))

    def choose_verify(self) -> None:
        path = self._choose_backup("Verify a Backup")
        if path is not None:
            self._in_maintenance(lambda: self.maintenance.backups.verify_path(path))

    def choose_backup_to_open(self) -> None:
        path = self._choose_backup("Open a Backup Read-Only")
        if path is not None:
            self.open_database(path, read_only=True)

    # == window state ==================================================================
    def _restore_window_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        tab = self.settings.value("window/tab")
        if tab is not None:
            try:
                self.tabs.setCurrentIndex(int(tab))
            except (TypeError, ValueError):
                pass

    def save_window_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt)
        self.save_window_state()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop polling, cancel the jobs, close the database (in that order)."""
        self.watcher.stop()
        self.runner.cancel_all()
        old = self.store
        self._set_store(None, None, None)
        if old is not None:
            self.runner.close_when_idle(old)
        self.runner.wait_idle(timeout_ms)
        for tmp in self._temp_dirs:
            tmp.cleanup()
        self._temp_dirs.clear()

    # == opening =======================================================================
    def choose_database(self, read_only: bool = False) -> None:
        start = str(self.store.path.parent) if self.store else str(paths.data_dir())
        title = "Open Database Read-Only" if read_only else "Open Database"
        path, _ = QFileDialog.getOpenFileName(self, title, start, DB_FILTER)
        if path:
            self.open_database(path, read_only=read_only)

    def open_default(self, read_only: bool = False) -> Job:
        """The default database in the data folder, created with demo data the first time."""
        path = paths.default_database()
        return self.open_database(path, read_only=read_only,
                                  demo=dict(DEMO_OPTIONS) if not path.exists() else None)

    def open_demo(self) -> Job:
        """A fresh demo database in a temporary folder (removed when the window closes)."""
        tmp = tempfile.TemporaryDirectory(prefix="sandbox-admin-demo-")
        self._temp_dirs.append(tmp)
        return self.open_database(Path(tmp.name) / "demo.db", demo=dict(DEMO_OPTIONS))

    def open_database(self, path: str | Path, read_only: bool = False,
                      demo: dict[str, Any] | None = None) -> Job:
        """Open ``path`` in a worker; the current database stays until it is open."""
        target = Path(path).expanduser()
        self._open_generation += 1
        generation = self._open_generation
        if self._opening is not None:
            self._opening.cancel()
        self.message_bar.remove("open")
        self.status_bar.showMessage(f"Opening {target}…")
        started = time.monotonic()
        reopening = self.store is not None and _same_file(self.store.path, target)
        if reopening:
            # open_store reads the file's header with open()/close(); closing a descriptor of
            # a file this process has open drops SQLite's POSIX locks on it. So the open
            # store is closed first, and the open job waits (exclusive) until it is.
            old = self.store
            self._set_store(None, None, None)
            self.runner.close_when_idle(old)

        def done(opened: Opened) -> None:
            if generation != self._open_generation:  # a later open won
                self._discard(opened)
                return
            self._opening = None
            self._opened(opened, time.monotonic() - started)
            self.open_finished.emit(str(target), True)

        def failed(error: errors.StorageError) -> None:
            if generation != self._open_generation:
                return
            self._opening = None
            self.status_bar.clearMessage()
            self._open_failed(target, read_only, error)
            self.open_finished.emit(str(target), False)

        self._opening = self.runner.submit(
            open_job(target, read_only, demo), name=f"Open {target.name}", store=None,
            exclusive=reopening,
            on_result=done, on_error=failed,
            on_progress=lambda d, t, m: self.status_bar.showMessage(m) if m else None)
        return self._opening

    def _discard(self, opened: Opened) -> None:
        self.runner.submit(lambda ctx: opened.probe.close(), name="close", store=None, quiet=True)
        self.runner.close_when_idle(opened.store)

    def _open_failed(self, path: Path, read_only: bool, error: errors.StorageError) -> None:
        text = f"Could not open {path.name}: {error}"
        detail = f"{type(error).__name__} ({'read-only' if read_only else 'read-write'} open)\npath: {path}"
        if error.detail:
            detail += f"\n\n{error.detail}"
        if isinstance(error, errors.ReadOnly) and not read_only:
            self.message_bar.show_message(
                "error", text, detail, key="open", action="Open read-only",
                callback=lambda: self.open_database(path, read_only=True))
        else:
            self.message_bar.show_message("error", text, detail, key="open")
        if isinstance(error, errors.DatabaseNotFound):
            remove_recent(self.settings, path)

    def _opened(self, opened: Opened, seconds: float) -> None:
        store, status = opened.store, opened.status
        old, old_probe = self.store, self.probe
        self._set_store(store, status, opened.probe)
        if old is not None:
            self.runner.close_when_idle(old)
        del old_probe  # closed by the watcher
        add_recent(self.settings, store.path)
        self.status_bar.clearMessage()
        self.status_bar.path_label.setToolTip(f"{store.path}\n(opened in {seconds:.2f} s)")
        for key in ("changed", "migrate", "notice", "watch", "demo"):
            self.message_bar.remove(key)
        if opened.created_demo:
            self.message_bar.show_message(
                "info", f"Created a demo database with made-up sandboxes, files and metrics at "
                f"{store.path}. Open your server's database with File → Open…", key="demo")
        for notice in status.notices:
            self.message_bar.show_message("warning", notice[:1].upper() + notice[1:], key="notice")
        self._offer_upgrade(status)

    def _offer_upgrade(self, status: DatabaseStatus) -> None:
        if not status.pending or status.read_only or status.unknown:
            return
        versions = ", ".join(map(str, status.pending))
        self.message_bar.show_message(
            "info",
            f"This database is at schema version {status.schema_version}; this sandbox-admin "
            f"uses {status.known_version}. Upgrading applies migration{'s' * (len(status.pending) > 1)} "
            f"{versions} (sandbox-admin's own tables). Nothing is changed until you upgrade.",
            key="migrate", action="Upgrade schema…", callback=self.upgrade_schema)

    def _set_store(self, store: Store | None, status: DatabaseStatus | None,
                   probe: ChangeProbe | None) -> None:
        self.store, self.status, self.probe = store, status, probe
        self._outside_change = None  # what the watch saw concerned the previous database
        self._writes_seen = probe.writes.count if probe is not None else 0
        self.runner.set_store(store)
        self.watcher.watch(probe)
        for pane in self.panes:
            pane.set_store(store)
        self.status_bar.show_status(status)
        self._update_title()
        self._update_actions()
        self.store_changed.emit(store)

    def _update_title(self) -> None:
        if self.store is None:
            self.setWindowTitle(APP_TITLE)
            return
        mode = " [read-only]" if self.store.read_only else ""
        self.setWindowTitle(f"{self.store.path.name}{mode} — {APP_TITLE}")

    # == refresh and changes ===========================================================
    def refresh(self) -> None:
        """F5: reload the panes and the status bar; an immutable read is reopened."""
        if self.store is None:
            return
        self.message_bar.remove("changed")
        if self.status is not None and self.status.immutable:
            self.open_database(self.store.path, read_only=True)
            return
        for pane in self.panes:
            pane.refresh()  # type: ignore[attr-defined]
        self.refresh_status()

    def refresh_status(self) -> Job | None:
        store = self.store
        if store is None:
            return None

        def done(status: DatabaseStatus) -> None:
            if store is self.store:
                self.status = status
                self.status_bar.show_status(status)
                self._update_actions()
                self.status_updated.emit(status)

        return self.runner.submit(lambda ctx: gather_status(ctx.store), name="Read status",
                                  quiet=True, on_result=done,
                                  on_error=lambda e: self.message_bar.show_error(e))

    def _database_replaced(self) -> None:
        """Content or schema replaced by one of our own panes (restore, upgrade): reload
        every pane and the status bar, and offer an upgrade again if one is pending."""
        self.message_bar.remove("migrate")
        for pane in self.panes:
            pane.refresh()  # type: ignore[attr-defined]
        job = self.refresh_status()
        if job is not None:
            job.succeeded.connect(self._offer_upgrade)

    def _database_changed(self, what: str) -> None:
        self._outside_change = (time.monotonic(), what)
        action = "Reopen" if self.status is not None and self.status.immutable else "Refresh"
        self.message_bar.show_message(
            "info", f"{what[:1].upper()}{what[1:]} since it was loaded here; what you see may be "
            "out of date.", key="changed", action=action, callback=self.refresh)

    def _job_finished(self, job: Job) -> None:
        if job.exclusive and self.probe is not None:
            self.probe.writes.bump()  # restore/vacuum/migrate: our change, not another program's
        self._update_actions()
        # after our own writes (a purge, a vacuum, a restore…) size and schema are news:
        # read the status again once the burst of jobs is over, no F5 needed
        writes = self.probe.writes.count if self.probe is not None else 0
        if not job.quiet and self.store is not None and (job.exclusive or writes != self._writes_seen):
            self._writes_seen = writes
            self._status_timer.start()

    # == schema upgrade ================================================================
    def upgrade_schema(self) -> QMessageBox | None:
        """Ask (what is added, the safety backup), then back up and migrate (exclusive)."""
        status = self.status
        if self.store is None or status is None or not status.pending or status.read_only:
            return None
        folder = self.preferences.backups_folder(self.store.path)
        self.upgrade_dialog = ask_upgrade(self, self.store.path.name, status.schema_version,
                                          list(status.pending), folder, self.run_upgrade)
        return self.upgrade_dialog

    def run_upgrade(self) -> Job | None:
        """The confirmed upgrade: a verified safety backup, then the migrations."""
        if self.store is None:
            return None
        self.message_bar.remove("migrate")

        def done(result: SafeMigration) -> None:
            self.message_bar.show_message("info", upgraded_text(result), key="migrated")
            self._database_replaced()

        def failed(error: errors.StorageError) -> None:
            self.message_bar.show_message("error", f"Schema upgrade failed: {error}", error.detail,
                                          key="migrate")
            self.refresh_status()

        job = self.runner.submit(upgrade_work(self.preferences.backups_folder(self.store.path)),
                                 name="Upgrade schema",
                                 exclusive=True, on_result=done, on_error=failed)
        self._update_actions()
        return job

    # == panes =========================================================================
    def current_pane(self) -> QWidget | None:
        return self.tabs.currentWidget()

    def focus_filter(self) -> None:
        pane = self.current_pane()
        if pane is not None:
            pane.focus_filter()

    def _pane_message(self, level: str, text: str, detail: str) -> None:
        self.message_bar.show_message(level, text, detail)

    # == about =========================================================================
    def show_preferences(self) -> PreferencesDialog:
        """The Preferences dialog (non-blocking; OK and Apply take effect at once)."""
        dialog = PreferencesDialog(self.preferences, self)
        dialog.applied.connect(self.apply_preferences)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.preferences_dialog = dialog
        return dialog

    def apply_preferences(self, prefs: Preferences, save: bool = True) -> None:
        """Keep ``prefs`` and apply them everywhere, without a restart."""
        old = self.preferences
        redraw = prefs.time_zone != old.time_zone or prefs.theme != old.theme
        self.preferences = prefs
        if save:
            prefs.save(self.settings)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, prefs.theme)
        display.set_time_zone(prefs.time_zone)
        for pane in self.panes:
            pane.apply_preferences(prefs)
        if redraw and self.store is not None:
            self.refresh()  # times in the new zone, trees and diffs in the new theme's inks

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self._about = dialog
        return dialog

    # == drag and drop =================================================================
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt)
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt)
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_database(files[0])
        if len(files) > 1:
            self.message_bar.show_message("info", f"Opened the first of {len(files)} dropped files.")
