"""Render the app's panes offscreen to PNG files in resources/screenshots/.

    python packaging/screenshots.py            # every shot
    python packaging/screenshots.py sandboxes  # only these

Each shot is a function registered with ``@shot("name")`` that gets the output
folder and a scratch folder and returns the PNG paths it wrote. Shots work on copies
of the Go fixture (or generated data), never on a real database.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

OUT = ROOT / "resources" / "screenshots"
ShotFn = Callable[[Path, Path], list[Path]]
SHOTS: dict[str, ShotFn] = {}


def shot(name: str) -> Callable[[ShotFn], ShotFn]:
    def register(fn: ShotFn) -> ShotFn:
        SHOTS[name] = fn
        return fn

    return register


# -- helpers shared by shots ------------------------------------------------------------------------
def shared_fixture() -> Path:
    """The Go server's own database (a copy kept with the tests)."""
    return ROOT / "tests" / "fixtures" / "go_sandboxrunner_v6.db"


def fixture_copy(tmp: Path) -> Path:
    target = tmp / "sandbox_runner.db"
    shutil.copyfile(shared_fixture(), target)
    target.chmod(0o600)
    return target


def settle(condition: Callable[[], bool] = lambda: True, timeout_s: float = 15.0) -> None:
    """Run the event loop until ``condition()`` (jobs answered, layouts done)."""
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("screenshot state not reached in time")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
    for _ in range(5):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def save(widget: QWidget, path: Path) -> Path:
    settle()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    return path


def scratch_settings(tmp: Path) -> QSettings:
    return QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)


# -- the Sandboxes pane ----------------------------------------------------------------------------------
@shot("sandboxes")
def sandboxes_shots(out: Path, tmp: Path) -> list[Path]:
    from sandbox_admin.gui.jobs import JobRunner
    from sandbox_admin.gui.panes.sandboxes import SandboxesPane
    from sandbox_admin.storage import open_store

    db = fixture_copy(tmp)
    runner = JobRunner()
    pane = SandboxesPane(runner, settings=scratch_settings(tmp))
    pane.resize(1600, 900)
    pane.show()
    store = open_store(db)
    written: list[Path] = []
    try:
        pane.set_store(store)
        pane.deleted_check.setChecked(True)  # soft-deleted rows visible, greyed and struck
        settle(lambda: pane.model.loaded_all and pane.model.total_exact and bool(pane.facet_buttons))

        # 1. A sandbox with an update in its audit trail: JSON tree + old → new diff.
        updated = "52315d82-2336-4395-be68-8e924ffe3713"
        pane.select_id(updated)
        settle(lambda: pane.detail.current_id() == updated)
        audit = pane.detail.audit
        for i in range(audit.topLevelItemCount()):  # open the first update entry
            item = audit.topLevelItem(i)
            item.setExpanded(" update" in item.text(0))
        written.append(save(pane, out / "sandboxes.png"))

        # 2. A soft-deleted sandbox selected.
        deleted = next(r.id for r in pane.model.rows() if r.is_deleted)
        pane.select_id(deleted)
        settle(lambda: pane.detail.current_id() == deleted)
        written.append(save(pane, out / "sandboxes-deleted.png"))

        # 3. Filtered by a status facet, a version conflict notice shown.
        pane.set_status_filter({"running"})
        settle(lambda: pane.model.loaded_all and pane.model.total_exact)
        first = pane.model.row_at(0).id
        pane.select_id(first)
        settle(lambda: pane.detail.current_id() == first)
        from sandbox_admin.storage import errors

        pane.sandbox_actions._show_conflict("Soft delete", first, errors.VersionConflict(
            "changed elsewhere", current=pane.current_record()))
        written.append(save(pane, out / "sandboxes-conflict.png"))
    finally:
        pane.set_store(None)
        runner.wait_idle(20000)
        store.close()
        pane.close()
    return written


# -- the main window (app shell) -------------------------------------------------------------------
DEMO_NOW = "2026-11-26 12:00:00"


def _main_window(tmp: Path):
    from sandbox_admin.gui.app import application
    from sandbox_admin.gui.main_window import MainWindow

    application()  # name, icon
    window = MainWindow(settings=scratch_settings(tmp))
    window.resize(1400, 860)
    window.show()
    return window


def _open(window, path: Path, **kwargs) -> None:
    done: list[bool] = []
    window.open_finished.connect(lambda _p, ok: done.append(ok))
    window.open_database(path, **kwargs)
    settle(lambda: bool(done) and window.runner.is_idle(), timeout_s=90)  # a demo takes a while
    pane = window.current_pane()
    model = getattr(pane, "model", None)
    if model is not None and hasattr(model, "total_exact"):
        settle(lambda: bool(model.total_exact) and window.runner.is_idle())


@shot("main-window")
def main_window_shots(out: Path, tmp: Path) -> list[Path]:
    from sandbox_admin.gui.about import AboutDialog
    from sandbox_admin.storage import parse_timestamp

    written: list[Path] = []
    window = _main_window(tmp)
    try:
        # 1. First run: the demo database is created and opened, and the window says so.
        demo_opts = {"now": parse_timestamp(DEMO_NOW)}
        _open(window, tmp / "sandbox_runner.db", demo=demo_opts)
        written.append(save(window, out / "main-window.png"))

        # 2. The Go server's v6 database: the upgrade offer, an outside change, an error
        #    with its details open, and an exclusive job waiting in the status bar.
        _open(window, fixture_copy(tmp))
        window._database_changed("another program changed this database")
        bad = tmp / "notes.db"
        bad.write_text("not a database\n")
        _open(window, bad)
        error = window.message_bar.find("open")
        if error is not None:
            error.details_button.setChecked(True)
        import threading

        release = threading.Event()
        window.runner.submit(lambda ctx: release.wait(10), name="Load sandboxes")
        window.runner.submit(lambda ctx: None, name="Vacuum", exclusive=True)
        settle(lambda: window.status_bar.jobs.busy.isVisible(), timeout_s=5)
        written.append(save(window, out / "main-window-messages.png"))
        release.set()
        settle(lambda: window.runner.is_idle())

        # 3. About.
        about = AboutDialog(window)
        about.show()
        written.append(save(about, out / "about.png"))
        about.close()
    finally:
        window.shutdown()
        window.close()
    return written


@shot("sandboxes-demo")
def sandboxes_demo_shot(out: Path, tmp: Path) -> list[Path]:
    """The demo database (resources filled in), with the resource columns chosen."""
    from sandbox_admin.demo.generator import create_demo
    from sandbox_admin.gui.jobs import JobRunner
    from sandbox_admin.gui.models.sandboxes import column_index
    from sandbox_admin.gui.panes.sandboxes import SandboxesPane
    from sandbox_admin.storage import open_store

    db = tmp / "demo.db"
    create_demo(db, files=0, metrics=0)
    runner = JobRunner()
    pane = SandboxesPane(runner, settings=scratch_settings(tmp))
    pane.resize(1600, 900)
    pane.show()
    store = open_store(db)
    try:
        for key, on in (("container", False), ("updated", False), ("disk", True), ("network", True)):
            pane.columns.set_visible(column_index(key), on)
        pane.set_store(store)
        settle(lambda: pane.model.total_exact and bool(pane.facet_buttons) and pane.model.rowCount() > 0)
        busy = max(pane.model.rows(), key=lambda r: r.memory)
        pane.select_id(busy.id)
        settle(lambda: pane.detail.current_id() == busy.id)
        return [save(pane, out / "sandboxes-resources.png")]
    finally:
        pane.set_store(None)
        runner.wait_idle(20000)
        store.close()
        pane.close()


# -- the Metrics pane --------------------------------------------------------------------------------------
@shot("metrics")
def metrics_shot(out: Path, tmp: Path) -> list[Path]:
    """cpu_usage of every sandbox over its whole extent, the crosshair at one instant."""
    from sandbox_admin.gui.jobs import JobRunner
    from sandbox_admin.gui.panes.metrics import MetricsPane
    from sandbox_admin.storage import open_store

    db = fixture_copy(tmp)
    runner = JobRunner()
    pane = MetricsPane(runner, settings=scratch_settings(tmp))
    pane.resize(1600, 900)
    pane.show()
    store = open_store(db, read_only=True)
    try:
        pane.set_store(store)
        settle(lambda: pane.names_list.count() > 0)
        pane.select_metric("cpu_usage")
        settle(lambda: pane.answer is not None and not pane.busy() and runner.is_idle())
        x0, x1 = pane.visible_x_range()
        x = x0 + (x1 - x0) * 0.62
        vb = pane.plot.getViewBox()
        scene_pos = vb.mapViewToScene(vb.mapToView(vb.rect().center()))
        scene_pos.setX(vb.mapViewToScene(pg_point(x, 0)).x())
        pane.show_crosshair(x, pane.plot.mapFromScene(scene_pos))
        return [save(pane, out / "metrics.png")]
    finally:
        pane.set_store(None)
        runner.wait_idle(20000)
        store.close()
        pane.close()


def pg_point(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


# -- the Files pane ---------------------------------------------------------------------------------------
@shot("files")
def files_shots(out: Path, tmp: Path) -> list[Path]:
    """A search with highlighted snippets beside a file with two versions and their diff,
    and a chunked file (partly indexed) with deleted files shown."""
    from sandbox_admin.gui.jobs import JobRunner
    from sandbox_admin.gui.panes.files import FilesPane
    from sandbox_admin.storage import open_store

    db = fixture_copy(tmp)
    runner = JobRunner()
    pane = FilesPane(runner, settings=scratch_settings(tmp))
    pane.resize(1600, 900)
    pane.show()
    store = open_store(db)
    written: list[Path] = []
    try:
        pane.set_store(store)
        settle(lambda: not pane.loading and pane.results.topLevelItemCount() > 0)
        pane.search_edit.setText("import")
        pane.search_now()
        settle(lambda: not pane.loading and pane.item_for(226) is not None)
        pane.select_file(226)  # /app/main.py, the second version of file 13
        settle(lambda: pane.detail.current_id() == 226)
        pane.detail.tabs.setCurrentIndex(1)
        pane.detail.select_versions(13, 226)
        settle(lambda: bool(pane.detail.diff.toPlainText()))
        written.append(save(pane, out / "files.png"))

        pane.deleted_check.setChecked(True)
        pane.search_edit.setText("data")
        pane.search_now()
        settle(lambda: not pane.loading and pane.item_for(25) is not None)
        pane.select_file(25)  # /data/input/data.csv: 120 KiB in chunks, 4 KiB indexed
        settle(lambda: pane.detail.current_id() == 25)
        pane.detail.tabs.setCurrentIndex(0)
        pane.detail.verify_button.click()
        settle(lambda: pane.detail.verify_result.text().startswith("ok"))
        written.append(save(pane, out / "files-preview.png"))
    finally:
        pane.set_store(None)
        runner.wait_idle(20000)
        store.close()
        pane.close()
    return written


# -- the Templates and Workflows panes (on the demo database) ----------------------------------------------
def _demo_db(tmp: Path, files: int = 120) -> Path:
    from sandbox_admin.demo.generator import create_demo
    from sandbox_admin.storage import parse_timestamp

    db = tmp / "demo.db"
    create_demo(db, files=files, metrics=0, now=parse_timestamp(DEMO_NOW))
    return db


@shot("templates")
def templates_shot(out: Path, tmp: Path) -> list[Path]:
    """The demo's templates, the data-science one selected: its JSON as a tree."""
    from sandbox_admin.gui.jobs import JobRunner
    from sandbox_admin.gui.panes.templates import TemplatesPane
    from sandbox_admin.storage import open_store

    db = _demo_db(tmp, files=0)
    runner = JobRunner()
    pane = TemplatesPane(runner, settings=scratch_settings(tmp))
    pane.resize(1280, 800)
    pane.show()
    store = open_store(db)
    try:
        pane.set_store(store)
        settle(lambda: pane.model.loaded_all and pane.model.rowCount() > 0 and runner.is_idle())
        pane.select_id("tmpl-data")
        settle(lambda: pane.detail.record is not None and pane.detail.record.id == "tmpl-data")
        return [save(pane, out / "templates.png")]
    finally:
        pane.set_store(None)
        runner.wait_idle(20000)
        store.close()
        pane.close()


@shot("workflows")
def workflows_shot(out: Path, tmp: Path) -> list[Path]:
    """Workflow runs; a failed run whose step was retried: the timeline with the error."""
    from sandbox_admin.gui.jobs import JobRunner
    from sandbox_admin.gui.panes.workflows import WorkflowsPane
    from sandbox_admin.storage import open_store

    db = _demo_db(tmp, files=0)
    store = open_store(db)
    newest = store.workflows.page(limit=25).rows  # in the first screenful
    failed = [e for e in newest if e.status == "failed"]
    pick = max(failed, key=lambda e: (store.workflows.timeline(e.id).retries > 0, e.step_count))
    completed = [e for e in newest if e.status == "completed"]
    retried = max(completed, key=lambda e: (store.workflows.timeline(e.id).retries, e.step_count))
    runner = JobRunner()
    pane = WorkflowsPane(runner, settings=scratch_settings(tmp))
    pane.resize(1280, 800)
    pane.show()
    written: list[Path] = []
    try:
        pane.set_store(store)
        settle(lambda: pane.model.rowCount() > 0 and runner.is_idle())
        for execution, name in ((pick, "workflows.png"), (retried, "workflows-retried.png")):
            while not pane.select_id(execution.id):
                settle(lambda: runner.is_idle())
            settle(lambda e=execution: pane.detail.timeline is not None
                   and pane.detail.timeline.execution.id == e.id and runner.is_idle())
            written.append(save(pane, out / name))
        return written
    finally:
        pane.set_store(None)
        runner.wait_idle(20000)
        store.close()
        pane.close()


# -- the Maintenance pane -----------------------------------------------------------------------------------
@shot("maintenance")
def maintenance_shot(out: Path, tmp: Path) -> list[Path]:
    """Statistics after a quick check; backups: ours (verified), the Go server's, a broken one."""
    from sandbox_admin.gui.jobs import JobRunner
    from sandbox_admin.gui.panes.maintenance import MaintenancePane
    from sandbox_admin.storage import open_store

    db = fixture_copy(tmp)
    backups = tmp / "backups"
    backups.mkdir()
    shutil.copyfile(shared_fixture(), backups / "sandbox_runner_20261124_030000.db")  # the Go server's
    (backups / "sandbox_runner_20261125_030000.db").write_bytes(b"truncated" * 100)
    settings = scratch_settings(tmp)
    settings.setValue("maintenance/backup_dir", str(backups))
    runner = JobRunner()
    pane = MaintenancePane(runner, settings=settings)
    pane.resize(1500, 860)
    pane.show()
    store = open_store(db)
    try:
        pane.set_store(store)
        settle(lambda: pane.health is not None and runner.is_idle())
        finished: list[str] = []
        pane.action_finished.connect(lambda name, ok: finished.append(name))
        pane.backups.back_up()
        settle(lambda: "backup" in finished and runner.is_idle())
        pane.check(quick=True)
        settle(lambda: "check" in finished and runner.is_idle())
        written = [save(pane, out / "maintenance.png")]
        box = pane.backups.restore_selected()  # the new backup is selected: what a restore will do
        if box is not None:
            written.append(save(box, out / "maintenance-restore.png"))
            box.reject()
        return written
    finally:
        pane.set_store(None)
        runner.wait_idle(20000)
        store.close()
        pane.close()


# -- themes and preferences -----------------------------------------------------------------------------
@shot("themes")
def theme_shots(out: Path, tmp: Path) -> list[Path]:
    """The window in the light and the dark theme (Sandboxes with a detail, Metrics), and
    the Preferences dialog; at the default size, 1280x800."""
    from sandbox_admin.gui.preferences import Preferences
    from sandbox_admin.storage import parse_timestamp

    written: list[Path] = []
    window = _main_window(tmp)
    window.resize(1280, 800)
    try:
        _open(window, tmp / "demo.db", demo={"now": parse_timestamp(DEMO_NOW), "files": 60, "metrics": 20000})
        sandboxes = window.panes[0]
        first = sandboxes.model.row_at(0).id
        sandboxes.select_id(first)
        settle(lambda: sandboxes.detail.current_id() == first and window.runner.is_idle())
        for theme in ("light", "dark"):
            prefs = Preferences.load(window.settings)
            prefs.theme = theme
            window.apply_preferences(prefs)
            window.tabs.setCurrentIndex(0)
            written.append(save(window, out / f"theme-{theme}.png"))
            window.tabs.setCurrentIndex(1)
            metrics = window.panes[1]
            metrics.show_place({"metric": "cpu_usage"})  # charted once its names are read
            settle(lambda: metrics.answer is not None and not metrics.busy() and window.runner.is_idle())
            written.append(save(window, out / f"theme-{theme}-metrics.png"))
        dialog = window.show_preferences()
        written.append(save(dialog, out / "preferences.png"))
        dialog.reject()
        prefs = Preferences.load(window.settings)
        prefs.theme = "system"
        window.apply_preferences(prefs)
    finally:
        window.shutdown()
        window.close()
    return written


@shot("window-sizes")
def window_size_shots(out: Path, tmp: Path) -> list[Path]:
    """The window at 1280x800 and 1024x700 on the demo database: Sandboxes with a detail,
    the Database menu's work in Maintenance, a link followed to Files."""
    from sandbox_admin.storage import parse_timestamp

    written: list[Path] = []
    window = _main_window(tmp)
    try:
        _open(window, tmp / "demo.db", demo={"now": parse_timestamp(DEMO_NOW), "files": 120, "metrics": 20000})
        window.message_bar.clear()
        sandboxes = window.panes[0]
        for width, height in ((1280, 800), (1024, 700)):
            window.resize(width, height)
            window.tabs.setCurrentWidget(sandboxes)
            first = sandboxes.model.row_at(1).id
            sandboxes.select_id(first)
            settle(lambda: sandboxes.detail.current_id() == first and window.runner.is_idle())
            written.append(save(window, out / f"window-{width}-sandboxes.png"))
            sandboxes.show_files()
            files = window.current_pane()
            settle(lambda: not files.loading and window.runner.is_idle())
            written.append(save(window, out / f"window-{width}-files-link.png"))
            window.tabs.setCurrentWidget(window.maintenance)
            settle(lambda: window.maintenance.health is not None and window.runner.is_idle())
            written.append(save(window, out / f"window-{width}-maintenance.png"))
    finally:
        window.shutdown()
        window.close()
    return written


@shot("metrics-fleet")
def metrics_fleet_shots(out: Path, tmp: Path) -> list[Path]:
    """cpu_usage of 50 sandboxes as the fleet (average, min-max band, top 8 by max), and
    one sandbox chosen: its own line in its own colour."""
    from sandbox_admin.demo.generator import create_demo
    from sandbox_admin.gui.jobs import JobRunner
    from sandbox_admin.gui.panes.metrics import MetricsPane
    from sandbox_admin.storage import open_store, parse_timestamp

    db = tmp / "demo.db"
    create_demo(db, files=0, metrics=60000, now=parse_timestamp(DEMO_NOW))
    runner = JobRunner()
    pane = MetricsPane(runner, settings=scratch_settings(tmp))
    pane.resize(1280, 800)
    pane.show()
    store = open_store(db, read_only=True)
    written: list[Path] = []
    try:
        pane.set_store(store)
        settle(lambda: pane.names_list.count() > 0)
        for name, shot_name in (("cpu_usage", "metrics-fleet"), ("request_latency_seconds", "metrics-fleet-latency")):
            pane.select_metric(name)
            settle(lambda: pane.answer is not None and pane.answer.request.name == name
                   and not pane.busy() and runner.is_idle())
            written.append(save(pane, out / f"{shot_name}.png"))
        pane.select_metric("cpu_usage")
        settle(lambda: pane.answer is not None and not pane.busy() and runner.is_idle())
        pane.highlight(3)  # what hovering a line or its legend row does
        written.append(save(pane, out / "metrics-fleet-highlight.png"))
        pane.highlight(-1)
        pane.sandbox_combo.setCurrentIndex(3)
        settle(lambda: pane.answer is not None and pane.answer.band is None and not pane.busy()
               and runner.is_idle())
        written.append(save(pane, out / "metrics-one-sandbox.png"))
        chosen = [row[0] for row in pane.sandbox_choices.rows[2:7]]
        pane.choose_sandboxes(chosen)
        settle(lambda: pane.answer is not None and pane.answer.request.sandbox_id == tuple(chosen)
               and not pane.busy() and runner.is_idle())
        written.append(save(pane, out / "metrics-chosen.png"))
        picker = pane.open_picker()
        picker.filter_edit.setText(chosen[0][:3])
        settle()
        written.append(save(picker, out / "metrics-picker.png"))
        picker.reject()
        pane.select_metric("request_latency_seconds", tuple(chosen[:2]))  # a histogram: p95 dashed
        settle(lambda: pane.answer is not None and pane.answer.request.name == "request_latency_seconds"
               and not pane.busy() and runner.is_idle())
        written.append(save(pane, out / "metrics-histogram-p95.png"))
        pane.choose_sandboxes([])
        pane.select_metric("cpu_usage")
        pane.resize(1024 - 60, 700 - 80)  # the pane inside a 1024×700 window
        settle(lambda: pane.answer is not None and pane.answer.band is not None and not pane.busy()
               and runner.is_idle())
        pane.group_combo.setCurrentIndex(max(0, pane.group_combo.findData("host")))
        settle(lambda: pane.answer is not None and not pane.busy() and runner.is_idle())
        written.append(save(pane, out / "metrics-by-host-small.png"))
    finally:
        pane.set_store(None)
        runner.wait_idle(20000)
        store.close()
        pane.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python packaging/screenshots.py")
    parser.add_argument("names", nargs="*", help=f"shots to render (default: all: {', '.join(SHOTS)})")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in SHOTS]
    if unknown:
        parser.error(f"unknown shot(s): {', '.join(unknown)}; known: {', '.join(SHOTS)}")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("sandbox-admin")
    with tempfile.TemporaryDirectory(prefix="sandbox-admin-shots-") as tmp:
        os.environ.setdefault("SANDBOX_ADMIN_HOME", str(Path(tmp) / "home"))
        for name in args.names or list(SHOTS):
            scratch = Path(tmp) / name
            scratch.mkdir()
            for path in SHOTS[name](args.out, scratch):
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
