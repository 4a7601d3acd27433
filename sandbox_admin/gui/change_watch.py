"""Poll the open database for changes made by other programs, from a timer.

The probe itself (what counts as a change, and how it is seen) is
:class:`sandbox_admin.storage.ChangeProbe`; this module only schedules its polls in
worker threads and turns what it finds into signals.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from ..storage import ChangeProbe, errors
from .jobs import JobRunner


class ChangeWatcher(QObject):
    """Polls a :class:`ChangeProbe` through the job runner every ``interval_ms``."""

    changed = Signal(str)  # what changed, for the notice
    failed = Signal(object)  # a StorageError from polling (shown once, polling goes on)

    def __init__(self, runner: JobRunner, interval_ms: int = 2000,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.probe: ChangeProbe | None = None
        self._in_flight = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll_now)
        self.polls = 0

    def watch(self, probe: ChangeProbe | None) -> None:
        """Watch ``probe`` (already primed); the previous probe is closed in a worker."""
        old, self.probe = self.probe, probe
        if old is not None and old is not probe:
            self.runner.submit(lambda ctx: old.close(), name="stop watching", store=None,
                               quiet=True)
        if probe is None:
            self._timer.stop()
        else:
            self._timer.start()

    def set_interval(self, ms: int) -> None:
        self._timer.setInterval(ms)

    def poll_now(self) -> None:
        probe = self.probe
        if probe is None or self._in_flight or self.runner.exclusive_active:
            return
        self._in_flight = True

        def done(what: str) -> None:
            self._in_flight = False
            self.polls += 1
            if what and probe is self.probe:
                self.changed.emit(what)

        def failed(error: errors.StorageError) -> None:
            self._in_flight = False
            if probe is self.probe and not isinstance(error, errors.Cancelled):
                self.failed.emit(error)

        self.runner.submit(lambda ctx: probe.poll(), name="watch for changes", store=None,
                           quiet=True, on_result=done, on_error=failed)

    def stop(self) -> None:
        self.watch(None)
