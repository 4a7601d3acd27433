"""The detail panel beside the sandboxes table: one sandbox, everything about it.

Header (id, status badges, version, container, times, resources), the JSON fields
as one tree, and tabs with the audit trail (old → new diffs) and the checkpoints.
It only displays what the pane loaded in a worker; it runs no queries itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QSplitter,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from .. import display
from ..widgets.audit_diff import AuditTrail, value_text
from ..widgets.detail import StackedDetail, field_grid
from ..widgets.json_tree import PATH_ROLE, JsonTree, one_line, rich_tooltip

JSON_FIELDS = ("environment", "config", "metadata", "recovery_data")


@dataclass
class SandboxDetails:
    """What the pane loads for the panel (in a worker)."""

    record: Any  # storage.sandboxes.SandboxRecord
    checkpoints: list[Any]
    audit: list[Any]


def status_badges(status: str, deleted: bool) -> list[tuple[str, str]]:
    badges = [(status or "(none)", display.status_colour(status or "").name())]
    if deleted:
        badges.append(("deleted", display.STATUS_COLOURS["deleted"]))
    return badges


class SandboxDetail(StackedDetail):
    """``show_details(d)`` / ``show_loading(id)`` / ``show_message(text)``.

    The title row links to the sandbox's files and metrics (``files_requested``,
    ``metrics_requested``) and to its audit trail below."""

    files_requested = Signal(str)
    metrics_requested = Signal(str)
    runs_requested = Signal(str)

    GRID = (
        ("container", "Container"), ("working_dir", "Working dir"),
        ("created", "Created"), ("updated", "Updated"),
        ("version", "Version"), ("deleted", "Deleted"),
        ("cpu", "CPU"), ("memory", "Memory"),
        ("disk", "Disk"), ("network", "Network"),
        ("resources_at", "Resources at"), ("checkpoint", "Checkpoint"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Select a sandbox to see its details.", parent)
        self.details: SandboxDetails | None = None
        layout = self.page_layout

        title, self.id_label, self.badges = self.add_title_row()
        self.links: dict[str, QToolButton] = {}
        for key, text, tip in (("files", "Files", "Show this sandbox's files (Files pane)"),
                               ("metrics", "Metrics", "Chart this sandbox's metrics (Metrics pane)"),
                               ("runs", "Runs", "This sandbox's workflow runs (Workflows pane)"),
                               ("audit", "Audit trail", "Show this sandbox's audit trail below")):
            button = QToolButton()
            button.setText(text + (" →" if key != "audit" else " ↓"))
            button.setToolTip(tip)
            button.setAutoRaise(True)
            title.addWidget(button)
            self.links[key] = button
        self.links["files"].clicked.connect(lambda: self._emit(self.files_requested))
        self.links["metrics"].clicked.connect(lambda: self._emit(self.metrics_requested))
        self.links["runs"].clicked.connect(lambda: self._emit(self.runs_requested))
        self.links["audit"].clicked.connect(self.show_audit)

        grid, self.fields = field_grid(self.GRID)
        layout.addLayout(grid)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.json = JsonTree()
        self.json.setColumnWidth(0, 170)
        self.tabs = QTabWidget()
        self.audit = AuditTrail()
        self.checkpoints = QTreeWidget()
        self.checkpoints.setHeaderLabels(["Time", "Reason", "Data"])
        self.checkpoints.setRootIsDecorated(False)
        self.checkpoints.setColumnWidth(0, 150)
        self.checkpoints.setColumnWidth(1, 160)
        self.checkpoints.currentItemChanged.connect(lambda item, _: self._show_checkpoint(item))
        self.checkpoint_data = JsonTree()  # the selected checkpoint's data, as a tree
        self.checkpoint_data.setColumnWidth(0, 170)
        checkpoints = QSplitter(Qt.Orientation.Vertical)
        checkpoints.addWidget(self.checkpoints)
        checkpoints.addWidget(self.checkpoint_data)
        checkpoints.setSizes([120, 200])
        self.tabs.addTab(self.audit, "Audit trail")
        self.tabs.addTab(checkpoints, "Checkpoints")
        self.splitter.addWidget(self.json)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        layout.addWidget(self.splitter, 1)

    # -- links -------------------------------------------------------------------------------------
    def _emit(self, signal: Signal) -> None:
        sid = self.current_id()
        if sid:
            signal.emit(sid)

    def show_audit(self) -> None:
        self.tabs.setCurrentWidget(self.audit)
        self.audit.setFocus()

    # -- states ------------------------------------------------------------------------------------

    def show_loading(self, sandbox_id: str) -> None:
        if self.details is None or self.details.record.id != sandbox_id:
            self.show_message(f"Loading {sandbox_id}…")

    def current_id(self) -> str | None:
        return self.details.record.id if self.details else None

    def show_details(self, details: SandboxDetails) -> None:
        same = self.details is not None and self.details.record.id == details.record.id
        self.details = details
        r = details.record
        self.id_label.setText(r.id)
        self.id_label.setToolTip(r.id)
        self.badges.set_badges(status_badges(r.status, r.deleted), dimmed=False)
        f = self.fields
        f["container"].set(r.container_id or "—")
        f["working_dir"].set(r.working_dir or "—")
        for key, value in (("created", r.created_at), ("updated", r.updated_at),
                           ("deleted", r.deleted_at), ("resources_at", r.last_resource_update)):
            f[key].set(display.local_time(value) or "—", display.utc_tooltip(value))
        f["version"].set(str(r.version))
        f["cpu"].set(f"{display.seconds(r.cpu_usage_seconds)} s",
                     f"{r.cpu_usage_seconds:,.3f} CPU seconds")
        f["memory"].set(display.size(r.memory_usage_bytes), f"{r.memory_usage_bytes:,} bytes")
        f["disk"].set(display.size(r.disk_usage_bytes), f"{r.disk_usage_bytes:,} bytes")
        f["network"].set(f"↓ {display.size(r.network_rx_bytes)}  ↑ {display.size(r.network_tx_bytes)}",
                         f"received {r.network_rx_bytes:,} bytes, sent {r.network_tx_bytes:,} bytes")
        f["checkpoint"].setElideMode(Qt.TextElideMode.ElideRight)
        latest = details.checkpoints[0] if details.checkpoints else None
        f["checkpoint"].set(
            f"{display.local_time(latest.time)} · {latest.reason}" if latest else "none",
            f"{len(details.checkpoints)} checkpoint(s)" if latest else "",
        )

        expanded = self._expanded_paths() if same else None
        self.json.set_value({k: getattr(r, k) for k in JSON_FIELDS}, expand_depth=1)
        if expanded:
            for path in expanded:
                item = self.json.item_for_path(path)
                if item is not None:
                    item.setExpanded(True)
        self.audit.set_entries(details.audit)
        self._fill_checkpoints(details.checkpoints)
        self.tabs.setTabText(0, f"Audit trail ({len(details.audit)})")
        self.tabs.setTabText(1, f"Checkpoints ({len(details.checkpoints)})")
        self.show_page()

    def _expanded_paths(self) -> list[str]:
        out: list[str] = []
        stack = [self.json.invisibleRootItem()]
        while stack:
            item = stack.pop()
            for i in range(item.childCount()):
                child = item.child(i)
                if child.isExpanded():
                    out.append(child.data(0, PATH_ROLE))
                stack.append(child)
        return out

    def _show_checkpoint(self, item: QTreeWidgetItem | None) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        self.checkpoint_data.set_value(data if data is not None else {}, expand_depth=2)

    def _fill_checkpoints(self, checkpoints: list[Any]) -> None:
        self.checkpoints.clear()
        self.checkpoint_data.set_value({})
        for cp in checkpoints:
            data = "" if cp.data is None else value_text(cp.data)
            item = QTreeWidgetItem(self.checkpoints, [display.local_time(cp.time), cp.reason,
                                                      one_line(data)])
            item.setToolTip(0, display.utc_tooltip(cp.time))
            item.setToolTip(1, cp.reason)
            item.setData(0, Qt.ItemDataRole.UserRole, cp.data)
            if data:
                item.setToolTip(2, rich_tooltip(data))
        if self.checkpoints.topLevelItemCount():
            self.checkpoints.setCurrentItem(self.checkpoints.topLevelItem(0))
