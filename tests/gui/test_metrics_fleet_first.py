"""Issue #11: a fleet's aggregate and band are shown first, read from the fleet rollups;
its top lines join them when their own job ends. The order is forced by holding the
top lines' worker until the aggregate is on screen, never timed."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from sandbox_admin.gui.panes import metrics as metrics_pane
from sandbox_admin.storage import create_store, fleet_chart, open_store
from sandbox_admin.storage.metrics import fleet
from sandbox_admin.storage.metrics.store import Sample

from .metrics_fixtures import pane  # noqa: F401  (fixture)

WAIT = 15000
T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)


@pytest.fixture
def rolled_up(tmp_path: Path):
    """40 sandboxes' cpu over two days, rollups (and fleet rollups) built."""
    path = tmp_path / "fleet.db"
    with create_store(path) as store:
        rng = random.Random(11)
        samples = []
        for n in range(40):
            sid = f"sb-{n:02d}"
            store.models.Sandbox.create(id=sid, status="running")
            level = rng.uniform(5, 90)
            for i in range(0, 48 * 60, 7):
                samples.append(Sample("cpu", level + rng.uniform(-5, 5), sandbox_id=sid,
                                      timestamp=T0 + timedelta(minutes=i)))
        store.metrics.record_batch(samples)
        store.metrics.build_rollups()
        assert store.metrics.rollups.fleet.available()
    store = open_store(path, read_only=True)
    yield store
    store.close()


def test_the_aggregate_is_shown_before_the_top_lines(qtbot, pane, runner, rolled_up, monkeypatch):
    shown = threading.Event()
    original = metrics_pane.fleet_top
    calls: list[threading.Thread] = []

    def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(threading.current_thread())
        assert shown.wait(WAIT / 1000), "the aggregate was never shown"
        return original(*args, **kwargs)

    monkeypatch.setattr(metrics_pane, "fleet_top", held)
    events: list[tuple[str, int, str, str]] = []

    def record(kind: str) -> None:
        events.append((kind, len(pane.curves), pane.legend_label.text(), pane.info_label.text()))
        shown.set()

    pane.chart_shown.connect(lambda: record("shown"))
    pane.chart_drawn.connect(lambda: record("drawn"))
    pane.set_store(rolled_up)
    qtbot.waitUntil(lambda: pane.names_list.count() > 0, timeout=WAIT)
    with qtbot.waitSignal(pane.chart_drawn, timeout=WAIT):
        pane.select_metric("cpu")
    qtbot.waitUntil(lambda: not pane.busy() and runner.is_idle(), timeout=WAIT)

    assert [e[0] for e in events] == ["shown", "drawn"]
    # read once, by the job started beside the overview (it found the same frame)
    assert len(calls) == 1 and calls[0] is not threading.main_thread()
    _, curves, legend, info = events[0]
    assert curves == 1 and pane.band_items  # the aggregate and its band, alone at first…
    assert "on their way" in legend and info.startswith("40 series · step")
    _, curves, legend, info = events[1]
    assert curves == 1 + fleet.TOP_N  # …then the top lines with it
    assert "on their way" not in legend and info.startswith(f"40 series · top {fleet.TOP_N} by max · step")
    # what is drawn is the fleet of every series, as fleet_chart answers it at once
    answer = pane.answer
    whole = fleet_chart(rolled_up.metrics, "cpu", answer.start, answer.end, answer.request.target_points)
    assert whole.folded == answer.folded == 40
    assert np.allclose(answer.series[0].points.avg, whole.series[0].points.avg, equal_nan=True)
    assert [fleet.series_key(s) for s in answer.series] == [fleet.series_key(s) for s in whole.series]
    assert answer.series[0].source.startswith("rollup:")
    assert pane.table.rowCount() == 1 + fleet.TOP_N


def test_a_new_metric_cancels_the_top_lines_of_the_last_one(qtbot, pane, runner, rolled_up, monkeypatch):
    release = threading.Event()
    original = metrics_pane.fleet_top
    asked: list[str] = []

    def held(metrics, frame, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(frame.name)
        release.wait(WAIT / 1000)
        return original(metrics, frame, **kwargs)

    monkeypatch.setattr(metrics_pane, "fleet_top", held)
    pane.set_store(rolled_up)
    qtbot.waitUntil(lambda: pane.names_list.count() > 0, timeout=WAIT)
    with qtbot.waitSignal(pane.chart_shown, timeout=WAIT):
        pane.select_metric("cpu")
    qtbot.waitUntil(lambda: asked == ["cpu"], timeout=WAIT)
    pane.set_preset("24 h")  # a new request while the top lines are read
    release.set()
    qtbot.waitUntil(lambda: not pane.busy() and runner.is_idle(), timeout=WAIT)
    assert pane.answer.request.preset == "24 h"
    assert len(pane.curves) == 1 + fleet.TOP_N and pane.answer.frame is None
    assert all(s.points.t.min() >= pane.answer.start - 3600 for s in pane.answer.series)


def test_the_top_lines_are_read_beside_the_aggregate(qtbot, pane, runner, rolled_up, monkeypatch):
    """The overview waits (in its worker) until the top lines' job has started: only a
    job started beside it, not after it, lets the chart be drawn."""
    top_started = threading.Event()
    top, overview = metrics_pane.fleet_top, metrics_pane.fleet_overview

    def started(*args, **kwargs):  # type: ignore[no-untyped-def]
        top_started.set()
        return top(*args, **kwargs)

    def waiting(*args, **kwargs):  # type: ignore[no-untyped-def]
        assert top_started.wait(WAIT / 1000), "the top lines were not asked for beside the aggregate"
        return overview(*args, **kwargs)

    monkeypatch.setattr(metrics_pane, "fleet_top", started)
    monkeypatch.setattr(metrics_pane, "fleet_overview", waiting)
    pane.set_store(rolled_up)
    qtbot.waitUntil(lambda: pane.names_list.count() > 0, timeout=WAIT)
    with qtbot.waitSignal(pane.chart_drawn, timeout=WAIT):
        pane.select_metric("cpu")
    assert len(pane.curves) == 1 + fleet.TOP_N and pane.answer.folded == 40


def test_the_legend_keeps_the_charts_order_and_the_fleet_first(qtbot, pane, runner, rolled_up):
    from PySide6.QtCore import Qt

    pane.set_store(rolled_up)
    qtbot.waitUntil(lambda: pane.names_list.count() > 0, timeout=WAIT)
    with qtbot.waitSignal(pane.chart_drawn, timeout=WAIT):
        pane.select_metric("cpu")
    table = pane.table
    rows = range(table.rowCount())
    assert [table.line_of(r) for r in rows] == list(range(1 + fleet.TOP_N))  # the fleet, then by rank
    for column in (0, 1):  # by name, by samples (the fleet has the most): either way, it stays first
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            table.sortItems(column, order)
            assert table.line_of(0) == 0, (column, order)
            rest = [table.item(r, column).data(Qt.ItemDataRole.UserRole) if column else table.item(r, 0).text()
                    for r in rows][1:]
            assert rest == sorted(rest, reverse=order == Qt.SortOrder.DescendingOrder), (column, order)
    with qtbot.waitSignal(pane.chart_drawn, timeout=WAIT):  # a new chart keeps the person's sort
        pane.set_preset("24 h")
    qtbot.waitUntil(lambda: not pane.busy() and runner.is_idle(), timeout=WAIT)
    assert table.line_of(0) == 0 and table.horizontalHeader().sortIndicatorSection() == 1


def test_closing_the_database_right_after_a_chart_lists_nothing_more(qtbot, pane, runner, rolled_up):
    """The series listing waits a moment after a chart; closing the database then stops
    it (it once ran later against no database, from a pane already gone)."""
    pane.set_store(rolled_up)
    qtbot.waitUntil(lambda: pane.names_list.count() > 0, timeout=WAIT)
    with qtbot.waitSignal(pane.chart_drawn, timeout=WAIT):
        pane.select_metric("cpu")
    assert pane._describe_timer.isActive()  # the listing is due in a moment
    started: list[str] = []
    runner.job_started.connect(lambda job: started.append(job.name))
    pane.set_store(None)
    assert not pane._describe_timer.isActive() and not pane.busy()
    pane._describe("cpu")  # as the timer would: nothing to list without a database
    assert started == [] and runner.is_idle()


def test_top_lines_are_asked_again_in_the_overviews_frame_when_the_job_beside_fails(
        qtbot, pane, runner, rolled_up, monkeypatch):
    frames: list = []
    original = metrics_pane.fleet_top

    def broken_frame(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("no frame beside the overview")

    def top(metrics, frame, **kwargs):  # type: ignore[no-untyped-def]
        frames.append(frame)
        return original(metrics, frame, **kwargs)

    monkeypatch.setattr(metrics_pane, "fleet_frame", broken_frame)
    monkeypatch.setattr(metrics_pane, "fleet_top", top)
    messages: list[str] = []
    pane.message_requested.connect(lambda kind, text, detail: messages.append(text))
    pane.set_store(rolled_up)
    qtbot.waitUntil(lambda: pane.names_list.count() > 0, timeout=WAIT)
    with qtbot.waitSignal(pane.chart_drawn, timeout=WAIT):
        pane.select_metric("cpu")
    assert len(pane.curves) == 1 + fleet.TOP_N and pane.answer.frame is None
    assert len(frames) == 1 and frames[0].name == "cpu"  # read once, after the overview, in its frame
    assert messages == []  # the failure beside the overview is not the person's business


def test_without_rollups_the_job_beside_the_chart_reads_nothing(qtbot, pane, runner, tmp_path, monkeypatch):
    """No rollups built: the overview charts every series from raw samples, so the top
    lines' job started beside it stops at once instead of reading the metric's extent
    too (on the 2M-sample demo that doubled work took the first chart from 2.8 to 4.7 s)."""
    from sandbox_admin.storage.metrics.store import MetricsStore

    path = tmp_path / "raw.db"
    with create_store(path) as store:
        for n in range(20):
            store.models.Sandbox.create(id=f"sb-{n:02d}", status="running")
        store.metrics.record_batch([Sample("cpu", float(i % 9), sandbox_id=f"sb-{i % 20:02d}",
                                           timestamp=T0 + timedelta(minutes=i)) for i in range(2_000)])
        assert not store.metrics.rollups_built()
    extents: list[str] = []
    original = MetricsStore.quick_extent

    def counted(self, name):  # type: ignore[no-untyped-def]
        extents.append(threading.current_thread().name)
        return original(self, name)

    monkeypatch.setattr(MetricsStore, "quick_extent", counted)
    raw = open_store(path, read_only=True)
    try:
        pane.set_store(raw)
        qtbot.waitUntil(lambda: pane.names_list.count() > 0, timeout=WAIT)
        with qtbot.waitSignal(pane.chart_drawn, timeout=WAIT):
            pane.select_metric("cpu")
        qtbot.waitUntil(lambda: not pane.busy() and runner.is_idle(), timeout=WAIT)
        assert len(extents) == 1  # the chart's own
        assert pane.answer is not None and pane.answer.folded == 20 and len(pane.curves) == 1 + fleet.TOP_N
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        raw.close()


def test_rollups_built_says_whether_a_build_ever_ran(tmp_path):
    with create_store(tmp_path / "m.db") as store:
        assert not store.metrics.rollups_built()
        store.models.Sandbox.create(id="sb-a", status="running")
        store.metrics.record("cpu", 1.0, sandbox_id="sb-a", timestamp=T0)
        assert not store.metrics.rollups_built()
        store.metrics.build_rollups()
        assert store.metrics.rollups_built()
