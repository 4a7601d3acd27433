"""The parts every detail panel shares: a placeholder or a page, a bold title, and a
two-column grid of labelled values that elide to fit."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget
from superqt import QElidingLabel

from ..theme import ink_name
from .badges import BadgeLabel


class Field(QElidingLabel):
    """A value in a detail grid: elided to fit, whole in the tooltip, selectable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setElideMode(Qt.TextElideMode.ElideRight)  # a date keeps its start, never loses its middle
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def set(self, text: str, tip: str = "") -> None:
        self.setText(text)
        self.setToolTip(tip or (text if len(text) > 20 else ""))


def title_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.1)
    return font


def field_grid(spec: tuple[tuple[str, str], ...]) -> tuple[QGridLayout, dict[str, Field]]:
    """``(key, label)`` pairs laid out two per row; returns the layout and the fields by key."""
    grid = QGridLayout()
    grid.setHorizontalSpacing(8)
    grid.setVerticalSpacing(2)
    fields: dict[str, Field] = {}
    for n, (key, label) in enumerate(spec):
        r, c = divmod(n, 2)
        name = QLabel(label)
        name.setStyleSheet(f"color: {ink_name('label')};")
        fields[key] = Field()
        grid.addWidget(name, r, c * 2)
        grid.addWidget(fields[key], r, c * 2 + 1)
    grid.setColumnStretch(1, 1)
    grid.setColumnStretch(3, 1)
    return grid, fields


class StackedDetail(QWidget):
    """Shows either a grey message (nothing selected, loading, an error) or ``self.page``."""

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.details: Any = None
        self.stack = QStackedWidget(self)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)
        self.placeholder = QLabel(placeholder)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet(f"color: {ink_name('muted')};")
        self.stack.addWidget(self.placeholder)
        self.page = QWidget()
        self.page_layout = QVBoxLayout(self.page)
        self.page_layout.setContentsMargins(6, 4, 4, 4)
        self.page_layout.setSpacing(4)
        self.stack.addWidget(self.page)

    def add_title_row(self) -> tuple[QHBoxLayout, QLabel, BadgeLabel]:
        """The page's first row: a bold title, its badges, room for links on the right."""
        row = QHBoxLayout()
        title = QLabel()
        title.setFont(title_font(title.font()))
        title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        badges = BadgeLabel()
        row.addWidget(title)
        row.addWidget(badges)
        row.addStretch(1)
        self.page_layout.addLayout(row)
        return row, title, badges

    def show_message(self, text: str) -> None:
        self.details = None
        self.placeholder.setText(text)
        self.stack.setCurrentWidget(self.placeholder)

    def show_page(self) -> None:
        self.stack.setCurrentWidget(self.page)
