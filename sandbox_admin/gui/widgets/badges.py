"""Coloured badges: a delegate for table cells and a small label widget.

A model cell shows badges by returning a list of ``(text, fill)`` pairs (fill a colour
name such as ``"#2e7d32"``) for :data:`BADGES_ROLE`; ``DisplayRole`` keeps the plain
text for copying, sorting and accessibility.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPixmap
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
#: Rendered badge strips a delegate keeps (statuses x dimmed x fonts: a few dozen in use).
PIXMAP_CACHE = 256


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
    """Paints :data:`BADGES_ROLE` as pills; falls back to the normal text otherwise.

    Each distinct strip of badges is rendered once into a pixmap and then copied into
    the cells that show it: antialiased pills and small text cost ~0.3 ms per cell,
    over half of a table's paint, while the same few statuses repeat on every row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fonts: dict[str, tuple[QFont, QFontMetrics]] = {}
        self._strips: dict[tuple, QPixmap] = {}

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
        height = min(rect.height() - 4, fm.height() + 2)
        if height <= 0 or rect.width() <= 2:
            return
        strip = self._strip(tuple(badges), bool(index.data(DIMMED_ROLE)), font, fm, height,
                            painter.device().devicePixelRatioF())
        width = min(round(strip.width() / strip.devicePixelRatioF()), rect.width() - 2)
        source = QRect(0, 0, round(width * strip.devicePixelRatioF()), strip.height())
        painter.drawPixmap(QRect(rect.left() + 2, rect.top() + (rect.height() - height) // 2,
                                 width, height), strip, source)

    def _strip(self, badges: tuple, dimmed: bool, font: QFont, fm: QFontMetrics, height: int,
               ratio: float) -> QPixmap:
        """The badges painted once, on a transparent pixmap ``height`` pixels high."""
        key = (badges, dimmed, font.key(), height, ratio)
        strip = self._strips.get(key)
        if strip is None:
            width = sum(badge_width(fm, t) for t, _ in badges) + GAP * (len(badges) - 1) + 2
            strip = QPixmap(max(1, round(width * ratio)), max(1, round(height * ratio)))
            strip.setDevicePixelRatio(ratio)
            strip.fill(Qt.GlobalColor.transparent)
            strip_painter = QPainter(strip)
            # paint_badges starts 2 px in and centres vertically: aim it at the pixmap
            paint_badges(strip_painter, QRect(-2, -2, width + 2, height + 4), list(badges), font,
                         dimmed, fm)
            strip_painter.end()
            if len(self._strips) >= PIXMAP_CACHE:
                self._strips.clear()
            self._strips[key] = strip
        return strip

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
