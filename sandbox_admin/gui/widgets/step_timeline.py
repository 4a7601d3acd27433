"""A workflow run's steps as bars on a time axis (a small Gantt chart), painted by hand.

One row per step in order: its name, then a bar from its start to its end (to now while
it runs) coloured by status (done green, running blue, failed red, cancelled amber).
A failed step's row is taller and carries its error in red under the bar; a retried
step's bar is hatched and says ``↻ N``. Steps that never ran (pending, skipped) show a
hollow marker at the start. The axis counts from the run's start (``+30 s``, ``+2 min``);
hovering a row shows everything about the step in a tooltip.

Custom painting rather than pyqtgraph: a few dozen rectangles and labels, crisp text,
and rows whose height follows their content.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QHelpEvent, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ...storage import StepRecord, Timeline
from .. import display

#: Candidate tick spacings, seconds.
TICKS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
ROW = 26
ERROR_ROW = 44
AXIS = 24
PAD = 8
GRID = QColor("#e0e0e0")
MUTED = QColor("#616161")
ERROR_INK = QColor("#b71c1c")


def tick_step(span_s: float, ticks: int = 6) -> int:
    """A round spacing that gives about ``ticks`` ticks over ``span_s`` seconds."""
    for step in TICKS:
        if span_s / step <= ticks:
            return step
    return TICKS[-1] * max(1, int(span_s / TICKS[-1] / ticks) + 1)


def offset_label(seconds: float) -> str:
    s = int(round(seconds))
    if s == 0:
        return "0"
    if s < 60:
        return f"+{s} s"
    if s < 3600:
        return f"+{s // 60} min" + (f" {s % 60} s" if s % 60 else "")
    if s < 86400:
        return f"+{s // 3600} h" + (f" {s % 3600 // 60} min" if s % 3600 // 60 else "")
    return f"+{s // 86400} d" + (f" {s % 86400 // 3600} h" if s % 86400 // 3600 else "")


class StepTimeline(QWidget):
    """See the module docstring. ``set_timeline(timeline, now)``; ``None`` clears it."""

    #: a step's row was clicked (its step_order)
    step_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline: Timeline | None = None
        self.now: datetime = datetime.now(timezone.utc)
        self._rows: list[tuple[QRectF, StepRecord]] = []
        self._bars: dict[int, QRectF] = {}
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setMinimumHeight(AXIS + ROW + PAD)

    def set_timeline(self, timeline: Timeline | None, now: datetime | None = None) -> None:
        self.timeline = timeline
        self.now = now or datetime.now(timezone.utc)
        self.updateGeometry()
        self.setMinimumHeight(self.sizeHint().height())
        self.update()

    # -- geometry --------------------------------------------------------------------
    def _row_height(self, step: StepRecord) -> int:
        return ERROR_ROW if step.failed and step.error_message else ROW

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        steps = self.timeline.steps if self.timeline else []
        return QSize(480, AXIS + PAD + sum(self._row_height(s) for s in steps) + (0 if steps else ROW))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(240, self.sizeHint().height())

    def _label_width(self, fm: QFontMetrics) -> int:
        names = [s.step_name for s in self.timeline.steps] if self.timeline else []
        widest = max((fm.horizontalAdvance(n) for n in names), default=40)
        return min(max(60, widest + 2 * PAD + 8), max(80, self.width() // 3))

    def step_at(self, y: float) -> StepRecord | None:
        for rect, step in self._rows:
            if rect.top() <= y < rect.bottom():
                return step
        return None

    def bar_rect(self, order: int) -> QRectF | None:
        """Where the bar of step ``order`` was painted last (tests, screenshots)."""
        return self._bars.get(order)

    # -- painting --------------------------------------------------------------------
    def paintEvent(self, event: object) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), self.palette().base())
        fm = QFontMetrics(self.font())
        self._rows = []
        self._bars = {}
        tl = self.timeline
        span = tl.span(self.now) if tl else None
        if tl is None or not tl.steps or span is None:
            painter.setPen(MUTED)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "No steps to show." if tl is not None else "")
            painter.end()
            return
        start, end = span
        total = max(1.0, (end - start).total_seconds())
        left = self._label_width(fm)
        right = self.width() - PAD - fm.horizontalAdvance("↻ 3  ") - 4
        width = max(40.0, right - left)

        def x_of(t: datetime) -> float:
            return left + (t - start).total_seconds() / total * width

        # the axis: ticks from the run's start
        step = tick_step(total)
        painter.setPen(MUTED)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.9))
        painter.setFont(small)
        sfm = QFontMetrics(small)
        height = self.height()
        last_right = -1e9
        k = 0
        while k * step <= total + 1e-6:
            x = left + k * step / total * width
            painter.setPen(QPen(GRID, 1))
            painter.drawLine(QPointF(x, AXIS - 4), QPointF(x, height - 2))
            label = offset_label(k * step)
            w = sfm.horizontalAdvance(label)
            lx = min(max(x - w / 2, left - 4), self.width() - w - 2)
            if lx > last_right + 6:
                painter.setPen(MUTED)
                painter.drawText(QPointF(lx, AXIS - 8), label)
                last_right = lx + w
            k += 1
        painter.setFont(self.font())

        y = float(AXIS)
        for s in tl.steps:
            h = self._row_height(s)
            row = QRectF(0, y, self.width(), h)
            self._rows.append((row, s))
            colour = display.workflow_colour(s.status)
            painter.setPen(QColor("#212121") if s.started_at else MUTED)
            name = fm.elidedText(s.step_name, Qt.TextElideMode.ElideRight, left - 2 * PAD)
            painter.drawText(QRectF(PAD, y, left - 2 * PAD, ROW),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)
            bar_top, bar_h = y + 5, ROW - 10
            if s.started_at is None:  # never ran: a hollow marker and its state
                painter.setPen(QPen(colour, 1, Qt.PenStyle.DashLine))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRoundedRect(QRectF(left, bar_top, 14, bar_h), 3, 3)
                painter.setPen(MUTED)
                painter.drawText(QRectF(left + 20, y, width, ROW), Qt.AlignmentFlag.AlignVCenter, s.status)
                y += h
                continue
            x0 = x_of(s.started_at)
            x1 = x_of(s.completed_at or self.now) if (s.completed_at or s.status == "running") else x0
            bar = QRectF(x0, bar_top, max(3.0, x1 - x0), bar_h)
            self._bars[s.step_order] = bar
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(bar, 3, 3)
            if s.retry_count:
                painter.setBrush(QBrush(QColor(255, 255, 255, 80), Qt.BrushStyle.BDiagPattern))
                painter.drawRoundedRect(bar, 3, 3)
            ink = display.text_colour_on(colour)
            text = display.duration(s.duration(self.now))
            if fm.horizontalAdvance(text) + 8 < bar.width():
                painter.setPen(ink)
                painter.drawText(bar, Qt.AlignmentFlag.AlignCenter, text)
                after = bar.right() + 4
            else:
                painter.setPen(MUTED)
                painter.drawText(QPointF(bar.right() + 4, bar.center().y() + fm.ascent() / 2 - 1), text)
                after = bar.right() + 8 + fm.horizontalAdvance(text)
            if s.retry_count:
                painter.setPen(QColor("#6a1b9a"))
                painter.drawText(QPointF(after, bar.center().y() + fm.ascent() / 2 - 1), f"↻ {s.retry_count}")
            if s.failed and s.error_message:
                painter.setPen(ERROR_INK)
                error_rect = QRectF(left, y + ROW - 4, self.width() - left - PAD, ERROR_ROW - ROW + 2)
                painter.drawText(error_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                 fm.elidedText("✖ " + s.error_message, Qt.TextElideMode.ElideRight,
                                               int(error_rect.width())))
            y += h
        painter.end()

    # -- interaction -----------------------------------------------------------------
    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.ToolTip and isinstance(e, QHelpEvent):
            step = self.step_at(e.position().y() if hasattr(e, "position") else e.pos().y())
            if step is None:
                QToolTip.hideText()
                e.ignore()
            else:
                QToolTip.showText(e.globalPos(), self.tooltip(step), self)
            return True
        return super().event(e)

    def tooltip(self, s: StepRecord) -> str:
        lines = [f"<b>{html.escape(s.step_name)}</b> — {html.escape(s.status)}"]
        if s.started_at:
            lines.append(f"started {display.local_time(s.started_at)}")
        if s.completed_at:
            lines.append(f"ended {display.local_time(s.completed_at)}")
        if s.started_at:
            lines.append(f"took {display.duration(s.duration(self.now))}")
        if s.retry_count:
            lines.append(f"retried {s.retry_count}×")
        if s.error_message:
            label = "error" if s.failed else "last error before a retry"
            lines.append(f"<span style='color:#b71c1c'>{label}: {html.escape(s.error_message)}</span>")
        return "<br>".join(lines)

    def mousePressEvent(self, e: object) -> None:  # noqa: N802
        step = self.step_at(e.position().y())  # type: ignore[attr-defined]
        if step is not None:
            self.step_clicked.emit(step.step_order)
