"""JSON values as an expandable tree with readable, unescaped text.

Strings are shown as the characters they stand for (``<b>&</b>``, not
``\\u003cb\\u003e\\u0026``); a string that itself holds JSON text is expanded as JSON.
Long values are elided in the view and shown whole (wrapped) in a tooltip.
"""

from __future__ import annotations

import html
import json
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QBrush, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from ..theme import ink

#: Characters kept in a cell (the view elides to the column width anyway).
MAX_INLINE = 400
#: Characters shown in a tooltip.
MAX_TOOLTIP = 4000
#: Children shown per object/array before "… N more".
MAX_CHILDREN = 500

RAW_ROLE = Qt.ItemDataRole.UserRole + 1  # the value as JSON text (for copying)
PATH_ROLE = Qt.ItemDataRole.UserRole + 2  # the key path, e.g. config.resources.cpu_limit



def summary(value: Any) -> str:
    """``{3 keys}`` / ``[2 items]`` for containers; the readable text for scalars."""
    if isinstance(value, dict):
        return f"{{{len(value)} key{'s' if len(value) != 1 else ''}}}"
    if isinstance(value, list):
        return f"[{len(value)} item{'s' if len(value) != 1 else ''}]"
    return scalar_text(value)


def scalar_text(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def one_line(text: str, limit: int = MAX_INLINE) -> str:
    """Newlines and tabs made visible, cut at ``limit`` characters."""
    flat = text.replace("\r\n", "\n").replace("\n", " ⏎ ").replace("\t", " ")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def rich_tooltip(text: str) -> str:
    """A wrapped tooltip (plain text tooltips do not wrap long lines)."""
    if len(text) > MAX_TOOLTIP:
        text = text[:MAX_TOOLTIP] + f"\n… ({len(text) - MAX_TOOLTIP:,} more characters)"
    return "<p style='white-space:pre-wrap'>" + html.escape(text) + "</p>"


def embedded_json(value: Any) -> Any:
    """A string holding a JSON object/array, parsed; otherwise None."""
    if isinstance(value, str) and value[:1] in ("{", "[") and len(value) < 1_000_000:
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        if isinstance(parsed, (dict, list)):
            return parsed
    return None


def dumps_readable(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False, default=str)


class JsonTree(QTreeWidget):
    """``set_value(v)``: a dict's keys (or a list's items) become the top-level rows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Key", "Value"])
        self.setUniformRowHeights(True)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.header().setStretchLastSection(True)
        self.setColumnWidth(0, 150)
        self._value: Any = None

    def value(self) -> Any:
        return self._value

    def set_value(self, value: Any, expand_depth: int = 1) -> None:
        """Show ``value``; rows down to ``expand_depth`` levels start expanded."""
        self._value = value
        self.setUpdatesEnabled(False)
        try:
            self.clear()
            root = self.invisibleRootItem()
            if isinstance(value, (dict, list)):
                self._add_children(root, value, "")
            else:
                self._add(root, "", value, "")
            self._expand(root, expand_depth)
        finally:
            self.setUpdatesEnabled(True)

    # -- building -------------------------------------------------------------------------
    def _add_children(self, parent: QTreeWidgetItem, value: dict | list, path: str) -> None:
        pairs = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        for key, child in pairs[:MAX_CHILDREN]:
            if isinstance(value, dict):
                label = str(key)
                child_path = f"{path}.{key}" if path else str(key)
            else:
                label = f"[{key}]"
                child_path = f"{path}[{key}]"
            self._add(parent, label, child, child_path)
        if len(pairs) > MAX_CHILDREN:
            more = QTreeWidgetItem(parent, ["…", f"{len(pairs) - MAX_CHILDREN:,} more not shown"])
            more.setForeground(1, QBrush(ink("muted")))

    def _add(self, parent: QTreeWidgetItem, label: str, value: Any, path: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem(parent)
        item.setText(0, label)
        item.setToolTip(0, path or label)
        item.setData(0, PATH_ROLE, path)
        inner = embedded_json(value)
        if isinstance(value, (dict, list)) or inner is not None:
            shown = value if inner is None else inner
            text = summary(shown) if inner is None else f"JSON text {summary(shown)}"
            item.setText(1, text)
            item.setForeground(1, QBrush(ink("muted")))
            item.setData(1, RAW_ROLE, dumps_readable(shown))
            item.setToolTip(1, rich_tooltip(dumps_readable(shown)))
            self._add_children(item, shown, path)
            return item
        text = scalar_text(value)
        item.setText(1, one_line(text))
        item.setData(1, RAW_ROLE, text)
        if len(text) > 40 or "\n" in text:
            item.setToolTip(1, rich_tooltip(text))
        if value is None or isinstance(value, bool):
            font = QFont(item.font(1))
            font.setItalic(True)
            item.setFont(1, font)
            item.setForeground(1, QBrush(ink("muted")))
        elif isinstance(value, (int, float)):
            item.setForeground(1, QBrush(ink("number")))
        return item

    def _expand(self, item: QTreeWidgetItem, depth: int) -> None:
        if depth <= 0:
            return
        for i in range(item.childCount()):
            child = item.child(i)
            if child.childCount():
                child.setExpanded(True)
                self._expand(child, depth - 1)

    # -- lookup (navigation, tests) ------------------------------------------------------
    def item_for_path(self, path: str) -> QTreeWidgetItem | None:
        """The row whose key path is ``path`` (e.g. ``environment.GREETING``)."""
        stack = [self.invisibleRootItem()]
        while stack:
            item = stack.pop()
            for i in range(item.childCount()):
                child = item.child(i)
                if child.data(0, PATH_ROLE) == path:
                    return child
                stack.append(child)
        return None

    def value_text(self, path: str) -> str | None:
        """The full (not elided) text of the value at ``path``."""
        item = self.item_for_path(path)
        return None if item is None else item.data(1, RAW_ROLE)

    # -- context menu -----------------------------------------------------------------------
    def _menu(self, pos: QPoint) -> None:
        item = self.itemAt(pos)
        menu = QMenu(self)
        if item is not None:
            menu.addAction("Copy value", lambda: self._copy(item.data(1, RAW_ROLE) or ""))
            path = item.data(0, PATH_ROLE)
            if path:
                menu.addAction("Copy key path", lambda: self._copy(path))
            menu.addSeparator()
        menu.addAction("Expand all", self.expandAll)
        menu.addAction("Collapse all", self.collapseAll)
        menu.exec(self.viewport().mapToGlobal(pos))

    @staticmethod
    def _copy(text: str) -> None:
        QGuiApplication.clipboard().setText(text)
