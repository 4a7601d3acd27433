"""Preferences: kept in the settings file, applied at once (no restart)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from sandbox_admin.gui import display
from sandbox_admin.gui.main_window import MainWindow
from sandbox_admin.gui.preferences import KEYS, Preferences, PreferencesDialog
from sandbox_admin.gui.theme import apply_theme, is_dark

from .conftest import WAIT


@pytest.fixture
def window(qtbot, settings):
    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    yield w
    w.shutdown()
    apply_theme(QApplication.instance(), "system")
    display.set_time_zone("local")


def _open(qtbot, window, path) -> None:
    with qtbot.waitSignal(window.open_finished, timeout=WAIT):
        window.open_database(path)
    window.runner.wait_idle(WAIT)


def test_preferences_round_trip_through_the_settings_file(settings):
    prefs = Preferences(backup_dir="/tmp/b", auto_enabled=True, auto_hours=6, keep_last=3,
                        keep_daily=7, keep_weekly=4, page_size=200, time_zone="utc", theme="dark")
    prefs.save(settings)
    assert Preferences.load(settings) == prefs
    assert settings.value(KEYS["keep_last"]) is not None


def test_a_hand_edited_settings_file_falls_back_to_defaults(settings):
    settings.setValue(KEYS["page_size"], "lots")
    settings.setValue(KEYS["theme"], "purple")
    settings.setValue(KEYS["auto_hours"], "100000")
    prefs = Preferences.load(settings)
    assert prefs.page_size == 50 and prefs.theme == "system" and prefs.auto_hours == 24 * 30


def test_ctrl_comma_opens_the_dialog_and_ok_applies_everything(qtbot, window, go_db):
    _open(qtbot, window, go_db)
    assert window.prefs_action.shortcut().toString() == "Ctrl+,"
    window.prefs_action.trigger()
    dialog = window.preferences_dialog
    assert isinstance(dialog, PreferencesDialog) and dialog.isVisible()
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.time_zone.setCurrentIndex(dialog.time_zone.findData("utc"))
    dialog.page_size.setValue(120)
    dialog.keep_daily.setValue(7)
    dialog.accept()
    window.runner.wait_idle(WAIT)
    # applied at once
    assert is_dark(QApplication.instance().palette())
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window).lightness() < 80
    when = datetime(2026, 11, 26, 1, 35, 19, tzinfo=timezone.utc)
    assert display.local_time(when) == "2026-11-26 01:35:19"
    assert window.pane_by_key("files").page_size == 120  # Files
    assert window.panes[0].model.first_page == 120  # Sandboxes
    assert window.pane_by_key("metrics").date_axis.utcOffset == 0  # Metrics axis in UTC
    # kept for the next start, and the Maintenance pane's schedule uses the retention
    again = Preferences.load(window.settings)
    assert (again.theme, again.time_zone, again.page_size, again.keep_daily) == ("dark", "utc", 120, 7)
    assert window.maintenance.backups.schedule().policy.keep_daily == 7


def test_apply_keeps_the_dialog_open_and_light_is_light(qtbot, window):
    dialog = window.show_preferences()
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.buttons.button(dialog.buttons.StandardButton.Apply).click()
    assert dialog.isVisible() and is_dark()
    dialog.theme.setCurrentIndex(dialog.theme.findData("light"))
    dialog.buttons.button(dialog.buttons.StandardButton.Apply).click()
    assert not is_dark()
    dialog.reject()


def test_the_backup_folder_set_in_preferences_is_the_maintenance_panes(qtbot, window, tmp_path):
    dialog = window.show_preferences()
    dialog.folder_edit.setText(str(tmp_path / "elsewhere"))
    dialog.auto_hours.setValue(6)
    dialog.accept()
    pane = window.maintenance
    assert pane.backups_folder() == tmp_path / "elsewhere"
    assert pane.auto_hours.value() == 6
