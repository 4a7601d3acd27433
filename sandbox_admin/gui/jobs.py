"""Every database call of the desktop app runs here, off the GUI thread.

``JobRunner.submit(fn, name=...)`` runs ``fn(ctx)`` in a QThreadPool worker inside
``with store.connection():`` (the worker's own pooled connection) and delivers the
result, the error (always a :class:`storage.errors.StorageError`) and progress by
signal on the GUI thread. ``Job.cancel()`` sets a flag and interrupts the worker's
SQLite connection (``sqlite3.Connection.interrupt``), so a long query stops at once.

Exclusive jobs (restore, vacuum, migrate) take a gate: they wait until the running
jobs are done, and every job submitted after them waits until they are done.
Jobs start in submission order.

Why not superqt's ``thread_worker``: it gives one QThread per worker and no gate;
the gate, the per-job SQLite interrupt and the error translation are the point here,
and a QRunnable plus a queued signal back to a GUI-thread QObject is small.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import traceback
from collections import deque
from typing import Any, Callable, Generic, TypeVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal, Slot

from ..storage import Store, errors

T = TypeVar("T")

#: ``submit(..., store=CURRENT)`` (the default) means "the runner's current store".
CURRENT: Any = object()

#: Progress signals are emitted at most this often (the last one always gets through).
PROGRESS_INTERVAL_S = 0.05

#: SQLite VM steps between two looks at the cancel flag (a few microseconds of work).
PROGRESS_HANDLER_OPS = 5000

NO_DATABASE = "No database is open. Open one first (File → Open…)."


class JobContext(Generic[T]):
    """What a job function gets: its store, progress reporting and cancellation."""

    def __init__(self, job: "Job", store: Store | None) -> None:
        self.store = store  # type: ignore[assignment]
        self._job = job
        self._last_report = 0.0

    def report(self, done: int, total: int = 0, message: str = "") -> None:
        """Progress (thread-safe; throttled so a tight loop cannot flood the GUI)."""
        now = time.monotonic()
        final = total > 0 and done >= total
        if final or now - self._last_report >= PROGRESS_INTERVAL_S:
            self._last_report = now
            self._job._bridge.progress.emit(int(done), int(total), str(message))

    @property
    def cancelled(self) -> bool:
        return self._job.cancelled

    def check_cancelled(self) -> None:
        if self._job.cancelled:
            raise errors.Cancelled(f"{self._job.name}: cancelled; nothing more was changed.")


class _Bridge(QObject):
    """Carries a worker's signals; its receivers live on the GUI thread (queued)."""

    progress = Signal(int, int, str)
    done = Signal(bool, object)  # ok, result-or-error


class Job(QObject):
    """One submitted call. Signals arrive on the GUI thread."""

    progress = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(object)
    finished = Signal()
    _cancel_requested = Signal()

    def __init__(self, fn: Callable[[JobContext], Any], name: str, exclusive: bool,
                 store: Store | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.fn = fn
        self.name = name
        self.exclusive = exclusive
        self.store = store
        self.state = "pending"  # pending → running → done
        self.quiet = False
        self.result: Any = None
        self.error: errors.StorageError | None = None
        self._cancelled = threading.Event()
        self._conn_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._bridge = _Bridge()
        self._bridge.progress.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._bridge.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)

    def __repr__(self) -> str:
        return f"<Job {self.name!r} {self.state}{' exclusive' if self.exclusive else ''}>"

    # -- cancellation (any thread) ----------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Ask the job to stop: set the flag and interrupt its running SQL statement."""
        if self.state == "done":
            return
        self._cancelled.set()
        with self._conn_lock:
            if self._conn is not None:
                self._conn.interrupt()
        self._cancel_requested.emit()

    def _attach(self, conn: sqlite3.Connection | None) -> None:
        """Make ``conn`` interruptible by :meth:`cancel` (``None``: give it back).

        ``interrupt()`` only stops a statement that is running; a progress handler that
        checks the flag also stops one that starts just after ``cancel()``.
        """
        with self._conn_lock:
            old, self._conn = self._conn, conn
        if conn is not None:
            conn.set_progress_handler(self._progress_check, PROGRESS_HANDLER_OPS)
        elif old is not None:
            old.set_progress_handler(None, 0)

    def _progress_check(self) -> int:
        return 1 if self._cancelled.is_set() else 0

    # -- worker side --------------------------------------------------------------------
    def _execute(self) -> None:
        """Runs in a pool thread."""
        ok, value = False, None
        try:
            if self.cancelled:
                raise errors.Cancelled(f"{self.name}: cancelled before it started.")
            ctx = JobContext(self, self.store)
            if self.store is None:
                value = self.fn(ctx)
            else:
                with self.store.connection():
                    self._attach(self.store.db.connection())
                    try:
                        value = self.fn(ctx)
                    finally:
                        self._attach(None)
            ok = True
        except errors.StorageError as exc:
            value = exc
        except BaseException as exc:  # noqa: BLE001 - every error reaches a person, translated
            path = str(self.store.path) if self.store is not None else ""
            err = errors.translate(exc, path)
            if not isinstance(exc, (*errors.DB_ERRORS, OSError)):
                # a bug rather than a database problem: the traceback goes behind "Details…"
                err.detail = "".join(traceback.format_exception(exc)).strip()
            value = err
        # A job that completed despite a late cancel() keeps its result: its work is done.
        self._bridge.done.emit(ok, value)

    # -- GUI side -----------------------------------------------------------------------
    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, message: str) -> None:
        if self.state != "done":
            self.progress.emit(done, total, message)

    @Slot(bool, object)
    def _on_done(self, ok: bool, value: object) -> None:
        self._finish(ok, value)

    def _finish(self, ok: bool, value: object) -> None:
        if self.state == "done":
            return
        self.state = "done"
        if ok:
            self.result = value
            self.succeeded.emit(value)
        else:
            assert isinstance(value, errors.StorageError)
            self.error = value
            self.failed.emit(value)
        self.finished.emit()


class _Runnable(QRunnable):
    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job
        self.setAutoDelete(True)

    def run(self) -> None:
        self.job._execute()


class JobRunner(QObject):
    """Runs jobs in a thread pool, in submission order, with an exclusive gate."""

    running_changed = Signal(int)  # number of running jobs
    exclusive_changed = Signal(bool)  # an exclusive job waits for or holds the gate
    job_started = Signal(object)
    job_finished = Signal(object)

    def __init__(self, parent: QObject | None = None, max_threads: int = 4) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._store: Store | None = None
        self._pending: deque[Job] = deque()
        self._running: set[Job] = set()
        self._exclusive_state = False
        self._close_after: list[Store] = []
        self._orphans: set[Job] = set()  # jobs failed without running (kept alive until then)
        self._exclusive_running: Job | None = None
        self._exclusive_pending = 0  # exclusive jobs in _pending (keeps the gate checks O(1))

    # -- store --------------------------------------------------------------------------
    @property
    def store(self) -> Store | None:
        return self._store

    def set_store(self, store: Store | None) -> None:
        """Jobs submitted from now on run against ``store`` (jobs already queued keep theirs)."""
        self._store = store

    def close_when_idle(self, store: Store) -> None:
        """Cancel ``store``'s jobs and close it once none of them is running."""
        for job in list(self._pending) + list(self._running):
            if job.store is store:
                job.cancel()
        self._close_after.append(store)
        self._close_idle_stores()

    def _close_idle_stores(self) -> None:
        if not self._close_after:
            return
        busy = {id(j.store) for j in self._running}
        for store in list(self._close_after):
            if id(store) not in busy and not any(j.store is store for j in self._pending):
                self._close_after.remove(store)
                store.close()

    # -- state --------------------------------------------------------------------------
    @property
    def running_count(self) -> int:
        return len(self._running)

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def exclusive_active(self) -> bool:
        return self._exclusive_state

    def exclusive_job(self) -> Job | None:
        """The exclusive job holding or waiting for the gate, if any."""
        if self._exclusive_running is not None:
            return self._exclusive_running
        if self._exclusive_pending:
            return next((job for job in self._pending if job.exclusive), None)
        return None

    def is_idle(self) -> bool:
        return not self._running and not self._pending and not self._orphans

    # -- submitting ---------------------------------------------------------------------
    def submit(
        self,
        fn: Callable[[JobContext], T],
        *,
        name: str,
        exclusive: bool = False,
        on_result: Callable[[T], None] | None = None,
        on_error: Callable[[errors.StorageError], None] | None = None,
        on_progress: Callable[[int, int, str], None] | None = None,
        store: Store | None = CURRENT,
        quiet: bool = False,
    ) -> Job:
        """Run ``fn(ctx)`` in a worker; ``on_*`` are called on the GUI thread.

        ``store=None`` runs ``fn`` without a database (opening one, for instance).
        ``quiet=True`` marks housekeeping (polling) that the jobs indicator leaves out.
        Call from the GUI thread.
        """
        target = self._store if store is CURRENT else store
        job = Job(fn, name, exclusive, target)
        job.quiet = quiet
        if on_progress is not None:
            job.progress.connect(on_progress)
        if on_result is not None:
            job.succeeded.connect(on_result)
        if on_error is not None:
            job.failed.connect(on_error)
        job.finished.connect(lambda j=job: self._on_finished(j))
        job._cancel_requested.connect(lambda j=job: self._on_cancel_requested(j))
        if store is CURRENT and target is None:  # fail asynchronously, like any job
            self._orphans.add(job)
            QTimer.singleShot(0, lambda j=job: j._finish(False, errors.StorageError(NO_DATABASE)))
            return job
        self._pending.append(job)
        self._exclusive_pending += job.exclusive
        self._dispatch()
        return job

    def cancel_all(self) -> None:
        for job in list(self._pending) + list(self._running):
            job.cancel()

    def wait_idle(self, timeout_ms: int = 10000) -> bool:
        """Process events until no job is pending or running (tests, shutdown)."""
        from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QEventLoop

        deadline = time.monotonic() + timeout_ms / 1000
        while not self.is_idle():
            if time.monotonic() > deadline:
                return False
            self._pool.waitForDone(QDeadlineTimer(5))
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        QCoreApplication.processEvents()
        return True

    # -- the gate -----------------------------------------------------------------------
    def _dispatch(self) -> None:
        while self._pending:
            head = self._pending[0]
            if self._exclusive_running is not None:
                break  # the gate is held
            if head.exclusive and self._running:
                break  # waits for the running jobs; holds everything behind it
            self._pending.popleft()
            if head.exclusive:
                self._exclusive_pending -= 1
                self._exclusive_running = head
            self._start(head)
            if head.exclusive:
                break
        self._update_exclusive()

    def _start(self, job: Job) -> None:
        job.state = "running"
        self._running.add(job)
        self.running_changed.emit(len(self._running))
        self.job_started.emit(job)
        self._pool.start(_Runnable(job))

    def _update_exclusive(self) -> None:
        state = self.exclusive_job() is not None
        if state != self._exclusive_state:
            self._exclusive_state = state
            self.exclusive_changed.emit(state)

    def _on_cancel_requested(self, job: Job) -> None:
        if job.state == "pending" and job in self._pending:
            self._pending.remove(job)
            self._exclusive_pending -= job.exclusive
            self._orphans.add(job)
            error = errors.Cancelled(f"{job.name}: cancelled before it started.")
            QTimer.singleShot(0, lambda j=job: j._finish(False, error))
            self._dispatch()

    def _on_finished(self, job: Job) -> None:
        was_running = job in self._running
        self._running.discard(job)
        if job is self._exclusive_running:
            self._exclusive_running = None
        self._orphans.discard(job)
        if was_running:
            self.running_changed.emit(len(self._running))
        self.job_finished.emit(job)
        self._close_idle_stores()
        self._dispatch()
