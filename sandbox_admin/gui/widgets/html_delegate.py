"""A delegate that paints a cell's HTML (search results with highlighted matches).

The model gives safe HTML (everything escaped, see ``storage.search.snippet_html``)
for :data:`HTML_ROLE`; DisplayRole keeps plain text for copying and accessibility.
Matches are wrapped in ``<b>``, which the document's style sheet paints as a marker.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QAbstractTextDocumentLayout, QColor, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

HTML_ROLE = Qt.ItemDataRole.UserRole + 60
HIGHLIGHT_CSS = "b { background-color: #fff176; color: #000000; font-weight: bold; }"

Index = QModelIndex | QPersistentModelIndex
#: Laid-out documents kept (a few pages of rows, at a couple of widths).
DOCUMENT_CACHE = 400


ELLIPSIS = "\u2026"


def cut_lines(doc: QTextDocument, width: int, mark_width: int) -> list[QRectF]:
    """Where the ellipsis goes for each line of ``doc`` (laid out, unwrapped) that is wider
    than ``width``: a ``mark_width`` box at the right end of that line."""
    if doc.idealWidth() <= width:
        return []
    boxes = []
    layout = doc.documentLayout()
    block = doc.begin()
    while block.isValid():
        lines = block.layout()
        if lines is not None and lines.lineCount():
            line = lines.lineAt(0)
            if doc.documentMargin() + line.naturalTextWidth() > width:
                top = layout.blockBoundingRect(block).top() + line.y()
                boxes.append(QRectF(width - mark_width, top, mark_width, line.height()))
        block = block.next()
    return boxes


class HtmlDelegate(QStyledItemDelegate):
    """Paints :data:`HTML_ROLE` as rich text (falls back to the normal painting).

    ``css`` styles the HTML's classes; ``selected_css`` replaces it on selected rows
    (where grey or amber text would not read on the selection colour).
    """

    def __init__(self, parent: QObject | None = None, css: str = "", selected_css: str = "",
                 line_blocks: bool = False) -> None:
        super().__init__(parent)
        self.css = css
        self.selected_css = selected_css or css
        #: The HTML is ``<div>`` blocks of unwrapped lines (a newline starts another) in the
        #: default font (no size changes): a row's height then depends on its number of
        #: lines only, and a size hint needs no layout (a page of rows is sized at once;
        #: only the rows on screen are laid out, when painted).
        self.line_blocks = line_blocks
        self._heights: dict[tuple[int, str], int] = {}
        #: Laid-out documents by (html, width, selected, font): a repaint, or the paint
        #: after a size hint, reuses them instead of parsing and laying out again.
        self._documents: OrderedDict[tuple, QTextDocument] = OrderedDict()

    def _document(self, option: QStyleOptionViewItem, html: str, width: int,
                  selected: bool = False) -> QTextDocument:
        key = (html, max(width, 10), selected, option.font.key())
        doc = self._documents.get(key)
        if doc is not None:
            self._documents.move_to_end(key)
            return doc
        doc = self._documents[key] = self._layout(option, html, width, selected)
        if len(self._documents) > DOCUMENT_CACHE:
            self._documents.popitem(last=False)
        return doc

    def _layout(self, option: QStyleOptionViewItem, html: str, width: int, selected: bool) -> QTextDocument:
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
        if self.line_blocks:
            self._mark_cut_lines(painter, opt, doc, rect.width(), ctx.palette.color(QPalette.ColorRole.Text))
        painter.restore()

    @staticmethod
    def _mark_cut_lines(painter: QPainter, opt: QStyleOptionViewItem, doc: QTextDocument, width: int,
                        ink: QColor) -> None:
        """An ellipsis at the right end of each unwrapped line wider than the cell (a long
        path would otherwise stop mid-word, with nothing to say it goes on)."""
        boxes = cut_lines(doc, width, opt.fontMetrics.horizontalAdvance(ELLIPSIS) + 4)
        if not boxes:
            return
        if opt.state & QStyle.StateFlag.State_Selected:
            ground = opt.palette.color(QPalette.ColorRole.Highlight)
        elif opt.features & QStyleOptionViewItem.ViewItemFeature.Alternate:
            ground = opt.palette.color(QPalette.ColorRole.AlternateBase)
        else:
            ground = opt.palette.color(QPalette.ColorRole.Base)
        painter.setPen(ink)
        for box in boxes:
            painter.fillRect(box, ground)
            painter.drawText(box, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), ELLIPSIS)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802 (Qt)
        html = index.data(HTML_ROLE)
        if not html:
            return super().sizeHint(option, index)
        width = option.rect.width() if option.rect.width() > 0 else 400
        if self.line_blocks:
            key = (max(1, html.count("<div")) + html.count("\n"), option.font.key())
            if key not in self._heights:
                self._heights[key] = int(self._layout(option, html, width, False).size().height()) + 2
            return QSize(width, self._heights[key])
        doc = self._document(option, html, width)
        return QSize(int(doc.idealWidth()), int(doc.size().height()) + 2)
