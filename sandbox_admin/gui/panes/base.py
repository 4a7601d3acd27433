"""The contract every pane keeps with the main window, written down once.

A pane is a QWidget that shows one side of the open database. The window hands it the
job runner and the settings, then calls :meth:`Pane.set_store` whenever a database is
opened or closed, :meth:`Pane.refresh` on F5 and :meth:`Pane.focus_filter` on Ctrl+F.
A pane speaks back through two signals: ``message_requested`` (a line for the message
bar) and ``database_replaced`` (the database's content changed under every pane: a
restore or a schema upgrade; the window reloads everything).

Panes never run SQL on the GUI thread: they submit jobs to the runner and show what
comes back. When a newer request makes an older one moot (typing in a search box,
clicking another row), :class:`Latest` drops the older answer.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtWidgets import QSplitter, QWidget

from ...storage import errors
from ..jobs import JobRunner
from ..settings import app_settings, persist_splitter


class Latest:
    """"The newest answer wins" for one kind of request.

    ``token = latest.next()`` when sending a request; ``latest.is_current(token)`` when
    its answer arrives; ``latest.invalidate()`` makes every answer under way stale
    (a new database, a cleared view). :meth:`only_latest` wraps a callback so that it
    runs only while its request is still the newest.
    """

    def __init__(self) -> None:
        self.token = 0

    def next(self) -> int:
        self.token += 1
        return self.token

    def invalidate(self) -> None:
        self.token += 1

    def is_current(self, token: int) -> bool:
        return token == self.token

    def only_latest(self, callback: Callable[..., Any]) -> Callable[..., None]:
        token = self.next()

        def guarded(*args: Any) -> None:
            if token == self.token:
                callback(*args)

        return guarded


class Pane(QWidget):
    """The base of every pane; see the module docstring."""

    #: level ("info", "warning", "error"), text, detail
    message_requested = Signal(str, str, str)
    #: a restore or schema upgrade replaced the database's content: reload every view
    database_replaced = Signal()
    #: follow a link: (the target pane's ``key``, a place it understands); the window
    #: shows that pane there and remembers the way back (Alt+Left)
    navigate = Signal(str, object)
    #: the pane's name in links ("sandboxes", "files", "metrics", "maintenance")
    key = ""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.settings = settings if settings is not None else app_settings()
        self.store: Any = None
        self._when_shown: Callable[[], None] | None = None

    # -- what the window calls ------------------------------------------------------------
    def set_store(self, store: Any) -> None:
        """A database was opened (or closed: ``None``)."""
        self.store = store

    def refresh(self) -> None:
        """Read everything shown again (F5)."""

    def focus_filter(self) -> None:
        """Put the keyboard focus in the pane's search or filter box (Ctrl+F)."""

    def apply_preferences(self, prefs: Any) -> None:
        """New preferences (:class:`..preferences.Preferences`), applied without a restart."""

    def current_place(self) -> dict[str, Any]:
        """Where the pane is now (its filters, its selection), to come back to."""
        return {}

    def show_place(self, place: dict[str, Any]) -> None:
        """Go to ``place`` (what :meth:`current_place` returned, or a link's target)."""

    # -- helpers for panes ----------------------------------------------------------------
    def when_shown(self, work: Callable[[], None]) -> None:
        """Run ``work`` now if the pane is on screen, else when it is next shown: a
        pane behind another tab does no database work (the newest ``work`` wins)."""
        if self.isVisible():
            self._when_shown = None
            work()
        else:
            self._when_shown = work

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        if self._when_shown is not None:
            work, self._when_shown = self._when_shown, None
            QTimer.singleShot(0, work)

    def persist_splitter(self, splitter: QSplitter, key: str) -> None:
        persist_splitter(splitter, self.settings, key)

    def fill_list_detail(self, splitter: QSplitter, left: QWidget, right: QWidget,
                         sizes: list[int], key: str) -> None:
        """The list-beside-its-detail layout: 3:2 stretch, neither side collapses, the
        sizes the person chose remembered under ``key``."""
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes(sizes)
        self.persist_splitter(splitter, key)

    def single_shot_timer(self, interval_ms: int) -> QTimer:
        """A timer that fires once, ``interval_ms`` after its last start (debouncing)."""
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(interval_ms)
        return timer

    def show_error(self, error: errors.StorageError, what: str = "") -> None:
        """An error for the message bar (a cancelled job is not one)."""
        if isinstance(error, errors.Cancelled):
            return
        text = f"{what}: {error}" if what else str(error)
        self.message_requested.emit("error", text, getattr(error, "detail", "") or "")

    def tell(self, level: str, text: str, detail: str = "") -> None:
        self.message_requested.emit(level, text, detail)


class PlaceholderPane(Pane):
    """Stands in for a pane that could not be loaded, saying why."""

    def __init__(self, text: str, runner: JobRunner | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(runner, settings=settings)  # type: ignore[arg-type]
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QLabel, QVBoxLayout

        label = QLabel(text)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        label.setStyleSheet("color: #666; padding: 24px;")
        QVBoxLayout(self).addWidget(label)
        self.label = label
