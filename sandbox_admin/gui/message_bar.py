"""The main window's non-modal message bar: errors and notices, never a traceback dialog.

Each message has a level (info / warning / error), one line of text, an optional
action button (e.g. "Upgrade schema", "Refresh"), a "Details…" toggle when there is
detail text, and a close button. A message shown with a ``key`` replaces an earlier
one with the same key, so a repeated notice does not stack up.

Confirmations of one's own actions (info, no action button, no details) fade after a
few seconds (not while the mouse is on them); problems and offers stay until dismissed.
The window puts the bar below the panes, so a message appearing never moves the
controls a person is about to click.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..storage import errors

#: level -> (background, text, border, symbol)
LEVELS = {
    "info": ("#e8f1fb", "#0b3d75", "#9cc2ea", "ℹ"),
    "warning": ("#fff6dc", "#5b4200", "#f0c85a", "⚠"),
    "error": ("#fdecea", "#8a1c12", "#ef9a92", "✖"),
}
MAX_MESSAGES = 4
#: How long a confirmation stays (ms).
FADE_AFTER_MS = 6000
#: The detail text shows at most this many lines before it scrolls.
DETAIL_LINES = 8


class Message(QFrame):
    """One message in the bar."""

    closed = Signal(object)

    def __init__(self, level: str, text: str, detail: str = "", *, key: str = "",
                 action: str = "", callback: Callable[[], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level = level if level in LEVELS else "info"
        self.key = key
        self._callback = callback
        bg, ink, border, symbol = LEVELS[self.level]
        self.setObjectName("message")
        self.setProperty("level", self.level)
        self.setStyleSheet(
            f"#message {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}"
            f"#message QLabel {{ color: {ink}; }}"
            f"#message QPlainTextEdit {{ background: white; color: #222; border: 1px solid {border}; }}"
        )
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 4, 4, 4)
        outer.setSpacing(4)
        row = QHBoxLayout()
        row.setSpacing(6)
        self.icon = QLabel(symbol)
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.icon.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.icon.setFont(font)
        self.icon.setFixedWidth(self.icon.fontMetrics().height() + 2)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row.addWidget(self.icon)
        row.addWidget(self.label, 1)
        self.action_button = QPushButton(action)
        self.action_button.setVisible(bool(action))
        self.action_button.clicked.connect(self._act)
        row.addWidget(self.action_button)
        self.details_button = QPushButton("Details…")
        self.details_button.setCheckable(True)
        self.details_button.setVisible(bool(detail))
        self.details_button.toggled.connect(self._toggle_details)
        row.addWidget(self.details_button)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.close_message)
        row.addWidget(self.close_button)
        outer.addLayout(row)
        self.detail_view = QPlainTextEdit(detail)
        self.detail_view.setReadOnly(True)
        lines = min(DETAIL_LINES, max(2, detail.count("\n") + 1))
        self.detail_view.setFixedHeight(lines * self.detail_view.fontMetrics().lineSpacing() + 14)
        self.detail_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.detail_view.hide()
        outer.addWidget(self.detail_view)
        #: confirmations close by themselves; problems and offers wait for the person
        self.fades = self.level == "info" and not action and not detail
        self.fade_timer = QTimer(self)
        self.fade_timer.setSingleShot(True)
        self.fade_timer.setInterval(FADE_AFTER_MS)
        self.fade_timer.timeout.connect(self.close_message)
        if self.fades:
            self.fade_timer.start()

    def event(self, event: QEvent) -> bool:  # the mouse on it holds it
        if getattr(self, "fades", False):  # (events arrive during construction too)
            if event.type() == QEvent.Type.Enter:
                self.fade_timer.stop()
            elif event.type() == QEvent.Type.Leave:
                self.fade_timer.start()
        return super().event(event)

    def text(self) -> str:
        return self.label.text()

    def detail(self) -> str:
        return self.detail_view.toPlainText()

    def _toggle_details(self, on: bool) -> None:
        self.detail_view.setVisible(on)
        self.details_button.setText("Hide details" if on else "Details…")

    def _act(self) -> None:
        callback = self._callback
        self.close_message()
        if callback is not None:
            callback()

    def close_message(self) -> None:
        self._callback = None
        self.hide()
        self.closed.emit(self)


class MessageBar(QWidget):
    """A column of messages above the panes; hidden when empty."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(6, 6, 6, 0)
        self._layout.setSpacing(4)
        self._messages: list[Message] = []
        self.hide()

    def show_message(self, level: str, text: str, detail: str = "", *, key: str = "",
                     action: str = "", callback: Callable[[], None] | None = None) -> Message:
        if key:
            self.remove(key)
        for old in list(self._messages):  # the same words twice: keep the newest only
            if old.text() == text and old.level == level:
                self._drop(old)
        message = Message(level, text, detail, key=key, action=action, callback=callback)
        message.closed.connect(self._drop)
        self._messages.append(message)
        self._layout.addWidget(message)
        message.show()
        while len(self._messages) > MAX_MESSAGES:
            self._drop(self._messages[0])
        self.show()
        self.changed.emit()
        return message

    def show_error(self, error: BaseException, *, key: str = "", action: str = "",
                   callback: Callable[[], None] | None = None) -> Message:
        err = errors.translate(error)
        return self.show_message("error", str(err), err.detail, key=key, action=action,
                                 callback=callback)

    def remove(self, key: str) -> None:
        for message in [m for m in self._messages if m.key == key]:
            self._drop(message)

    def clear(self) -> None:
        for message in list(self._messages):
            self._drop(message)

    def messages(self) -> list[Message]:
        return list(self._messages)

    def find(self, key: str) -> Message | None:
        return next((m for m in self._messages if m.key == key), None)

    def _drop(self, message: Message) -> None:
        if message in self._messages:
            self._messages.remove(message)
            self._layout.removeWidget(message)
            message.hide()
            message.deleteLater()
        self.setVisible(bool(self._messages))
        self.changed.emit()
