"""Measure how long the Qt event loop goes without running a 10 ms timer (a stall)."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer


class Heartbeat(QObject):
    """A ``interval_ms`` precise timer; ``max_gap`` is the longest time between two ticks
    (seconds). A gap of ~interval is healthy; a long gap means the GUI thread was busy,
    waiting (for the GIL, say) or not scheduled. ``max_busy`` is the most CPU time the
    GUI thread used between two ticks (its own work, whatever the machine's load)."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval = interval_ms / 1000
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.max_gap = 0.0
        self.ticks = 0
        self.over_frame = 0  # gaps longer than a 60 Hz frame (16.7 ms)
        self.max_busy = 0.0
        self._last = 0.0
        self._last_cpu = 0.0

    def start(self) -> None:
        self.max_gap = 0.0
        self.ticks = 0
        self.over_frame = 0
        self.max_busy = 0.0
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self.timer.start()

    def stop(self) -> float:
        self._tick()
        self.timer.stop()
        return self.max_gap

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        gap = now - self._last
        self.max_busy = max(self.max_busy, cpu - self._last_cpu)
        self._last, self._last_cpu = now, cpu
        self.ticks += 1
        if gap > 1 / 60:
            self.over_frame += 1
        if gap > self.max_gap:
            self.max_gap = gap
