"""The Metrics pane on a copy of the Go server's database (and a generated one with
rollups): real store, real JobRunner threads, offscreen Qt, waits by condition."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from sandbox_admin.gui.jobs import JobRunner
from sandbox_admin.gui.panes import metrics_chart as mc
from sandbox_admin.gui.panes.metrics import MetricsPane
from sandbox_admin.gui.panes.metrics_sandboxes import ALL_SANDBOXES
from sandbox_admin.storage import create_store, open_store
from sandbox_admin.storage.metrics import fleet
from sandbox_admin.storage.metrics.store import Sample

from .metrics_fixtures import pane, store  # noqa: F401  (fixtures)

WAIT = 15000
ZOOM_WAIT = 400  # longer than the zoom debounce: lets a (wrong) re-query start




def idle(qtbot, pane: MetricsPane, runner: JobRunner) -> None:
    qtbot.waitUntil(lambda: not pane.busy() and runner.is_idle(), timeout=WAIT)


def open_metric(qtbot, pane, runner, store, name: str) -> None:
    pane.set_store(store)
    qtbot.waitUntil(lambda: pane.names_list.count() > 0, timeout=WAIT)
    assert pane.select_metric(name)
    idle(qtbot, pane, runner)
    assert pane.answer is not None and pane.answer.request.name == name


def plotted_items(pane: MetricsPane) -> list[pg.PlotDataItem]:
    """The chart's lines with data (the pane keeps emptied items for the next chart)."""
    return [i for i in pane.plot.getPlotItem().listDataItems()
            if isinstance(i, pg.PlotDataItem) and i.xData is not None and len(i.xData)]


def test_names_listed_with_types(qtbot, pane, runner, store):
    pane.set_store(store)
    qtbot.waitUntil(lambda: pane.names_list.count() > 0, timeout=WAIT)
    texts = [pane.names_list.item(i).text() for i in range(pane.names_list.count())]
    assert texts == ["cpu_usage  (gauge)", "memory_bytes  (gauge)", "request_latency_seconds  (histogram)",
                     "requests_total  (counter)", "sandbox_up  (gauge)"]
    assert "Select a metric" in pane.empty_text()
    pane.filter_edit.setText("req")
    visible = [pane.names_list.item(i).text() for i in range(pane.names_list.count())
               if not pane.names_list.item(i).isHidden()]
    assert len(visible) == 2 and all("request" in v for v in visible)


def test_cpu_usage_of_26_sandboxes_is_the_fleet_and_the_top_8_over_the_extent(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "cpu_usage")
    expected = store.metrics.series("cpu_usage")
    first, last = store.metrics.extent("cpu_usage")
    answer = pane.answer
    assert answer.folded == len(expected) == 26 and answer.band is not None
    assert len(answer.series) == 1 + fleet.TOP_N and len(pane.curves) == 1 + fleet.TOP_N
    assert pane._labels[0].startswith("all 26 series (average")
    items = plotted_items(pane)
    assert len(items) == len(pane.curves)  # the lines (the band is two filled edges)
    band = pane.band_items[0]
    assert isinstance(band, pg.PlotCurveItem) and band.isVisible()
    assert np.nanmax(band.yData) == np.nanmax(answer.band[1])  # its top: the highest value
    assert band.opts["fillLevel"] == np.nanmin(answer.band[0])  # filled down to the lowest
    # the top 8 by max: no series left out has a higher max than one shown
    maxima = {fleet.series_key(s): np.nanmax(s.points.max) for s in store.metrics.chart(
        "cpu_usage", answer.start, answer.end, answer.request.target_points)}
    shown = [fleet.series_key(s) for s in answer.series[1:]]
    assert min(maxima[k] for k in shown) >= max(v for k, v in maxima.items() if k not in shown)
    # the band holds every series: min <= average <= max
    low, high = answer.band
    centre = answer.series[0].points.avg
    ok = ~np.isnan(centre)
    assert np.all(low[ok] <= centre[ok] + 1e-9) and np.all(centre[ok] <= high[ok] + 1e-9)
    x0, x1 = pane.visible_x_range()
    assert x0 <= first.timestamp() and x1 >= last.timestamp()
    assert x1 - x0 < (last - first).total_seconds() * 1.05  # fits the data, not "now"
    data_x = np.concatenate([i.xData for i in items])
    assert np.nanmin(data_x) <= first.timestamp() and np.nanmax(data_x) >= last.timestamp() - 2 * 3600
    assert "average" in pane.plot.getAxis("left").labelText
    assert pane.empty_text() == ""
    # the table: the fleet's row counts every sample once (nothing double counted)
    assert pane.table.rowCount() == 1 + fleet.TOP_N
    fleet_row = next(r for r in range(pane.table.rowCount()) if pane.table.item(r, 0).text().startswith("all"))
    assert int(pane.table.item(fleet_row, 1).data(Qt.ItemDataRole.UserRole)) == sum(s.count for s in expected)
    # the legend toggles a line
    pane.table.item(0, 0).setCheckState(Qt.CheckState.Unchecked)
    assert sum(not c.isVisible() for c in pane.curves) == 1


def test_counter_shows_a_rate(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "requests_total")
    assert "rate" in pane.plot.getAxis("left").labelText
    series = pane.answer.series
    assert series and all(s.type == "counter" for s in series)
    y = pane._curve_data[0][1]
    np.testing.assert_allclose(y, series[0].points.rate)
    assert np.all(np.asarray(y)[~np.isnan(y)] >= 0)  # reset-aware: a rate never goes negative
    if pane.answer.band is not None:  # many series: the fleet's line is their summed rate
        assert pane._labels[0].startswith(f"all {pane.answer.folded} series (sum")
    # the legend tells each line's rate (what is drawn), not the counter's running total
    x0, x1 = pane.visible_x_range()
    for row in range(pane.table.rowCount()):
        s = series[pane.table.line_of(row)]
        keep = (s.points.t < x1) & (s.points.t + s.step_seconds > x0)
        rates = s.points.rate[keep][np.isfinite(s.points.rate[keep])]
        assert pane.table.item(row, 3).data(Qt.ItemDataRole.UserRole) == pytest.approx(rates.max())
        assert pane.table.item(row, 3).text() == mc.number(rates.max(), "/s")
        if s.sandbox_id is not None:  # a sandbox's line: far below its counter's running total
            assert rates.max() < s.points.max[keep].max()


def test_sandbox_filter_narrows_to_one_curve(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "cpu_usage")
    assert pane.sandbox_combo.itemText(0) == ALL_SANDBOXES
    assert pane.sandbox_combo.count() == 27
    sid = pane.sandbox_combo.itemData(3)
    pane.sandbox_combo.setCurrentIndex(3)
    idle(qtbot, pane, runner)
    assert pane.answer.request.sandbox_id == sid
    assert pane.answer.request.known is not None  # the metric's series were listed once, not again
    assert len(plotted_items(pane)) == 1 and pane.answer.series[0].sandbox_id == sid
    first = store.metrics.series("cpu_usage", sandbox_id=sid)[0].first
    x0, _ = pane.visible_x_range()
    assert x0 == pytest.approx(first.timestamp(), abs=1)  # "All data" of one sandbox: its own extent
    pane.sandbox_combo.setCurrentIndex(0)
    idle(qtbot, pane, runner)
    assert pane.answer.folded == 26 and len(pane.curves) == 1 + fleet.TOP_N


def test_zoom_requeries_at_a_finer_step_and_crosshair_lists_values(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "cpu_usage")
    sent = len(pane.requests)
    wide_step = pane.answer.series[0].step_seconds
    x0, x1 = pane.visible_x_range()
    mid = (x0 + x1) / 2
    pane.set_x_range(mid - 3 * 3600, mid + 3 * 3600)  # six hours
    qtbot.waitUntil(lambda: len(pane.requests) > sent, timeout=WAIT)
    idle(qtbot, pane, runner)
    req = pane.answer.request
    assert req.preset is None and req.start <= mid - 3 * 3600 and req.end >= mid + 3 * 3600
    assert req.end - req.start <= 2.01 * 6 * 3600  # the visible range and a margin for panning
    assert req.known is not None  # a zoom does not list the series again
    assert pane.answer.series[0].step_seconds < wide_step / 5
    assert pane.visible_x_range() == pytest.approx((mid - 3 * 3600, mid + 3 * 3600), abs=1)
    # a small pan inside what is loaded needs no new query; the table follows the view
    sent = len(pane.requests)
    pane.set_x_range(mid - 2.5 * 3600, mid + 3.5 * 3600)
    qtbot.wait(ZOOM_WAIT)
    idle(qtbot, pane, runner)
    assert len(pane.requests) == sent
    # panning far away asks again
    pane.set_x_range(mid - 30 * 3600, mid - 24 * 3600)
    qtbot.waitUntil(lambda: len(pane.requests) > sent, timeout=WAIT)
    idle(qtbot, pane, runner)
    pane.set_x_range(mid - 3 * 3600, mid + 3 * 3600)
    idle(qtbot, pane, runner)
    # crosshair: one entry per visible series that has a bucket at that time
    s = pane.answer.series[0]
    x = float(s.points.t[len(s.points) // 2]) + 1
    values = pane.crosshair_values(x)
    assert values and len(values) <= len(pane.curves)
    html = pane.show_crosshair(x)
    assert pane.hover_label.isVisible() and values[0][0] in html


def test_presets_and_empty_range(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "cpu_usage")
    _, last = store.metrics.extent("cpu_usage")
    pane.set_preset("1 h")
    idle(qtbot, pane, runner)
    x0, x1 = pane.visible_x_range()
    assert x1 - x0 == pytest.approx(3600) and x1 >= last.timestamp()
    # a range with nothing in it says so clearly
    pane.set_x_range(last.timestamp() + 86400 * 10, last.timestamp() + 86400 * 11)
    qtbot.waitUntil(lambda: "No data" in pane.empty_text(), timeout=WAIT)
    assert not plotted_items(pane)
    # clearing the selection says what to do
    pane.names_list.setCurrentItem(None)
    assert "Select a metric" in pane.empty_text()


def test_thirty_day_chart_reads_rollups_and_lists_series_once(qtbot, pane, runner, tmp_path: Path):
    store = create_store(tmp_path / "big.db")
    try:
        S = store.models.Sandbox
        from sandbox_admin.storage.fields import utcnow

        now = utcnow()
        ids = [f"sb-{i:02d}" for i in range(10)]
        with store.transaction():
            for sid in ids:
                S.insert(id=sid, container_id=f"c-{sid}", status="running", created_at=now,
                         updated_at=now).execute()
        end = now.timestamp()
        rng = random.Random(1)
        n_per = 20_000  # 200k samples over 30 days: one every ~130 s per sandbox
        step = 30 * 86400 / n_per

        def samples():
            for sid in ids:
                for k in range(n_per):
                    yield Sample("cpu_usage", rng.random(), "gauge", {"host": "a"}, sid,
                                 end - 30 * 86400 + k * step)

        store.metrics.record_batch(samples())
        store.metrics.build_rollups()
        pane.set_store(store)
        qtbot.waitUntil(lambda: pane.names_list.count() > 0, timeout=WAIT)
        began = time.perf_counter()
        pane.select_metric("cpu_usage")
        idle(qtbot, pane, runner)
        took = time.perf_counter() - began
        print(f"30-day chart of 200k samples (rollups): {took:.3f} s, {pane.answer.seconds:.3f} s in the worker")
        assert len(plotted_items(pane)) == 10
        assert pane.answer.series[0].source.startswith("rollup")
        # how long it takes is measured in benchmarks/ (as a ratio), not asserted here
        # the series are listed once; a preset afterwards is only the chart query
        began = time.perf_counter()
        pane.preset_buttons["30 d"].click()
        idle(qtbot, pane, runner)
        again = time.perf_counter() - began
        print(f"30 d preset afterwards: {again:.3f} s, {pane.answer.seconds:.3f} s in the worker")
        assert pane.answer.request.preset == "30 d" and len(plotted_items(pane)) == 10
        assert pane.answer.request.known is not None  # the series listing was not run again
        assert pane.answer.series[0].source.startswith("rollup")
        assert sum(int(pane.table.item(r, 1).data(Qt.ItemDataRole.UserRole))
                   for r in range(pane.table.rowCount())) == 10 * n_per
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_newer_request_wins(qtbot, pane, runner, store):
    pane.set_store(store)
    qtbot.waitUntil(lambda: pane.names_list.count() > 0, timeout=WAIT)
    drawn: list[str] = []
    pane.chart_drawn.connect(lambda: drawn.append(pane.answer.request.name))
    for name in ("cpu_usage", "memory_bytes", "requests_total", "sandbox_up"):
        pane.select_metric(name)  # each one cancels or outdates the one before
    idle(qtbot, pane, runner)
    assert drawn[-1] == "sandbox_up" and drawn.count("sandbox_up") == 1
    assert pane.answer.request.name == "sandbox_up"
    assert pane.answer.folded == len(store.metrics.series("sandbox_up")) > fleet.FLEET_ABOVE
    assert pane.plot.getPlotItem().titleLabel.text == "sandbox_up"


def test_legend_choice_survives_a_zoom(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "cpu_usage")
    label = pane.table.item(2, 0).text()
    pane.table.item(2, 0).setCheckState(Qt.CheckState.Unchecked)
    x0, x1 = pane.visible_x_range()
    sent = len(pane.requests)
    pane.set_x_range(x0 + (x1 - x0) * 0.85, x0 + (x1 - x0) * 0.95)  # every sandbox has data here
    qtbot.waitUntil(lambda: len(pane.requests) > sent, timeout=WAIT)
    idle(qtbot, pane, runner)
    assert label in pane._labels and len(pane.curves) == 1 + fleet.TOP_N
    hidden = [lab for lab, c in zip(pane._labels, pane.curves) if not c.isVisible()]
    assert hidden == [label]
    assert all(name != label for name, _ in pane.crosshair_values((x0 + x1) / 2))


def test_histogram_average_with_p95_for_one_sandbox(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "request_latency_seconds")
    assert len(pane.curves) == len(pane.answer.series) > 4
    assert all(c is None for c in pane.p95_curves)  # 26 dashed lines would be clutter
    pane.sandbox_combo.setCurrentIndex(1)
    idle(qtbot, pane, runner)
    (s,) = pane.answer.series
    assert "average" in pane.plot.getAxis("left").labelText and "p95" in pane.plot.getAxis("left").labelText
    upper = pane.p95_curves[0]
    assert upper is not None and upper in plotted_items(pane)
    np.testing.assert_allclose(pane._curve_data[0][1], s.points.avg)
    ok = ~np.isnan(s.points.percentiles["p95"])
    assert ok.any() and np.all(s.points.percentiles["p95"][ok] >= s.points.min[ok])
    assert np.all(s.points.percentiles["p95"][ok] <= s.points.max[ok])


def test_chart_helpers():
    assert mc.axis_units("memory_bytes", "gauge") == "B"
    assert mc.axis_units("requests_total", "counter") is None
    assert mc.axis_units("sent_bytes_total", "counter") == "B/s"
    assert mc.value_units("sent_bytes_total", "counter") == "B"
    assert mc.number(804_500_000, "B") == "804.5 MB"
    assert mc.number(None) == "—" and mc.number(float("nan")) == "—"
    assert mc.preset_range("1 h", (1000.0, 9000.0)) == (9001.0 - 3600, 9001.0)
    assert mc.preset_range("All data", (1000.0, 9000.0)) == (1000.0, 9001.0)
    assert mc.preset_range("24 h", None) == (None, None)
    # a line breaks at a gap much larger than the usual spacing, not between neighbours
    t = np.array([0.0, 60, 120, 180, 3600, 3660])
    y = np.arange(6.0)
    gap = mc.gap_threshold(t, 60)
    t2, y2 = mc.with_gaps(t, y, gap)
    assert len(t2) == 7 and np.isnan(y2[4]) and np.all(np.diff(t2) > 0)
    assert mc.value_at(t, y, 130, 60, gap) == 2.0
    assert mc.value_at(t, y, 2000, 60, gap) is None  # inside the gap: no line there
    assert mc.value_at(t, y, -5, 60, gap) is None

    class S:  # the two fields series_labels reads
        def __init__(self, sid, labels):
            self.sandbox_id, self.labels = sid, labels

    series = [S("aaaaaaaa-1", {"container": "c-a", "status": "200"}),
              S("aaaaaaaa-1", {"container": "c-a", "status": "500"}),
              S("bbbbbbbb-2", {"container": "c-b", "status": "200"})]
    assert mc.series_labels(series) == ["c-a status=200", "c-a status=500", "c-b status=200"]  # containers named
    assert mc.series_labels([S("aaaaaaaa-1", {"status": "1"}), S("bbbbbbbb-2", {"status": "2"})]) == [
        "aaaaaaaa", "bbbbbbbb"]  # no container label: the short id
    # a series' colour comes from its identity: the same wherever it is in an answer
    assert mc.colour_for(series[0]) == mc.colour_for(S("aaaaaaaa-1", {"status": "200", "container": "c-a"}))
    assert len({mc.colour_for(S(f"sb-{i}", {})) for i in range(40)}) == len(mc.PALETTE)
    # the lines of one chart look different, however their identities hash
    many = [S(f"sb-{i}", {}) for i in range(40)]
    clashing = [s for s in many if mc.colour_for(s) == mc.colour_for(many[0])][:3] + many[1:6]
    assert len(set(mc.colours_for(clashing))) == len(clashing)
    assert mc.colours_for(clashing) == [mc.colours_for(list(reversed(clashing)))[-1 - i]
                                        for i in range(len(clashing))]  # the order shown does not matter
    assert mc.colours_for(clashing)[0] == mc.colour_for(clashing[0])  # the first keeps its own


def test_unreadable_metrics_reach_the_message_bar(qtbot, pane, runner, go_db):
    import sqlite3

    with sqlite3.connect(go_db) as conn:  # a damaged copy: the metrics table is gone
        conn.execute("DROP TABLE metrics")
    conn.close()
    broken = open_store(go_db, read_only=True)
    try:
        with qtbot.waitSignal(pane.message_requested, timeout=WAIT) as sig:
            pane.set_store(broken)
        level, text, _detail = sig.args
        assert level == "error" and "metrics" in text and "Traceback" not in text
        assert "could not be read" in pane.empty_text()
        assert pane.names_list.count() == 0
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        broken.close()


def test_refresh_keeps_a_zoomed_view_and_choices_are_remembered(qtbot, pane, runner, store, tmp_path):
    open_metric(qtbot, pane, runner, store, "memory_bytes")
    pane.set_preset("24 h")
    idle(qtbot, pane, runner)
    x0, x1 = pane.visible_x_range()
    sent = len(pane.requests)
    pane.set_x_range(x0 + 3600, x0 + 4 * 3600)
    qtbot.waitUntil(lambda: len(pane.requests) > sent, timeout=WAIT)
    idle(qtbot, pane, runner)
    pane.refresh()  # F5 (or a change seen on disk): same metric, same view
    qtbot.waitUntil(lambda: len(pane.requests) > sent + 1, timeout=WAIT)
    idle(qtbot, pane, runner)
    assert pane.answer.request.name == "memory_bytes" and pane.answer.request.preset is None
    assert pane.visible_x_range() == pytest.approx((x0 + 3600, x0 + 4 * 3600), abs=1)
    # another pane with the same settings opens on the same metric and preset
    pane.set_preset("6 h")
    idle(qtbot, pane, runner)
    other = MetricsPane(runner, settings=pane.settings)
    qtbot.addWidget(other)
    other.resize(1000, 600)
    other.show()
    try:
        other.set_store(store)
        qtbot.waitUntil(lambda: other.answer is not None, timeout=WAIT)
        idle(qtbot, other, runner)
        assert other.current_metric() == "memory_bytes" and other.answer.request.preset == "6 h"
        assert other.preset_buttons["6 h"].isChecked()
    finally:
        other.set_store(None)
        runner.wait_idle(WAIT)


def test_mouse_over_the_chart_shows_the_crosshair(qtbot, pane, runner, store):
    from PySide6.QtCore import QPoint

    open_metric(qtbot, pane, runner, store, "cpu_usage")
    vb = pane.plot.getViewBox()
    view_rect = pane.plot.mapFromScene(vb.sceneBoundingRect()).boundingRect()
    inside = QPoint(int(view_rect.left() + view_rect.width() * 0.9), int(view_rect.center().y()))
    qtbot.mouseMove(pane.plot.viewport(), inside)
    qtbot.waitUntil(lambda: pane.hover_label.isVisible(), timeout=WAIT)  # via SignalProxy
    x = pane.vline.value()
    x0, x1 = pane.visible_x_range()
    assert x0 < x < x1
    expected = pane.crosshair_values(x)
    assert expected and all(label in pane.hover_label.text() for label, _ in expected)


def test_a_hidden_pane_does_no_database_work_until_it_is_shown(qtbot, runner, settings, store):
    from sandbox_admin.gui.panes.metrics import MetricsPane

    started: list[str] = []
    runner.job_started.connect(lambda job: started.append(job.name))
    hidden = MetricsPane(runner, settings=settings)
    qtbot.addWidget(hidden)
    settings.setValue("metrics/metric", "cpu_usage")  # a remembered metric waits too
    hidden.set_store(store)
    hidden.refresh()
    qtbot.wait(200)
    assert runner.is_idle() and started == []
    hidden.show()
    qtbot.waitUntil(lambda: hidden.names_list.count() > 0, timeout=WAIT)
    assert "List metrics" in started
    hidden.set_store(None)
    runner.wait_idle(WAIT)


def test_axes_are_honest_after_switching_metrics(qtbot, pane, runner, store):
    """memory (GiB) -> cpu (0-100) -> latency (seconds): the axis shows each one's values."""
    open_metric(qtbot, pane, runner, store, "memory_bytes")
    for name in ("memory_bytes", "cpu_usage", "request_latency_seconds", "cpu_usage"):
        assert pane.select_metric(name)  # switching, as a person clicks the list
        idle(qtbot, pane, runner)
        qtbot.wait(50)
        assert pane.answer.request.name == name
        data = np.concatenate([np.asarray(y)[~np.isnan(y)] for _, y, _ in pane._curve_data])
        axis = pane.plot.getAxis("left")
        lo, hi = pane.plot.getViewBox().viewRange()[1]
        assert lo <= data.min() + 1e-9 and hi >= data.max() - 1e-9, (name, lo, hi, data.min(), data.max())
        assert hi - lo < (data.max() - data.min()) * 3 + 1e-6  # fitted, not a leftover range
        if name == "cpu_usage":
            assert axis.autoSIPrefixScale == 1.0  # no stale "(x1e-09)" from the bytes before


def test_a_series_keeps_its_colour_under_another_range(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "memory_bytes")
    pane.sandbox_combo.setCurrentIndex(2)  # one sandbox
    idle(qtbot, pane, runner)
    colour = pane.curves[0].opts["pen"].color().name()
    pane.set_preset("24 h")
    idle(qtbot, pane, runner)
    assert pane.curves[0].opts["pen"].color().name() == colour
    assert colour == QColor(*mc.colour_for(pane.answer.series[0])).name()


def test_the_sandbox_filter_copes_with_20000_sandboxes(qtbot, pane):
    rows = [(f"sb-{i:05d}-{'x' * 8}", i, f"box-{i}") for i in range(20_000)]
    pane._set_sandboxes(rows, "sb-12345-xxxxxxxx")  # a model answered on demand, no 20,000 items
    assert pane.sandbox_combo.count() == 20_001 and pane.current_sandbox() == "sb-12345-xxxxxxxx"
    completer = pane.sandbox_combo.completer()
    assert completer.filterMode() == Qt.MatchFlag.MatchContains  # type any part of an id
    completer.setCompletionPrefix("19999")
    assert "sb-19999" in completer.currentCompletion()
    completer.setCompletionPrefix("box-777")  # or of its container's name
    assert completer.currentCompletion().startswith("box-777")
    pane.set_sandbox(None)
    assert pane.current_sandbox() is None
