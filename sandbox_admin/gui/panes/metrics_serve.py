""""Serve to Prometheus…" in the Metrics pane: the database's /metrics endpoint.

Off by default. Starting and stopping are jobs (binding, joining the server's threads);
the endpoint then runs on threads of its own and reads the database there (its own
read-only connection, see ``storage.metrics.scrape``), never on the GUI thread. A
one-second timer shows its address, state and scrape count from plain attributes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QWidget,
)

from ...storage import DEFAULT_LISTEN, MetricsEndpoint, errors
from ..jobs import JobContext, JobRunner

OFF_TEXT = "Not serving to Prometheus"


class ServeDialog(QDialog):
    """Where to listen, and an optional name for this server."""

    def __init__(self, parent: QWidget | None, listen: str, instance: str) -> None:
        super().__init__(parent)
        self.setWindowTitle("Serve to Prometheus")
        form = QFormLayout(self)
        form.addRow(QLabel("Prometheus can read this database's latest metrics from an address\n"
                           "on this computer. Only this computer can reach the default address."))
        self.listen_edit = QLineEdit(listen)
        self.listen_edit.setToolTip("Host and port, e.g. 127.0.0.1:9464")
        self.instance_edit = QLineEdit(instance, placeholderText="optional, e.g. server-1")
        self.instance_edit.setToolTip("Added to every series as the label instance")
        form.addRow("Address", self.listen_edit)
        form.addRow("Server name", self.instance_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton("Start serving", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class ServeControl(QWidget):
    """A button and a state line; :meth:`start` / :meth:`stop` for code and tests."""

    #: The endpoint started (its address) or stopped ("").
    state_changed = Signal(str)
    #: (level, text, detail) for the pane's message bar.
    message_requested = Signal(str, str, str)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.store: Any = None
        self.endpoint: MetricsEndpoint | None = None
        self.listen = DEFAULT_LISTEN
        self.instance = ""
        self._starting = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.button = QToolButton(text="Serve to Prometheus…", autoRaise=True)
        self.button.setToolTip("Let a Prometheus server read this database's latest metrics")
        self.button.clicked.connect(self._clicked)
        self.state_label = QLabel(OFF_TEXT)
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.button)
        layout.addWidget(self.state_label, 1)
        self.timer = QTimer(self, interval=1000)
        self.timer.timeout.connect(self._show_state)

    # -- public ----------------------------------------------------------------------
    def set_store(self, store: Any) -> None:
        """Another database (or none): whatever was served stops."""
        if self.endpoint is not None:
            self.stop()
        self.store = store
        self.button.setEnabled(store is not None)

    @property
    def running(self) -> bool:
        return self.endpoint is not None

    def start(self, listen: str | None = None, instance: str | None = None) -> None:
        if self.store is None or self.endpoint is not None or self._starting:
            return
        self.listen = listen or self.listen
        self.instance = self.instance if instance is None else instance
        store, listen_at, name = self.store, self.listen, self.instance or None
        self._starting = True
        self.button.setEnabled(False)
        self._set_label("Starting…")

        def work(ctx: JobContext) -> MetricsEndpoint:
            return MetricsEndpoint(store, listen_at, instance=name,
                                   backups_dir=getattr(store, "backups_dir", None)).start()

        def done(endpoint: MetricsEndpoint) -> None:
            self._starting = False
            self.button.setEnabled(True)
            if store is not self.store:  # the database changed meanwhile
                self._stop_endpoint(endpoint)
                return
            self.endpoint = endpoint
            self.button.setText("Stop serving")
            self.timer.start()
            self._show_state()
            self.state_changed.emit(endpoint.address)

        def failed(error: errors.StorageError) -> None:
            self._starting = False
            self.button.setEnabled(self.store is not None)
            self._set_label(f"Not serving: {error}", error=True)
            self.message_requested.emit("error", str(error), getattr(error, "detail", "") or "")

        self.runner.submit(work, name="Start the Prometheus endpoint", on_result=done,
                           on_error=failed, store=None)

    def stop(self) -> None:
        endpoint, self.endpoint = self.endpoint, None
        self.timer.stop()
        self.button.setText("Serve to Prometheus…")
        self._set_label(OFF_TEXT)
        if endpoint is not None:
            self._stop_endpoint(endpoint)
            self.state_changed.emit("")

    # -- inside ----------------------------------------------------------------------
    def _stop_endpoint(self, endpoint: MetricsEndpoint) -> None:
        def work(ctx: JobContext) -> None:
            endpoint.stop()

        self.runner.submit(work, name="Stop the Prometheus endpoint", store=None, quiet=True)

    def _clicked(self) -> None:
        if self.endpoint is not None:
            self.stop()
            return
        dialog = ServeDialog(self, self.listen, self.instance)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.start(dialog.listen_edit.text().strip() or DEFAULT_LISTEN,
                       dialog.instance_edit.text().strip())

    def _show_state(self) -> None:
        if self.endpoint is None:
            return
        state = self.endpoint.state()
        scrapes = f"{state.scrapes:,} scrape" + ("" if state.scrapes == 1 else "s")
        if not state.running:
            self._set_label(f"Stopped unexpectedly at {state.address}", error=True)
        elif state.stale:
            self._set_label(f"Serving at {state.address} · {scrapes} · the database was busy at "
                            "the last scrape; it showed the previous values", error=True)
        else:
            self._set_label(f"Serving at {state.address} · {scrapes} · {state.series:,} series")

    def _set_label(self, text: str, error: bool = False) -> None:
        self.state_label.setText(text)
        self.state_label.setStyleSheet("QLabel { color: #b71c1c; }" if error else "")
