"""Dialogs of the sandboxes pane: checkpoint with a reason, purge deleted sandboxes.

They only collect input; the pane runs the jobs. Both are opened non-modally to the
application (``open()``: window-modal) so that tests and the event loop keep running.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


class CheckpointDialog(QDialog):
    """Ask for a checkpoint reason (required)."""

    def __init__(self, sandbox_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Checkpoint sandbox")
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"Record a checkpoint of <b>{sandbox_id}</b>. The reason and time are merged into "
            "its recovery data and written to the audit trail."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("e.g. before upgrading the image")
        self.reason.setMaxLength(500)
        form.addRow("Reason:", self.reason)
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("Checkpoint", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.reason.textChanged.connect(self._update)
        self._update()
        self.resize(440, self.sizeHint().height())

    def _update(self) -> None:
        self.ok.setEnabled(bool(self.reason.text().strip()))

    def value(self) -> str:
        return self.reason.text().strip()


class PurgeDialog(QDialog):
    """Choose N days; shows what would be removed (the pane fills the preview)."""

    #: The number of days changed (debounced): the pane computes a preview.
    preview_requested = Signal(int)

    def __init__(self, days: int = 30, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Purge deleted sandboxes")
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Permanently remove sandboxes that were soft-deleted more than N days ago, "
            "with their files and metrics. Each removal is written to the audit trail. "
            "<b>This cannot be undone.</b>"
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.days = QSpinBox()
        self.days.setRange(0, 36500)
        self.days.setValue(days)
        self.days.setSuffix(" days")
        form.addRow("Deleted more than:", self.days)
        layout.addLayout(form)
        self.preview = QLabel("Counting…")
        self.preview.setWordWrap(True)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview.setMinimumHeight(48)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.preview)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("Purge…", QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(lambda: self.preview_requested.emit(self.days.value()))
        self.days.valueChanged.connect(self._changed)
        self.resize(460, self.sizeHint().height())

    def _changed(self) -> None:
        self.ok.setEnabled(False)
        self.preview.setText("Counting…")
        self._timer.start()

    def request_preview(self) -> None:
        self.preview_requested.emit(self.days.value())

    def set_preview(self, days: int, ids: list[str], total: int) -> None:
        """``total`` sandboxes would go; ``ids`` are the first few of them."""
        if days != self.days.value():
            return  # an answer for a value no longer chosen
        if total == 0:
            self.preview.setText(f"No sandbox was soft-deleted more than {days} days ago: "
                                 "nothing to purge.")
            self.ok.setEnabled(False)
            return
        shown = "<br>".join(ids[:8]) + ("<br>…" if total > 8 else "")
        self.preview.setText(f"<b>{total:,}</b> sandbox{'es' if total != 1 else ''} would be "
                             f"removed:<br><span style='font-family:monospace'>{shown}</span>")
        self.ok.setEnabled(True)

    def set_preview_error(self, text: str) -> None:
        self.preview.setText(f"Cannot preview: {text}")
        self.ok.setEnabled(False)

    def value(self) -> int:
        return self.days.value()
