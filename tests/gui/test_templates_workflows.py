"""The Templates and Workflows panes (and the cache on Maintenance) on the demo database,
through the UI: real stores, real JobRunner threads, offscreen Qt; confirmations are
answered by clicking their buttons."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from sandbox_admin.gui.panes.maintenance import MaintenancePane
from sandbox_admin.gui.panes.templates import TemplatesPane
from sandbox_admin.gui.panes.workflows import WorkflowsPane
from sandbox_admin.storage import open_store

WAIT = 15000
NOW = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    from sandbox_admin.demo import generator as demo

    path = tmp_path_factory.mktemp("gui-demo") / "demo.db"
    demo.create_demo(path, sandboxes=20, files=60, metrics=0, now=NOW)
    return path


@pytest.fixture
def demo_db(demo_file, tmp_path) -> Path:
    target = tmp_path / "demo.db"
    shutil.copyfile(demo_file, target)
    return target


def raw(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def shown(qtbot, pane):
    qtbot.addWidget(pane)
    pane.resize(1280, 800)
    pane.show()
    qtbot.waitExposed(pane)
    return pane


def button(box: QMessageBox, text: str):
    return next(b for b in box.buttons() if b.text() == text)


@pytest.fixture
def workflows(qtbot, runner, settings, demo_db):
    pane = shown(qtbot, WorkflowsPane(runner, settings=settings))
    store = open_store(demo_db, read_only=True)
    with qtbot.waitSignal(pane.model.first_page_loaded, timeout=WAIT):
        pane.set_store(store)
    yield pane, store
    pane.set_store(None)
    runner.wait_idle(WAIT)
    store.close()


def test_a_failed_run_shows_its_failing_step_and_error(qtbot, workflows, demo_db):
    pane, store = workflows
    failed_id, step, error = raw(demo_db, """
        SELECT e.id, s.step_name, s.error_message FROM workflow_executions e
        JOIN workflow_steps s ON s.execution_id = e.id AND s.status = 'failed'
        WHERE e.status = 'failed' ORDER BY julianday(e.started_at) DESC LIMIT 1""")[0]
    with qtbot.waitSignal(pane.model.first_page_loaded, timeout=WAIT):
        pane.set_status("failed")
    assert {e.status for e in pane.model.rows()} == {"failed"}
    assert "status = failed" in pane.headline.text()
    with qtbot.waitSignal(pane.details_loaded, timeout=WAIT) as blocker:
        assert pane.select_id(failed_id)
    assert blocker.args == [failed_id]
    detail = pane.detail
    assert detail.error.isVisible() and step in detail.error.text() and error[:30] in detail.error.text()
    tl = detail.chart.timeline
    assert tl.failed_step.step_name == step and tl.failed_step.error_message == error
    detail.chart.grab()  # paint: bars are laid out
    failed_bar = detail.chart.bar_rect(tl.failed_step.step_order)
    assert failed_bar is not None and failed_bar.width() >= 3
    assert error in detail.chart.tooltip(tl.failed_step)
    rows = {detail.steps.topLevelItem(i).text(1): detail.steps.topLevelItem(i)
            for i in range(detail.steps.topLevelItemCount())}
    assert rows[step].text(2) == "failed" and rows[step].text(6).startswith(error[:30])
    assert rows[step].foreground(2).color().name() == "#c62828"  # failed is red


def test_a_retried_step_is_visible_and_filters_combine(qtbot, workflows, demo_db):
    pane, _ = workflows
    eid, sid, retries = raw(demo_db, """
        SELECT e.id, e.sandbox_id, s.retry_count FROM workflow_executions e
        JOIN workflow_steps s ON s.execution_id = e.id WHERE s.retry_count > 0 LIMIT 1""")[0]
    with qtbot.waitSignal(pane.model.first_page_loaded, timeout=WAIT):
        pane.show_sandbox(sid)
    assert {e.sandbox_id for e in pane.model.rows()} == {sid}
    with qtbot.waitSignal(pane.details_loaded, timeout=WAIT):
        pane.select_id(eid)
    assert pane.detail.fields["retries"].text() != "none"
    retried = next(s for s in pane.detail.chart.timeline.steps if s.retry_count)
    assert retried.retry_count == retries and f"retried {retries}×" in pane.detail.chart.tooltip(retried)
    qtbot.waitUntil(lambda: pane.name_combo.count() > 1, timeout=WAIT)
    name = pane.detail.chart.timeline.execution.workflow_name
    with qtbot.waitSignal(pane.model.first_page_loaded, timeout=WAIT):
        pane.name_combo.setCurrentText(name)
    assert {(e.sandbox_id, e.workflow_name) for e in pane.model.rows()} == {(sid, name)}


@pytest.fixture
def templates(qtbot, runner, settings, demo_db):
    pane = shown(qtbot, TemplatesPane(runner, settings=settings))
    store = open_store(demo_db)
    with qtbot.waitSignal(pane.model.first_page_loaded, timeout=WAIT):
        pane.set_store(store)
    yield pane, store
    pane.set_store(None)
    runner.wait_idle(WAIT)
    store.close()


def test_create_a_sandbox_from_a_template_is_audited(qtbot, templates, demo_db):
    pane, _ = templates
    used = raw(demo_db, "SELECT usage_count FROM sandbox_templates WHERE id='tmpl-go'")[0][0]
    with qtbot.waitSignal(pane.details_loaded, timeout=WAIT):
        assert pane.select_id("tmpl-go")
    assert pane.detail.json.value_text("config.workspace_dir") == "/workspace"
    box = pane.create_sandbox()
    assert isinstance(box, QMessageBox) and pane.current_dialog() is box and "Go 1.22" in box.text()
    created: list[str] = []
    pane.sandbox_created.connect(created.append)
    with qtbot.waitSignals([pane.sandbox_created, pane.model.first_page_loaded], timeout=WAIT):
        button(box, "Create sandbox").click()
    sid = pane.last_created.id
    assert created == [sid]
    assert raw(demo_db, "SELECT status, json_extract(config, '$.image') FROM sandboxes WHERE id=?", (sid,)) == [
        ("creating", "golang:1.22-alpine")]
    audit = raw(demo_db, "SELECT action, json_extract(metadata, '$.template_id') FROM audit_trail "
                "WHERE entity_id=?", (sid,))
    assert audit == [("create", "tmpl-go")]
    assert raw(demo_db, "SELECT usage_count FROM sandbox_templates WHERE id='tmpl-go'")[0][0] == used + 1
    qtbot.waitUntil(lambda: pane.selected_id() == "tmpl-go", timeout=WAIT)
    assert pane.selected().usage_count == used + 1  # the list was reloaded


def test_set_default_keeps_one_and_delete_asks_first(qtbot, templates, demo_db):
    pane, _ = templates
    with qtbot.waitSignal(pane.details_loaded, timeout=WAIT):
        pane.select_id("tmpl-rust")
    assert pane.default_action.isEnabled()
    with qtbot.waitSignal(pane.action_finished, timeout=WAIT) as done:
        pane.default_action.trigger()
    assert done.args == ["set_default", True]
    assert raw(demo_db, "SELECT id FROM sandbox_templates WHERE is_default") == [("tmpl-rust",)]
    qtbot.waitUntil(lambda: pane.selected_id() == "tmpl-rust" and pane.selected().is_default, timeout=WAIT)
    assert "Rust stable" in pane.headline.text()
    box = pane.delete_template()
    assert "default template" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert pane.current_dialog() is None and pane.runner.wait_idle(WAIT)
    assert raw(demo_db, "SELECT count(*) FROM sandbox_templates")[0][0] == 6
    box = pane.delete_template()
    with qtbot.waitSignal(pane.action_finished, timeout=WAIT) as done:
        button(box, "Delete").click()
    assert done.args == ["delete", True]
    assert raw(demo_db, "SELECT count(*) FROM sandbox_templates WHERE id='tmpl-rust'")[0][0] == 0


def test_read_only_templates_offer_no_writes(qtbot, runner, settings, demo_db):
    pane = shown(qtbot, TemplatesPane(runner, settings=settings))
    store = open_store(demo_db, read_only=True)
    try:
        with qtbot.waitSignal(pane.model.first_page_loaded, timeout=WAIT):
            pane.set_store(store)
        pane.select_id("tmpl-node")
        assert not pane.create_action.isEnabled() and "read-only" in pane.create_action.toolTip()
        assert pane.create_sandbox() is None
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_a_hidden_pane_loads_when_shown(qtbot, runner, settings, demo_db):
    pane = WorkflowsPane(runner, settings=settings)
    qtbot.addWidget(pane)
    store = open_store(demo_db, read_only=True)
    try:
        pane.set_store(store)
        assert runner.is_idle() and pane.model.rowCount() == 0
        with qtbot.waitSignal(pane.model.first_page_loaded, timeout=WAIT):
            pane.show()
        assert pane.model.rowCount() > 0
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_maintenance_shows_the_cache_and_clears_it_after_asking(qtbot, runner, settings, demo_db, tmp_path):
    settings.setValue("maintenance/backup_dir", str(tmp_path / "backups"))
    pane = shown(qtbot, MaintenancePane(runner, settings=settings))
    store = open_store(demo_db)
    try:
        with qtbot.waitSignal(pane.stats_loaded, timeout=WAIT):
            pane.set_store(store)
        qtbot.waitUntil(runner.is_idle, timeout=WAIT)
        entries = raw(demo_db, "SELECT count(*) FROM file_content_cache")[0][0]
        assert entries > 0 and pane.cache_box.stats.entries == entries
        assert pane.cache_box.labels["Entries"].text().startswith(f"{entries} files")
        assert pane.cache_box.clear_button.isEnabled()
        pane.cache_box.clear_button.click()
        box = pane.current_dialog()
        assert isinstance(box, QMessageBox) and f"{entries} cached files" in box.text()
        box.button(QMessageBox.StandardButton.Cancel).click()
        assert runner.wait_idle(WAIT) and raw(demo_db, "SELECT count(*) FROM file_content_cache")[0][0] == entries
        box = pane.clear_cache()
        with qtbot.waitSignal(pane.stats_loaded, timeout=WAIT):
            button(box, "Clear cache").click()
        assert raw(demo_db, "SELECT count(*) FROM file_content_cache")[0][0] == 0
        assert pane.cache_box.stats.entries == 0 and "Cleared" in pane.cache_box.result.text()
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_workflow_runs_of_a_sandbox_from_the_main_window(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from sandbox_admin.gui.main_window import MainWindow
    from sandbox_admin.gui.panes.sandboxes import SandboxesPane

    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    try:
        window.pane(SandboxesPane).workflow_runs_requested.emit("sb-42")
        workflows = window.pane(WorkflowsPane)
        assert window.tabs.currentWidget() is workflows
        assert workflows.current_filter().sandbox_id == "sb-42"
        assert [window.tabs.tabText(i) for i in range(window.tabs.count())][-3:] == [
            "Templates", "Workflows", "Maintenance"]
    finally:
        window.shutdown()
