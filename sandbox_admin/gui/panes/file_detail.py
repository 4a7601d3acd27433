"""The detail side of the Files pane: one file's metadata, content preview and versions.

It only displays what the pane loaded in a worker (``file_jobs.load_details``); the
buttons emit signals and the pane runs the jobs.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QSyntaxHighlighter,
    QTextCharFormat,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel

from .. import display
from ..widgets.badges import BadgeLabel
from ..widgets.detail import StackedDetail, field_grid, title_font
from .file_jobs import FileDetails, Preview

ID_ROLE = Qt.ItemDataRole.UserRole + 1
INDEX_NOTES = {
    "partial": "only the first {n} are searchable",
    "none": "not searchable (no text)",
}


def index_note(state: str, indexed_bytes: int) -> str:
    """What part of a file search can find (empty when all of it)."""
    note = INDEX_NOTES.get(state, "")
    return note.format(n=display.size(indexed_bytes)) if note else ""


def file_badges(record: Any) -> list[tuple[str, str]]:
    badges: list[tuple[str, str]] = []
    if record.is_deleted:
        badges.append(("deleted", display.STATUS_COLOURS["deleted"]))
    if record.index_state == "partial":
        badges.append(("partly indexed", "#b26a00"))
    elif record.index_state == "none":
        badges.append(("not indexed", "#616161"))
    return badges


def monospace() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


class DiffHighlighter(QSyntaxHighlighter):
    """Colours a unified diff: additions green, removals red, hunks blue."""

    def __init__(self, document: Any) -> None:
        super().__init__(document)
        self.formats: dict[str, QTextCharFormat] = {}
        for key, colour, bg in (("+", "#1b5e20", "#e8f5e9"), ("-", "#b71c1c", "#ffebee"),
                                ("@", "#0d47a1", None), ("h", "#616161", None)):
            fmt = QTextCharFormat()
            fmt.setForeground(QColor(colour))
            if bg:
                fmt.setBackground(QColor(bg))
            self.formats[key] = fmt

    @staticmethod
    def kind(line: str) -> str | None:
        if line.startswith(("+++", "---")):
            return "h"
        if line.startswith("@@"):
            return "@"
        if line[:1] in ("+", "-"):
            return line[0]
        return None

    def highlightBlock(self, text: str) -> None:  # noqa: N802 (Qt)
        kind = self.kind(text)
        if kind is not None:
            self.setFormat(0, len(text), self.formats[kind])


class FileDetail(StackedDetail):
    """``show_details(d)`` / ``show_message(text)``; buttons emit the requests."""

    verify_requested = Signal(int)
    export_requested = Signal(int)
    sandbox_requested = Signal(str)
    #: Two versions were chosen for a diff (old id, new id).
    diff_requested = Signal(int, int)

    GRID = (
        ("sandbox", "Sandbox"), ("mime", "MIME type"),
        ("size", "Size"), ("checksum", "Checksum"),
        ("versions", "Versions"), ("accesses", "Accesses"),
        ("created", "Created"), ("updated", "Updated"),
        ("accessed", "Last access"), ("deleted", "Deleted"),
        ("indexed", "Searchable"), ("row_version", "Row version"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Select a file to see its details.", parent)
        self.details: FileDetails | None = None
        layout = self.page_layout
        title = QHBoxLayout()
        self.path_label = QElidingLabel()
        self.path_label.setElideMode(Qt.TextElideMode.ElideLeft)
        self.path_label.setFont(title_font(self.path_label.font()))
        self.badges = BadgeLabel()
        title.addWidget(self.path_label, 1)
        title.addWidget(self.badges)
        layout.addLayout(title)

        grid, self.fields = field_grid(self.GRID)
        layout.addLayout(grid)

        buttons = QHBoxLayout()
        self.verify_button = QPushButton("Verify")
        self.verify_button.setToolTip("Rebuild the content and compare its sha256 with the checksum")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the content into a folder, at its stored path")
        self.sandbox_button = QPushButton("Show sandbox")
        self.sandbox_button.setToolTip("Open this file's sandbox in the Sandboxes pane")
        self.verify_result = QLabel("")
        self.verify_result.setWordWrap(True)
        for b in (self.verify_button, self.export_button, self.sandbox_button):
            buttons.addWidget(b)
        buttons.addWidget(self.verify_result, 1)
        layout.addLayout(buttons)
        self.verify_button.clicked.connect(lambda: self._emit_id(self.verify_requested))
        self.export_button.clicked.connect(lambda: self._emit_id(self.export_requested))
        self.sandbox_button.clicked.connect(
            lambda: self.details and self.sandbox_requested.emit(self.details.record.sandbox_id))

        self.tabs = QTabWidget()
        preview_page = QWidget()
        pv = QVBoxLayout(preview_page)
        pv.setContentsMargins(0, 2, 0, 0)
        self.preview_note = QLabel("")
        self.preview_note.setStyleSheet("color: #757575;")
        self.preview_note.setWordWrap(True)
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setFont(monospace())
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        pv.addWidget(self.preview_note)
        pv.addWidget(self.preview, 1)
        self.tabs.addTab(preview_page, "Preview")

        versions_page = QSplitter(Qt.Orientation.Vertical)
        self.versions = QTreeWidget()
        self.versions.setHeaderLabels(["Id", "Created", "Size", "Checksum", ""])
        self.versions.setRootIsDecorated(False)
        self.versions.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.versions.setColumnWidth(0, 60)
        self.versions.setColumnWidth(1, 150)
        self.versions.setColumnWidth(2, 80)
        self.versions.setColumnWidth(3, 110)
        self.versions.setToolTip("Select two versions to compare them")
        self.versions.itemSelectionChanged.connect(self._versions_selected)
        diff_box = QWidget()
        dv = QVBoxLayout(diff_box)
        dv.setContentsMargins(0, 0, 0, 0)
        self.diff_note = QLabel("Select two versions to see what changed.")
        self.diff_note.setStyleSheet("color: #757575;")
        self.diff_note.setWordWrap(True)
        self.diff = QPlainTextEdit()
        self.diff.setReadOnly(True)
        self.diff.setFont(monospace())
        self.diff.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.highlighter = DiffHighlighter(self.diff.document())
        dv.addWidget(self.diff_note)
        dv.addWidget(self.diff, 1)
        versions_page.addWidget(self.versions)
        versions_page.addWidget(diff_box)
        versions_page.setStretchFactor(0, 1)
        versions_page.setStretchFactor(1, 3)
        # room for a header and five versions before it scrolls; the diff gets the rest
        row = self.versions.fontMetrics().height() + 6
        self.versions.setMinimumHeight(row * 6 + 8)
        versions_page.setSizes([row * 7, 420])
        self.tabs.addTab(versions_page, "Versions")
        layout.addWidget(self.tabs, 1)

    # -- states -------------------------------------------------------------------------------
    def _emit_id(self, signal: Any) -> None:
        if self.details is not None:
            signal.emit(self.details.record.id)

    def current_id(self) -> int | None:
        return self.details.record.id if self.details else None


    def show_details(self, details: FileDetails) -> None:
        self.details = details
        r = details.record
        self.path_label.setText(r.file_path)
        self.path_label.setToolTip(f"{r.file_path}\nfile id {r.id}")
        self.badges.set_badges(file_badges(r), dimmed=False)
        f = self.fields
        f["sandbox"].set(r.sandbox_id)
        f["mime"].set(r.mime_type or "—")
        f["size"].set(display.size(r.size_bytes), f"{r.size_bytes:,} bytes")
        f["checksum"].set(r.checksum or "—", r.checksum + ("" if r.has_content_checksum else
                          "\n(the Go server's path hash: says nothing about the content)"))
        f["versions"].set(str(len(details.versions)))
        f["accesses"].set(str(r.access_count))
        f["row_version"].set(str(r.version))
        for key, value in (("created", r.created_at), ("updated", r.updated_at),
                           ("accessed", r.last_accessed), ("deleted", r.deleted_at)):
            f[key].set(display.local_time(value) or "—", display.utc_tooltip(value))
        note = index_note(r.index_state, r.indexed_bytes)
        f["indexed"].set(note or "all of it", f"{r.indexed_bytes:,} bytes of text in the index")
        self.verify_result.setText("")
        self._show_preview(details.preview)
        self._fill_versions(details.versions, r.id)
        self.tabs.setTabText(1, f"Versions ({len(details.versions)})")
        self.show_page()

    def _show_preview(self, preview: Preview | None) -> None:
        note = preview.note if preview is not None else ""
        self.preview_note.setText(note)
        self.preview_note.setVisible(bool(note))
        self.preview.setPlainText(preview.text if preview is not None and preview.kind != "none" else "")

    def _fill_versions(self, versions: list[Any], current: int) -> None:
        self.versions.blockSignals(True)
        self.versions.clear()
        for n, v in enumerate(versions, 1):
            item = QTreeWidgetItem(self.versions, [
                str(v.id), display.local_time(v.created_at), display.size(v.size_bytes),
                v.checksum[:12], "this file" if v.id == current else ("deleted" if v.is_deleted else ""),
            ])
            item.setData(0, ID_ROLE, v.id)
            item.setToolTip(0, f"version {n} of {len(versions)} (file id {v.id})")
            item.setToolTip(1, display.utc_tooltip(v.created_at))
            if v.id == current:
                font = item.font(0)
                font.setBold(True)
                for c in range(5):
                    item.setFont(c, font)
            if v.is_deleted:
                for c in range(5):
                    item.setForeground(c, QColor(display.DELETED_TEXT_COLOUR))
        self.versions.blockSignals(False)
        self.diff.setPlainText("")
        self.diff_note.setText("Select two versions to see what changed." if len(versions) > 1
                               else "This file has a single version.")

    def _versions_selected(self) -> None:
        ids = sorted(item.data(0, ID_ROLE) for item in self.versions.selectedItems())
        if len(ids) != 2:
            self.diff_note.setText("Select two versions to see what changed.")
            return
        order = [self.versions.topLevelItem(i).data(0, ID_ROLE) for i in range(self.versions.topLevelItemCount())]
        old, new = sorted(ids, key=order.index)
        self.diff_note.setText(f"Comparing {old} → {new}…")
        self.diff_requested.emit(old, new)

    def select_versions(self, old_id: int, new_id: int) -> None:
        """Select these two versions (as a person would with Ctrl+click)."""
        self.versions.blockSignals(True)
        self.versions.clearSelection()
        for i in range(self.versions.topLevelItemCount()):
            item = self.versions.topLevelItem(i)
            item.setSelected(item.data(0, ID_ROLE) in (old_id, new_id))
        self.versions.blockSignals(False)
        self._versions_selected()

    def show_diff(self, text: str, old: int, new: int) -> None:
        self.diff_note.setText(f"Changes from {old} to {new}" if text else f"{old} and {new} have the same text.")
        self.diff.setPlainText(text)

    def show_diff_error(self, message: str) -> None:
        self.diff_note.setText(message)
        self.diff.setPlainText("")

    def show_verify(self, text: str, ok: bool | None) -> None:
        colour = {True: "#2e7d32", False: "#c62828", None: "#616161"}[ok]
        self.verify_result.setStyleSheet(f"color: {colour};")
        self.verify_result.setText(text)
