"""The main window, for real: offscreen, real store, real files, real other processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from sandbox_admin.gui import display
from sandbox_admin.gui.main_window import MainWindow
from sandbox_admin.gui.settings import app_settings, recent_databases
from sandbox_admin.storage import database, latest_version
from tests.conftest import sha256_file


@pytest.fixture
def settings_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def window(qtbot, settings_dir):
    w = MainWindow(settings=app_settings(settings_dir))
    qtbot.addWidget(w)
    w.watcher.set_interval(100)
    w.show()
    yield w
    w.shutdown()


def open_and_wait(qtbot, w: MainWindow, path: Path, read_only: bool = False, ok: bool = True):
    with qtbot.waitSignal(w.open_finished, timeout=15000) as blocker:
        w.open_database(path, read_only=read_only)
    assert blocker.args == [str(path), ok]
    assert w.runner.wait_idle(10000)


def messages(w: MainWindow) -> list[str]:
    return [m.text() for m in w.message_bar.messages()]


def test_open_go_fixture_fills_the_status_bar(qtbot, window, go_db, settings_dir):
    open_and_wait(qtbot, window, go_db)
    bar = window.status_bar
    assert window.store is not None and window.store.path == go_db
    assert bar.path_label.text() == str(go_db)
    assert bar.size_label.text() == display.size(go_db.stat().st_size)
    pending = latest_version() - 6
    assert bar.schema_label.text() == f"Schema v6 ({pending} pending)"
    assert bar.journal_label.text() == "WAL"
    assert bar.sqlite_label.text() == f"SQLite {sqlite3.sqlite_version}"
    assert bar.mode_label.text() == "Read-write"
    assert bar.jobs.label.text() == "Idle"
    assert window.windowTitle().startswith(go_db.name)
    # pending migrations are offered, not applied: opening never writes
    offer = window.message_bar.find("migrate")
    assert offer is not None and offer.action_button.text() == "Upgrade schema…"
    assert window.upgrade_action.isEnabled()
    assert window.store.schema_version() == 6
    # the Sandboxes pane got the store
    assert window.tabs.tabText(0) == "Sandboxes"
    assert getattr(window.panes[0], "store", window.store) is window.store
    # recent databases persist in the ini file under settings_dir
    again = app_settings(settings_dir)
    assert recent_databases(again)[0] == str(go_db.resolve())


def confirm(box) -> None:
    """Press the question's "Back up and upgrade"."""
    button = next(b for b in box.buttons() if b.text() == "Back up and upgrade")
    button.click()


def test_upgrade_asks_what_it_adds_and_cancel_changes_nothing(qtbot, window, go_db):
    open_and_wait(qtbot, window, go_db)
    box = window.upgrade_schema()
    text = box.text()
    assert "from schema version 6 to" in text and "metric rollups" in text
    assert "server keeps working" in text and "safety backup" in text
    assert str(window.preferences.backups_folder(go_db)) in text
    box.reject()
    window.runner.wait_idle()
    assert window.store.schema_version() == 6
    assert not window.preferences.backups_folder(go_db).exists() or not any(
        window.preferences.backups_folder(go_db).glob("*.db"))


def test_a_confirmed_upgrade_takes_a_verified_safety_backup_first(qtbot, window, go_db, tmp_path):
    from sandbox_admin.storage import read_sidecar, verify_backup

    open_and_wait(qtbot, window, go_db)
    with qtbot.waitSignal(window.status_updated, timeout=15000):
        confirm(window.upgrade_schema())
    assert window.store.schema_version() == latest_version()
    backups = sorted(window.preferences.backups_folder(go_db).glob("sandbox_runner_*.db"))
    assert len(backups) == 1
    report = verify_backup(backups[0])
    assert report.ok and report.schema_version == 6  # the database as it was before
    assert read_sidecar(backups[0])["kind"] == "safety"
    text = window.message_bar.find("migrated").text()
    assert str(backups[0]) in text and "from version 6" in text


def test_upgrade_schema_runs_as_exclusive_job_and_is_not_an_outside_change(qtbot, window, go_db):
    open_and_wait(qtbot, window, go_db)
    gate: list[bool] = []
    window.runner.exclusive_changed.connect(gate.append)
    window.message_bar.find("migrate").action_button.click()
    box = window.upgrade_dialog  # asks first: nothing changes without consent
    assert window.store.schema_version() == 6
    with qtbot.waitSignal(window.status_updated, timeout=15000):
        confirm(box)
    assert gate == [True, False]
    assert window.status_bar.schema_label.text() == f"Schema v{latest_version()}"
    assert any("Schema upgraded" in t for t in messages(window))
    assert not window.upgrade_action.isEnabled()
    polls = window.watcher.polls
    qtbot.waitUntil(lambda: window.watcher.polls >= polls + 3, timeout=5000)
    assert window.message_bar.find("changed") is None  # our own write is not "another program"


def test_read_only_open_writes_nothing(qtbot, window, go_db):
    digest = sha256_file(go_db)
    open_and_wait(qtbot, window, go_db, read_only=True)
    assert window.status_bar.mode_label.text() == "Read-only (immutable)"
    assert "[read-only]" in window.windowTitle()
    assert window.message_bar.find("migrate") is None  # no upgrade offer when read-only
    window.refresh_status()
    assert window.runner.wait_idle()
    window.shutdown()
    assert sha256_file(go_db) == digest
    assert not Path(f"{go_db}-wal").exists() and not Path(f"{go_db}-shm").exists()


def test_bad_file_shows_an_error_and_keeps_the_open_database(qtbot, window, go_db, tmp_path):
    open_and_wait(qtbot, window, go_db)
    bad = tmp_path / "notes.db"
    bad.write_text("this is not a database\n" * 10)
    open_and_wait(qtbot, window, bad, ok=False)
    error = window.message_bar.find("open")
    assert error is not None and error.level == "error"
    assert "not an SQLite database" in error.text()
    assert "NotASandboxDatabase" in error.detail() and str(bad) in error.detail()
    assert window.store is not None and window.store.path == go_db  # still open, still usable
    assert window.status_bar.path_label.text() == str(go_db)


def test_error_details_and_close(qtbot, window, tmp_path):
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    open_and_wait(qtbot, window, folder, ok=False)
    msg = window.message_bar.find("open")
    assert "is a folder" in msg.text()
    window.message_bar.show_message("error", "Something failed", "line 1\nline 2", key="x")
    shown = window.message_bar.find("x")
    assert shown.details_button.isVisible() and not shown.detail_view.isVisible()
    shown.details_button.click()
    assert shown.detail_view.isVisible() and shown.detail_view.toPlainText() == "line 1\nline 2"
    shown.close_button.click()
    assert window.message_bar.find("x") is None


def test_missing_recent_file_is_dropped(qtbot, window, go_db, tmp_path):
    open_and_wait(qtbot, window, go_db)
    gone = tmp_path / "gone.db"
    import shutil

    shutil.copyfile(go_db, gone)
    open_and_wait(qtbot, window, gone)
    assert recent_databases(window.settings)[:2] == [str(gone.resolve()), str(go_db.resolve())]
    window.shutdown()
    gone.unlink()
    open_and_wait(qtbot, window, gone, ok=False)
    assert "does not exist" in window.message_bar.find("open").text()
    assert str(gone.resolve()) not in recent_databases(window.settings)
    window._fill_recent_menu()
    assert [a.text() for a in window.recent_menu.actions()][0] == str(go_db.resolve())


def test_newer_schema_opens_read_only_with_a_notice(qtbot, window, go_db):
    con = sqlite3.connect(go_db)
    con.execute("INSERT INTO migrations (version, description) VALUES (99, 'from the future')")
    con.commit()
    con.close()
    open_and_wait(qtbot, window, go_db)
    assert window.store.read_only
    notice = window.message_bar.find("notice")
    assert notice is not None and notice.level == "warning" and "newer" in notice.text()
    assert window.status_bar.mode_label.text().startswith("Read-only")
    assert window.status_bar.schema_label.text() == "Schema v99 (newer)"
    assert window.message_bar.find("migrate") is None


def _write_from_another_process(path: Path) -> None:
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "c.execute(\"UPDATE sandboxes SET version = version + 1 WHERE id = (SELECT id FROM sandboxes LIMIT 1)\"); "
        "c.commit(); c.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=30)


def test_change_by_another_process_shows_a_notice_and_refresh_clears_it(qtbot, window, go_db):
    open_and_wait(qtbot, window, go_db)
    polls = window.watcher.polls
    qtbot.waitUntil(lambda: window.watcher.polls >= polls + 2, timeout=5000)
    assert window.message_bar.find("changed") is None  # nothing changed yet
    _write_from_another_process(go_db)
    qtbot.waitUntil(lambda: window.message_bar.find("changed") is not None, timeout=5000)
    notice = window.message_bar.find("changed")
    assert "another program changed this database" in notice.text().lower()
    assert notice.action_button.text() == "Refresh"
    with qtbot.waitSignal(window.status_updated, timeout=5000):
        notice.action_button.click()
    assert window.message_bar.find("changed") is None


def test_immutable_read_only_open_notices_a_writer(qtbot, window, go_db):
    open_and_wait(qtbot, window, go_db, read_only=True)
    assert window.status.immutable
    con = sqlite3.connect(go_db)  # a writer opens it: a -wal file appears
    con.execute("UPDATE sandboxes SET version = version + 1 WHERE rowid = 1")
    con.commit()
    try:
        qtbot.waitUntil(lambda: window.message_bar.find("changed") is not None, timeout=5000)
        notice = window.message_bar.find("changed")
        assert "opened this database for writing" in notice.text()
        assert notice.action_button.text() == "Reopen"
        with qtbot.waitSignal(window.open_finished, timeout=10000):
            notice.action_button.click()
        assert window.runner.wait_idle()
        assert window.store.read_only and not window.status.immutable  # now mode=ro beside the writer
    finally:
        con.close()


def test_drop_a_database_file_opens_it(qtbot, window, go_db):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(go_db))])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.open_finished, timeout=10000):
        QApplication.sendEvent(window, drop)
    assert window.store is not None and window.store.path == go_db
    text = QMimeData()
    text.setText("just text")
    refused = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, text,
                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, refused)
    assert not refused.isAccepted()


def test_window_state_is_restored(qtbot, settings_dir):
    first = MainWindow(settings=app_settings(settings_dir))
    qtbot.addWidget(first)
    first.resize(780, 580)  # inside the offscreen screen (800x600): no clamping
    first.show()
    first.close()
    second = MainWindow(settings=app_settings(settings_dir))
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (780, 580)
    second.shutdown()


def test_window_icon_comes_from_the_svg(window):
    from sandbox_admin.gui.resources import ICON_NAME, resource_path

    assert resource_path(ICON_NAME) is not None
    assert not window.windowIcon().isNull()
    assert not window.windowIcon().pixmap(32, 32).isNull()


def test_about_dialog_lists_versions_and_paths(qtbot, window):
    import PySide6
    from PySide6.QtCore import qVersion

    from sandbox_admin import __version__, paths

    dialog = window.show_about()
    assert dialog.isVisible()
    text = dialog.text()
    for expected in (__version__, sqlite3.sqlite_version, qVersion(), PySide6.__version__,
                     str(paths.settings_dir())):
        assert expected in text
    dialog.close()


def test_keyboard_ctrl_f_and_f5_reach_the_current_pane(qtbot, window, go_db):
    open_and_wait(qtbot, window, go_db)
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window)
    pane = window.current_pane()
    QTest.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    focused = QApplication.focusWidget()
    assert focused is not None and pane.isAncestorOf(focused)
    with qtbot.waitSignal(window.status_updated, timeout=5000):
        QTest.keyClick(focused, Qt.Key.Key_F5)  # focus inside the pane: still not ambiguous


def test_jobs_indicator_shows_running_and_exclusive_work(qtbot, window, fresh_db):
    open_and_wait(qtbot, window, fresh_db)
    indicator = window.status_bar.jobs
    release = threading.Event()
    slow = window.runner.submit(lambda ctx: release.wait(5), name="Slow read")
    qtbot.waitUntil(lambda: indicator.label.text() == "1 job: Slow read", timeout=3000)
    qtbot.waitUntil(indicator.busy.isVisible, timeout=3000)
    exclusive = window.runner.submit(lambda ctx: None, name="Vacuum", exclusive=True)
    assert indicator.label.text() == "Exclusive: Vacuum (waiting for 1 job)"
    release.set()
    with qtbot.waitSignal(exclusive.finished, timeout=5000):
        pass
    assert slow.state == "done"
    assert window.runner.wait_idle()
    assert indicator.label.text() == "Idle" and not indicator.busy.isVisible()


def test_no_sql_runs_on_the_gui_thread(qtbot, window, go_db, monkeypatch):
    """Trace every statement on every connection during a session; none on the GUI thread."""
    seen: list[tuple[str, str]] = []
    original = database.SandboxDatabase._connect

    def traced(self):
        conn = original(self)
        conn.set_trace_callback(lambda sql: seen.append((threading.current_thread().name, sql)))
        return conn

    monkeypatch.setattr(database.SandboxDatabase, "_connect", traced)
    open_and_wait(qtbot, window, go_db)
    pane = window.current_pane()
    if hasattr(pane, "filter_edit"):
        pane.filter_edit.setText("sandbox")
    window.refresh()
    with qtbot.waitSignal(window.status_updated, timeout=15000):
        confirm(window.upgrade_schema())
    polls = window.watcher.polls
    qtbot.waitUntil(lambda: window.watcher.polls >= polls + 2, timeout=5000)
    assert window.runner.wait_idle()
    assert len(seen) > 20
    main = threading.main_thread().name
    on_gui = [sql for name, sql in seen if name == main]
    assert on_gui == []


SMALL_DEMO = dict(sandboxes=12, files=40, metrics=2000)


@pytest.fixture
def own_home(tmp_path, monkeypatch):
    from sandbox_admin.gui import main_window

    monkeypatch.setenv("SANDBOX_ADMIN_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(main_window, "DEMO_OPTIONS", SMALL_DEMO)
    return tmp_path / "home"


def _started(qtbot, **kwargs) -> MainWindow:
    from sandbox_admin.gui.app import start

    window = start(**kwargs)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.open_finished, timeout=20000):
        pass
    assert window.runner.wait_idle(10000)
    return window


def test_first_run_creates_the_default_demo_database_and_says_so(qtbot, own_home):
    from sandbox_admin import paths

    window = _started(qtbot)
    try:
        assert window.store is not None and window.store.path == paths.default_database()
        assert paths.default_database().exists()
        note = window.message_bar.find("demo")
        assert note is not None and "Created a demo database" in note.text()
        assert window.status_bar.mode_label.text() == "Read-write"
    finally:
        window.shutdown()
    again = _started(qtbot)  # second run: opens it, creates nothing, says nothing about it
    try:
        assert again.store.path == paths.default_database()
        assert again.message_bar.find("demo") is None
    finally:
        again.shutdown()


def test_demo_flag_opens_a_fresh_demo_that_goes_away(qtbot, own_home):
    from sandbox_admin import paths

    window = _started(qtbot, demo=True)
    path = window.store.path
    assert path != paths.default_database() and path.exists()
    assert window.message_bar.find("demo") is not None
    window.shutdown()
    assert not path.exists() and not path.parent.exists()


def test_db_argument_with_read_only(qtbot, own_home, go_db):
    window = _started(qtbot, db=str(go_db), read_only=True)
    try:
        assert window.store.path == go_db and window.store.read_only
    finally:
        window.shutdown()


def test_reopening_the_open_file_closes_it_before_reading_its_header(qtbot, window, go_db, monkeypatch):
    """No open()/close() of a file whose SQLite locks this process holds (howtocorrupt 2.2)."""
    import sandbox_admin.storage.store as storage

    open_and_wait(qtbot, window, go_db)
    first = window.store
    seen: list[tuple[bool, bool]] = []
    original = storage.inspect_file

    def watching(path):
        seen.append((bool(first.db._in_use), bool(first.db._connections)))
        return original(path)

    monkeypatch.setattr(storage, "inspect_file", watching)
    open_and_wait(qtbot, window, go_db, read_only=True)
    assert seen == [(False, False)]  # the first store had no connection left
    assert window.store is not first and window.store.read_only


def test_read_only_first_run_creates_the_demo_and_opens_it_read_only(qtbot, own_home):
    from sandbox_admin import paths

    window = _started(qtbot, read_only=True)
    try:
        assert window.store.path == paths.default_database() and window.store.read_only
        assert window.message_bar.find("demo") is not None
    finally:
        window.shutdown()


def test_upgrade_from_the_maintenance_pane_refreshes_the_window(qtbot, window, go_db):
    from sandbox_admin.gui.panes.maintenance import MaintenancePane

    open_and_wait(qtbot, window, go_db)
    assert window.message_bar.find("migrate") is not None
    pane = next(p for p in window.panes if isinstance(p, MaintenancePane))
    with qtbot.waitSignal(window.status_updated, timeout=15000,
                          check_params_cb=lambda s: s.schema_version == latest_version()):
        pane.upgrade_schema()  # not shown yet: it reads the schema status first, then asks
        qtbot.waitUntil(lambda: pane._dialog_upgrade is not None, timeout=10000)
        confirm(pane._dialog_upgrade)
        window.runner.wait_idle(10000)
    assert window.status_bar.schema_label.text() == f"Schema v{latest_version()}"
    assert window.message_bar.find("migrate") is None  # the upgrade offer is gone


def test_a_status_message_takes_the_paths_place(qtbot, window):
    bar = window.status_bar
    bar.showMessage("Creating a demo database at /somewhere…")
    assert not bar.path_label.isVisible()
    bar.clearMessage()
    assert bar.path_label.isVisible() and bar.path_label.text() == "No database open"
    jobs = bar.jobs
    jobs.label.setText("1 job: Open a very long database name that goes on and on.db")
    jobs.cancel_button.show()
    qtbot.wait(10)
    assert jobs.label.geometry().right() < jobs.cancel_button.geometry().left()


def test_our_own_writes_refresh_the_status_without_f5(qtbot, window, go_db):
    open_and_wait(qtbot, window, go_db)
    sandboxes = window.panes[0]
    qtbot.waitUntil(lambda: sandboxes.model.rowCount() > 0, timeout=15000)

    def soft_delete(ctx):
        sid = next(r.id for r in ctx.store.sandboxes.page(limit=5).rows if r.deleted_at is None)
        ctx.store.sandboxes.soft_delete(sid)

    with qtbot.waitSignal(window.status_updated, timeout=5000):
        window.runner.submit(soft_delete, name="Soft delete")
    with qtbot.waitSignal(window.status_updated, timeout=5000):  # an exclusive job too
        window.runner.submit(lambda ctx: ctx.store.maintenance.checkpoint("PASSIVE"), name="Checkpoint",
                             exclusive=True)


def test_restoring_while_another_program_writes_warns_first(qtbot, window, go_db, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    open_and_wait(qtbot, window, go_db)
    pane = window.maintenance
    backup = window.store.backups.create(tmp_path / "b").path
    assert window.outside_activity() == ""
    con = sqlite3.connect(go_db)  # another program (a server) writes meanwhile
    with con:
        con.execute("UPDATE sandboxes SET status = 'stopped' WHERE rowid = 1")
    con.close()
    qtbot.waitUntil(lambda: window.message_bar.find("changed") is not None, timeout=10000)
    assert "another program changed" in window.outside_activity()
    pane.backups.restore_path(backup)
    qtbot.waitUntil(lambda: isinstance(pane.current_dialog(), QMessageBox), timeout=15000)
    text = pane.current_dialog().text()
    assert "Warning:" in text and "stop it before restoring" in text
    pane.current_dialog().button(QMessageBox.StandardButton.Cancel).click()
    assert window.runner.wait_idle(10000)


def test_the_app_keeps_its_gui_thread_responsive_to_busy_workers():
    import gc
    import sys

    from sandbox_admin.gui.app import keep_gui_responsive

    before = sys.getswitchinterval()
    try:
        keep_gui_responsive()
        assert sys.getswitchinterval() == pytest.approx(0.001)  # the GIL handed over after 1 ms
        assert gc.get_freeze_count() > 10_000  # the startup heap is out of full collections
    finally:
        sys.setswitchinterval(before)
        gc.unfreeze()


def test_the_window_fits_a_1024_px_screen_at_real_size(qtbot, window, fresh_db):
    """Ten statuses with counts in the thousands (their chips wrap) and a chart summary
    of a metric with tens of thousands of series (it elides) keep the window's minimum
    width within a 1024 x 700 screen; at 1280 the chips fit on one line."""
    statuses = ["running", "stopped", "failed", "paused", "creating", "error", "starting", "stopping",
                "terminating", "restarting"]
    con = sqlite3.connect(fresh_db)
    with con:
        con.executemany("INSERT INTO sandboxes (id, status, created_at, updated_at) VALUES (?, ?, ?, ?)",
                        [(f"sb-{i:05d}", statuses[i % len(statuses)], "2026-12-01 10:00:00",
                          "2026-12-01 10:00:00") for i in range(12_000)])
    con.close()
    open_and_wait(qtbot, window, fresh_db)
    pane = window.panes[0]
    qtbot.waitUntil(lambda: len(pane.facet_buttons) == len(statuses), timeout=15000)
    metrics = window.pane_by_key("metrics")
    metrics.info_label.setText("33,450 series · top 8 by max · step 53 min 2 s · raw samples")
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        QApplication.processEvents()
        assert window.minimumSizeHint().width() <= 1024, window.tabs.tabText(index)
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024)
    window.tabs.setCurrentIndex(0)
    QApplication.processEvents()
    rows = {b.geometry().top() for b in pane.facet_buttons.values()}
    assert len(rows) == 2  # wrapped onto a second line, every chip shown
    assert all(b.isVisible() for b in pane.facet_buttons.values())
    # every Sandboxes action on the toolbar itself, none behind its » overflow button
    shown = [a.text() for a in pane.toolbar.actions()
             if not a.isSeparator() and pane.toolbar.widgetForAction(a).isVisible()]
    assert shown == ["Refresh", "Soft delete", "Recover", "Checkpoint…", "Purge deleted…"]
    # a schema line that wraps gets the height of its two lines (a nested layout's did not)
    maintenance = window.pane_by_key("maintenance")
    window.tabs.setCurrentWidget(maintenance)
    assert window.runner.wait_idle(15000)  # its health read is in (it sets the label)
    QApplication.processEvents()
    maintenance.upgrade_button.show()  # as with migrations pending
    maintenance.schema_label.setText("version 9; this sandbox-admin uses 11: migrations 10, 11 pending"
                                     " · migration 7 was applied by a newer program")
    label = maintenance.schema_label
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()) > label.fontMetrics().height())
    window.resize(1600, 800)
    window.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: len({b.geometry().top() for b in pane.facet_buttons.values()}) == 1)
