"""``sandbox-admin --smoke``: does this installation work, start to finish?

Opens a fresh demo database in a temporary folder, shows every pane once (rendered
offscreen when there is no display), runs one job of each kind through the job runner
- a read, a write with progress (a backup), an exclusive one (a checkpoint) - and quits
with 0 when all of it worked. Meant for packagers: a wheel, a PyInstaller bundle or a
distribution package is checked with one command, no display needed
(``QT_QPA_PLATFORM=offscreen``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, TextIO

from PySide6.QtCore import QCoreApplication, QEventLoop

from .. import __version__
from ..storage import errors
from . import main_window
from .app import application

#: Small: the smoke run checks that things work, not how fast.
SMOKE_DEMO = {"sandboxes": 12, "files": 40, "metrics": 3000}
TIMEOUT_S = 120.0


class SmokeFailed(Exception):
    pass


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SmokeFailed(f"timed out waiting for {what}")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)


def _run_job(window: Any, fn: Callable[[Any], Any], name: str, **kwargs: Any) -> Any:
    outcome: dict[str, Any] = {}
    window.runner.submit(fn, name=name, on_result=lambda r: outcome.setdefault("ok", r),
                         on_error=lambda e: outcome.setdefault("error", e), **kwargs)
    _wait(lambda: outcome, f"the job {name!r}")
    if "error" in outcome:
        raise SmokeFailed(f"{name}: {outcome['error']}")
    return outcome["ok"]


def run_smoke(out: TextIO = sys.stdout) -> int:
    """Run the checks, one line each on ``out``; 0 when every one passed."""
    app = application()
    steps: list[str] = []

    def step(text: str) -> None:
        steps.append(text)
        print(f"ok  {text}", file=out, flush=True)

    with tempfile.TemporaryDirectory(prefix="sandbox-admin-smoke-") as tmp:
        options = dict(main_window.DEMO_OPTIONS)
        main_window.DEMO_OPTIONS.clear()
        main_window.DEMO_OPTIONS.update(SMOKE_DEMO)
        window = main_window.MainWindow()
        try:
            window.resize(1280, 800)
            window.show()
            opened: list[bool] = []
            window.open_finished.connect(lambda _path, ok: opened.append(ok))
            window.open_demo()
            _wait(lambda: opened, "the demo database to open")
            if not opened[0] or window.store is None:
                raise SmokeFailed("the demo database did not open")
            step(f"sandbox-admin {__version__}: demo database created and opened")
            for index in range(window.tabs.count()):
                window.tabs.setCurrentIndex(index)
                _wait(window.runner.is_idle, f"the {window.tabs.tabText(index)} pane")
                image = window.grab()
                if image.isNull() or image.width() < 100:
                    raise SmokeFailed(f"the {window.tabs.tabText(index)} pane did not render")
                step(f"{window.tabs.tabText(index)} pane shown ({image.width()}x{image.height()})")
            counts = _run_job(window, lambda ctx: ctx.store.row_counts(), "count rows")
            step(f"read job: {counts.get('sandboxes', 0)} sandboxes, {counts.get('metrics', 0)} metric samples")
            progress: list[int] = []
            backup = _run_job(window, lambda ctx: ctx.store.backups.create(
                Path(tmp) / "backups", progress=lambda phase, done, total: ctx.report(done, total, phase)),
                "back up", on_progress=lambda done, total, msg: progress.append(done))
            if not backup.verified:
                raise SmokeFailed(f"the backup {backup.path} did not verify")
            step(f"write job with progress: verified backup {backup.path.name} ({len(progress)} reports)")
            result = _run_job(window, lambda ctx: ctx.store.maintenance.checkpoint("PASSIVE"),
                              "checkpoint", exclusive=True)
            step(f"exclusive job: checkpoint ({result.as_dict() if hasattr(result, 'as_dict') else result})")
        except (SmokeFailed, errors.StorageError) as exc:
            print(f"FAIL {exc}", file=out, flush=True)
            return 1
        finally:
            window.shutdown()
            window.close()
            main_window.DEMO_OPTIONS.clear()
            main_window.DEMO_OPTIONS.update(options)
            app.processEvents()
    print(f"smoke test passed: {len(steps)} checks", file=out, flush=True)
    return 0
