"""The status bar: what database is open, and what the job runner is doing.

:func:`gather_status` runs in a worker (it reads PRAGMAs and the migrations table);
the widgets only display the :class:`DatabaseStatus` it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QStatusBar,
    QToolButton,
    QWidget,
)
from superqt import QElidingLabel

from ..storage import SQLITE_VERSION, Store, latest_version
from . import display
from .jobs import Job, JobRunner
from .theme import ink_name


@dataclass(frozen=True)
class DatabaseStatus:
    path: Path
    size_bytes: int
    wal_bytes: int
    schema_version: int
    known_version: int
    pending: list[int]
    unknown: list[int]
    journal_mode: str
    sqlite_version: str
    read_only: bool
    immutable: bool
    notices: list[str] = field(default_factory=list)


def gather_status(store: Store) -> DatabaseStatus:
    """Read what the status bar shows. Worker threads only."""
    status = store.migration_status()
    wal = Path(f"{store.path}-wal")
    try:
        wal_bytes = wal.stat().st_size if wal.exists() else 0
    except OSError:
        wal_bytes = 0
    return DatabaseStatus(
        path=store.path,
        size_bytes=store.size_bytes(),
        wal_bytes=wal_bytes,
        schema_version=status.current,
        known_version=latest_version(),
        pending=list(status.pending),
        unknown=list(status.unknown),
        journal_mode=store.journal_mode(),
        sqlite_version=SQLITE_VERSION,
        read_only=store.read_only,
        immutable=bool(store.db.immutable),
        notices=list(store.notices),
    )


def _field(text: str = "", tip: str = "") -> QLabel:
    label = QLabel(text)
    label.setToolTip(tip)
    label.setContentsMargins(6, 0, 6, 0)
    return label


class JobsIndicator(QWidget):
    """"Idle" / "2 jobs running" / "Exclusive: Upgrade schema (waiting for 2 jobs)".

    Quiet jobs (change polling) are left out; the busy bar appears only for work that
    lasts longer than ``SHOW_DELAY_MS``, so quick page loads do not make it flicker.
    """

    SHOW_DELAY_MS = 150

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 2, 0)
        layout.setSpacing(6)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setFixedSize(64, 12)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.label = QLabel("Idle")
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Cancel the running jobs (what SQLite allows to stop)")
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self._cancel)
        layout.addWidget(self.busy)
        layout.addWidget(self.label)
        layout.addWidget(self.cancel_button)
        self._jobs: list[Job] = []
        self._show_timer = QTimer(self)
        self._show_timer.setSingleShot(True)
        self._show_timer.setInterval(self.SHOW_DELAY_MS)
        self._show_timer.timeout.connect(self._show_busy)
        runner.job_started.connect(self._started)
        runner.job_finished.connect(self._finished)
        runner.exclusive_changed.connect(lambda _: self.update_text())

    def _started(self, job: Job) -> None:
        if not job.quiet:
            self._jobs.append(job)
        self.update_text()

    def _finished(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
        self.update_text()

    def _cancel(self) -> None:
        for job in list(self._jobs):
            job.cancel()

    def _show_busy(self) -> None:
        if self._jobs or self.runner.exclusive_active:
            self.busy.show()
            self.cancel_button.setVisible(bool(self._jobs))

    @property
    def visible_jobs(self) -> list[Job]:
        return list(self._jobs)

    def update_text(self) -> None:
        exclusive = self.runner.exclusive_job()
        running = len(self._jobs)
        names = [j.name for j in self._jobs]
        if exclusive is not None:
            if exclusive.state == "pending":
                others = running  # housekeeping (quiet) jobs are short and not shown
                text = f"Exclusive: {exclusive.name} (waiting for {others} job{'s' * (others != 1)})"
            else:
                text = f"Exclusive: {exclusive.name}"
            tip = "An exclusive job holds the database: other work waits until it is done."
        elif running == 0:
            text, tip = "Idle", "No database work is running."
        elif running == 1:
            text, tip = f"1 job: {names[0]}", names[0]
        else:
            text, tip = f"{running} jobs running", "\n".join(names)
        self.label.setText(text)
        self.setToolTip(tip)
        if running or exclusive is not None:
            if not self.busy.isVisible() and not self._show_timer.isActive():
                self._show_timer.start()
        else:
            self._show_timer.stop()
            self.busy.hide()
            self.cancel_button.hide()


class DatabaseStatusBar(QStatusBar):
    """Path · size · schema · journal · SQLite · read-only · jobs."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(True)
        self.path_label = QElidingLabel("No database open")
        self.path_label.setElideMode(Qt.TextElideMode.ElideMiddle)
        self.path_label.setContentsMargins(6, 0, 6, 0)
        self.path_label.setMinimumWidth(120)
        self.size_label = _field(tip="Size of the database file (and its -wal file)")
        self.schema_label = _field(tip="Schema version of the database")
        self.journal_label = _field(tip="Journal mode")
        self.sqlite_label = _field(f"SQLite {SQLITE_VERSION}", "SQLite library version")
        self.mode_label = _field()
        self.jobs = JobsIndicator(runner)
        self.addWidget(self.path_label, 1)
        for w in (self.size_label, self.schema_label, self.journal_label, self.sqlite_label,
                  self.mode_label):
            self.addPermanentWidget(w)
        self.addPermanentWidget(self.jobs)
        # a temporary message ("Opening…", "Creating a demo database…") takes the path's
        # place; Qt paints it over the label otherwise
        self.messageChanged.connect(lambda text: self.path_label.setVisible(not text))
        self.show_status(None)

    def show_status(self, status: DatabaseStatus | None) -> None:
        db_fields = (self.size_label, self.schema_label, self.journal_label, self.mode_label)
        if status is None:
            self.path_label.setText("No database open")
            self.path_label.setToolTip("")
            for w in db_fields:
                w.hide()
            return
        for w in db_fields:
            w.show()
        self.path_label.setText(str(status.path))
        self.path_label.setToolTip(str(status.path))
        size = display.size(status.size_bytes)
        if status.wal_bytes:
            size += f" + {display.size(status.wal_bytes)} WAL"
        self.size_label.setText(size)
        schema = f"Schema v{status.schema_version}"
        tip = f"Schema version {status.schema_version}; this program knows up to {status.known_version}."
        if status.unknown:
            schema += " (newer)"
            tip += " The database is newer than this program: read-only."
        elif status.pending:
            schema += f" ({len(status.pending)} pending)"
            tip += f" Pending migrations: {', '.join(map(str, status.pending))}."
        self.schema_label.setText(schema)
        self.schema_label.setToolTip(tip)
        self.journal_label.setText(status.journal_mode.upper())
        if status.read_only:
            mode = "Read-only (immutable)" if status.immutable else "Read-only"
            self.mode_label.setText(mode)
            self.mode_label.setStyleSheet(f"color: {ink_name('warning')}; font-weight: bold;")
            self.mode_label.setToolTip(
                "Opened read-only: nothing is written."
                + (" Nobody had the file open, so it is read as an unchanging file (immutable=1)."
                   if status.immutable else "")
            )
        else:
            self.mode_label.setText("Read-write")
            self.mode_label.setStyleSheet("")
            self.mode_label.setToolTip("Changes are written only when you ask for them.")
