"""A slim in-pane notice with an optional action button ("changed elsewhere — Reload")."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

STYLES = {
    "info": ("#e3f2fd", "#0d47a1", "#90caf9"),
    "warning": ("#fff8e1", "#5d4037", "#ffcc80"),
    "error": ("#ffebee", "#b71c1c", "#ef9a9a"),
}


class NoticeBar(QFrame):
    """Hidden until :meth:`show_notice`; the action runs its callback and hides the bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton()
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.close_button)
        self.action_button.clicked.connect(self._act)
        self.close_button.clicked.connect(self.dismiss)
        self._callback: Callable[[], None] | None = None
        self.hide()

    def show_notice(self, text: str, level: str = "warning", action: str = "",
                    callback: Callable[[], None] | None = None) -> None:
        bg, ink, border = STYLES.get(level, STYLES["info"])
        self.setStyleSheet(
            f"#noticeBar {{ background: {bg}; border: 1px solid {border}; border-radius: 4px; }}"
            f"#noticeBar QLabel {{ color: {ink}; }}"
        )
        self.label.setText(text)
        self._callback = callback
        self.action_button.setText(action)
        self.action_button.setVisible(bool(action))
        self.show()

    def text(self) -> str:
        return self.label.text()

    def dismiss(self) -> None:
        self._callback = None
        self.hide()

    def _act(self) -> None:
        callback, self._callback = self._callback, None
        self.hide()
        if callback is not None:
            callback()
