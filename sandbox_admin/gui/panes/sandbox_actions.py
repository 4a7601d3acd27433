"""The Sandboxes pane's actions: soft delete, recover, checkpoint, purge deleted.

An object the :class:`~.sandboxes.SandboxesPane` owns (``pane.sandbox_actions``; it uses the pane's model, store, runner,
detail panel and notice bar). Each write runs as one job through SandboxStore, which
audits it; destructive ones are confirmed first (non-blocking dialogs that tests
answer through :meth:`current_dialog`). A version conflict becomes a "changed
elsewhere — Reload" notice, not an error. A read-only store disables the actions with
a tooltip that says why.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QMessageBox

from ...storage import SandboxFilter, errors, utcnow
from .. import display
from ..jobs import Job, JobContext
from .sandbox_dialogs import CheckpointDialog, PurgeDialog

if TYPE_CHECKING:
    from .sandboxes import SandboxesPane

SETTINGS_PREFIX = "sandboxes"
TIPS = {
    "delete": "Soft-delete the selected sandbox (Del); it can be recovered",
    "recover": "Recover the selected soft-deleted sandbox",
    "checkpoint": "Record a checkpoint of the selected sandbox, with a reason",
    "purge": "Permanently remove sandboxes soft-deleted more than N days ago",
}


class SandboxActions:
    """Actions of a :class:`SandboxesPane` (``pane.sandbox_actions``; see the module docstring)."""

    def __init__(self, pane: "SandboxesPane") -> None:
        self.pane = pane
        self._dialog: QDialog | None = None
        self._busy = False
        #: ids removed by the last purge
        self.last_purged: list[str] = []

    def read_only_reason(self) -> str:
        if self.pane.store is None:
            return "No database is open."
        if not self.pane.store.read_only:
            return ""
        why = f" ({self.pane.store.notices[0]})" if self.pane.store.notices else ""
        return (f"The database is open read-only{why}: reopen it for writing "
                "(File → Open…) to change sandboxes.")

    def update_state(self) -> None:
        reason = self.read_only_reason()
        if not reason and self.pane.runner.exclusive_active:
            reason = "A maintenance job (restore, vacuum, migrate) is running; wait for it to finish."
        row = self.pane.model.row_at(self.pane.selected_row()) if self.pane.selected_row() is not None else None
        no_row = "Select a sandbox first."
        states = {
            self.pane.delete_action: (row is not None and not row.is_deleted,
                                 no_row if row is None else "Already soft-deleted."),
            self.pane.recover_action: (row is not None and row.is_deleted,
                                  no_row if row is None else "Only soft-deleted sandboxes can be "
                                  "recovered (tick Show deleted to see them)."),
            self.pane.checkpoint_action: (row is not None and not row.is_deleted,
                                     no_row if row is None else "Recover the sandbox first."),
            self.pane.purge_action: (True, ""),
        }
        base_tips = {self.pane.delete_action: TIPS["delete"], self.pane.recover_action: TIPS["recover"],
                     self.pane.checkpoint_action: TIPS["checkpoint"], self.pane.purge_action: TIPS["purge"]}
        for act, (ok, why) in states.items():
            if reason:
                act.setEnabled(False)
                act.setToolTip(reason)
            elif self._busy:
                act.setEnabled(False)
                act.setToolTip("Another change is being written…")
            else:
                act.setEnabled(ok)
                act.setToolTip(base_tips[act] if ok else f"{base_tips[act]}. {why}")
        self.pane.copy_id_action.setEnabled(row is not None)
        self.pane.workflow_runs_action.setEnabled(row is not None)
        self.pane.refresh_action.setEnabled(self.pane.store is not None)

    def current_dialog(self) -> QDialog | None:
        """The confirmation or input dialog the pane has open (tests answer it)."""
        return self._dialog

    def _open_dialog(self, dialog: QDialog, on_accept: Callable[[], None]) -> None:
        if self._dialog is not None:
            self._dialog.reject()
        self._dialog = dialog
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def finished(code: int) -> None:
            if self._dialog is dialog:
                self._dialog = None
            if code == QDialog.DialogCode.Accepted:
                on_accept()

        dialog.finished.connect(finished)
        dialog.open()

    def _confirm(self, title: str, text: str, button: str, on_yes: Callable[[], None],
                 informative: str = "") -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Cancel, self.pane)
        yes = box.addButton(button, QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if informative:
            box.setInformativeText(informative)
        box.setProperty("confirm_button", button)
        self._dialog = box
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def clicked(b: Any) -> None:
            if self._dialog is box:
                self._dialog = None
            if b is yes:
                on_yes()

        box.buttonClicked.connect(clicked)
        box.rejected.connect(lambda: setattr(self, "_dialog", None) if self._dialog is box else None)
        box.open()

    def _target(self) -> tuple[str, int] | None:
        """The selected sandbox's id and the version the person saw."""
        row_i = self.pane.selected_row()
        row = self.pane.model.row_at(row_i) if row_i is not None else None
        if row is None:
            return None
        rec = self.pane.current_record()
        return row.id, (rec.version if rec is not None else row.version)

    def soft_delete(self) -> None:
        target = self._target()
        if target is None or not self.pane.delete_action.isEnabled():
            return
        sid, version = target
        self._confirm(
            "Soft-delete sandbox", f"Soft-delete sandbox {sid}?", "Soft delete",
            lambda: self._write("soft_delete", "Soft delete", sid,
                                lambda s: s.soft_delete(sid, expected_version=version),
                                f"Soft-deleted {sid}. Tick “Show deleted” to see or recover it."),
            informative="It stays in the database (greyed and struck through under “Show "
                        "deleted”) and can be recovered. The change is written to the audit trail.",
        )

    def recover(self) -> None:
        target = self._target()
        if target is None or not self.pane.recover_action.isEnabled():
            return
        sid, version = target
        self._write("recover", "Recover", sid, lambda s: s.recover(sid, expected_version=version),
                    f"Recovered {sid}.")

    def checkpoint(self) -> None:
        target = self._target()
        if target is None or not self.pane.checkpoint_action.isEnabled():
            return
        sid, version = target
        dialog = CheckpointDialog(sid, self.pane)

        def accepted() -> None:
            reason = dialog.value()
            self._write("checkpoint", "Checkpoint", sid,
                        lambda s: s.checkpoint(sid, reason, expected_version=version),
                        f"Checkpoint of {sid} recorded: {reason}")

        self._open_dialog(dialog, accepted)

    def _write(self, name: str, title: str, sandbox_id: str, fn: Callable[[Any], Any],
               success: str) -> Job:
        self._busy = True
        self.update_state()
        store = self.pane.store

        def work(ctx: JobContext) -> Any:
            return fn(store.sandboxes)

        def done(record: Any) -> None:
            self._busy = False
            self.pane.model.update_record(record)
            self.pane._facet_key = None
            self.pane._refresh_facets()
            self.pane.model.recount()
            if self.pane.selected_id() == sandbox_id:
                self.pane._load_details(sandbox_id)
            elif self.pane.detail.current_id() == sandbox_id:
                self.pane.detail.show_message(f"{sandbox_id} is hidden by the current filter.")
            self.update_state()
            self.pane.message_requested.emit("info", success, "")
            self.pane.action_finished.emit(name, True)

        def failed(error: errors.StorageError) -> None:
            self._busy = False
            self.update_state()
            if isinstance(error, errors.VersionConflict):
                self._show_conflict(title, sandbox_id, error)
            elif isinstance(error, errors.NotFound):
                self.pane.message_requested.emit(
                    "warning", f"{sandbox_id} no longer exists (removed elsewhere); the list is "
                    "refreshed.", error.detail or str(error))
                self.pane.refresh()
            else:
                self.pane.message_requested.emit("error", f"{title} failed: {error}", error.detail)
            self.pane.action_finished.emit(name, False)

        return self.pane.runner.submit(work, name=f"{title} {sandbox_id}", on_result=done, on_error=failed,
                                  store=store)

    def _show_conflict(self, title: str, sandbox_id: str, error: errors.VersionConflict) -> None:
        current = error.current
        now = f" (it is now version {current.version}, status {current.status})" \
            if current is not None and hasattr(current, "version") else ""
        self.pane.notice.show_message(
            "warning",
            f"<b>{sandbox_id}</b> was changed elsewhere{now}; “{title}” was not applied. "
            "Reload to see the current state, then try again.",
            key="conflict", action="Reload",
            callback=lambda: self._reload_after_conflict(sandbox_id, current),
        )

    def _reload_after_conflict(self, sandbox_id: str, current: Any) -> None:
        if current is not None and hasattr(current, "version"):
            self.pane.model.update_record(current)
        self.pane._facet_key = None
        self.pane._refresh_facets()
        self.pane._load_details(sandbox_id)

    # -- purge ---------------------------------------------------------------------------------------------------
    def purge_deleted(self) -> None:
        if not self.pane.purge_action.isEnabled():
            return
        days = int(self.pane.settings.value(f"{SETTINGS_PREFIX}/purge_days", 30))
        dialog = PurgeDialog(days, self.pane)
        dialog.preview_requested.connect(lambda d: self._purge_preview(dialog, d))

        def accepted() -> None:
            n = dialog.value()
            self.pane.settings.setValue(f"{SETTINGS_PREFIX}/purge_days", n)
            total = dialog.property("preview_total") or 0
            self._confirm(
                "Purge deleted sandboxes",
                f"Permanently remove {display.plural(int(total), 'sandbox', 'sandboxes')} "
                f"soft-deleted more than {n} days ago?",
                "Purge", lambda: self._purge(n),
                informative="Their files and metrics are removed too. This cannot be undone.",
            )

        self._open_dialog(dialog, accepted)
        dialog.request_preview()

    def _purge_preview(self, dialog: PurgeDialog, days: int) -> None:
        store = self.pane.store

        def work(ctx: JobContext) -> tuple[list[str], int]:
            cutoff = utcnow() - timedelta(days=days)
            flt = SandboxFilter(only_deleted=True)
            ids: list[str] = []
            total, cursor = 0, None
            while True:
                ctx.check_cancelled()
                page = store.sandboxes.page(flt, sort="deleted_at", descending=False, after=cursor,
                                            limit=1000)
                for r in page.rows:
                    if r.deleted_at is None or r.deleted_at >= cutoff:
                        return ids, total
                    total += 1
                    if len(ids) < 20:
                        ids.append(r.id)
                if page.next_cursor is None:
                    return ids, total
                cursor = page.next_cursor

        def done(result: tuple[list[str], int]) -> None:
            if self._dialog is dialog:
                dialog.setProperty("preview_total", result[1])
                dialog.set_preview(days, *result)

        def failed(error: errors.StorageError) -> None:
            if self._dialog is dialog:
                dialog.set_preview_error(str(error))

        self.pane.runner.submit(work, name="Preview purge", on_result=done, on_error=failed, store=store)

    def _purge(self, days: int) -> None:
        self._busy = True
        self.update_state()
        store = self.pane.store

        def work(ctx: JobContext) -> list[str]:
            return list(store.sandboxes.cleanup_deleted(days))

        def done(ids: list[str]) -> None:
            self._busy = False
            self.last_purged = ids
            self.pane.model.remove_ids(set(ids))
            if self.pane.detail.current_id() in ids:
                self.pane.detail.show_message(f"{self.pane.detail.current_id()} was purged.")
            self.pane._facet_key = None
            self.pane._refresh_facets()
            self.pane.model.recount()
            self.update_state()
            if ids:
                shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
                self.pane.message_requested.emit(
                    "info", f"Purged {display.plural(len(ids), 'sandbox', 'sandboxes')} "
                    f"soft-deleted more than {days} days ago: {shown}.", "\n".join(ids))
            else:
                self.pane.message_requested.emit(
                    "info", f"Nothing to purge: no sandbox was soft-deleted more than {days} days ago.", "")
            self.pane.action_finished.emit("purge", True)

        def failed(error: errors.StorageError) -> None:
            self._busy = False
            self.update_state()
            self.pane.message_requested.emit("error", f"Purge failed: {error}", error.detail)
            self.pane.action_finished.emit("purge", False)

        self.pane.runner.submit(work, name="Purge deleted sandboxes", on_result=done, on_error=failed,
                           store=store)
