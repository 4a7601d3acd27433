"""Measure how long the Qt event loop goes without running a 10 ms timer (a stall)."""

from __future__ import annotations

import os
import time

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer


class _RunDelay:
    """Seconds the calling thread has spent runnable but waiting for a CPU (Linux
    schedstat); None elsewhere. On a loaded machine that wait stretches every gap, and
    it is the machine's doing, not the program's."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self._fd = None

    def __call__(self) -> float | None:
        if self._fd is None:
            return None
        try:
            return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Heartbeat(QObject):
    """A ``interval_ms`` precise timer, measured between ticks (seconds):

    - ``max_gap``: the longest wall time between two ticks. ~interval is healthy; a long
      gap means the GUI thread was busy, blocked (waiting for the GIL, say) or not given
      a CPU by the OS;
    - ``max_stall``: the longest gap less the time the GUI thread was runnable but
      waiting for a CPU (Linux; elsewhere equal to ``max_gap``): the stall the program
      causes by its work and its waits, whatever else the machine runs;
    - ``max_busy``: the most CPU time the GUI thread used between two ticks;
    - ``gap_faults``: the GUI thread's major page faults during the longest gap (Linux):
      code or data read back from disk after the OS evicted it, e.g. while gigabytes of
      backups pass through the page cache.
    """

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval = interval_ms / 1000
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.max_gap = 0.0
        self.max_stall = 0.0
        self.max_busy = 0.0
        self.ticks = 0
        self.over_frame = 0  # gaps longer than a 60 Hz frame (16.7 ms)
        self.gap_faults = 0
        self._run_delay: _RunDelay | None = None
        self._last_faults = 0
        self._last = self._last_cpu = 0.0
        self._last_delay: float | None = None

    def start(self) -> None:
        self.max_gap = self.max_stall = self.max_busy = 0.0
        self.ticks = 0
        self.over_frame = 0
        self._run_delay = _RunDelay()  # opened here: it reads the thread that opens it
        self.gap_faults = 0
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._last_faults = _major_faults()
        self._last_delay = self._run_delay()
        self.timer.start()

    def stop(self) -> float:
        self._tick()
        self.timer.stop()
        if self._run_delay is not None:
            self._run_delay.close()
        return self.max_gap

    def _tick(self) -> None:
        now, cpu, faults = time.perf_counter(), time.thread_time(), _major_faults()
        delay = self._run_delay() if self._run_delay is not None else None
        gap = now - self._last
        stall = gap
        if delay is not None and self._last_delay is not None:
            stall = max(0.0, gap - (delay - self._last_delay))
        self.max_busy = max(self.max_busy, cpu - self._last_cpu)
        self.max_stall = max(self.max_stall, stall)
        if gap > self.max_gap:
            self.max_gap = gap
            self.gap_faults = faults - self._last_faults
        self._last, self._last_cpu, self._last_delay, self._last_faults = now, cpu, delay, faults
        self.ticks += 1
        if gap > 1 / 60:
            self.over_frame += 1


def _major_faults() -> int:
    """Page faults of the calling thread that had to read from disk (Linux; 0 elsewhere):
    code or data the OS had evicted, read back while the disk may be busy."""
    if resource is None or not hasattr(resource, "RUSAGE_THREAD"):
        return 0
    return resource.getrusage(resource.RUSAGE_THREAD).ru_majflt


def run_until(condition, timeout_s: float, tick_ms: int = 2) -> float:  # type: ignore[no-untyped-def]
    """Run the event loop as the app would (idle waits, timers on time), looking at
    ``condition()`` every ``tick_ms``, until it holds; the seconds it took."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout_s:
            raise TimeoutError("the pane did not get there in time")
        loop = QEventLoop()
        QTimer.singleShot(tick_ms, loop.quit)
        loop.exec()
    return time.perf_counter() - start


def close_pane(pane, runner, store, app) -> None:  # type: ignore[no-untyped-def]
    """A benchmark's pane put away: no store, its jobs finished, the store closed."""
    pane.set_store(None)
    runner.wait_idle(120_000)
    store.close()
    pane.close()
    pane.deleteLater()
    app.processEvents()
