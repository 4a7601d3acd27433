"""Fixtures shared by the pane tests: a real JobRunner and an isolated settings file."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from sandbox_admin.gui.jobs import JobRunner

#: How long a test waits for a worker's answer (ms): generous for a loaded 2-core machine.
WAIT = 15000


@pytest.fixture
def runner(qtbot):
    r = JobRunner()
    yield r
    r.cancel_all()
    assert r.wait_idle(WAIT)


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
