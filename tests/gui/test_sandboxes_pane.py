"""The Sandboxes pane on a copy of the Go server's database, through the UI.

Real store, real JobRunner threads, offscreen Qt. Confirmation dialogs are answered
by clicking their buttons; waiting is done with qtbot.waitUntil / waitSignal.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QMessageBox

from sandbox_admin.gui.models.sandboxes import COLUMNS, ID_ROLE, column_index
from sandbox_admin.gui.panes.sandbox_dialogs import CheckpointDialog, PurgeDialog
from sandbox_admin.gui.panes.sandboxes import SandboxesPane
from sandbox_admin.gui.widgets.badges import BADGES_ROLE
from sandbox_admin.storage import open_store
from sandbox_admin.storage.fields import parse_timestamp

GREETER = "037c4d7b-bb04-47d1-a2c6-4981855ad868"  # environment.GREETING has \u003cb\u003e escapes
WAIT = 15000


@pytest.fixture
def pane(qtbot, runner, settings):
    p = SandboxesPane(runner, settings=settings)
    qtbot.addWidget(p)
    p.resize(1500, 800)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.set_store(None)
    runner.wait_idle(WAIT)


def wait_loaded(qtbot, pane: SandboxesPane) -> None:
    qtbot.waitUntil(lambda: pane.model.loaded_all and pane.model.total_exact, timeout=WAIT)


@pytest.fixture
def opened(qtbot, pane, go_db, runner):
    store = open_store(go_db)
    pane.set_store(store)
    wait_loaded(qtbot, pane)
    yield pane, store
    pane.set_store(None)
    runner.wait_idle(WAIT)
    store.close()


def raw(go_db: Path, sql: str, *params) -> list[tuple]:
    con = sqlite3.connect(go_db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def ids(pane: SandboxesPane) -> list[str]:
    return [r.id for r in pane.model.rows()]


def select(qtbot, pane: SandboxesPane, sandbox_id: str) -> None:
    with qtbot.waitSignal(pane.details_loaded, timeout=WAIT,
                          check_params_cb=lambda sid: sid == sandbox_id):
        assert pane.select_id(sandbox_id)


def answer(qtbot, pane: SandboxesPane, button_text: str) -> None:
    """Click ``button_text`` in the confirmation the pane has open."""
    qtbot.waitUntil(lambda: isinstance(pane.current_dialog(), QMessageBox), timeout=WAIT)
    box = pane.current_dialog()
    button = next(b for b in box.buttons() if b.text() == button_text)
    button.click()


def click_header(qtbot, pane: SandboxesPane, key: str) -> None:
    header = pane.table.horizontalHeader()
    col = column_index(key)
    x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def test_first_page_headline_and_deleted_hidden(qtbot, opened, go_db, go_counts):
    pane, _ = opened
    live = go_counts["sandboxes"] - go_counts["sandboxes_soft_deleted"]
    assert pane.model.rowCount() == live
    assert sorted(ids(pane)) == sorted(r[0] for r in raw(go_db, "SELECT id FROM sandboxes WHERE deleted_at IS NULL"))
    assert f"<b>{live}</b> sandboxes" in pane.headline.text()
    assert "sorted by created ↓" in pane.headline.text()
    # Newest first, by instant (the fixture mixes offsets and formats).
    created = [r.created for r in pane.model.rows()]
    assert created == sorted(created, reverse=True)
    # Status badge and local time with UTC tooltip.
    idx = pane.model.index(pane.model.row_of(GREETER), column_index("status"))
    assert idx.data(BADGES_ROLE)[0][0] == "failed"
    created_idx = idx.siblingAtColumn(column_index("created"))
    assert "UTC" in created_idx.data(Qt.ItemDataRole.ToolTipRole)
    # Facets: counts per status of the non-deleted rows.
    qtbot.waitUntil(lambda: "running" in pane.facet_buttons, timeout=WAIT)
    assert pane.facet_buttons["running"].text().endswith(" 11")
    # Show deleted: the soft-deleted rows appear, greyed, struck and with a badge.
    pane.deleted_check.setChecked(True)
    qtbot.waitUntil(lambda: pane.model.rowCount() == go_counts["sandboxes"] and pane.model.total_exact,
                    timeout=WAIT)
    deleted = next(r for r in pane.model.rows() if r.is_deleted)
    row = pane.model.row_of(deleted.id)
    id_idx = pane.model.index(row, column_index("id"))
    assert id_idx.data(Qt.ItemDataRole.FontRole).strikeOut()
    assert id_idx.data(Qt.ItemDataRole.ForegroundRole).color() == QColor("#9e9e9e")
    assert [b[0] for b in id_idx.siblingAtColumn(column_index("status")).data(BADGES_ROLE)][-1] == "deleted"
    assert "soft-deleted ones included" in pane.headline.text()


def test_filter_by_text_status_and_created(qtbot, opened, go_db):
    pane, _ = opened
    pane.focus_filter()
    qtbot.keyClicks(pane.filter_edit, "SANDBOX-2236")  # case-insensitive, container id
    qtbot.waitUntil(lambda: pane.model.query.flt.text == "SANDBOX-2236" and pane.model.loaded_all,
                    timeout=WAIT)
    assert ids(pane) == ["2236cd4f-24ab-47df-866b-aa56038367ad"]
    assert "id or container contains “SANDBOX-2236”" in pane.headline.text()
    assert "<b>1</b> sandbox " in pane.headline.text()
    pane.filter_edit.clear()
    qtbot.waitUntil(lambda: pane.model.query.flt.text == "" and pane.model.loaded_all, timeout=WAIT)
    qtbot.waitUntil(lambda: "stopped" in pane.facet_buttons, timeout=WAIT)
    pane.facet_buttons["stopped"].click()
    qtbot.waitUntil(lambda: pane.model.query.flt.statuses == {"stopped"} and pane.model.loaded_all
                    and pane.model.total_exact, timeout=WAIT)
    assert {r.status for r in pane.model.rows()} == {"stopped"}
    assert pane.model.rowCount() == 10  # 12 stopped, 2 of them soft-deleted
    assert "status is stopped" in pane.headline.text()
    pane.facet_buttons["running"].click()  # facets combine (or)
    qtbot.waitUntil(lambda: pane.model.query.flt.statuses == {"stopped", "running"}
                    and pane.model.loaded_all, timeout=WAIT)
    assert pane.model.rowCount() == 21
    # Created range preset: the store compares instants (the fixture mixes offsets).
    pane.set_status_filter(set())
    pane.created_combo.setCurrentText("Last 24 hours")
    qtbot.waitUntil(lambda: pane.model.query.flt.created_from is not None and pane.model.loaded_all
                    and not pane.model.query.flt.statuses, timeout=WAIT)
    cutoff = pane.model.query.flt.created_from
    assert abs((datetime.now(timezone.utc) - cutoff) - timedelta(hours=24)) < timedelta(minutes=1)
    expected = {r[0] for r in raw(go_db, "SELECT id, created_at FROM sandboxes WHERE deleted_at IS NULL")
                if parse_timestamp(r[1]) >= cutoff}
    assert set(ids(pane)) == expected
    assert "created since" in pane.headline.text()
    pane.created_combo.setCurrentText("Custom range…")
    assert pane.created_from.isVisible() and pane.created_to.isVisible()


def test_sort_by_header_click(qtbot, opened):
    pane, _ = opened
    click_header(qtbot, pane, "id")
    qtbot.waitUntil(lambda: pane.model.query.sort == "id" and pane.model.loaded_all, timeout=WAIT)
    assert not pane.model.query.descending  # text columns start ascending
    assert ids(pane) == sorted(ids(pane))
    click_header(qtbot, pane, "id")
    qtbot.waitUntil(lambda: pane.model.query.descending and pane.model.loaded_all, timeout=WAIT)
    assert ids(pane) == sorted(ids(pane), reverse=True)
    click_header(qtbot, pane, "updated")
    qtbot.waitUntil(lambda: pane.model.query.sort == "updated_at" and pane.model.loaded_all,
                    timeout=WAIT)
    updated = [r.updated for r in pane.model.rows()]
    assert updated == sorted(updated, reverse=True)  # by instant, times start newest first
    assert pane.table.horizontalHeader().sortIndicatorSection() == column_index("updated")
    # A column the store cannot sort keeps the current order and says so.
    pane.columns.set_visible(column_index("network"), True)
    with qtbot.waitSignal(pane.message_requested, timeout=WAIT):
        click_header(qtbot, pane, "network")
    assert pane.model.query.sort == "updated_at"
    assert pane.table.horizontalHeader().sortIndicatorSection() == column_index("updated")


def test_details_json_tree_and_audit(qtbot, opened, go_db):
    pane, _ = opened
    select(qtbot, pane, GREETER)
    tree = pane.detail.json
    assert tree.value_text("environment.GREETING") == "héllo wörld ✓ <b>&</b>"
    assert "\\u0026" not in tree.item_for_path("environment.DATABASE_URL").text(1)
    assert tree.item_for_path("config.resources.memory_limit").text(1) == "1g"
    assert tree.item_for_path("recovery_data").text(1) == "null"
    audit_rows = raw(go_db, "SELECT action FROM audit_trail WHERE entity_id=? ORDER BY id DESC", GREETER)
    assert len(pane.detail.audit.entry_texts()) == len(audit_rows)
    assert "create" in pane.detail.audit.entry_texts()[-1]
    assert pane.detail.id_label.text() == GREETER
    assert pane.detail.badges.badges()[0][0] == "failed"
    assert pane.detail.tabs.tabText(0) == f"Audit trail ({len(audit_rows)})"


def test_soft_delete_and_recover_through_the_ui(qtbot, opened, go_db):
    pane, _ = opened
    target = "2236cd4f-24ab-47df-866b-aa56038367ad"
    before = pane.model.rowCount()
    select(qtbot, pane, target)
    assert pane.delete_action.isEnabled() and not pane.recover_action.isEnabled()
    # Del asks first; Cancel leaves everything as it was.
    pane.table.setFocus()
    pane.activateWindow()
    qtbot.keyClick(pane.table, Qt.Key.Key_Delete)
    answer(qtbot, pane, "Cancel")
    assert raw(go_db, "SELECT deleted_at FROM sandboxes WHERE id=?", target) == [(None,)]
    # Confirmed: the row leaves the list (deleted ones are hidden) and the count drops.
    with qtbot.waitSignal(pane.action_finished, timeout=WAIT,
                          check_params_cb=lambda name, ok: name == "soft_delete" and ok):
        qtbot.keyClick(pane.table, Qt.Key.Key_Delete)
        answer(qtbot, pane, "Soft delete")
    assert raw(go_db, "SELECT deleted_at IS NOT NULL FROM sandboxes WHERE id=?", target) == [(1,)]
    assert target not in ids(pane)
    qtbot.waitUntil(lambda: pane.model.total == before - 1 and pane.model.total_exact, timeout=WAIT)
    # Show deleted, select it: greyed, audit trail says delete, only Recover is offered.
    pane.deleted_check.setChecked(True)
    qtbot.waitUntil(lambda: pane.model.row_of(target) is not None and pane.model.loaded_all, timeout=WAIT)
    select(qtbot, pane, target)
    assert pane.model.row_at(pane.model.row_of(target)).is_deleted
    assert pane.detail.audit.entry_texts()[0].split("  ")[1].startswith("delete")
    assert [b[0] for b in pane.detail.badges.badges()] == ["running", "deleted"]
    assert pane.recover_action.isEnabled() and not pane.delete_action.isEnabled()
    with qtbot.waitSignal(pane.action_finished, timeout=WAIT,
                          check_params_cb=lambda name, ok: name == "recover" and ok):
        pane.recover_action.trigger()
    qtbot.waitUntil(lambda: pane.detail.audit.entry_texts()[0].split("  ")[1].startswith("recover"),
                    timeout=WAIT)
    assert not pane.model.row_at(pane.model.row_of(target)).is_deleted
    assert raw(go_db, "SELECT deleted_at FROM sandboxes WHERE id=?", target) == [(None,)]
    actions = [a for (a,) in raw(go_db, "SELECT action FROM audit_trail WHERE entity_id=? "
                                 "ORDER BY id DESC LIMIT 2", target)]
    assert actions[0] == "recover" and actions[1] in ("delete", "soft_delete")


def test_checkpoint_with_reason(qtbot, opened, go_db):
    pane, _ = opened
    target = "2236cd4f-24ab-47df-866b-aa56038367ad"
    select(qtbot, pane, target)
    n_before = pane.detail.checkpoints.topLevelItemCount()
    pane.checkpoint_action.trigger()
    qtbot.waitUntil(lambda: isinstance(pane.current_dialog(), CheckpointDialog), timeout=WAIT)
    dialog = pane.current_dialog()
    assert not dialog.ok.isEnabled()  # a reason is required
    qtbot.keyClicks(dialog.reason, "before <upgrade> & test")
    with qtbot.waitSignal(pane.action_finished, timeout=WAIT,
                          check_params_cb=lambda name, ok: name == "checkpoint" and ok):
        dialog.ok.click()
    qtbot.waitUntil(lambda: pane.detail.checkpoints.topLevelItemCount() == n_before + 1, timeout=WAIT)
    assert pane.detail.checkpoints.topLevelItem(0).text(1) == "before <upgrade> & test"
    assert "checkpoint" in pane.detail.audit.entry_texts()[0]
    recovery = json.loads(raw(go_db, "SELECT recovery_data FROM sandboxes WHERE id=?", target)[0][0])
    assert recovery["checkpoint_reason"] == "before <upgrade> & test"
    assert pane.detail.json.value_text("recovery_data.checkpoint_reason") == "before <upgrade> & test"


def test_version_conflict_offers_reload(qtbot, opened, go_db):
    pane, _ = opened
    target = "d4747ead-2313-4d50-8172-3470bf24a865"
    select(qtbot, pane, target)
    seen = pane.current_record().version
    other = open_store(go_db)  # another connection (think: the Go server) changes it
    try:
        other.sandboxes.update(target, seen, status="stopped")
    finally:
        other.close()
    with qtbot.waitSignal(pane.action_finished, timeout=WAIT,
                          check_params_cb=lambda name, ok: name == "soft_delete" and not ok):
        pane.delete_action.trigger()
        answer(qtbot, pane, "Soft delete")
    notice = pane.notice.find("conflict")
    assert pane.notice.isVisible() and notice is not None and notice.level == "warning"
    assert "changed elsewhere" in notice.text() and "not applied" in notice.text()
    assert raw(go_db, "SELECT deleted_at FROM sandboxes WHERE id=?", target) == [(None,)]
    with qtbot.waitSignal(pane.details_loaded, timeout=WAIT):
        notice.action_button.click()
    assert not pane.notice.isVisible() and pane.notice.find("conflict") is None
    assert pane.current_record().version == seen + 1
    assert pane.current_record().status == "stopped"
    row = pane.model.row_at(pane.model.row_of(target))
    assert row.status == "stopped" and row.version == seen + 1
    with qtbot.waitSignal(pane.action_finished, timeout=WAIT,
                          check_params_cb=lambda name, ok: name == "soft_delete" and ok):
        pane.delete_action.trigger()
        answer(qtbot, pane, "Soft delete")
    assert raw(go_db, "SELECT deleted_at IS NOT NULL FROM sandboxes WHERE id=?", target) == [(1,)]


def test_purge_deleted_older_than_n_days(qtbot, opened, go_db, go_counts):
    pane, _ = opened
    messages: list[tuple[str, str, str]] = []
    pane.message_requested.connect(lambda *m: messages.append(m))
    pane.deleted_check.setChecked(True)
    qtbot.waitUntil(lambda: pane.model.rowCount() == go_counts["sandboxes"], timeout=WAIT)
    deleted = sorted(r[0] for r in raw(go_db, "SELECT id FROM sandboxes WHERE deleted_at IS NOT NULL"))
    pane.purge_action.trigger()
    qtbot.waitUntil(lambda: isinstance(pane.current_dialog(), PurgeDialog), timeout=WAIT)
    dialog = pane.current_dialog()
    qtbot.waitUntil(lambda: "would be removed" in dialog.preview.text()
                    or "nothing to purge" in dialog.preview.text(), timeout=WAIT)
    assert "nothing to purge" in dialog.preview.text()  # deleted an hour before "now": not 30 days
    dialog.days.setValue(0)
    qtbot.waitUntil(lambda: "would be removed" in dialog.preview.text(), timeout=WAIT)
    assert f"<b>{len(deleted)}</b> sandboxes would be removed" in dialog.preview.text()
    dialog.ok.click()
    with qtbot.waitSignal(pane.action_finished, timeout=WAIT,
                          check_params_cb=lambda name, ok: name == "purge" and ok):
        answer(qtbot, pane, "Purge")
    assert sorted(pane.sandbox_actions.last_purged) == deleted
    assert raw(go_db, "SELECT count(*) FROM sandboxes WHERE deleted_at IS NOT NULL") == [(0,)]
    assert not set(deleted) & set(ids(pane))
    info = [m for m in messages if m[0] == "info" and m[1].startswith("Purged")]
    assert info and sorted(info[-1][2].splitlines()) == deleted  # what was removed, in the detail


def test_read_only_store_disables_actions_with_reason(qtbot, pane, go_db, runner):
    store = open_store(go_db, read_only=True)
    try:
        pane.set_store(store)
        wait_loaded(qtbot, pane)
        select(qtbot, pane, GREETER)
        for act in pane.write_actions:
            assert not act.isEnabled()
            assert "read-only" in act.toolTip()
        pane.sandbox_actions.soft_delete()  # the shortcut path does nothing either
        assert pane.current_dialog() is None
        assert "read-only" in pane.headline.text()
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_columns_choose_and_persist(qtbot, runner, settings, go_db):
    first = SandboxesPane(runner, settings=settings)
    qtbot.addWidget(first)
    titles = first.columns.visible_titles()
    assert titles == [c.title for c in COLUMNS if c.visible]
    first.columns.set_visible(column_index("disk"), True)
    first.columns.set_visible(column_index("container"), False)
    first.table.horizontalHeader().moveSection(first.table.horizontalHeader().visualIndex(
        column_index("version")), 0)
    first.columns.save()
    second = SandboxesPane(runner, settings=settings)
    qtbot.addWidget(second)
    shown = second.columns.visible_titles()
    assert shown[0] == "Version" and "Disk" in shown and "Container" not in shown


def test_shortcuts_refresh_and_find(qtbot, opened, go_db):
    pane, _ = opened
    raw_con = sqlite3.connect(go_db)
    with raw_con:
        raw_con.execute("UPDATE sandboxes SET status='paused' WHERE id=?", (GREETER,))
    raw_con.close()
    pane.activateWindow()
    pane.table.setFocus()
    qtbot.keyClick(pane.table, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: pane.model.loaded_all and pane.model.row_of(GREETER) is not None
                    and pane.model.row_at(pane.model.row_of(GREETER)).status == "paused", timeout=WAIT)
    qtbot.waitUntil(lambda: "paused" in pane.facet_buttons, timeout=WAIT)
    qtbot.keyClick(pane.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert pane.filter_edit.hasFocus()
    assert pane.model.index(0, 0).data(ID_ROLE) == pane.model.row_at(0).id


def test_removed_elsewhere_is_said_and_the_list_refreshed(qtbot, opened, go_db):
    pane, _ = opened
    messages: list[tuple[str, str, str]] = []
    pane.message_requested.connect(lambda *m: messages.append(m))
    target = "2236cd4f-24ab-47df-866b-aa56038367ad"
    select(qtbot, pane, target)
    other = open_store(go_db)
    try:
        other.sandboxes.purge(target)
    finally:
        other.close()
    with qtbot.waitSignal(pane.action_finished, timeout=WAIT,
                          check_params_cb=lambda name, ok: name == "soft_delete" and not ok):
        pane.delete_action.trigger()
        answer(qtbot, pane, "Soft delete")
    assert any(level == "warning" and "no longer exists" in text for level, text, _ in messages)
    qtbot.waitUntil(lambda: pane.model.loaded_all and target not in ids(pane), timeout=WAIT)


def test_rapid_filter_changes_keep_only_the_last_answer(qtbot, opened):
    pane, _ = opened
    for text in ("sandbox-0", "sandbox-1", "sandbox-2", "sandbox-d"):
        pane.filter_edit.setText(text)
        pane.filter_edit.returnPressed.emit()  # apply now, without the debounce
    qtbot.waitUntil(lambda: pane.model.query.flt.text == "sandbox-d" and pane.model.loaded_all
                    and pane.model.total_exact, timeout=WAIT)
    shown = ids(pane)
    assert shown and len(shown) == len(set(shown))
    assert all(r.container.lower().startswith("sandbox-d") or "sandbox-d" in r.id
               for r in pane.model.rows())
    assert pane.model.total == len(shown)


def go_counts_deleted(db) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM sandboxes WHERE deleted_at IS NOT NULL").fetchone()[0]
    finally:
        con.close()


def test_only_deleted_facets_keep_their_order_and_ctrl_end_keeps_the_column(qtbot, opened, go_db):
    from PySide6.QtCore import Qt as _Qt

    pane, store = opened
    qtbot.waitUntil(lambda: bool(pane.facet_buttons), timeout=WAIT)
    order = list(pane.facet_buttons)
    # filtering by text changes the counts but not the chips' places
    pane.filter_edit.setText("a")
    pane._apply_filter()
    qtbot.waitUntil(lambda: pane.runner.is_idle(), timeout=WAIT)
    pane._facet_key = None
    pane._refresh_facets()
    qtbot.waitUntil(lambda: pane.runner.is_idle(), timeout=WAIT)
    now = list(pane.facet_buttons)
    assert now == [s for s in order if s in now]
    pane.filter_edit.setText("")
    pane._apply_filter()
    # only the soft-deleted ones
    pane.only_deleted_check.setChecked(True)
    qtbot.waitUntil(lambda: pane.model.loaded_all and pane.model.total_exact and pane.runner.is_idle(),
                    timeout=WAIT)
    rows = pane.model.rows()
    assert rows and all(r.is_deleted for r in rows)
    assert len(rows) == go_counts_deleted(go_db)
    pane.only_deleted_check.setChecked(False)
    qtbot.waitUntil(lambda: pane.model.loaded_all and pane.runner.is_idle(), timeout=WAIT)
    # Ctrl+End: the last row, in the same (first) column
    pane.table.setCurrentIndex(pane.model.index(0, 0))
    pane.table.setFocus()
    qtbot.keyClick(pane.table, _Qt.Key.Key_End, _Qt.KeyboardModifier.ControlModifier)
    current = pane.table.currentIndex()
    assert current.row() == pane.model.rowCount() - 1 and current.column() == 0
    assert pane.table.horizontalScrollBar().value() == 0
