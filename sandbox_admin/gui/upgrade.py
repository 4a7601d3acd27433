"""Upgrading a database's schema: say what will change, take a verified safety backup, then migrate.

Used by the window's Database → Upgrade Schema… and the Maintenance pane's button, so
both ask the same question and do the same thing.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from ..storage import SafeMigration, by_version
from .jobs import JobContext

CONFIRM_BUTTON = "Back up and upgrade"


def upgrade_question(db_name: str, current: int, pending: list[int], safety_dir: Path) -> str:
    """The question's text (rich text): what is added, who keeps working, the backup."""
    known = by_version()
    items = "".join(
        f"<li>{v}: {html.escape(known[v].description.removeprefix('sandbox-admin: '))}</li>"
        for v in pending if v in known)
    ours = all(v >= 7 for v in pending)
    scope = ("sandbox-admin's own tables and indexes; the SandboxRunner server's tables are not "
             "changed, so the server keeps working with this database"
             if ours else "the SandboxRunner server's own schema steps, as the server itself would apply them")
    return (
        f"<p>Upgrade <b>{html.escape(db_name)}</b> from schema version {current} to "
        f"{max(pending)}?</p>"
        f"<p>This adds {scope}:</p><ul>{items}</ul>"
        f"<p>First a safety backup of the whole database is made and verified in "
        f"<code>{html.escape(str(safety_dir))}</code>. If the backup or any step fails, the "
        f"database stays as it was.</p>"
    )


def ask_upgrade(parent: QWidget, db_name: str, current: int, pending: list[int], safety_dir: Path,
                on_yes: Callable[[], None]) -> QMessageBox:
    """A non-blocking question; ``on_yes`` runs only when the person confirms."""
    box = QMessageBox(QMessageBox.Icon.Question, "Upgrade schema",
                      upgrade_question(db_name, current, pending, safety_dir),
                      QMessageBox.StandardButton.Cancel, parent)
    box.setTextFormat(Qt.TextFormat.RichText)
    yes = box.addButton(CONFIRM_BUTTON, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setProperty("confirm_button", CONFIRM_BUTTON)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.buttonClicked.connect(lambda b: on_yes() if b is yes else None)
    box.open()
    return box


def upgrade_work(safety_dir: Path) -> Callable[[JobContext], SafeMigration]:
    """The job: a verified safety backup, then the pending migrations."""

    def work(ctx: JobContext) -> SafeMigration:
        phases = {"copy": "Safety backup: copying", "checksum": "Safety backup: checksum",
                  "verify": "Safety backup: checking", "migrate": "Applying migrations"}

        def progress(phase: str, done: int, total: int) -> None:
            ctx.report(done, total, phases.get(phase, phase))

        return ctx.store.migrate_safely(safety_dir=safety_dir, progress=progress,
                                        cancel=lambda: ctx.cancelled)

    return work


def upgraded_text(result: SafeMigration) -> str:
    applied = ", ".join(map(str, result.applied))
    backup = (f"; the safety backup is {result.safety_backup}" if result.safety_backup
              else " (the database was empty: no backup was needed)")
    return (f"Schema upgraded from version {result.schema_before} to {result.schema_after} "
            f"(migration{'s' * (len(result.applied) != 1)} {applied}){backup}.")
