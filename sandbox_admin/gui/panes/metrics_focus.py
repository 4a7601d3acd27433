"""The Metrics pane's lines: which one is which. Hovering a line (or its legend row)
highlights it and dims the rest, a click shows it alone, Show All / Hide All; the
crosshair lists every shown line's value at the cursor.

A mixin of :class:`.metrics.MetricsPane`: it works on the pane's curves, legend and
answer."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pyqtgraph as pg  # after PySide6 (gui/__init__.py sets PYQTGRAPH_QT_LIB)
from PySide6.QtCore import Qt

from .. import display
from .metrics_chart import axis_units, number, value_at

#: Crosshair entries per column of the tooltip.
TOOLTIP_ROWS = 22


class LineFocus:
    """See the module docstring."""

    highlighted = -1  # the line drawn thicker, the others dimmed (-1: none)
    _pens: list[tuple[tuple[int, int, int], float]] = []

    def highlight(self, line: int) -> None:
        """Draw ``line`` thicker and dim the others (-1: every line as drawn)."""
        if line == self.highlighted or line >= len(self.curves):
            return
        self.highlighted = line
        for i, (curve, (rgb, width)) in enumerate(zip(self.curves, self._pens)):
            if line < 0:
                pen, z = pg.mkPen(rgb, width=width), 0
            elif i == line:
                pen, z = pg.mkPen(rgb, width=width + 1.5), 10
            else:
                pen, z = pg.mkPen((*rgb, 55), width=width), 0
            curve.setPen(pen)
            curve.setZValue(z)
        for item in self.band_items:
            item.setOpacity(1.0 if line <= 0 else 0.35)
        self.table.mark(line)

    def line_shown(self, line: int) -> bool:
        return 0 <= line < len(self.curves) and self.curves[line].isVisible()

    def _set_line_shown(self, line: int, shown: bool) -> None:
        if not 0 <= line < len(self.curves):
            return
        self.curves[line].setVisible(shown)
        if self.p95_curves[line] is not None:
            self.p95_curves[line].setVisible(shown)
        if line == 0 and self.band_items:
            for item in self.band_items + self.fleet_quantile_items:
                item.setVisible(shown)
        (self._hidden.discard if shown else self._hidden.add)(self._labels[line])
        self.table.set_checked(line, shown)

    def isolate(self, line: int) -> None:
        """Show only ``line`` (clicking it again, or Show All, brings the others back)."""
        for i in range(len(self.curves)):
            self._set_line_shown(i, i == line)

    def show_all(self, shown: bool = True) -> None:
        for i in range(len(self.curves)):
            self._set_line_shown(i, shown)

    def nearest_line(self, scene_pos: Any, within_px: float = 10.0) -> int:
        """The shown line closest to a point of the chart (in pixels), -1: none that close."""
        if self.answer is None:
            return -1
        vb = self.plot.getViewBox()
        x = vb.mapSceneToView(scene_pos).x()
        best, best_d = -1, within_px
        for i, (curve, (t, y, gap), s) in enumerate(zip(self.curves, self._curve_data, self.answer.series)):
            if not curve.isVisible():
                continue
            v = value_at(t, y, x, s.step_seconds, gap)
            if v is None:
                continue
            d = abs(vb.mapViewToScene(pg.Point(x, v)).y() - scene_pos.y())
            if d < best_d:
                best, best_d = i, d
        return best

    def _clicked(self, event: Any) -> None:
        """A click on a line shows it alone; a click on the line shown alone shows all."""
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        line = self.nearest_line(event.scenePos())
        if line < 0:
            return
        alone = all(not c.isVisible() for i, c in enumerate(self.curves) if i != line)
        if alone:
            self.show_all(True)
        else:
            self.isolate(line)

    def _set_group_choices(self, keys: list[str]) -> None:
        """The "Lines" choices: one per series, or one per value of each label."""
        current = self.group_combo.currentData()
        self.group_combo.blockSignals(True)
        self.group_combo.clear()
        self.group_combo.addItem("One per series", None)
        for key in keys:
            self.group_combo.addItem(f"One per {key}", key)
        at = self.group_combo.findData(current) if current else 0
        self.group_combo.setCurrentIndex(max(at, 0))
        self.group_combo.blockSignals(False)
        self.top_by_combo.setEnabled(self.group_combo.currentData() is None)
        if current and at < 0:  # that label is not in this metric: one line per series again
            self._redraw_range()

    # == crosshair =================================================================================
    def _mouse_moved(self, event: tuple[Any]) -> None:
        pos = event[0]
        vb = self.plot.getViewBox()
        if not self.curves or not self.plot.sceneBoundingRect().contains(pos) \
                or not vb.sceneBoundingRect().contains(pos):
            self._hide_crosshair()
            return
        x = vb.mapSceneToView(pos).x()
        self.highlight(self.nearest_line(pos))
        self.show_crosshair(x, self.plot.mapFromScene(pos))

    def crosshair_values(self, x: float) -> list[tuple[str, float]]:
        """Every visible series' value at time ``x`` (largest first)."""
        if self.answer is None:
            return []
        out = []
        for curve, label, (t, y, gap), s in zip(self.curves, self._labels, self._curve_data, self.answer.series):
            if not curve.isVisible():
                continue
            v = value_at(t, y, x, s.step_seconds, gap)
            if v is not None:
                out.append((label, v))
        out.sort(key=lambda lv: -lv[1])
        return out

    def show_crosshair(self, x: float, at: Any = None) -> str:
        """Put the crosshair at time ``x``; returns the tooltip text (HTML)."""
        values = self.crosshair_values(x)
        colour = {label: c.opts["pen"].color().name() for label, c in zip(self._labels, self.curves)}
        head = display.local_time(_dt(x))
        a = self.answer
        units = axis_units(a.request.name, a.metric_type) if a is not None else None
        cells = [f"<td><span style='color:{colour.get(label, '#000')}'>■</span> {label}</td>"
                 f"<td align='right'>&nbsp;{number(v, units)}</td>" for label, v in values]
        rows = []
        for r in range(min(len(cells), TOOLTIP_ROWS)):
            rows.append("<tr>" + "".join(cells[r::TOOLTIP_ROWS]) + "</tr>")
        body = "".join(rows) if rows else "<tr><td>no samples here</td></tr>"
        html = f"<b>{head}</b><table cellspacing='0' cellpadding='1'>{body}</table>"
        self.vline.setPos(x)
        self.vline.setVisible(True)
        self.hover_label.setText(html)
        self.hover_label.adjustSize()
        if at is not None:
            px, py = int(at.x()), int(at.y())
            w, h = self.hover_label.width(), self.hover_label.height()
            left = px + 16 if px + 16 + w < self.plot.width() else max(0, px - 16 - w)
            top = min(max(0, py - h // 2), max(0, self.plot.height() - h))
            self.hover_label.move(left, top)
        self.hover_label.show()
        self.hover_label.raise_()
        return html

    def _hide_crosshair(self) -> None:
        self.vline.setVisible(False)
        self.hover_label.hide()
        self.highlight(-1)




def _dt(x: float) -> datetime:
    return datetime.fromtimestamp(x, timezone.utc)
