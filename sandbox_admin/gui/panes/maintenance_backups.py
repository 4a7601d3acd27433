"""The Maintenance pane's backup side: back up, verify, restore, automatic backups.

An object the :class:`MaintenancePane` owns (``pane.backups``; like ``sandbox_actions.py``
for the Sandboxes pane): it uses the pane's runner, store, tables and progress row through ``_run``.
Restore asks first, saying exactly what will happen, and refuses a broken or newer
backup with the reason before asking.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from ...storage import (
    BackupInfo,
    BackupResult,
    RestoreResult,
    RetentionPolicy,
    Schedule,
    ScheduledRun,
    VerifyReport,
    describe_backup,
    errors,
    verify_backup,
)
from .. import display
from ..jobs import Job, JobContext
from ..preferences import Preferences
from .maintenance_views import BackupTable, escape, foreign_question, restore_question

if TYPE_CHECKING:
    from .maintenance import MaintenancePane

#: phase → what a person reads under the progress bar.
PHASES = {
    "copy": "Copying pages", "checksum": "Computing the checksum", "verify": "Checking integrity",
    "restore": "Writing the backup into the database",
    "checks": "Finishing the checks of the backup and the safety backup",
    "check": "Checking the restored database",
    "checkpoint": "Checkpointing", "audit": "Recording the audit entry",
}


def phase_text(phase: str) -> str:
    """("safety copy" → "Safety backup: copying pages")."""
    for prefix, label in (("backup ", "Backup: "), ("safety ", "Safety backup: ")):
        if phase.startswith(prefix):
            text = PHASES.get(phase[len(prefix):], phase[len(prefix):])
            return label + text[:1].lower() + text[1:]
    return PHASES.get(phase, phase)


def check_folder(folder: Path) -> Path:
    """A usable backup folder (runs in the worker; storage's own error names the database)."""
    if folder.exists() and not folder.is_dir():
        raise errors.InvalidInput(f"The backup folder {folder} is a file, not a folder. Choose "
                                  "another folder (Choose…) or remove that file.")
    return folder


def progress_fn(ctx: JobContext) -> Callable[[str, int, int], None]:
    """A storage progress(phase, done, total) callback that reports to the job."""
    return lambda phase, done, total: ctx.report(done, total, phase_text(phase))


class BackupActions:
    """Backup, verify, restore and the schedule of a :class:`MaintenancePane` (``pane.backups``)."""

    def __init__(self, pane: "MaintenancePane") -> None:
        self.pane = pane
        #: The last automatic backup failed (the next failure is not announced again).
        self.auto_failing = False
        self._dialog: QMessageBox | None = None

    def current_dialog(self) -> QMessageBox | None:
        """The restore question, while it is open (tests answer it)."""
        return self._dialog

    # == backup actions ===============================================================
    def back_up(self) -> Job | None:
        if self.pane.store is None:
            return None
        folder = self.pane.backups_folder()

        def done(result: BackupResult) -> None:
            self._say_backup(f"Backed up to {result.path.name} ({display.size(result.size_bytes)}, "
                             f"{result.method}, verified) in {result.duration_s:.1f} s.")
            if not self.pane.isVisible():  # started from another pane (Ctrl+B): say it there
                self.pane.message_requested.emit("info", f"Backed up to {result.path} (verified).", "")
            self.pane.action_finished.emit("backup", True)
            self._select_after_load(result.path)

        return self.pane._run(lambda ctx: ctx.store.backups.create(
            check_folder(folder), progress=progress_fn(ctx), cancel=lambda: ctx.cancelled),
            "Back up", done, lambda e: self.pane._failed("backup", e), progress=True)

    def verify_selected(self) -> Job | None:
        entry = self.pane.backup_table.selected()
        if entry is None:
            return None
        return self.verify_path(entry.path)

    def verify_path(self, path: Path) -> Job:
        """Verify any backup file (listed here or not): checksum, integrity, schema."""
        path = Path(path)

        def done(report: VerifyReport) -> None:
            self.pane.backup_table.reports[path] = report
            self.pane.backup_table.show_backups(self.pane.backup_table.entries, self._methods())
            self.pane.last_verify = report
            if report.ok and report.restorable:
                self._say_backup(f"{path.name} is sound: checksum, integrity check and schema "
                                 f"version {report.schema_version} are fine.")
            else:
                self._say_backup(f"{path.name}: {report.reason()}", "error")
            self.pane.action_finished.emit("verify", True)

        return self.pane._run(lambda ctx: verify_backup(path, progress=progress_fn(ctx),
                                                   cancel=lambda: ctx.cancelled),
                         f"Verify {path.name}", done, lambda e: self.pane._failed("verify", e),
                         progress=True, store=None)

    def restore_path(self, path: Path) -> Job | None:
        """Restore any backup file: it is described first (in a job), then the same
        checks and questions as for a listed one."""
        if self.pane.store is None:
            return None
        path = Path(path)

        def described(entry: BackupInfo) -> None:
            refusal = self.pane.backup_table.restore_refusal(entry)
            if refusal:
                text = f"{path.name} cannot be restored: {refusal}."
                self._say_backup(text + f" {self.pane.store.path.name} was not changed.", "error")
                self.pane.message_requested.emit("error", text, "\n".join(entry.problems))
                self.pane.action_finished.emit("restore", False)
            elif self.pane.backup_table.is_foreign(entry):
                self._ask_foreign(entry)
            else:
                self._ask_restore(entry)

        return self.pane._run(lambda ctx: describe_backup(path), f"Read {path.name}", described,
                              lambda e: self.pane._failed("restore", e), progress=False, store=None)

    def restore_selected(self) -> QMessageBox | None:
        """Ask (saying exactly what happens), then restore as an exclusive job. A backup of
        another database is a separate question first, naming both databases."""
        entry = self.pane.backup_table.selected()
        if entry is None or self.pane.store is None:
            return None
        refusal = self.pane.backup_table.restore_refusal(entry)
        if refusal:
            text = f"{entry.path.name} cannot be restored: {refusal}."
            self._say_backup(text + f" {self.pane.store.path.name} was not changed.", "error")
            self.pane.message_requested.emit("error", text, "\n".join(entry.problems))
            self.pane.action_finished.emit("restore", False)
            return None
        if self.pane.backup_table.is_foreign(entry):
            return self._ask_foreign(entry)
        return self._ask_restore(entry)

    def _ask_foreign(self, entry: BackupInfo) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Warning, "A backup of another database",
                          foreign_question(entry, self.pane.store.path),
                          QMessageBox.StandardButton.Cancel, self.pane)
        box.setTextFormat(Qt.TextFormat.RichText)
        yes = box.addButton("Restore the other database's backup…", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self._dialog = box

        def answered() -> None:
            self._dialog = None
            if box.clickedButton() is yes:
                self._ask_restore(entry)
            else:
                self.pane.action_finished.emit("restore", False)

        box.finished.connect(lambda _: answered())
        box.open()
        return box

    def _ask_restore(self, entry: BackupInfo) -> QMessageBox:
        live = self.pane.health.rows if self.pane.health else None
        text = restore_question(entry, self.pane.store.path, self.pane.backups_folder(), live)
        busy = self.pane.outside_activity()
        if busy:  # a SandboxRunner server writing meanwhile keeps its own idea of the data
            text = (f"<p><b>Warning:</b> {escape(busy)}. If a SandboxRunner server uses this "
                    "database, stop it before restoring.</p>" + text)
        box = QMessageBox(QMessageBox.Icon.Warning, "Restore backup", text,
                          QMessageBox.StandardButton.Cancel, self.pane)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setStyleSheet("QLabel#qt_msgbox_label { min-width: 520px; }")
        yes = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self._dialog = box

        def answered() -> None:
            self._dialog = None
            if box.clickedButton() is yes:
                self._restore(entry.path)

        box.finished.connect(lambda _: answered())
        box.open()
        return box

    def _restore(self, source: Path) -> Job | None:
        store, safety_dir = self.pane.store, self.pane.backups_folder()

        def done(result: RestoreResult) -> None:
            self.pane.last_restore = result
            text = (f"Restored {source.name} into {store.path.name}. The previous content is in "
                    f"the safety backup {result.safety_backup}.")
            how = ("its bytes are the ones that passed an integrity check when it was made"
                   if result.backup_integrity_reused else "it passed an integrity check")
            detail = "\n".join([f"The backup was checked first: {how}.", *result.notices])
            self._say_backup(text + (" " + " ".join(result.notices) if result.notices else ""))
            self.pane.message_requested.emit("info", text, detail)
            self.pane.action_finished.emit("restore", True)
            self.pane.database_replaced.emit()
            self.pane.refresh()

        def failed(error: errors.StorageError) -> None:
            self.pane._failed("restore", error)
            self.pane.load_backups()

        # The question (restore_question) names another database when the backup is of
        # one; answering "Restore" to it is the explicit consent the store asks for.
        return self.pane._run(lambda ctx: ctx.store.backups.restore(
            source, safety_dir=check_folder(safety_dir), progress=progress_fn(ctx),
            cancel=lambda: ctx.cancelled, allow_other_database=True),
            f"Restore {source.name}", done, failed, exclusive=True, progress=True)

    # == automatic backups ============================================================
    def schedule(self) -> Schedule:
        keep = self.pane.auto_keep.value()
        prefs = Preferences.load(self.pane.settings)  # daily/weekly retention: Preferences
        return Schedule(timedelta(hours=self.pane.auto_hours.value()),
                        RetentionPolicy(keep_last=keep or None, keep_daily=prefs.keep_daily or None,
                                        keep_weekly=prefs.keep_weekly or None))

    def _auto_changed(self, *_: Any) -> None:
        self.pane.settings.setValue(self.pane._key("auto_enabled"), self.pane.auto_check.isChecked())
        self.pane.settings.setValue(self.pane._key("auto_hours"), self.pane.auto_hours.value())
        self.pane.settings.setValue(self.pane._key("auto_keep"), self.pane.auto_keep.value())
        self._update_auto()
        if self.pane.auto_check.isChecked():
            self.run_auto_backup()

    def _update_auto(self) -> None:
        on = self.pane.auto_check.isChecked() and self.pane.store is not None
        if on and not self.pane.auto_timer.isActive():
            self.pane.auto_timer.start()
        elif not on:
            self.pane.auto_timer.stop()
            self.pane.auto_status.setText("" if self.pane.auto_check.isChecked() else "off")

    def run_auto_backup(self) -> Job | None:
        """Ask whether a backup is due and make it (a quiet job, never on the GUI thread)."""
        if self.pane.store is None or not self.pane.auto_check.isChecked():
            return None
        if self.pane._auto_job is not None or self.pane.runner.exclusive_active:
            return None  # one at a time; the timer asks again later
        schedule, folder, store = self.schedule(), self.pane.backups_folder(), self.pane.store
        self.pane.auto_status.setText("checking…")

        def done(run: ScheduledRun) -> None:
            self.pane._auto_job = None
            self.auto_failing = False
            self.pane.last_scheduled = run
            due = display.local_time(run.next_due)
            if run.ran:
                removed = len(run.retention.removed) if run.retention else 0
                self.pane.auto_status.setText(f"backed up {display.local_time(run.backup.created_at)}"
                                         f"{f', removed {removed} old' if removed else ''}; "
                                         f"next {due}")
                if store is self.pane.store:
                    self.pane.load_backups()
            else:
                self.pane.auto_status.setText(f"next backup {due}")
            self.pane.auto_status.setToolTip(display.utc_tooltip(run.next_due))
            self.pane.action_finished.emit("auto-backup", True)

        def failed(error: errors.StorageError) -> None:
            self.pane._auto_job = None
            self.pane.auto_status.setText("the last automatic backup failed")
            self.pane.auto_status.setToolTip(str(error))
            if self.auto_failing:  # the timer retries: say it once, not every few minutes
                self.pane.action_finished.emit("auto-backup", False)
            else:
                self.pane._failed("auto-backup", error)
            self.auto_failing = not isinstance(error, errors.Cancelled)

        self.pane._auto_job = self.pane.runner.submit(
            lambda ctx: ctx.store.backups.run_if_due(schedule, directory=check_folder(folder),
                                                     cancel=lambda: ctx.cancelled),
            name="Automatic backup", store=store, quiet=True, on_result=done, on_error=failed)
        return self.pane._auto_job

    def _say_backup(self, text: str, level: str = "info") -> None:
        colour = "#c62828" if level == "error" else "#1b5e20"
        self.pane.backup_hint.setProperty("auto", False)
        self.pane.backup_hint.setText(f"<span style='color:{colour}'>{escape(text)}</span>")

    def _select_after_load(self, path: Path) -> None:
        def select() -> None:
            self.pane.backups_loaded.disconnect(select)
            self.pane.backup_table.select_path(path)

        self.pane.backups_loaded.connect(select)
        self.pane.load_backups()

    def _methods(self) -> dict[Path, str]:
        col = BackupTable.HEADERS.index("Method")
        return {e.path: self.pane.backup_table.item(r, col).text()
                for r, e in enumerate(self.pane.backup_table.entries)}
