"""The Maintenance pane on a copy of the Go server's database, through the UI.

Real store, real JobRunner threads, real backups and restores in tmp_path, offscreen
Qt. The restore confirmation is answered by clicking its button.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from sandbox_admin.gui.panes.maintenance import MaintenancePane
from sandbox_admin.gui.panes.maintenance_views import BackupTable
from sandbox_admin.storage import open_store
from sandbox_admin.storage.backup.manager import BROKEN, VERIFIED
from sandbox_admin.storage.migrations import latest_version

WAIT = 15000
STATUS = BackupTable.HEADERS.index("Status")


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    folder = tmp_path / "backups"
    folder.mkdir()
    return folder


@pytest.fixture
def pane(qtbot, runner, settings, backups):
    settings.setValue("maintenance/backup_dir", str(backups))
    p = MaintenancePane(runner, settings=settings)
    qtbot.addWidget(p)
    p.resize(1400, 800)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.set_store(None)
    runner.wait_idle(WAIT)


def open_pane(qtbot, pane: MaintenancePane, path: Path, read_only: bool = False):
    store = open_store(path, read_only=read_only)
    with qtbot.waitSignal(pane.stats_loaded, timeout=WAIT):
        pane.set_store(store)
    qtbot.waitUntil(lambda: pane.runner.is_idle(), timeout=WAIT)
    return store


@pytest.fixture
def opened(qtbot, pane, go_db, runner):
    store = open_pane(qtbot, pane, go_db)
    yield pane, store
    pane.set_store(None)
    runner.wait_idle(WAIT)
    store.close()


def finish(qtbot, pane: MaintenancePane, action: str, start) -> bool:
    """Run ``start()`` and wait for ``action``'s action_finished; its ok flag."""
    with qtbot.waitSignal(pane.action_finished, timeout=WAIT,
                          check_params_cb=lambda name, ok: name == action) as blocker:
        start()
    return blocker.args[1]


def back_up(qtbot, pane: MaintenancePane) -> Path:
    with qtbot.waitSignal(pane.backups_loaded, timeout=WAIT):
        assert finish(qtbot, pane, "backup", pane.backup_button.click)
    entry = pane.backup_table.selected()
    assert entry is not None
    return entry.path


def raw(path: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_statistics_show_the_fixtures_row_counts_and_schema(opened, go_counts):
    pane, _store = opened
    rows = pane.stats_table.rows_by_table()
    for table in ("sandboxes", "file_metadata", "metrics", "audit_trail", "file_chunks"):
        assert rows[table] == f"{go_counts[table]:,}", table
    assert "KiB" in pane.summary_labels["Size"].text() or "MiB" in pane.summary_labels["Size"].text()
    assert "×" in pane.summary_labels["Pages"].text()
    health = pane.health
    assert health is not None and health.stats.page_count > 0
    # the Go fixture is at version 6: sandbox-admin's migrations are pending
    assert "version 6" in pane.schema_label.text() and "pending" in pane.schema_label.text()
    assert pane.upgrade_button.isVisible() and pane.upgrade_button.isEnabled()


def test_quick_and_full_check_report_ok(qtbot, opened):
    pane, _ = opened
    assert finish(qtbot, pane, "check", pane.quick_check_button.click)
    assert pane.last_check is not None and pane.last_check.ok
    assert "Quick check: ok" in pane.check_result.text()
    assert finish(qtbot, pane, "check", pane.full_check_button.click)
    assert "integrity_check" in pane.last_check.checks
    assert "Integrity check: ok" in pane.check_result.text()
    assert not pane.problems.isVisible()


def test_upgrade_schema_is_an_exclusive_job(qtbot, opened):
    pane, store = opened
    seen: list[bool] = []
    pane.runner.exclusive_changed.connect(seen.append)
    pane.upgrade_button.click()
    box = pane._dialog_upgrade
    assert "safety backup" in box.text() and store.schema_version() == 6
    button = next(b for b in box.buttons() if b.text() == "Back up and upgrade")
    with qtbot.waitSignal(pane.stats_loaded, timeout=WAIT):
        assert finish(qtbot, pane, "migrate", button.click)
    assert True in seen
    assert "Schema upgraded" in pane.house_result.text()
    assert f"version {latest_version()} (up to date)" in pane.schema_label.text()
    assert not pane.upgrade_button.isVisible()


def test_back_up_lists_the_new_verified_backup(qtbot, opened, backups):
    pane, _ = opened
    path = back_up(qtbot, pane)
    assert pane.backup_table.select_path(path)
    # Ctrl+B backs up too
    pane.backup_table.setFocus()
    with qtbot.waitSignal(pane.backups_loaded, timeout=WAIT):
        assert finish(qtbot, pane, "backup", lambda: qtbot.keyClick(
            pane.backup_table, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier))
    assert len(pane.backup_table.entries) == 2
    assert pane.backup_table.select_path(path)
    assert path.parent == backups and path.exists()
    row = pane.backup_table.row_of(path)
    assert pane.backup_table.item(row, STATUS).text() == VERIFIED
    assert "Backed up to" in pane.backup_hint.text()
    assert not pane.progress_row.isVisible()
    # Verify it again through the button
    assert finish(qtbot, pane, "verify", pane.verify_button.click)
    assert pane.backup_table.reports[path].ok
    assert "is sound" in pane.backup_hint.text()


def test_restore_through_the_ui_replaces_the_content_and_reports_the_safety_backup(
        qtbot, opened, go_db, backups):
    pane, store = opened
    backup = back_up(qtbot, pane)
    before = raw(backup, "SELECT id, status, updated_at FROM sandboxes ORDER BY id")
    # change the live database after the backup
    con = sqlite3.connect(go_db)
    with con:
        con.execute("DELETE FROM sandboxes WHERE id IN (SELECT id FROM sandboxes LIMIT 5)")
        con.execute("DELETE FROM metrics WHERE rowid IN (SELECT rowid FROM metrics LIMIT 500)")
    con.close()
    assert raw(go_db, "SELECT id, status, updated_at FROM sandboxes ORDER BY id") != before
    messages: list[tuple[str, str, str]] = []
    pane.message_requested.connect(lambda *m: messages.append(m))

    assert pane.backup_table.select_path(backup)
    progress: list[str] = []
    started: list = []
    pane.runner.job_started.connect(started.append)
    pane.runner.job_started.connect(
        lambda job: job.progress.connect(lambda d, t, m: progress.append(m)))
    pane.restore_button.click()
    box = pane.current_dialog()
    assert isinstance(box, QMessageBox)
    text = box.text()
    assert "safety backup" in text and str(backups) in text and "replaced" in text
    assert backup.name in text
    assert "another database" not in text  # it was made from this one
    assert f"{len(before)} sandboxes" in text  # what the backup holds
    with qtbot.waitSignals([pane.stats_loaded, pane.database_replaced], timeout=WAIT):
        ok = finish(qtbot, pane, "restore",
                    lambda: next(b for b in box.buttons() if b.text() == "Restore").click())
    assert ok
    assert [j.exclusive for j in started if j.name.startswith("Restore")] == [True]
    # the safety backup is taken while the pages are written; the commit waits for it
    assert "Finishing the checks of the backup and the safety backup" in progress, progress
    assert any(m.startswith("Writing the backup") for m in progress), progress
    result = pane.last_restore
    assert result is not None and result.safety_backup.exists()
    assert result.safety_backup.parent == backups
    assert raw(go_db, "SELECT id, status, updated_at FROM sandboxes ORDER BY id") == before
    assert raw(go_db, "SELECT count(*) FROM metrics") == raw(backup, "SELECT count(*) FROM metrics")
    assert str(result.safety_backup) in pane.backup_hint.text()
    assert any(level == "info" and str(result.safety_backup) in t for level, t, _ in messages)
    # a backup made here is not integrity-checked twice; the details say how it was checked
    assert result.backup_check == "unchanged since its recorded integrity_check"
    assert any("passed an integrity check when it was made" in d for level, _, d in messages if level == "info")
    # the safety backup keeps the changed content
    assert raw(result.safety_backup, "SELECT count(*) FROM sandboxes")[0][0] == len(before) - 5


def test_cancelling_the_confirmation_changes_nothing(qtbot, opened, go_db):
    pane, _ = opened
    backup = back_up(qtbot, pane)
    con = sqlite3.connect(go_db)
    with con:
        con.execute("DELETE FROM metrics WHERE rowid IN (SELECT rowid FROM metrics LIMIT 10)")
    con.close()
    count = raw(go_db, "SELECT count(*) FROM metrics")
    pane.backup_table.select_path(backup)
    box = pane.backups.restore_selected()
    assert box is not None
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert pane.current_dialog() is None
    assert pane.runner.wait_idle(WAIT)
    assert raw(go_db, "SELECT count(*) FROM metrics") == count
    assert pane.last_restore is None


def test_a_corrupt_backup_is_listed_as_broken_and_its_restore_refused(qtbot, opened, backups, go_db):
    pane, _ = opened
    bad = backups / "sandbox_runner_20240101_120000.db"
    bad.write_bytes(b"this is not a database\n" * 400)
    go_made = backups / "sandbox_runner_20240102_120000.db"  # the Go server's: no description
    go_made.write_bytes(go_db.read_bytes())
    with qtbot.waitSignal(pane.backups_loaded, timeout=WAIT):
        pane.refresh_list_button.click()
    row = pane.backup_table.row_of(go_made)
    assert pane.backup_table.item(row, STATUS).text() == "unverified"
    assert pane.backup_table.item(row, BackupTable.HEADERS.index("Kind")).text() == "Go server"
    assert pane.backup_table.item(row, BackupTable.HEADERS.index("Schema")).text() == "6"
    assert "UTC" in pane.backup_table.item(row, 0).toolTip()
    row = pane.backup_table.row_of(bad)
    assert row is not None
    assert pane.backup_table.item(row, STATUS).text() == BROKEN
    assert pane.backup_table.item(row, STATUS).toolTip()  # the reason
    messages: list[tuple[str, str, str]] = []
    pane.message_requested.connect(lambda *m: messages.append(m))
    before = raw(go_db, "SELECT count(*) FROM sandboxes")
    pane.backup_table.select_path(bad)
    assert finish(qtbot, pane, "restore", pane.restore_button.click) is False
    assert pane.current_dialog() is None  # refused before asking
    assert "cannot be restored" in pane.backup_hint.text()
    assert "not a" in pane.backup_hint.text().lower() or "database" in pane.backup_hint.text()
    assert messages and messages[-1][0] == "error" and bad.name in messages[-1][1]
    assert raw(go_db, "SELECT count(*) FROM sandboxes") == before


def test_vacuum_reports_bytes_reclaimed(qtbot, opened, go_db):
    pane, _ = opened
    con = sqlite3.connect(go_db)
    with con:
        con.execute("DELETE FROM metrics WHERE rowid IN (SELECT rowid FROM metrics LIMIT 15000)")
    con.close()
    with qtbot.waitSignal(pane.stats_loaded, timeout=WAIT):
        assert finish(qtbot, pane, "vacuum", pane.vacuum_button.click)
    report = pane.last_vacuum
    assert report is not None and report.bytes_reclaimed > 0
    assert "Vacuum reclaimed" in pane.house_result.text()
    assert pane.health.stats.freelist_count == 0
    assert finish(qtbot, pane, "optimize", pane.optimize_button.click)
    assert "Optimized" in pane.house_result.text()
    assert finish(qtbot, pane, "checkpoint", pane.checkpoint_button.click)
    assert "Checkpoint" in pane.house_result.text()


def test_read_only_store_disables_writes_but_allows_backups(qtbot, pane, go_db, runner, backups):
    store = open_pane(qtbot, pane, go_db, read_only=True)
    try:
        for button in (pane.vacuum_button, pane.optimize_button, pane.checkpoint_button,
                       pane.upgrade_button):
            assert not button.isEnabled()
            assert "read-only" in button.toolTip()
        assert "read-only" in pane.headline.text()
        assert pane.vacuum() is None and pane.upgrade_schema() is None
        path = back_up(qtbot, pane)
        assert path.exists()
        assert not pane.restore_button.isEnabled()
        assert "read-only" in pane.restore_button.toolTip()
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_automatic_backups_persist_and_run_through_the_runner(qtbot, opened, settings, backups):
    pane, store = opened
    pane.auto_hours.setValue(6)
    pane.auto_keep.setValue(2)
    with qtbot.waitSignal(pane.backups_loaded, timeout=WAIT):
        assert finish(qtbot, pane, "auto-backup", lambda: pane.auto_check.setChecked(True))
    assert pane.auto_timer.isActive()
    run = pane.last_scheduled
    assert run is not None and run.ran and run.backup.kind == "scheduled"
    assert "next" in pane.auto_status.text()
    assert settings.value("maintenance/auto_enabled") in (True, "true")
    assert int(settings.value("maintenance/auto_hours")) == 6
    assert int(settings.value("maintenance/auto_keep")) == 2
    # not due again: the next run makes no backup
    assert finish(qtbot, pane, "auto-backup", pane.backups.run_auto_backup)
    assert not pane.last_scheduled.ran
    # a new pane reads the settings back, and asks at once when a database is opened
    other = MaintenancePane(pane.runner, settings=settings)
    qtbot.addWidget(other)
    assert other.auto_check.isChecked() and other.auto_hours.value() == 6
    assert other.auto_keep.value() == 2 and other.backups_folder() == backups
    try:
        assert finish(qtbot, other, "auto-backup", lambda: other.set_store(store))
        assert other.last_scheduled is not None and not other.last_scheduled.ran
        assert other.auto_timer.isActive()
    finally:
        other.set_store(None)
    assert not other.auto_timer.isActive()


def test_a_hidden_pane_reads_statistics_when_shown(qtbot, runner, settings, go_db):
    pane = MaintenancePane(runner, settings=settings)
    qtbot.addWidget(pane)
    store = open_store(go_db)
    try:
        pane.set_store(store)
        assert runner.wait_idle(WAIT)
        assert pane.health is None  # nothing read while hidden
        with qtbot.waitSignal(pane.stats_loaded, timeout=WAIT):
            pane.show()
        assert pane.stats_table.rowCount() > 0
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_cancel_stops_a_backup_and_leaves_no_file(qtbot, opened, backups):
    pane, _ = opened
    import threading

    release = threading.Event()
    blocker = pane.runner.submit(lambda ctx: release.wait(10), name="Hold the gate", exclusive=True,
                                 store=None)
    try:
        job = pane.backups.back_up()
        assert job is not None and job.state == "pending"
        assert pane.progress_row.isVisibleTo(pane) and pane.cancel_button.isEnabled()
        assert finish(qtbot, pane, "backup", pane.cancel_button.click) is False
    finally:
        release.set()
    qtbot.waitUntil(lambda: blocker.state == "done", timeout=WAIT)
    assert "cancelled" in pane.backup_hint.text()
    assert not pane.progress_row.isVisibleTo(pane)
    assert list(backups.iterdir()) == []


def test_a_backup_with_a_newer_schema_is_refused_with_the_reason(qtbot, opened, backups, go_db):
    pane, _ = opened
    newer = backups / "sandbox_runner_20250101_000000.db"
    newer.write_bytes(go_db.read_bytes())
    con = sqlite3.connect(newer)
    with con:
        con.execute("INSERT INTO migrations (version, description) VALUES (99, 'from the future')")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    with qtbot.waitSignal(pane.backups_loaded, timeout=WAIT):
        pane.load_backups()
    assert pane.backup_table.select_path(newer)
    assert finish(qtbot, pane, "verify", pane.verify_button.click)
    assert "newer" in pane.backup_hint.text()
    assert finish(qtbot, pane, "restore", pane.restore_button.click) is False
    assert pane.current_dialog() is None
    assert "cannot be restored" in pane.backup_hint.text() and "99" in pane.backup_hint.text()


def test_check_lists_the_problems_of_a_damaged_index(qtbot, pane, go_db, runner):
    con = sqlite3.connect(go_db)
    with con:
        con.execute("DELETE FROM file_search_fts_data WHERE rowid IN "
                    "(SELECT rowid FROM file_search_fts_data WHERE id > 10 LIMIT 3 OFFSET 2)")
    con.close()
    store = open_pane(qtbot, pane, go_db)
    try:
        assert finish(qtbot, pane, "check", pane.quick_check_button.click)
        assert not pane.last_check.ok
        assert "problem" in pane.check_result.text()
        assert pane.problems.isVisible()
        assert "full-text index" in pane.problems.toPlainText()
        # what to do about it, here: a button, not a command to type
        assert "sandbox-admin" not in pane.problems.toPlainText()
        assert "rebuilding the search index repairs it" in pane.problems.toPlainText()
        assert pane.reindex_button.isVisible() and pane.reindex_button.isEnabled()
        with qtbot.waitSignal(pane.action_finished, timeout=WAIT,
                              check_params_cb=lambda name, ok: name == "check"):
            assert finish(qtbot, pane, "reindex", pane.reindex_button.click)
        assert pane.last_check.ok and not pane.reindex_button.isVisible()  # checked again: sound
        assert "ok" in pane.check_result.text()
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_a_failing_automatic_backup_is_announced_once(qtbot, opened, tmp_path):
    pane, _ = opened
    not_a_folder = tmp_path / "not-a-folder"
    not_a_folder.write_text("a file where the backup folder should be\n")
    with qtbot.waitSignal(pane.backups_loaded, timeout=WAIT):
        pane.set_backup_dir(not_a_folder)
    messages: list[tuple[str, str, str]] = []
    pane.message_requested.connect(lambda *m: messages.append(m))
    assert finish(qtbot, pane, "auto-backup", lambda: pane.auto_check.setChecked(True)) is False
    assert "failed" in pane.auto_status.text() and pane.auto_status.toolTip()
    assert len(messages) == 1 and messages[0][0] == "error"
    assert "is a file, not a folder" in messages[0][1]
    assert finish(qtbot, pane, "auto-backup", pane.backups.run_auto_backup) is False
    assert len(messages) == 1  # the retry fails quietly



def test_a_backup_of_another_database_needs_its_own_confirmation(qtbot, pane, go_db, backups, tmp_path,
                                                                 runner):
    """Both names are said; declining changes nothing; agreeing leads to the usual question."""
    import shutil

    from tests.conftest import sha256_file

    other = tmp_path / "other" / "sandbox_runner.db"
    other.parent.mkdir()
    shutil.copyfile(go_db, other)
    with open_store(other) as store:
        foreign = store.backups.create(backups).path  # a backup of the other database
    store = open_pane(qtbot, pane, go_db)
    try:
        database = BackupTable.HEADERS.index("Database")
        row = pane.backup_table.row_of(foreign)
        assert pane.backup_table.item(row, database).text() == "sandbox_runner.db"
        assert str(other.resolve()) in pane.backup_table.item(row, database).toolTip()
        digest = sha256_file(go_db)
        pane.backup_table.select_path(foreign)
        box = pane.backups.restore_selected()
        assert box.windowTitle() == "A backup of another database"
        assert str(other.resolve()) in box.text() and str(go_db.resolve()) in box.text()
        box.button(QMessageBox.StandardButton.Cancel).click()
        assert pane.current_dialog() is None and runner.wait_idle(WAIT)
        assert sha256_file(go_db) == digest and pane.last_restore is None
        # agreeing opens the usual restore question (which still asks)
        box = pane.backups.restore_selected()
        next(b for b in box.buttons() if b.text().startswith("Restore the other")).click()
        question = pane.current_dialog()
        assert question is not None and "made from another database" in question.text()
        question.button(QMessageBox.StandardButton.Cancel).click()
        assert sha256_file(go_db) == digest
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_by_default_each_database_has_a_backups_folder_of_its_own(qtbot, runner, settings, go_db,
                                                                   tmp_path):
    from sandbox_admin import paths

    p = MaintenancePane(runner, settings=settings)  # no folder chosen in the settings
    qtbot.addWidget(p)
    p.show()
    store = open_pane(qtbot, p, go_db)
    try:
        assert p.backups_folder() == paths.backups_dir(go_db)
        assert p.backups_folder().parent == paths.backups_dir()
        assert p.folder_edit.text() == str(paths.backups_dir(go_db))
    finally:
        p.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def _bulky_database(path: Path, rows: int = 400_000) -> Path:
    """A sandbox database with enough metric rows that VACUUM takes a noticeable while."""
    from sandbox_admin.storage import create_store

    create_store(path).close()
    con = sqlite3.connect(path)
    with con:
        con.execute("INSERT INTO sandboxes (id, container_id, status, working_dir, environment, "
                    "config, metadata, recovery_data) VALUES ('sb', '', 'running', '', '{}', '{}', '{}', 'null')")
        con.executemany(
            "INSERT INTO metrics (metric_name, metric_type, labels, value, timestamp, sandbox_id, "
            "aggregation_period) VALUES ('cpu', 'gauge', '{\"k\":\"' || ? || '\"}', ?, "
            "'2026-11-26 01:00:00+00:00', 'sb', 'raw')",
            ((str(i % 977) * 20, float(i)) for i in range(rows)))
        con.execute("DELETE FROM metrics WHERE id % 2 = 0")  # free pages for VACUUM to reclaim
    con.close()
    return path


def test_vacuum_cancel_really_cancels_and_the_last_step_says_it_cannot(qtbot, pane, tmp_path, runner):
    db = _bulky_database(tmp_path / "bulky.db")
    store = open_pane(qtbot, pane, db)
    try:
        before = raw(db, "SELECT count(*) FROM metrics")
        size_before = db.stat().st_size
        messages: list[str] = []
        pane.runner.job_started.connect(lambda job: job.progress.connect(lambda d, t, m: messages.append(m)))
        with qtbot.waitSignal(pane.action_finished, timeout=60000,
                              check_params_cb=lambda name, ok: name == "vacuum") as blocker:
            pane.vacuum_button.click()
            qtbot.waitUntil(lambda: any("rewriting" in m for m in messages), timeout=10000)
            assert pane.cancel_button.isEnabled()
            pane.cancel_button.click()
        assert blocker.args == ["vacuum", False]  # really cancelled, not "success"
        assert "cancelled" in pane.house_result.text().lower()
        assert raw(db, "SELECT count(*) FROM metrics") == before
        assert db.stat().st_size == size_before  # the file was not rewritten
        # without Cancel it completes; its last step shows Cancel disabled with the reason
        late: list[bool] = []
        original = pane._on_progress

        def watched(job, done, total, message):  # the button's state right after each report
            original(job, done, total, message)
            if "too late" in message:
                late.append(pane.cancel_button.isEnabled())

        pane._on_progress = watched
        assert finish(qtbot, pane, "vacuum", pane.vacuum_button.click)
        assert late == [False]
        assert "reclaimed" in pane.house_result.text()
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        store.close()
