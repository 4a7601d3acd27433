"""The Metrics pane and a read-only copy of the Go fixture, for the Metrics pane's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from sandbox_admin.gui.panes.metrics import MetricsPane
from sandbox_admin.storage import open_store

from .conftest import WAIT


@pytest.fixture
def pane(qtbot, runner, tmp_path: Path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    p = MetricsPane(runner, settings=settings)
    qtbot.addWidget(p)
    p.resize(1300, 800)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.set_store(None)
    runner.wait_idle(WAIT)


@pytest.fixture
def store(go_db):
    s = open_store(go_db, read_only=True)
    yield s
    s.close()
