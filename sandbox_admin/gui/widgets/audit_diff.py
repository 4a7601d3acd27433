"""Audit entries as a readable old → new diff: only the keys that changed.

The Go server stores the whole sandbox state in ``old_data``/``new_data``; two walls of
JSON hide the one field that changed. :func:`diff` finds the changed key paths
(recursing into objects), and :class:`AuditTrail` lists entries newest first with
their changes as child rows. Timestamps that differ only in how they were written
(``…T13:02:49Z`` vs ``… 13:02:49+00:00``) are the same instant and not a change.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from ...storage import parse_timestamp
from ..display import local_time, utc_tooltip
from ..theme import ink
from .json_tree import one_line, rich_tooltip, summary

ABSENT = "—"

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # "added" | "removed" | "changed" | "value" (one side not recorded)
    old: Any = None
    new: Any = None
    side: str = ""  # for "value": which side was recorded ("old" or "new")


def is_empty(value: Any) -> bool:
    """Nothing recorded: SQL NULL, '' (Go's empty string) or the text null."""
    return value is None or value == "" or value == {}


def same_value(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str) and _DATE_RE.match(a) and _DATE_RE.match(b):
        ta, tb = parse_timestamp(a), parse_timestamp(b)
        return ta is not None and ta == tb
    return False


def diff(old: Any, new: Any) -> list[Change]:
    """The changed key paths between two recorded states (objects recursed, lists by
    index when their lengths match). When one side was not recorded (Go writes '' for
    a create's old state), the other side's top-level keys come back as ``value``."""
    if is_empty(old) and is_empty(new):
        return []
    if is_empty(old) or is_empty(new):
        recorded = new if is_empty(old) else old
        key = "new" if is_empty(old) else "old"
        if isinstance(recorded, dict):
            return [Change(str(k), "value", side=key, **{key: v}) for k, v in recorded.items()]
        return [Change("(value)", "value", side=key, **{key: recorded})]
    return _diff(old, new, "")


def _diff(old: Any, new: Any, path: str) -> list[Change]:
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                changes.append(Change(sub, "removed", old=old[key]))
            elif key not in old:
                changes.append(Change(sub, "added", new=new[key]))
            else:
                changes.extend(_diff(old[key], new[key], sub))
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out: list[Change] = []
        for i, (a, b) in enumerate(zip(old, new)):
            out.extend(_diff(a, b, f"{path}[{i}]"))
        return out
    if same_value(old, new):
        return []
    return [Change(path or "(value)", "changed", old=old, new=new)]


def value_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if isinstance(value, str):
        return value
    return summary(value)


def describe(action: str, changes: list[Change], metadata: Any) -> str:
    """One line about an entry: ``status running → stopped``, ``3 changes: …``."""
    parts: list[str] = []
    if isinstance(metadata, dict) and metadata.get("reason"):
        parts.append(f"reason: {metadata['reason']}")
    real = [c for c in changes if c.kind != "value"]
    status = next((c for c in real if c.path == "status"), None)
    if status is not None:
        parts.append(f"status {value_text(status.old)} → {value_text(status.new)}")
    others = [c.path for c in real if c.path not in ("status", "updated_at", "version")]
    if others:
        shown = ", ".join(others[:4]) + (f" +{len(others) - 4}" if len(others) > 4 else "")
        parts.append(f"{len(others)} change{'s' if len(others) != 1 else ''}: {shown}")
    if not real and changes:
        if action == "checkpoint":
            parts.append("checkpoint data")
        elif all(c.side == "old" for c in changes):
            parts.append("state before recorded")
        else:
            parts.append("state recorded")
    return " · ".join(parts)


class AuditTrail(QTreeWidget):
    """Audit entries, newest first; each expands to its changed fields (old → new)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(3)
        self.setHeaderLabels(["Field", "Old", "New"])
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setUniformRowHeights(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # old and new share
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # the rest equally
        self.setColumnWidth(0, 170)
        self._entries: list[Any] = []

    def entries(self) -> list[Any]:
        return list(self._entries)

    def set_entries(self, entries: Iterable[Any], newest_first: bool = True) -> None:
        """``entries``: objects with id, action, old_data, new_data, user_id, timestamp,
        metadata (storage's AuditRecord)."""
        self._entries = list(entries)
        ordered = sorted(self._entries, key=lambda e: e.id, reverse=newest_first)
        self.setUpdatesEnabled(False)
        try:
            self.clear()
            for n, entry in enumerate(ordered):
                item = self._entry_item(entry)
                if n == 0:
                    item.setExpanded(True)
        finally:
            self.setUpdatesEnabled(True)

    def _entry_item(self, entry: Any) -> QTreeWidgetItem:
        changes = diff(entry.old_data, entry.new_data)
        when = local_time(entry.timestamp) or "(no time)"
        who = f" by {entry.user_id}" if entry.user_id else ""
        about = describe(entry.action, changes, entry.metadata)
        head = f"{when}  {entry.action}{who}" + (f"  ·  {about}" if about else "")
        item = QTreeWidgetItem(self, [head])
        item.setFirstColumnSpanned(True)
        font = QFont(item.font(0))
        font.setBold(True)
        item.setFont(0, font)
        tip = [f"audit #{entry.id}: {entry.action}{who}", utc_tooltip(entry.timestamp)]
        if not is_empty(entry.metadata):
            tip.append(f"metadata: {value_text(entry.metadata)}")
        item.setToolTip(0, rich_tooltip("\n".join(t for t in tip if t)))
        item.setData(0, Qt.ItemDataRole.UserRole, entry.id)
        for change in changes:
            self._change_item(item, change)
        return item

    def _change_item(self, parent: QTreeWidgetItem, change: Change) -> QTreeWidgetItem:
        has_old = change.kind in ("removed", "changed") or change.side == "old"
        has_new = change.kind in ("added", "changed") or change.side == "new"
        old = value_text(change.old) if has_old else ABSENT
        new = value_text(change.new) if has_new else ABSENT
        child = QTreeWidgetItem(parent, [change.path, one_line(old), one_line(new)])
        child.setToolTip(0, f"{change.path} ({change.kind})")
        for col, text, colour in ((1, old, ink("old")), (2, new, ink("new"))):
            if text == ABSENT:
                child.setForeground(col, QBrush(ink("muted")))
            elif change.kind != "value":
                child.setForeground(col, QBrush(colour))
            if len(text) > 30:
                child.setToolTip(col, rich_tooltip(text))
        return child

    # -- lookup (tests, navigation) ------------------------------------------------------
    def entry_texts(self) -> list[str]:
        return [self.topLevelItem(i).text(0) for i in range(self.topLevelItemCount())]

    def change_rows(self, entry_index: int) -> list[tuple[str, str, str]]:
        item = self.topLevelItem(entry_index)
        return [(item.child(i).text(0), item.child(i).text(1), item.child(i).text(2))
                for i in range(item.childCount())]
