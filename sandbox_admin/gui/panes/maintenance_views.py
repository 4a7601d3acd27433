"""Tables and texts of the Maintenance pane: statistics, backups, the restore question.

Pure presentation: every value here was read by a job (``gui/jobs.py``); nothing
touches the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
)

from ...storage import BROKEN, UNVERIFIED, VERIFIED, BackupInfo, DatabaseStats, VerifyReport, latest_version
from .. import display
from ..widgets.badges import BADGES_ROLE, BadgeDelegate

#: Colours of the backup statuses (badges).
STATUS_FILL = {VERIFIED: "#2e7d32", UNVERIFIED: "#b26a00", BROKEN: "#c62828"}
INFO_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2


class _Item(QTableWidgetItem):
    """A cell that sorts by :data:`SORT_ROLE` when it has one (sizes, counts)."""

    def __lt__(self, other: QTableWidgetItem) -> bool:  # type: ignore[override]
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if a is not None and b is not None:
            return a < b
        return super().__lt__(other)


def _item(text: str, sort: Any = None, tip: str = "", right: bool = False) -> _Item:
    item = _Item(text)
    item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
    if sort is not None:
        item.setData(SORT_ROLE, sort)
    if tip:
        item.setToolTip(tip)
    if right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _setup(table: QTableWidget, headers: list[str]) -> None:
    """The look both tables share: whole rows, no editing, compact rows."""
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    for col in range(len(headers)):
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)


# -- statistics ---------------------------------------------------------------------------------

class StatsTable(QTableWidget):
    """Per table: rows, bytes (table + indexes), table bytes, index bytes, pages."""

    HEADERS = ["Table", "Rows", "Size", "Data", "Indexes", "Pages"]

    def __init__(self) -> None:
        super().__init__()
        _setup(self, self.HEADERS)
        self.horizontalHeaderItem(3).setToolTip("Bytes of the table's own b-tree")
        self.horizontalHeaderItem(4).setToolTip("Bytes of its indexes (and full-text shadow tables)")
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def show_stats(self, stats: DatabaseStats | None) -> None:
        self.setSortingEnabled(False)
        self.setRowCount(0)
        if stats is None:
            return
        self.setRowCount(len(stats.tables))
        for row, t in enumerate(stats.tables):
            rows = "virtual" if t.rows is None else display.count(t.rows)
            cells = [
                _item(t.name),
                _item(rows, -1 if t.rows is None else t.rows, right=True,
                      tip="A virtual table: its data lives in its shadow tables" if t.rows is None else ""),
                _item(display.size(t.bytes), t.bytes or 0, f"{t.bytes:,} bytes" if t.bytes else "",
                      right=True),
                _item(display.size(t.table_bytes), t.table_bytes or 0, right=True),
                _item(display.size(t.index_bytes), t.index_bytes or 0, right=True),
                _item("" if t.pages is None else display.count(t.pages), t.pages or 0, right=True),
            ]
            for col, cell in enumerate(cells):
                self.setItem(row, col, cell)
        self.setSortingEnabled(True)
        self.sortByColumn(2, Qt.SortOrder.DescendingOrder)

    def rows_by_table(self) -> dict[str, str]:
        """Table name -> the Rows cell's text (tests, screen readers)."""
        return {self.item(r, 0).text(): self.item(r, 1).text() for r in range(self.rowCount())}


def stats_summary(stats: DatabaseStats) -> list[tuple[str, str, str]]:
    """(label, value, tooltip) lines above the table."""
    free_pct = 100.0 * stats.freelist_count / stats.page_count if stats.page_count else 0.0
    return [
        ("Size", display.size(stats.size_bytes),
         f"{stats.size_bytes:,} bytes = {stats.page_count:,} pages × {stats.page_size:,} bytes"),
        ("File on disk", display.size(stats.file_bytes), f"{stats.file_bytes:,} bytes"),
        ("WAL", display.size(stats.wal_bytes) + f"  ({stats.journal_mode})",
         f"{stats.path}-wal: {stats.wal_bytes:,} bytes. A checkpoint moves it into the file."),
        ("Pages", f"{display.count(stats.page_count)} × {display.size(stats.page_size)}",
         "page count × page size"),
        ("Free pages", f"{display.count(stats.freelist_count)} ({display.size(stats.free_bytes)}, "
         f"{free_pct:.1f} %)", "Unused pages inside the file: Vacuum gives them back to the disk"),
    ]


# -- backups ------------------------------------------------------------------------------------

class BackupTable(QTableWidget):
    """The backups in one folder, newest first; :data:`INFO_ROLE` holds the BackupInfo."""

    HEADERS = ["Created", "Status", "Size", "Schema", "Kind", "Method", "Database", "File"]

    def __init__(self) -> None:
        super().__init__()
        _setup(self, self.HEADERS)
        header = self.horizontalHeader()
        header.setSectionResizeMode(len(self.HEADERS) - 1, QHeaderView.ResizeMode.Stretch)
        self.setItemDelegateForColumn(1, BadgeDelegate(self))
        self.entries: list[BackupInfo] = []
        #: Full verifications done in this session, by path (they override the listing).
        self.reports: dict[Path, VerifyReport] = {}
        #: the open database (backups of another one are marked)
        self.database: Path | None = None

    def show_backups(self, entries: list[BackupInfo], methods: dict[Path, str]) -> None:
        selected = self.selected()
        self.entries = list(entries)
        self.setRowCount(len(entries))
        for row, e in enumerate(entries):
            status, why = self.status_of(e)
            cells = [
                _item(display.local_time(e.created_at), tip=display.utc_tooltip(e.created_at)),
                _item(status, tip=why),
                _item(display.size(e.size_bytes), tip=f"{e.size_bytes:,} bytes", right=True),
                _item("" if e.schema_version is None else str(e.schema_version),
                      tip=_schema_tip(e.schema_version), right=True),
                _item(e.kind or ("Go server" if e.origin == "go" else ""),
                      tip="made by " + ("the Go server (or copied here)" if e.origin == "go"
                                        else "sandbox-admin")),
                _item(methods.get(e.path, ""), tip=e.source_path and f"from {e.source_path}"),
                self._database_item(e),
                _item(e.path.name, tip=str(e.path)),
            ]
            cells[1].setData(BADGES_ROLE, [(status, STATUS_FILL.get(status, "#616161"))])
            if status == BROKEN:
                cells[1].setForeground(Qt.GlobalColor.darkRed)
            for col, cell in enumerate(cells):
                cell.setData(INFO_ROLE, e)
                self.setItem(row, col, cell)
        if selected is not None:
            self.select_path(selected.path)

    def is_foreign(self, e: BackupInfo) -> bool:
        """Made (by us) from another database than the open one."""
        return bool(e.source_path and self.database is not None
                    and Path(e.source_path) != self.database.resolve())

    def _database_item(self, e: BackupInfo) -> QTableWidgetItem:
        if not e.source_path:
            return _item("not recorded", tip="The Go server's backups do not say which database they were made from")
        if self.is_foreign(e):
            item = _item(Path(e.source_path).name, tip=f"Another database: {e.source_path}")
            item.setForeground(Qt.GlobalColor.darkYellow)
            return item
        return _item("this database", tip=e.source_path)

    def status_of(self, e: BackupInfo) -> tuple[str, str]:
        """(status, why): a full verification in this session wins over the listing."""
        report = self.reports.get(e.path)
        if report is not None:
            if not report.ok:
                return BROKEN, "Verified now: " + report.reason()
            if not report.restorable:
                return UNVERIFIED, "Sound, but " + report.refusal
            return VERIFIED, "Verified now: checksum, integrity check and schema are fine"
        if e.status == BROKEN:
            return BROKEN, "; ".join(e.problems) or "broken"
        if e.status == VERIFIED:
            return VERIFIED, "Checked when it was made (integrity check, row counts, sha256)"
        return UNVERIFIED, "Nobody checked it yet: select it and press Verify"

    def restore_refusal(self, e: BackupInfo) -> str:
        """Why ``e`` must not be restored ("" when it may be tried)."""
        report = self.reports.get(e.path)
        if report is not None and not report.restorable:
            return report.reason()
        if e.status == BROKEN and report is None:
            return "; ".join(e.problems) or "the file is broken"
        if e.schema_version is not None and e.schema_version > latest_version():
            return (f"its schema version {e.schema_version} is newer than this sandbox-admin knows "
                    f"({latest_version()}); upgrade sandbox-admin to restore it")
        return ""

    def selected(self) -> BackupInfo | None:
        rows = self.selectionModel().selectedRows()
        if not rows:
            return None
        return self.item(rows[0].row(), 0).data(INFO_ROLE)

    def select_path(self, path: Path) -> bool:
        for row, e in enumerate(self.entries):
            if e.path == path:
                self.selectRow(row)
                return True
        return False

    def row_of(self, path: Path) -> int | None:
        return next((r for r, e in enumerate(self.entries) if e.path == path), None)


def _schema_tip(version: int | None) -> str:
    if version is None:
        return "unknown"
    known = latest_version()
    if version > known:
        return f"newer than this sandbox-admin knows ({known}): cannot be restored"
    if version < known:
        return f"older than this sandbox-admin's {known}: upgrade the schema after restoring"
    return "the current schema version"


def restore_question(backup: BackupInfo, database: Path, safety_dir: Path,
                     live_rows: dict[str, int] | None) -> str:
    """What a restore will do, said exactly (the confirmation dialog's text)."""
    def rows(counts: dict[str, int] | None) -> str:
        if not counts:
            return "unknown content"
        return ", ".join(display.plural(counts.get(t, 0), one, many) for t, one, many in
                         (("sandboxes", "sandbox", "sandboxes"), ("file_metadata", "file", None),
                          ("metrics", "metric row", None))
                         if t in counts) or "no rows"

    when = display.local_time(backup.created_at)
    other = ""
    if backup.source_path and Path(backup.source_path) != database.resolve():
        other = (f"<p><b>Note:</b> this backup was made from another database, "
                 f"{escape(backup.source_path)}.</p>")
    return (
        f"Restore the backup <b>{escape(backup.path.name)}</b> (made {when}, "
        f"{rows(backup.tables) if backup.tables else 'row counts not recorded'}) "
        f"into <b>{escape(database.name)}</b>?{other}"
        "<ol>"
        "<li>The backup is verified completely first (checksum, integrity check, schema). "
        "A broken or newer backup is refused and nothing changes.</li>"
        f"<li>A safety backup of the current database is written to "
        f"<b>{escape(str(safety_dir))}</b>.</li>"
        f"<li>The current content of {escape(str(database))} ({rows(live_rows)}) is "
        "<b>replaced</b> by the "
        "backup's, in one transaction: other programs see the old or the new content, "
        "never a mix.</li>"
        "</ol>"
        "Changes made since the backup are lost from the database (they stay in the safety "
        "backup, which you can restore the same way)."
    )


def foreign_question(backup: BackupInfo, database: Path) -> str:
    """The separate question before restoring a backup made from another database."""
    return (
        f"<p>The backup <b>{escape(backup.path.name)}</b> was made from another database:</p>"
        f"<p>&nbsp;&nbsp;{escape(backup.source_path)}</p>"
        f"<p>The open database is:</p><p>&nbsp;&nbsp;{escape(str(database.resolve()))}</p>"
        "<p>Restoring it replaces this database's sandboxes, files and metrics with the other "
        "database's. Is that what you want?</p>"
    )


def escape(text: str) -> str:
    """Plain text for a rich-text label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
