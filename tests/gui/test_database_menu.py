"""The Database menu and the keys that work from any pane."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from sandbox_admin.gui.main_window import MainWindow
from sandbox_admin.storage import verify_backup

from .conftest import WAIT


@pytest.fixture
def window(qtbot, settings):
    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    w.activateWindow()  # shortcuts go to the active window
    qtbot.waitUntil(w.isActiveWindow, timeout=WAIT)
    yield w
    w.shutdown()


def _open(qtbot, window, path, read_only=False) -> None:
    with qtbot.waitSignal(window.open_finished, timeout=WAIT):
        window.open_database(path, read_only=read_only)
    window.runner.wait_idle(WAIT)
    window.activateWindow()  # (the offscreen platform deactivates it while the panes reload)
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT)


def test_the_database_menu_holds_the_maintenance_actions(qtbot, window, go_db):
    _open(qtbot, window, go_db)
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Database")
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["Back &Up Now", "&Restore…", "&Verify a Backup…", "Open a Backup Read-&Only…",
                     "Check &Integrity", "&Vacuum", "O&ptimize", "&Upgrade Schema…", "&Statistics"]
    assert all(a.isEnabled() for a in menu.actions() if not a.isSeparator())


def test_ctrl_b_backs_up_from_any_pane(qtbot, window, go_db):
    _open(qtbot, window, go_db)
    window.tabs.setCurrentIndex(0)  # Sandboxes
    pane = window.maintenance
    with qtbot.waitSignal(pane.action_finished, timeout=WAIT,
                          check_params_cb=lambda name, ok: name == "backup" and ok):
        qtbot.keyClick(window.panes[0].table, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    backups = list(pane.backups_folder().glob("sandbox_runner_*.db"))
    assert len(backups) == 1 and verify_backup(backups[0]).ok
    assert window.tabs.currentIndex() == 0  # stayed where the person was…
    told = [m.text() for m in window.message_bar.messages() if m.text().startswith("Backed up to")]
    assert told and str(backups[0]) in told[0]  # …and was told


def test_ctrl_numbers_and_ctrl_tab_switch_panes(qtbot, window, go_db):
    _open(qtbot, window, go_db)
    for i in range(window.tabs.count()):
        qtbot.keyClick(window, Qt.Key(Qt.Key.Key_1 + i), Qt.KeyboardModifier.ControlModifier)
        assert window.tabs.currentIndex() == i
    window.next_pane_action.trigger()
    assert window.tabs.currentIndex() == 0  # wraps around
    window.previous_pane_action.trigger()
    assert window.tabs.currentIndex() == window.tabs.count() - 1


def test_write_actions_are_disabled_on_a_read_only_database_with_the_reason(qtbot, window, go_db):
    _open(qtbot, window, go_db, read_only=True)
    for act in (window.restore_action, window.vacuum_action, window.optimize_action):
        assert not act.isEnabled() and "read-only" in act.toolTip()
    assert window.backup_action.isEnabled() and window.check_action.isEnabled()


def test_restore_of_a_file_outside_the_list_asks_first(qtbot, window, go_db, tmp_path):
    _open(qtbot, window, go_db)
    outside = window.store.backups.create(tmp_path / "elsewhere").path
    pane = window.maintenance
    pane.backups.restore_path(outside)
    qtbot.waitUntil(lambda: isinstance(pane.current_dialog(), QMessageBox), timeout=WAIT)
    box = pane.current_dialog()
    assert outside.name in box.text() and "safety backup" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert window.runner.wait_idle(WAIT) and pane.last_restore is None


def test_confirmations_fade_problems_stay_and_the_panes_do_not_move(qtbot, window, go_db, monkeypatch):
    from sandbox_admin.gui import message_bar

    monkeypatch.setattr(message_bar, "FADE_AFTER_MS", 200)
    _open(qtbot, window, go_db)
    pane = window.panes[0]
    qtbot.waitUntil(lambda: pane.isVisible(), timeout=WAIT)
    button = pane.table.mapTo(window, pane.table.rect().topLeft())
    done = window.message_bar.show_message("info", "Backed up to x.db")
    problem = window.message_bar.show_message("error", "Something broke", "detail")
    offer = window.message_bar.show_message("info", "Upgrade?", action="Upgrade", callback=lambda: None)
    qtbot.wait(50)
    assert pane.table.mapTo(window, pane.table.rect().topLeft()) == button  # nothing moved down
    qtbot.waitUntil(lambda: done not in window.message_bar.messages(), timeout=3000)
    assert problem in window.message_bar.messages() and offer in window.message_bar.messages()


def test_tab_reaches_the_pane_s_controls_and_its_table(qtbot, window, go_db):
    from PySide6.QtWidgets import QApplication

    _open(qtbot, window, go_db)
    pane = window.panes[0]
    pane.filter_edit.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is pane.filter_edit, timeout=WAIT)
    seen = []
    for _ in range(40):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        widget = QApplication.focusWidget()
        assert widget is not None and widget.isVisible()  # never into a hidden control
        seen.append(widget)
    assert pane.table in seen and pane.deleted_check in seen and pane.only_deleted_check in seen
    # the order follows the screen: the filters before the table
    assert seen.index(pane.only_deleted_check) < seen.index(pane.table)
    assert pane.table.focusPolicy() & Qt.FocusPolicy.TabFocus
