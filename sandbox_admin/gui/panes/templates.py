"""The Templates pane: the Go server's sandbox templates, which is the default, how much
each is used, and making a sandbox from one.

The list (name with a ★ default badge, base image, tags, uses, last change) is a lazy
keyset model fed by workers; beside it the selected template: its fields and its JSON
(config, packages, environment, limits) as one tree. Actions: Set as default (one
default at a time, the store clears the others in the same transaction), Create
sandbox… (asks first; the sandbox is written with its audit entry and the template's
use is counted), Delete… (asks first). Every call runs as a job; a read-only database
keeps the list and loses the actions, with a tooltip saying why.
"""

from __future__ import annotations

import html
from typing import Any, Callable

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSplitter,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ...storage import TemplateRecord, errors
from .. import display
from ..jobs import JobRunner
from ..models.paged import ROW_ROLE, PagedColumn, PagedTableModel
from ..theme import ink_name
from ..widgets.badges import BadgeDelegate
from ..widgets.detail import StackedDetail, field_grid
from ..widgets.json_tree import JsonTree
from ..widgets.record_table import record_table
from .base import Pane

SETTINGS_PREFIX = "templates"
DEFAULT_BADGE = ("★ default", "#f9a825")
READ_ONLY_TIP = "The database is open read-only; reopen it read-write to change templates."
PAGE = 200


def _fetch(store: Any, cursor: Any, limit: int) -> tuple[list[TemplateRecord], Any]:
    page = store.templates.page(cursor, min(limit, PAGE))
    return page.rows, page.next_cursor


def _name_badges(t: TemplateRecord) -> list[tuple[str, str]]:
    return [DEFAULT_BADGE] if t.is_default else []


COLUMNS = [
    PagedColumn("Name", lambda t: t.name, lambda t: f"{t.name}\n{t.description}".strip()),
    PagedColumn("Default", lambda t: "default" if t.is_default else "", badge=_name_badges,
                header_tip="The template the server uses when none is named (one at most)"),
    PagedColumn("Base image", lambda t: t.base_image, lambda t: t.base_image),
    PagedColumn("Tags", lambda t: ", ".join(t.tags), lambda t: ", ".join(t.tags)),
    PagedColumn("Used", lambda t: display.count(t.usage_count), right=True,
                header_tip="Sandboxes made from this template"),
    PagedColumn("Updated", lambda t: display.local_time(t.updated_at), lambda t: display.utc_tooltip(t.updated_at)),
    PagedColumn("Created by", lambda t: t.created_by),
]


class TemplateDetail(StackedDetail):
    GRID = (("id", "Id"), ("image", "Base image"), ("created", "Created"), ("updated", "Updated"),
            ("by", "Created by"), ("used", "Used"))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Select a template to see its details.", parent)
        self.record: TemplateRecord | None = None
        _row, self.name_label, self.badges = self.add_title_row()
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet(f"color: {ink_name('label')};")
        self.page_layout.addWidget(self.description)
        grid, self.fields = field_grid(self.GRID)
        self.page_layout.addLayout(grid)
        self.json = JsonTree()
        self.json.setColumnWidth(0, 190)
        self.page_layout.addWidget(self.json, 1)

    def show_template(self, t: TemplateRecord) -> None:
        self.record = t
        self.name_label.setText(t.name)
        self.badges.set_badges(([DEFAULT_BADGE] if t.is_default else [])
                               + [(tag, "#546e7a") for tag in t.tags])
        self.description.setText(t.description or "")
        self.description.setVisible(bool(t.description))
        f = self.fields
        f["id"].set(t.id)
        f["image"].set(t.base_image)
        f["created"].set(display.local_time(t.created_at) or "—", display.utc_tooltip(t.created_at))
        f["updated"].set(display.local_time(t.updated_at) or "—", display.utc_tooltip(t.updated_at))
        f["by"].set(t.created_by or "—")
        f["used"].set(display.plural(t.usage_count, "sandbox", "sandboxes"))
        self.json.set_value({"config": t.config, "pre_installed_packages": t.pre_installed_packages,
                             "environment_vars": t.environment_vars, "resource_limits": t.resource_limits},
                            expand_depth=2)
        self.show_page()


class TemplatesPane(Pane):
    """See the module docstring."""

    key = "templates"

    #: the detail panel shows this template
    details_loaded = Signal(str)
    #: an action finished: name ("set_default", "create_sandbox", "delete"), ok
    action_finished = Signal(str, bool)
    #: a sandbox was made from a template (its id): the sandboxes list may reload
    sandbox_created = Signal(str)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(runner, parent, settings)
        self.model = PagedTableModel(runner, COLUMNS, "templates", self)
        self._dialog: QMessageBox | None = None
        self._wanted: str | None = None
        self.last_created: Any = None
        self._stale = False
        self._build()
        self.set_store(None)

    def _build(self) -> None:
        def action(text: str, slot: Callable[[], Any], tip: str, shortcut: Any = None) -> QAction:
            act = QAction(text, self)
            act.triggered.connect(lambda: slot())
            act.setToolTip(tip)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
                act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(act)
            return act

        self.refresh_action = action("Refresh", self.refresh, "Reload the templates (F5)",
                                     QKeySequence.StandardKey.Refresh)
        self.default_action = action("Set as default", self.set_default,
                                     "Make the selected template the one default (the others stop being it)")
        self.create_action = action("Create sandbox…", self.create_sandbox,
                                    "Make a new sandbox from the selected template (asks first; audited)")
        self.delete_action = action("Delete…", self.delete_template,
                                    "Delete the selected template (asks first); its sandboxes stay")
        self.write_tips = {a: a.toolTip() for a in (self.default_action, self.create_action, self.delete_action)}

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        bar = QHBoxLayout()
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Find a template by name, image or tag  (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        bar.addWidget(self.filter_edit, 1)
        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for act in (self.refresh_action, None, self.default_action, self.create_action, None,
                    self.delete_action):
            self.toolbar.addSeparator() if act is None else self.toolbar.addAction(act)
        bar.addWidget(self.toolbar)
        layout.addLayout(bar)
        self.headline = QLabel()
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.headline)

        self.table = record_table(self.model)
        self.table.setItemDelegateForColumn(1, BadgeDelegate(self.table))
        fm = self.table.fontMetrics()
        for column, sample in enumerate(("Minimal shell", "★ default", "jupyter/scipy-notebook",
                                         "data-science, jupyter", "Used", "2026-11-26 01:35:22")):
            self.table.setColumnWidth(column, fm.horizontalAdvance(sample) + 16)
        self.detail = TemplateDetail()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.fill_list_detail(self.splitter, self.table, self.detail, [620, 420], f"{SETTINGS_PREFIX}/splitter")
        layout.addWidget(self.splitter, 1)

        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_selected())
        self.model.first_page_loaded.connect(self._first_page)
        self.model.page_loaded.connect(lambda _: self._update_headline())
        self.model.load_failed.connect(lambda e: self.show_error(e, "Loading templates"))

    # -- the Pane contract -------------------------------------------------------------
    def set_store(self, store: Any) -> None:
        """Show ``store``'s templates; a hidden pane waits until it is shown."""
        self.store = store
        self.detail.show_message("Select a template to see its details." if store is not None
                                 else "No database is open.")
        self.model.set_query(None, None)
        self._stale = store is not None
        self.when_shown(self._load)
        self._update_actions()
        self._update_headline()

    def _load(self) -> None:
        self._stale = False
        if self.store is not None:
            self.model.set_query(self.store, _fetch)

    def refresh(self) -> None:
        if self.store is None:
            return
        self._wanted = self.selected_id() or self._wanted
        self._stale = True
        self.when_shown(self._load)

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def current_dialog(self) -> QMessageBox | None:
        """The open confirmation (tests answer it)."""
        return self._dialog

    # -- list and selection ------------------------------------------------------------
    def _first_page(self) -> None:
        if self._wanted is not None:
            self.select_id(self._wanted)
        self._apply_filter()
        self._update_headline()

    def _apply_filter(self) -> None:
        """Hide rows that do not match the box (templates are few: all are loaded)."""
        text = self.filter_edit.text().strip().lower()
        for row, t in enumerate(self.model.rows()):
            hay = " ".join([t.name, t.base_image, t.description, *t.tags]).lower()
            self.table.setRowHidden(row, bool(text) and text not in hay)

    def _update_headline(self) -> None:
        if self.store is None:
            self.headline.setText("No database is open.")
            return
        rows = self.model.rows()
        default = next((t.name for t in rows if t.is_default), None)
        text = f"<b>{display.plural(len(rows), 'template')}</b>"
        text += (f" · default: <b>{html.escape(default)}</b>" if default else " · no default template")
        if rows:
            used = max(rows, key=lambda t: t.usage_count)
            text += f" · most used: {html.escape(used.name)} ({display.plural(used.usage_count, 'sandbox', 'sandboxes')})"
        if self.model.loading:
            text += " · loading…"
        if self.store.read_only:
            text += " · <span style='color:#5d4037'>read-only</span>"
        self.headline.setText(text)

    def selected(self) -> TemplateRecord | None:
        index = self.table.selectionModel().currentIndex()
        if not index.isValid():
            return None
        return self.model.data(self.model.index(index.row(), 0), ROW_ROLE)

    def selected_id(self) -> str | None:
        t = self.selected()
        return t.id if t else None

    def select_id(self, template_id: str) -> bool:
        row = self.model.row_of(lambda t: t.id == template_id)
        if row is None:
            self._wanted = template_id
            return False
        self._wanted = None
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0), QAbstractItemView.ScrollHint.EnsureVisible)
        self._show_selected()
        return True

    def _show_selected(self) -> None:
        t = self.selected()
        self._update_actions()
        if t is None:
            return
        self.detail.show_template(t)
        self.details_loaded.emit(t.id)

    def _update_actions(self) -> None:
        writable = self.store is not None and not self.store.read_only
        chosen = self.selected() is not None
        for act, tip in self.write_tips.items():
            act.setEnabled(writable and chosen)
            act.setToolTip(tip if writable or self.store is None else READ_ONLY_TIP)
        if chosen and self.selected().is_default:
            self.default_action.setEnabled(False)

    # -- actions -----------------------------------------------------------------------
    def _write(self, name: str, title: str, fn: Callable[[Any], Any], done: Callable[[Any], None]) -> None:
        store = self.store

        def failed(error: errors.StorageError) -> None:
            self.show_error(error, title)
            self.action_finished.emit(name, False)
            if isinstance(error, (errors.VersionConflict, errors.NotFound)):
                self.refresh()

        self.runner.submit(lambda ctx: fn(ctx.store), name=title, store=store, on_result=done,
                           on_error=failed)

    def set_default(self) -> None:
        t = self.selected()
        if t is None or self.store is None or self.store.read_only:
            return

        def done(_: Any) -> None:
            self.tell("info", f"{t.name} is now the default template.")
            self.action_finished.emit("set_default", True)
            self._wanted = t.id
            self.model.reload()

        self._write("set_default", "Set default template", lambda s: s.templates.set_default(t.id), done)

    def _ask(self, title: str, text: str, yes_text: str, on_yes: Callable[[], None],
             icon: QMessageBox.Icon = QMessageBox.Icon.Question) -> QMessageBox:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Cancel, self)
        box.setTextFormat(Qt.TextFormat.RichText)
        yes = box.addButton(yes_text, QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self._dialog = box

        def answered() -> None:
            self._dialog = None
            if box.clickedButton() is yes:
                on_yes()

        box.finished.connect(lambda _: answered())
        box.open()
        return box

    def create_sandbox(self) -> QMessageBox | None:
        t = self.selected()
        if t is None or self.store is None or self.store.read_only:
            return None
        text = (f"Create a new sandbox from <b>{html.escape(t.name)}</b>?<br><br>"
                f"It starts as <i>creating</i> with image <code>{html.escape(t.base_image)}</code>, "
                "the template's environment, config and limits. The change is written to the "
                "audit trail and counted as a use of the template.")

        def go() -> None:
            def done(record: Any) -> None:
                self.last_created = record
                self.tell("info", f"Created sandbox {record.id} from {t.name} (audited).")
                self.action_finished.emit("create_sandbox", True)
                self.sandbox_created.emit(record.id)
                self._wanted = t.id
                self.model.reload()

            self._write("create_sandbox", "Create sandbox from template",
                        lambda s: s.templates.create_sandbox(t.id), done)

        return self._ask("Create sandbox", text, "Create sandbox", go)

    def delete_template(self) -> QMessageBox | None:
        t = self.selected()
        if t is None or self.store is None or self.store.read_only:
            return None
        text = (f"Delete the template <b>{html.escape(t.name)}</b>?<br><br>"
                f"The {display.plural(t.usage_count, 'sandbox', 'sandboxes')} made from it keep their "
                "settings. This cannot be undone (back up first if unsure)."
                + ("<br><br>It is the default template: afterwards there is none." if t.is_default else ""))

        def go() -> None:
            def done(_: Any) -> None:
                self.tell("info", f"Deleted the template {t.name}.")
                self.action_finished.emit("delete", True)
                self.detail.show_message("Select a template to see its details.")
                self.model.reload()

            self._write("delete", "Delete template", lambda s: s.templates.delete(t.id, t.stamp), done)

        return self._ask("Delete template", text, "Delete", go, QMessageBox.Icon.Warning)
