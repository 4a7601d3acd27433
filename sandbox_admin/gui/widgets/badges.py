"""Coloured badges: a delegate for table cells and a small label widget.

A model cell shows badges by returning a list of ``(text, fill)`` pairs (fill a colour
name such as ``"#2e7d32"``) for :data:`BADGES_ROLE`; ``DisplayRole`` keeps the plain
text for copying, sorting and accessibility.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from ..display import text_colour_on

BADGES_ROLE = Qt.ItemDataRole.UserRole + 40
#: True when the row is dimmed (soft-deleted): badges are painted faded.
DIMMED_ROLE = Qt.ItemDataRole.UserRole + 41

H_PAD = 6
GAP = 4


def badge_width(fm: QFontMetrics, text: str) -> int:
    return fm.horizontalAdvance(text) + 2 * H_PAD


def paint_badges(painter: QPainter, rect: QRect, badges: list[tuple[str, str]], font: QFont,
                 dimmed: bool = False, fm: QFontMetrics | None = None) -> None:
    """Paint pills left to right inside ``rect`` (vertically centred), clipped to it."""
    fm = fm or QFontMetrics(font)
    height = min(rect.height() - 4, fm.height() + 2)
    top = rect.top() + (rect.height() - height) // 2
    x = rect.left() + 2
    painter.save()
    painter.setClipRect(rect)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setFont(font)
    for text, fill_name in badges:
        fill = QColor(fill_name)
        ink = text_colour_on(fill)
        if dimmed:
            fill.setAlpha(110)
            ink = QColor("#ffffff") if ink.lightness() > 128 else QColor("#333333")
        width = badge_width(fm, text)
        pill = QRectF(x, top, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(pill, height / 2, height / 2)
        painter.setPen(ink)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        x += width + GAP
    painter.restore()


def _small_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setPointSizeF(max(7.0, base.pointSizeF() * 0.9))
    return font


class BadgeDelegate(QStyledItemDelegate):
    """Paints :data:`BADGES_ROLE` as pills; falls back to the normal text otherwise."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fonts: dict[str, tuple[QFont, QFontMetrics]] = {}

    def _font(self, base: QFont) -> tuple[QFont, QFontMetrics]:
        key = base.key()
        if key not in self._fonts:  # painting runs often: build fonts and metrics once
            small = _small_font(base)
            self._fonts[key] = (small, QFontMetrics(small))
        return self._fonts[key]

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        badges = index.data(BADGES_ROLE)
        if not badges:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, opt.widget)
        font, fm = self._font(option.font)
        paint_badges(painter, rect, badges, font, bool(index.data(DIMMED_ROLE)), fm)

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        badges = index.data(BADGES_ROLE)
        if badges:
            _, fm = self._font(option.font)
            width = sum(badge_width(fm, t) for t, _ in badges) + GAP * (len(badges) - 1) + 10
            hint.setWidth(max(hint.width(), width))
        return hint


class BadgeLabel(QWidget):
    """A row of badges as a widget (detail panel headers)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._badges: list[tuple[str, str]] = []
        self._dimmed = False
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_badges(self, badges: list[tuple[str, str]], dimmed: bool = False) -> None:
        self._badges = list(badges)
        self._dimmed = dimmed
        self.setToolTip(", ".join(t for t, _ in badges))
        self.updateGeometry()
        self.update()

    def badges(self) -> list[tuple[str, str]]:
        return list(self._badges)

    def sizeHint(self) -> QSize:
        fm = QFontMetrics(_small_font(self.font()))
        width = sum(badge_width(fm, t) for t, _ in self._badges) + GAP * max(0, len(self._badges) - 1)
        return QSize(width + 6, fm.height() + 8)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        paint_badges(painter, self.rect(), self._badges, _small_font(self.font()), self._dimmed)
        painter.end()
