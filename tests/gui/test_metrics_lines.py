"""Which line is which in the Metrics pane: hover highlights, a click isolates, show or
hide all, one line per label value, and exporting what is shown (real pane, real store)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage

from .metrics_fixtures import pane, store  # noqa: F401  (fixtures)
from .test_metrics_pane import WAIT, idle, open_metric


def _alpha(curve) -> int:
    return curve.opts["pen"].color().alpha()


def _width(curve) -> float:
    return curve.opts["pen"].widthF()


def _point_on(pane, line: int) -> QPointF:
    """A scene point on ``line`` (its middle bucket), where a person would hover."""
    t, y, _gap = pane._curve_data[line]
    finite = [i for i in range(len(t)) if y[i] == y[i]]
    i = finite[len(finite) // 2]
    return pane.plot.getViewBox().mapViewToScene(QPointF(float(t[i]), float(y[i])))


def test_hovering_a_legend_row_highlights_its_line_and_dims_the_rest(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "cpu_usage")
    assert len(pane.curves) > 3
    row = 2
    line = pane.table.line_of(row)
    pane.table.cellEntered.emit(row, 0)  # what the mouse entering the row sends
    assert pane.highlighted == line
    assert _width(pane.curves[line]) > 2 and _alpha(pane.curves[line]) == 255
    assert all(_alpha(c) < 100 for i, c in enumerate(pane.curves) if i != line)
    pane.table.hovered.emit(-1)  # the mouse left the table
    assert pane.highlighted == -1 and all(_alpha(c) == 255 for c in pane.curves)


def test_hovering_a_line_in_the_chart_highlights_it_and_marks_its_row(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "cpu_usage")
    line = 3
    at = _point_on(pane, line)
    assert pane.nearest_line(at) == line
    view_point = pane.plot.mapFromScene(at)
    qtbot.mouseMove(pane.plot.viewport(), QPoint(int(view_point.x()), int(view_point.y())))
    qtbot.waitUntil(lambda: pane.highlighted >= 0, timeout=WAIT)  # via the rate-limited proxy
    assert pane.highlighted == pane.nearest_line(pane.plot.mapToScene(view_point))
    assert pane.table.selectionModel().isRowSelected(pane.table.row_of(pane.highlighted))
    # far from every line: nothing is highlighted
    vb = pane.plot.getViewBox()
    (x0, x1), (y0, y1) = vb.viewRange()
    assert pane.nearest_line(vb.mapViewToScene(QPointF((x0 + x1) / 2, y1 + (y1 - y0)))) == -1


def test_a_click_shows_a_line_alone_and_a_second_click_brings_the_rest_back(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "cpu_usage")
    line = 2

    class Click:  # what pyqtgraph's scene hands to sigMouseClicked
        def __init__(self, pos):
            self._pos = pos

        def button(self):
            return Qt.MouseButton.LeftButton

        def double(self):
            return False

        def scenePos(self):  # noqa: N802 (pyqtgraph)
            return self._pos

    pane.plot.scene().sigMouseClicked.emit(Click(_point_on(pane, line)))
    assert [c.isVisible() for c in pane.curves] == [i == line for i in range(len(pane.curves))]
    assert all(not item.isVisible() for item in pane.band_items)  # the fleet's band goes with it
    checked = [pane.table.item(pane.table.row_of(i), 0).checkState() == Qt.CheckState.Checked
               for i in range(len(pane.curves))]
    assert checked == [i == line for i in range(len(pane.curves))]  # the legend agrees
    pane.plot.scene().sigMouseClicked.emit(Click(_point_on(pane, line)))
    assert all(c.isVisible() for c in pane.curves)


def test_show_all_and_hide_all(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "cpu_usage")
    pane.hide_all_button.click()
    assert not any(c.isVisible() for c in pane.curves)
    assert pane.visible_rows() == []
    pane.table.item(0, 0).setCheckState(Qt.CheckState.Checked)  # tick one: it alone
    assert sum(c.isVisible() for c in pane.curves) == 1
    pane.show_all_button.click()
    assert all(c.isVisible() for c in pane.curves)
    pane.table.isolate_requested.emit(1)  # the legend's "Show Only This Series"
    assert [c.isVisible() for c in pane.curves] == [i == 1 for i in range(len(pane.curves))]


def test_one_line_per_label_value(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "cpu_usage")
    keys = [pane.group_combo.itemData(i) for i in range(pane.group_combo.count())]
    assert keys[0] is None and "host" in keys
    hosts = {s.labels.get("host") for s in store.metrics.series("cpu_usage")}
    pane.group_combo.setCurrentIndex(keys.index("host"))
    idle(qtbot, pane, runner)
    answer = pane.answer
    assert answer.request.group_by == "host" and answer.band is None
    assert {s.labels.get("host") for s in answer.series} == hosts
    assert len(pane.curves) == len(hosts)
    # every sample counted once: the lines add up to the metric's samples in range
    total = sum(s.count for s in store.metrics.series("cpu_usage"))
    assert sum(int(s.points.count.sum()) for s in answer.series) == total
    assert not pane.top_by_combo.isEnabled()
    pane.group_combo.setCurrentIndex(0)
    idle(qtbot, pane, runner)
    assert pane.answer.band is not None and pane.top_by_combo.isEnabled()


def test_export_the_visible_data_and_the_chart(qtbot, pane, runner, store, tmp_path: Path):
    open_metric(qtbot, pane, runner, store, "cpu_usage")
    pane.isolate(1)
    x0, x1 = pane.visible_x_range()
    pane.set_x_range(x0 + (x1 - x0) / 2, x1)  # only the newer half is visible
    idle(qtbot, pane, runner)
    x0, x1 = pane.visible_x_range()
    shown = [label for label, c in zip(pane._labels, pane.curves) if c.isVisible()]
    assert len(shown) == 1
    with qtbot.waitSignal(pane.exported, timeout=WAIT):
        pane.export_visible(str(tmp_path / "chart.csv"), "csv")
    rows = list(csv.DictReader((tmp_path / "chart.csv").open(encoding="utf-8")))
    assert rows and {r["series"] for r in rows} == set(shown)
    answer = pane.answer
    line = pane.curves.index(next(c for c in pane.curves if c.isVisible()))
    s = answer.series[line]
    inside = [i for i in range(len(s.points.t)) if s.points.t[i] < x1 and s.points.t[i] + s.step_seconds > x0]
    assert len(rows) == len(inside)
    assert float(rows[0]["value"]) == float(s.points.avg[inside[0]])
    assert json.loads(rows[0]["labels"]) == s.labels
    with qtbot.waitSignal(pane.exported, timeout=WAIT):
        pane.export_visible(str(tmp_path / "chart.json"), "json")
    data = json.loads((tmp_path / "chart.json").read_text(encoding="utf-8"))
    assert len(data["buckets"]) == len(rows) and data["buckets"][0]["series"] == shown[0]
    assert pane.export_png(str(tmp_path / "chart.png"))
    image = QImage(str(tmp_path / "chart.png"))
    assert image.width() == pane.plot.width() and image.height() == pane.plot.height()
    # a folder that does not exist, or a database: a message, nothing written
    messages = []
    pane.message_requested.connect(lambda kind, text, detail: messages.append((kind, text)))
    pane.export_visible(str(tmp_path / "missing" / "chart.csv"), "csv")
    qtbot.waitUntil(lambda: any(kind == "error" for kind, _ in messages), timeout=WAIT)
    assert not (tmp_path / "missing").exists()
    before = Path(store.path).read_bytes()
    pane.export_visible(str(store.path), "csv")
    qtbot.waitUntil(lambda: sum(kind == "error" for kind, _ in messages) == 2, timeout=WAIT)
    assert Path(store.path).read_bytes() == before


def test_chosen_sandboxes_chart_one_line_per_series(qtbot, pane, runner, store):
    open_metric(qtbot, pane, runner, store, "cpu_usage")
    qtbot.waitUntil(lambda: pane.sandbox_combo.count() > 20, timeout=WAIT)  # the series are listed
    picker = pane.open_picker()
    assert picker.proxy.rowCount() == pane.sandbox_combo.count() - 1
    everyone = [picker.model.data(picker.model.index(r, 0), Qt.ItemDataRole.UserRole)
                for r in range(picker.model.rowCount())]
    wanted = everyone[3:6]
    picker.filter_edit.setText(wanted[0][-6:].upper())  # any part of an id, any case
    assert 1 <= picker.proxy.rowCount() < len(everyone)
    for r in range(picker.proxy.rowCount()):
        index = picker.proxy.index(r, 0)
        if picker.proxy.data(index, Qt.ItemDataRole.UserRole) == wanted[0]:
            picker.proxy.setData(index, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    picker.filter_edit.clear()
    for sid in wanted[1:]:
        picker.model.setData(picker.model.index(everyone.index(sid), 0), Qt.CheckState.Checked.value,
                             Qt.ItemDataRole.CheckStateRole)
    assert picker.chosen() == wanted and "3 chosen" in picker.count_label.text()
    picker.accept()
    idle(qtbot, pane, runner)
    answer = pane.answer
    assert answer.request.sandbox_id == tuple(wanted) and answer.band is None and answer.folded == 0
    assert {s.sandbox_id for s in answer.series} == set(wanted)
    assert pane.current_sandbox() == tuple(wanted)
    assert pane.sandbox_combo.currentText() == "3 chosen sandboxes"
    pane.choose_sandboxes([])  # back to every sandbox: the fleet
    idle(qtbot, pane, runner)
    assert pane.answer.band is not None and pane.current_sandbox() is None


def test_a_slow_raw_chart_leads_to_building_rollups(qtbot, runner, settings, tmp_path: Path):
    from datetime import datetime, timedelta, timezone

    from sandbox_admin.gui.panes.maintenance import MaintenancePane
    from sandbox_admin.gui.panes.metrics import MetricsPane
    from sandbox_admin.storage import create_store
    from sandbox_admin.storage.metrics.store import Sample

    store = create_store(tmp_path / "many.db")
    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for i in range(20):
        store.models.Sandbox.create(id=f"sb-{i:02d}", status="running")
    store.metrics.record_batch([Sample("load", float(i + k), sandbox_id=f"sb-{i:02d}",
                                       timestamp=t0 + timedelta(minutes=10 * k))
                                for i in range(20) for k in range(200)])
    metrics = MetricsPane(runner, settings=settings)
    maintenance = MaintenancePane(runner, settings=settings)
    for p in (metrics, maintenance):
        qtbot.addWidget(p)
        p.resize(1280, 800)
        p.show()
    maintenance.rollups_built.connect(metrics.refresh)
    metrics.SLOW_RAW_S = 0.0  # any chart from raw samples counts as slow here
    try:
        open_metric(qtbot, metrics, runner, store, "load")
        assert metrics.answer.series[0].source == "raw"
        assert metrics.rollup_hint.isVisible() and "Build metric rollups" in metrics.rollup_hint.text()
        with qtbot.waitSignal(metrics.navigate, timeout=WAIT) as link:
            metrics.rollup_hint.linkActivated.emit("rollups")
        assert link.args == ["maintenance", {"focus": "rollups"}]
        maintenance.set_store(store)
        maintenance.show_place(link.args[1])
        assert maintenance.rollups_button.isEnabled()
        with qtbot.waitSignal(maintenance.rollups_built, timeout=WAIT):
            maintenance.rollups_button.click()
        assert "Rolled up 4,000 samples" in maintenance.house_result.text()
        qtbot.waitUntil(lambda: metrics.answer is not None and not metrics.busy() and runner.is_idle()
                        and metrics.answer.series[0].source.startswith("rollup"), timeout=WAIT)
        assert not metrics.rollup_hint.isVisible()
    finally:
        metrics.set_store(None)
        maintenance.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_building_rollups_is_offered_only_on_a_writable_database(qtbot, runner, settings, go_db):
    from sandbox_admin.gui.panes.maintenance import MaintenancePane
    from sandbox_admin.storage import open_store

    pane = MaintenancePane(runner, settings=settings)
    qtbot.addWidget(pane)
    pane.show()
    store = open_store(go_db, read_only=True)
    try:
        pane.set_store(store)
        qtbot.waitUntil(runner.is_idle, timeout=WAIT)
        assert not pane.rollups_button.isEnabled() and "read-only" in pane.rollups_button.toolTip()
        assert pane.build_rollups() is None
    finally:
        pane.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_a_histogram_fleet_shows_its_merged_percentiles(qtbot, pane, runner, store):
    import numpy as np

    with qtbot.waitSignal(pane.fleet_quantiles_drawn, timeout=WAIT):
        open_metric(qtbot, pane, runner, store, "request_latency_seconds")
    answer = pane.answer
    assert answer.band is not None and len(pane.fleet_quantile_items) == 3
    merged = store.metrics.chart("request_latency_seconds", answer.start, answer.end, answer.request.target_points,
                                 group_by=(), stats=("avg", "p50", "p95", "p99"))[0]
    drawn = {item.opts["pen"].style(): item for item in pane.fleet_quantile_items}
    p95 = drawn[Qt.PenStyle.DashLine].yData
    assert np.allclose(p95[~np.isnan(p95)], merged.points.percentiles["p95"][~np.isnan(merged.points.percentiles["p95"])])
    ok = ~np.isnan(merged.points.percentiles["p50"])
    assert np.all(merged.points.percentiles["p50"][ok] <= merged.points.percentiles["p99"][ok])
    assert "p95" in pane.plot.getAxis("left").labelText
    pane.table.visibility_changed.emit(0, False)  # hiding the fleet hides its percentiles too
    assert not any(item.isVisible() for item in pane.fleet_quantile_items)
