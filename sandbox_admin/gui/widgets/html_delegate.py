"""A delegate that paints a cell's HTML (search results with highlighted matches).

The model gives safe HTML (everything escaped, see ``storage.search.snippet_html``)
for :data:`HTML_ROLE`; DisplayRole keeps plain text for copying and accessibility.
Matches are wrapped in ``<b>``, which the document's style sheet paints as a marker.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

HTML_ROLE = Qt.ItemDataRole.UserRole + 60
HIGHLIGHT_CSS = "b { background-color: #fff176; color: #000000; font-weight: bold; }"

Index = QModelIndex | QPersistentModelIndex


class HtmlDelegate(QStyledItemDelegate):
    """Paints :data:`HTML_ROLE` as rich text (falls back to the normal painting).

    ``css`` styles the HTML's classes; ``selected_css`` replaces it on selected rows
    (where grey or amber text would not read on the selection colour).
    """

    def __init__(self, parent: QObject | None = None, css: str = "", selected_css: str = "") -> None:
        super().__init__(parent)
        self.css = css
        self.selected_css = selected_css or css

    def _document(self, option: QStyleOptionViewItem, html: str, width: int,
                  selected: bool = False) -> QTextDocument:
        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setDefaultStyleSheet(HIGHLIGHT_CSS + (self.selected_css if selected else self.css))
        doc.setDocumentMargin(2)
        doc.setHtml(html)
        doc.setTextWidth(max(width, 10))
        return doc

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        html = index.data(HTML_ROLE)
        if not html:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, opt.widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        doc = self._document(opt, html, rect.width(), selected)
        ctx = QAbstractTextDocumentLayout.PaintContext()
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        ctx.palette.setColor(QPalette.ColorRole.Text, opt.palette.color(role))
        fg = index.data(Qt.ItemDataRole.ForegroundRole)
        if fg is not None and not selected:
            ctx.palette.setColor(QPalette.ColorRole.Text, fg.color() if hasattr(fg, "color") else fg)
        painter.save()
        painter.translate(rect.topLeft())
        painter.setClipRect(rect.translated(-rect.topLeft()))
        doc.documentLayout().draw(painter, ctx)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802 (Qt)
        html = index.data(HTML_ROLE)
        if not html:
            return super().sizeHint(option, index)
        width = option.rect.width() if option.rect.width() > 0 else 400
        doc = self._document(option, html, width)
        return QSize(int(doc.idealWidth()), int(doc.size().height()) + 2)
