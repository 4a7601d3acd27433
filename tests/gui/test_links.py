"""Links between panes: a sandbox's files and metrics, a series' or a file's sandbox,
and back/forward (Alt+Left/Right) between the places visited."""

from __future__ import annotations

import sqlite3

import pytest

from sandbox_admin.gui.main_window import MainWindow

from .conftest import WAIT


@pytest.fixture
def window(qtbot, settings, go_db):
    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    with qtbot.waitSignal(w.open_finished, timeout=WAIT):
        w.open_database(go_db)
    w.runner.wait_idle(WAIT)
    yield w
    w.shutdown()


def _busiest_sandbox(db) -> str:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT sandbox_id FROM file_metadata WHERE deleted_at IS NULL "
                           "GROUP BY sandbox_id ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    finally:
        con.close()


def _select(qtbot, window, sid: str):
    sandboxes = window.panes[0]
    window.tabs.setCurrentWidget(sandboxes)
    qtbot.waitUntil(lambda: sandboxes.model.row_of(sid) is not None, timeout=WAIT)
    sandboxes.select_id(sid)
    qtbot.waitUntil(lambda: sandboxes.detail.current_id() == sid, timeout=WAIT)
    return sandboxes


def test_a_sandbox_links_to_its_files_and_back_and_forward(qtbot, window, go_db):
    sid = _busiest_sandbox(go_db)
    sandboxes = _select(qtbot, window, sid)
    files = next(p for p in window.panes if p.key == "files")
    sandboxes.detail.links["files"].click()
    assert window.current_pane() is files
    assert files.sandbox_edit.text() == sid  # the filter the link set is visible (and clearable)
    qtbot.waitUntil(lambda: not files.loading and files.results.topLevelItemCount() > 0, timeout=WAIT)
    con = sqlite3.connect(f"file:{go_db}?mode=ro", uri=True)
    theirs = {r[0] for r in con.execute("SELECT id FROM file_metadata WHERE sandbox_id = ?", (sid,))}
    con.close()
    assert set(files.row_ids()) <= theirs and files.row_ids()
    window.back_action.trigger()  # Alt+Left
    assert window.current_pane() is sandboxes and sandboxes.selected_id() == sid
    window.forward_action.trigger()  # Alt+Right
    assert window.current_pane() is files and files.sandbox_edit.text() == sid
    assert window.back_action.shortcut().toString() == "Alt+Left"


def test_a_sandbox_links_to_its_metrics_and_a_series_back_to_its_sandbox(qtbot, window, go_db):
    con = sqlite3.connect(f"file:{go_db}?mode=ro", uri=True)
    sid = con.execute("SELECT sandbox_id FROM metrics WHERE metric_name = 'cpu_usage' "
                      "AND aggregation_period = 'raw' LIMIT 1").fetchone()[0]
    con.close()
    sandboxes = _select(qtbot, window, sid)
    metrics = next(p for p in window.panes if p.key == "metrics")
    sandboxes.chart_metrics()
    assert window.current_pane() is metrics
    qtbot.waitUntil(lambda: metrics.answer is not None and not metrics.busy()
                    and metrics.current_sandbox() == sid, timeout=WAIT)
    assert {s.sandbox_id for s in metrics.answer.series} == {sid}
    metrics.show_series_sandbox(0)
    assert window.current_pane() is sandboxes and sandboxes.selected_id() == sid
    window.back_action.trigger()
    assert window.current_pane() is metrics


def test_the_context_menu_and_the_audit_link(qtbot, window, go_db):
    sid = _busiest_sandbox(go_db)
    sandboxes = _select(qtbot, window, sid)
    assert [a.text() for a in (sandboxes.files_link, sandboxes.metrics_link, sandboxes.audit_link)] == [
        "Show Files", "Chart Metrics", "Audit Trail"]
    sandboxes.detail.tabs.setCurrentIndex(1)
    sandboxes.audit_link.trigger()
    assert sandboxes.detail.tabs.currentWidget() is sandboxes.detail.audit
    sandboxes.files_link.trigger()
    assert window.current_pane().key == "files"


def test_a_file_links_to_its_sandbox(qtbot, window, go_db):
    files = next(p for p in window.panes if p.key == "files")
    window.tabs.setCurrentWidget(files)
    qtbot.waitUntil(lambda: not files.loading and files.results.topLevelItemCount() > 0, timeout=WAIT)
    file_id = files.row_ids()[0]
    con = sqlite3.connect(f"file:{go_db}?mode=ro", uri=True)
    sid = con.execute("SELECT sandbox_id FROM file_metadata WHERE id = ?", (file_id,)).fetchone()[0]
    con.close()
    files.show_sandbox(sid)
    sandboxes = window.panes[0]
    assert window.current_pane() is sandboxes
    qtbot.waitUntil(lambda: sandboxes.selected_id() == sid, timeout=WAIT)
