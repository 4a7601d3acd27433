"""The Files pane: search files by path and text, look at one, its versions and its sandbox.

A search box (debounced; Enter searches at once; Ctrl+F focuses it) with filters for
sandbox, MIME prefix, path prefix and "show deleted". With text in the box the list
shows full-text results best first (``FileStore.search``: bm25 order, path and snippet
with the matches highlighted, a note for files whose text is indexed only in part or
not at all); an empty box lists the files newest first. Both page with "Load more".
Every query runs as a job; an answer that arrives after a newer question is dropped.

A new search asks twice: ``files.search_first`` (a quick first page, labelled
provisional) and ``files.search`` (every match ranked) - at once with enough cores, the
exact one after the first page otherwise (:data:`PARALLEL_SEARCH_CORES`). The first page
is shown when it comes, marked in the headline; the exact page replaces it (rows updated
in place when they are the same files in the same order; a file the person selected
stays selected). A new search cancels the one it replaces.
"""

from __future__ import annotations

import os
import re
from html import escape as _escape
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from PySide6.QtCore import QPoint, QSettings, QStringListModel, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QCompleter,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...storage import ELLIPSIS, MARK_START, errors, snippet_html
from .. import display
from ..jobs import JobContext, JobRunner
from ..widgets.html_delegate import HTML_ROLE, HtmlDelegate
from .base import Latest, Pane
from .file_detail import FileDetail, index_note
from .file_jobs import FileDetails, Filters, list_newest, load_details, older_versions, sandbox_ids

SETTINGS_PREFIX = "files"
TEXT_DEBOUNCE_MS = 300
SELECT_DEBOUNCE_MS = 60
PAGE_SIZE = 50
#: With this many cores or more the exact search starts beside the quick first page; with
#: fewer it starts when the first page is in (some 10-30 ms later), so that the two do not
#: split the cores and the first page comes as fast as it can.
PARALLEL_SEARCH_CORES = 3
ID_ROLE = Qt.ItemDataRole.UserRole + 1
DELETED_ROLE = Qt.ItemDataRole.UserRole + 2
VERSIONS_ROLE = Qt.ItemDataRole.UserRole + 3  # versions in the row's chain (when more than one)
COLUMNS = ("File", "Sandbox", "Size", "Updated")
#: Classes of the File cell's HTML (plain rows / selected rows).
ROW_CSS = ".note { color: #8d6e00; } .snippet { color: #555555; } .badge { color: #ffffff; background-color: #424242; }"
SELECTED_ROW_CSS = ".badge { color: #000000; background-color: #e0e0e0; }"


def _one_line(marked: str) -> str:
    """A snippet on one line (its newlines and runs of blanks as one space)."""
    return re.sub(r"\s+", " ", marked).strip()


#: characters of context kept before a snippet's first match (the rest is elided)
SNIPPET_LEAD = 40


def focus_snippet(text: str, lead: int = SNIPPET_LEAD) -> str:
    """The snippet starting shortly before its first match, so that a narrow column
    still shows the match (the cell cuts at its right edge)."""
    first = text.find(MARK_START)
    if first <= lead:
        return text
    start = text.rfind(" ", 0, first - lead // 2)
    start = first - lead if start < first - lead else start + 1
    return ELLIPSIS + text[start:].lstrip(ELLIPSIS)


def row_html(path_marked: str, snippet_marked: str, deleted: bool, note: str) -> str:
    """The File cell: the path (matches highlighted), badges, and the snippet below it."""
    path = snippet_html(path_marked)
    if deleted:
        path = f"<s>{path}</s> <span class='badge'>&nbsp;deleted&nbsp;</span>"
    extra = f" <span class='note'>({note})</span>" if note else ""
    html = f"<div style='white-space:pre'>{path}{extra}</div>"
    if snippet_marked:
        snippet = snippet_html(focus_snippet(_one_line(snippet_marked)))
        html += f"<div class='snippet' style='white-space:pre'>{snippet}</div>"
    return html


class FilesPane(Pane):
    """See the module docstring. Public API per notes/API_JOBS.md."""

    key = "files"

    #: A page of results or files is in the list (after the first or a "Load more"); for a
    #: search, the exact page (best first by bm25).
    results_loaded = Signal()
    #: A provisional first page of search results is shown while the exact one is ranked
    #: (it comes before ``results_loaded``, or not at all when the exact page came first).
    first_results_loaded = Signal()
    #: The detail side now shows this file.
    details_loaded = Signal(int)
    verified = Signal(object)  # VerifyResult
    exported = Signal(object)  # ExportResult
    diff_loaded = Signal(str)
    #: A file's row was expanded and its older versions are listed below it.
    versions_loaded = Signal(int)
    #: "Show sandbox": the window (or whoever listens) shows this sandbox.
    sandbox_requested = Signal(str)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(runner, parent, settings)
        self.page_size = PAGE_SIZE
        self._versions: dict[int, int] = {}  # file id -> versions in its chain (listing)
        self._latest = Latest()
        self._detail_latest = Latest()
        self._diff_latest = Latest()
        self._query: tuple[str, Filters] | None = None
        self._offset = 0
        self._last_id: int | None = None
        self._loading = False
        self._settled = False
        self._provisional = False
        self._exact_job: Any = None
        #: The exact search runs beside the quick first page (enough cores), or after it.
        self.search_in_parallel = (os.cpu_count() or 1) >= PARALLEL_SEARCH_CORES
        self._first_job: Any = None
        self.result: Any = None  # the last SearchResult (None when listing)
        self._build_actions()
        self._build_ui()
        self._connect()
        self.set_store(None)

    # == building ====================================================================================
    def _build_actions(self) -> None:
        def action(text: str, slot: Callable[[], None], shortcut: Any, tip: str) -> QAction:
            act = QAction(text, self)
            act.triggered.connect(slot)
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.setToolTip(tip)
            self.addAction(act)
            return act

        self.find_action = action("Find", self.focus_filter, QKeySequence.StandardKey.Find,
                                  "Search files (Ctrl+F)")
        self.refresh_action = action("Refresh", self.refresh, QKeySequence.StandardKey.Refresh,
                                     "Run the search again (F5)")
        self.copy_path_action = action("Copy path", self._copy_path, QKeySequence.StandardKey.Copy,
                                       "Copy the selected file's path")

    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        bar = QHBoxLayout()
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText(
            'Search paths and text: words, "a phrase", prefix*, path:src  (Ctrl+F)')
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(280)
        self.sandbox_edit = QLineEdit()
        self.sandbox_edit.setPlaceholderText("sandbox id")
        self.sandbox_edit.setClearButtonEnabled(True)
        self.sandbox_edit.setToolTip("Only files of this sandbox")
        self._sandbox_ids = QStringListModel(self)
        completer = QCompleter(self._sandbox_ids, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.sandbox_edit.setCompleter(completer)
        self.mime_edit = QLineEdit()
        self.mime_edit.setPlaceholderText("MIME prefix")
        self.mime_edit.setClearButtonEnabled(True)
        self.mime_edit.setToolTip("Only files whose MIME type starts with this (text/, image/png …)")
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("path prefix")
        self.path_edit.setClearButtonEnabled(True)
        self.path_edit.setToolTip("Only files whose path starts with this (/app/ …)")
        self.deleted_check = QCheckBox("Show deleted")
        self.deleted_check.setToolTip("Include soft-deleted files (greyed, struck through)")
        bar.addWidget(self.search_edit, 4)
        bar.addWidget(self.sandbox_edit, 2)
        bar.addWidget(self.mime_edit, 1)
        bar.addWidget(self.path_edit, 1)
        bar.addWidget(self.deleted_check)
        layout.addLayout(bar)

        self.headline = QLabel("")
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.notice = QLabel("")  # fallback / query notes from the search
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color:#5b4200; background:#fff6dc; border:1px solid #f0c85a;"
                                  " border-radius:3px; padding:2px 6px;")
        self.notice.hide()
        layout.addWidget(self.headline)
        layout.addWidget(self.notice)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.setSpacing(2)
        self.results = QTreeWidget()
        self.results.setHeaderLabels(list(COLUMNS))
        self.results.setRootIsDecorated(True)  # a file's older versions unfold below it
        self.results.itemExpanded.connect(self._expanded)
        self.results.setAlternatingRowColors(True)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.results.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.results.setItemDelegateForColumn(0, HtmlDelegate(self.results, ROW_CSS, SELECTED_ROW_CSS,
                                                                  line_blocks=True))
        header = self.results.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        fm = self.fontMetrics()
        for col, sample in ((1, "8fa731f1-4041-4479-bcc9"), (2, "999.9 KiB"), (3, "2026-11-26 01:35:22")):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, fm.horizontalAdvance(sample) + 18)
        self.more_button = QPushButton("Load more")
        self.more_button.setToolTip("Show the next page of results")
        self.more_button.hide()
        lv.addWidget(self.results, 1)
        lv.addWidget(self.more_button)

        self.detail = FileDetail()
        self.fill_list_detail(self.splitter, left, self.detail, [600, 400],
                              f"{SETTINGS_PREFIX}/splitter")
        layout.addWidget(self.splitter, 1)

        self._text_timer = self.single_shot_timer(TEXT_DEBOUNCE_MS)
        self._select_timer = self.single_shot_timer(SELECT_DEBOUNCE_MS)

    def _connect(self) -> None:
        for edit in (self.search_edit, self.sandbox_edit, self.mime_edit, self.path_edit):
            edit.textChanged.connect(lambda _: self._text_timer.start())
            edit.returnPressed.connect(self.search_now)
        self._text_timer.timeout.connect(self._apply)
        self.deleted_check.toggled.connect(lambda _: self.search_now())
        self.more_button.clicked.connect(self.load_more)
        self.results.currentItemChanged.connect(lambda *_: self._select_timer.start())
        self._select_timer.timeout.connect(self._load_details)
        self.results.customContextMenuRequested.connect(self._results_menu)
        self.detail.verify_requested.connect(self.verify)
        self.detail.export_requested.connect(self.choose_export_file)
        self.detail.diff_requested.connect(self.load_diff)
        self.detail.sandbox_requested.connect(self.show_sandbox)

    # == public API ====================================================================================
    def set_store(self, store: Any) -> None:
        self.store = store
        self._query = None
        self._latest.invalidate()
        self._detail_latest.invalidate()
        self.results.clear()
        self.more_button.hide()
        self.notice.hide()
        self.detail.show_message("Select a file to see its details." if store is not None
                                 else "No database is open.")
        if store is None:
            self.headline.setText("No database is open.")
            self.when_shown(lambda: None)  # nothing left to do when shown
            return
        self.headline.setText("Loading files…")
        self.when_shown(self._load)

    def _load(self) -> None:
        if self.store is not None:
            self._load_sandbox_ids()
            self.search_now()

    def refresh(self) -> None:
        if self.store is None:
            return
        self._query = None
        self.when_shown(self.search_now)

    def apply_preferences(self, prefs: Any) -> None:
        self.page_size = prefs.page_size

    def focus_filter(self) -> None:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def filters(self) -> Filters:
        return Filters(self.sandbox_edit.text().strip(), self.mime_edit.text().strip(),
                       self.path_edit.text().strip(), self.deleted_check.isChecked())

    @property
    def loading(self) -> bool:
        return self._loading

    # == searching =====================================================================================
    def search_now(self) -> None:
        """Search (or list) at once with what is typed."""
        self._text_timer.stop()
        self._apply()

    def _apply(self) -> None:
        if self.store is None:
            return
        query = (self.search_edit.text().strip(), self.filters())
        if query == self._query:
            return
        self._query = query
        for job in (self._exact_job, self._first_job):  # superseded: stop ranking 85,000 matches
            if job is not None:
                job.cancel()
        self.results.clear()
        self._offset, self._last_id = 0, None
        self._versions: dict[int, int] = {}
        self.detail.show_message("Select a file to see its details.")
        self._fetch(first=True)

    def load_more(self) -> None:
        if self._query is not None and not self._loading:
            self._fetch(first=False)

    def _fetch(self, first: bool) -> None:
        generation, store = self._latest.next(), self.store
        text, flt = self._query  # type: ignore[misc]
        offset, last_id, page_size = self._offset, self._last_id, self.page_size
        self._loading = True
        self._settled = False  # the exact answer (or a quick one that is exact) is shown
        self._provisional = False  # the rows are a first page the exact answer replaces
        self.more_button.setEnabled(False)
        self.headline.setText("Searching…" if text else "Loading files…")

        def work(ctx: JobContext) -> tuple[Any, list[Any], bool, dict[int, int]]:
            if text:
                result = store.files.search(text, limit=page_size, offset=offset, **flt.search_kwargs())
                return result, result.hits, result.has_more, {}
            records, more, versions = list_newest(store, flt, last_id, page_size)
            return None, records, more, versions

        def done(answer: tuple[Any, list[Any], bool, dict[int, int]]) -> None:
            if self._latest.is_current(generation) and not self._settled:
                self._show_answer(answer, text, first)

        def failed(error: errors.StorageError) -> None:
            if not self._latest.is_current(generation) or self._settled:
                return
            self._loading = False
            self.more_button.setEnabled(True)
            self.headline.setText("<span style='color:#b71c1c'>Search failed</span>")
            if not isinstance(error, errors.Cancelled):
                self.message_requested.emit("error", str(error), error.detail)

        def submit() -> None:
            self._exact_job = self.runner.submit(work, name="Search files" if text else "List files",
                                                 on_result=done, on_error=failed, store=store)

        if first and text and not self.search_in_parallel:
            self._exact_job = None
            self._fetch_first_page(generation, store, text, flt, page_size, then=submit)
            return
        if first and text:
            self._fetch_first_page(generation, store, text, flt, page_size)
        submit()

    def _fetch_first_page(self, generation: int, store: Any, text: str, flt: Filters, page_size: int,
                          then: Callable[[], None] | None = None) -> None:
        """The quick first page (``files.search_first``), in its own worker: shown as soon
        as it comes unless the exact answer came first. ``then`` (the exact search, when
        not running beside) starts when it is in, unless it was already the exact answer."""

        def go_on() -> None:
            if then is not None and self._latest.is_current(generation) and not self._settled:
                then()

        def work(ctx: JobContext) -> Any:
            return store.files.search_first(text, limit=page_size, **flt.search_kwargs())

        def done(result: Any) -> None:
            if result is None or not self._latest.is_current(generation) or self._settled:
                go_on()
                return
            if not result.provisional:  # it covered every match: this is the exact answer
                if self._exact_job is not None:
                    self._exact_job.cancel()
                self._show_answer((result, result.hits, result.has_more, {}), text, True)
                return
            self.result = result
            self._provisional = True
            self.more_button.hide()  # pages go on from the exact order, when it comes
            self._add_rows(result.hits, searching=True)
            self._update_headline(text, True)
            self.first_results_loaded.emit()
            go_on()

        self._first_job = self.runner.submit(work, name="Search files (first page)", on_result=done,
                                             on_error=lambda e: go_on(), store=store, quiet=True)

    def _show_answer(self, answer: tuple[Any, list[Any], bool, dict[int, int]], text: str, first: bool) -> None:
        """The final rows of a page: added, or in place of a provisional first page."""
        self._loading = False
        self._settled = True
        result, rows, more, versions = answer
        self._versions.update(versions)
        self.result = result
        selected = self.selected_id()
        if self._provisional:
            self._provisional = False
            self._replace_rows(rows)
        else:
            self._add_rows(rows, searching=bool(text))
        self._offset += len(rows)
        if rows and not text:
            self._last_id = rows[-1].id
        self.more_button.setVisible(more)
        self.more_button.setEnabled(True)
        self._show_notice(result)
        self._update_headline(text, more)
        if first and self.results.topLevelItemCount() and (selected is None or not self.select_file(selected)):
            self.results.setCurrentItem(self.results.topLevelItem(0))
        self.results_loaded.emit()

    def _replace_rows(self, hits: list[Any]) -> None:
        """The exact page in place of the provisional one: the same files in the same order
        are updated where they are (no flicker, selection kept); otherwise the list is
        rebuilt and the caller selects the same file again if it is still there."""
        if [h.file_id for h in hits] != self.row_ids():
            self.results.clear()
            self._add_rows(hits, searching=True)
            return
        for i, hit in enumerate(hits):
            item, fresh = self.results.topLevelItem(i), self._make_item(hit, True)
            item.setData(0, HTML_ROLE, fresh.data(0, HTML_ROLE))
            for column in range(len(COLUMNS)):
                item.setText(column, fresh.text(column))
                item.setToolTip(column, fresh.toolTip(column))

    def _add_rows(self, rows: list[Any], searching: bool) -> None:
        items = []
        for row in rows:
            item = self._make_item(row, searching)
            versions = self._versions.get(item.data(0, ID_ROLE), 1)
            if versions > 1:  # older versions come when the row is expanded
                item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
                item.setData(0, VERSIONS_ROLE, versions)
                item.setData(0, HTML_ROLE, item.data(0, HTML_ROLE).replace(
                    "</div>", f" <span class='note'>· {versions} versions</span></div>", 1))
            items.append(item)
        self.results.addTopLevelItems(items)  # one insertion for the page, not one per row

    def _expanded(self, item: QTreeWidgetItem) -> None:
        """A file's row opened: its older versions below it (read once, in a worker)."""
        if item.childCount() or not item.data(0, VERSIONS_ROLE) or self.store is None:
            return
        file_id, store = item.data(0, ID_ROLE), self.store

        def done(older: list[Any]) -> None:
            if store is self.store and not item.childCount():
                for record in older:
                    item.addChild(self._make_item(record, False))
                self.versions_loaded.emit(file_id)

        self.runner.submit(lambda ctx: older_versions(store, file_id), name="Read older versions",
                           on_result=done, on_error=lambda e: self._job_error(e, "Versions"), store=store)

    def _make_item(self, row: Any, searching: bool) -> QTreeWidgetItem:
        grey = QColor(display.DELETED_TEXT_COLOUR)
        deleted = row.deleted if searching else row.is_deleted
        file_id = row.file_id if searching else row.id
        path_marked = row.path_highlight if searching else row.file_path
        snippet = row.snippet if searching else ""
        updated = row.updated_at
        note = index_note(row.index_state, row.indexed_bytes)
        item = QTreeWidgetItem([row.file_path, row.sandbox_id, display.size(row.size_bytes),
                                display.local_time(updated)])
        item.setData(0, HTML_ROLE, row_html(path_marked, snippet, deleted, note))
        item.setData(0, ID_ROLE, file_id)
        item.setData(0, DELETED_ROLE, deleted)
        tip = f"{row.file_path}\nfile id {file_id} · {row.mime_type or 'no MIME type'}"
        if searching and row.rank is not None:
            tip += f"\nrank (bm25, lower is better): {row.rank:.3f}"
        if note:
            tip += f"\nSearch sees {note}: matches further in are not found."
        item.setToolTip(0, tip)
        item.setToolTip(1, row.sandbox_id)
        item.setToolTip(2, f"{row.size_bytes:,} bytes")
        item.setToolTip(3, display.utc_tooltip(updated))
        item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if deleted:
            font = QFont(self.results.font())
            font.setStrikeOut(True)
            for c in range(len(COLUMNS)):
                item.setForeground(c, grey)
                item.setFont(c, font)
        return item

    def _show_notice(self, result: Any) -> None:
        if result is not None and result.fallback:
            self.notice.setText(f"Full-text index unavailable: plain text match. {result.message}")
        elif result is not None and result.message:
            self.notice.setText(result.message)
        else:
            self.notice.hide()
            return
        self.notice.show()

    def _update_headline(self, text: str, more: bool) -> None:
        n = self.results.topLevelItemCount()
        shown = f"{n:,}{'+' if more else ''}"
        if text:
            order = "unranked" if self.result is not None and self.result.fallback else "best match first"
            if self._provisional:
                order = "first results; ranking every match…"
            words = display.plural(n, "file") if not more else f"{shown} files"
            head = f"<b>{words}</b> match <b>{_escape(text)}</b> ({order})"
        else:
            head = f"<b>{shown if more else display.plural(n, 'file')}</b>, newest first"
        flt = self.filters()
        named = (("in sandbox", flt.sandbox_id), ("MIME", flt.mime_prefix and flt.mime_prefix + "…"),
                 ("under", flt.path_prefix))
        parts = [f"{label} {_escape(value)}" for label, value in named if value]
        if flt.include_deleted:
            parts.append("deleted included")
        if parts:
            head += " · " + ", ".join(parts)
        self.headline.setText(head)

    def _load_sandbox_ids(self) -> None:
        store = self.store
        self.runner.submit(lambda ctx: sandbox_ids(store), name="List sandboxes with files", quiet=True,
                           store=store, on_result=lambda ids: self._sandbox_ids.setStringList(ids)
                           if store is self.store else None,
                           on_error=lambda e: None if isinstance(e, errors.Cancelled)
                           else self.message_requested.emit("error", str(e), e.detail))

    # == rows ===========================================================================================
    def row_ids(self) -> list[int]:
        return [self.results.topLevelItem(i).data(0, ID_ROLE) for i in range(self.results.topLevelItemCount())]

    def item_for(self, file_id: int) -> QTreeWidgetItem | None:
        for i in range(self.results.topLevelItemCount()):
            item = self.results.topLevelItem(i)
            if item.data(0, ID_ROLE) == file_id:
                return item
        return None

    def select_file(self, file_id: int) -> bool:
        item = self.item_for(file_id)
        if item is None:
            return False
        self.results.setCurrentItem(item)
        self.results.scrollToItem(item)
        return True

    def selected_id(self) -> int | None:
        item = self.results.currentItem()
        return item.data(0, ID_ROLE) if item is not None else None

    def _copy_path(self) -> None:
        item = self.results.currentItem()
        if item is not None:
            QGuiApplication.clipboard().setText(item.text(0))

    def _results_menu(self, pos: QPoint) -> None:
        item = self.results.itemAt(pos)
        if item is None:
            return
        self.results.setCurrentItem(item)
        file_id = item.data(0, ID_ROLE)
        menu = QMenu(self)
        menu.addAction(self.copy_path_action)
        menu.addAction("Copy file id", lambda: QGuiApplication.clipboard().setText(str(file_id)))
        menu.addSeparator()
        menu.addAction("Verify", lambda: self.verify(file_id))
        menu.addAction("Export…", lambda: self.choose_export_file(file_id))
        menu.addAction("Export into a Folder at Its Path…", lambda: self.choose_export_folder(file_id))
        menu.addAction("Show sandbox", lambda: self.show_sandbox(item.text(1)))
        menu.exec(self.results.viewport().mapToGlobal(pos))

    # == detail ========================================================================================
    def _load_details(self) -> None:
        file_id = self.selected_id()
        if file_id is None or self.store is None:
            return
        generation, store = self._detail_latest.next(), self.store
        if self.detail.current_id() != file_id:
            self.detail.show_message(f"Loading file {file_id}…")

        def done(details: FileDetails) -> None:
            if self._detail_latest.is_current(generation):
                self.detail.show_details(details)
                self.details_loaded.emit(file_id)

        def failed(error: errors.StorageError) -> None:
            if not self._detail_latest.is_current(generation) or isinstance(error, errors.Cancelled):
                return
            if isinstance(error, errors.NotFound):
                self.detail.show_message(f"File {file_id} no longer exists (removed elsewhere). "
                                         "Press F5 to search again.")
            else:
                self.detail.show_message(f"Cannot load file {file_id}: {error}")
                self.message_requested.emit("error", str(error), error.detail)

        self.runner.submit(lambda ctx: load_details(store, file_id, ctx), name="Load file details",
                           on_result=done, on_error=failed, store=store)

    def verify(self, file_id: int) -> None:
        if self.store is None:
            return
        store = self.store
        self.detail.show_verify("Verifying…", None)

        def done(result: Any) -> None:
            if self.detail.current_id() == file_id:
                if result.ok:
                    text = f"ok: sha256 matches ({result.sha256[:12]}…, from {result.source})"
                elif result.ok is None:
                    text = "cannot verify: " + "; ".join(result.problems)
                else:
                    text = "DAMAGED: " + "; ".join(result.problems)
                self.detail.show_verify(text, result.ok)
            if result.ok is False:
                self.message_requested.emit("error", f"File {file_id} does not match its checksum.",
                                            "\n".join(result.problems))
            self.verified.emit(result)

        self.runner.submit(lambda ctx: store.files.verify(file_id), name="Verify file", on_result=done,
                           on_error=lambda e: self._job_error(e, "Verify failed"), store=store)

    def choose_export_file(self, file_id: int) -> QFileDialog:
        """Save As: a file name for the content (the dialog asks before replacing a file)."""
        start = Path(str(self.settings.value(f"{SETTINGS_PREFIX}/export_dir", "") or Path.home()))
        item = self.item_for(file_id)
        name = PurePosixPath(item.text(0)).name if item is not None else f"file-{file_id}"
        dialog = QFileDialog(self, "Export file", str(start / (name or f"file-{file_id}")))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda path: self.export_file_as(file_id, path))
        dialog.open()
        self.export_dialog = dialog
        return dialog

    def export_file_as(self, file_id: int, path: str) -> None:
        """Write the content to ``path``, which the person chose (and agreed to replace)."""
        if self.store is None:
            return
        store, target = self.store, Path(path)
        self.settings.setValue(f"{SETTINGS_PREFIX}/export_dir", str(target.parent))
        self.runner.submit(lambda ctx: store.files.export_to_file(file_id, target, overwrite=True),
                           name="Export file", on_result=self._exported,
                           on_error=lambda e: self._job_error(e, "Export failed"), store=store)

    def _exported(self, result: Any) -> None:
        check = {True: "checksum ok", False: "CHECKSUM MISMATCH", None: "not verifiable"}[result.verified]
        level = "error" if result.verified is False else "info"
        self.message_requested.emit(level, f"Exported {display.size(result.size_bytes)} to {result.path} "
                                    f"({check}).", f"sha256 {result.sha256}")
        self.exported.emit(result)

    def choose_export_folder(self, file_id: int) -> None:
        start = self.settings.value(f"{SETTINGS_PREFIX}/export_dir", "") or ""
        folder = QFileDialog.getExistingDirectory(self, "Export into folder", str(start))
        if folder:
            self.settings.setValue(f"{SETTINGS_PREFIX}/export_dir", folder)
            self.export_to(file_id, folder)

    def export_to(self, file_id: int, folder: str) -> None:
        """Write the file under ``folder`` at its stored path (in a worker)."""
        if self.store is None:
            return
        store = self.store

        self.runner.submit(lambda ctx: store.files.export_into(file_id, folder), name="Export file",
                           on_result=self._exported, on_error=lambda e: self._job_error(e, "Export failed"),
                           store=store)

    def load_diff(self, old_id: int, new_id: int) -> None:
        if self.store is None:
            return
        generation, store = self._diff_latest.next(), self.store

        def done(text: str) -> None:
            if self._diff_latest.is_current(generation):
                self.detail.show_diff(text, old_id, new_id)
                self.diff_loaded.emit(text)

        def failed(error: errors.StorageError) -> None:
            if self._diff_latest.is_current(generation) and not isinstance(error, errors.Cancelled):
                self.detail.show_diff_error(f"Cannot compare {old_id} and {new_id}: {error}")

        self.runner.submit(lambda ctx: store.files.diff(old_id, new_id), name="Compare versions",
                           on_result=done, on_error=failed, store=store)

    def show_sandbox(self, sandbox_id: str) -> None:
        """The Sandboxes pane with this sandbox selected (the window follows the link)."""
        self.sandbox_requested.emit(sandbox_id)
        self.navigate.emit("sandboxes", {"select": sandbox_id})

    def current_place(self) -> dict[str, Any]:
        return {"sandbox": self.sandbox_edit.text(), "query": self.search_edit.text()}

    def show_place(self, place: dict[str, Any]) -> None:
        """Set the sandbox filter (visible, and cleared with its ✕) and search again."""
        if "sandbox" in place:
            self.sandbox_edit.setText(place["sandbox"] or "")
        if "query" in place:
            self.search_edit.setText(place["query"] or "")
        self.search_now()

    def _job_error(self, error: errors.StorageError, what: str) -> None:
        if isinstance(error, errors.Cancelled):
            return
        if what.startswith("Verify"):
            self.detail.show_verify(f"{what}: {error}", False)
        self.message_requested.emit("error", f"{what}: {error}", error.detail)
