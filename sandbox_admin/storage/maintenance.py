"""Health checks and housekeeping on an open store.

(Foundation: integrity / foreign-key / FTS / migration checks. VACUUM, optimize,
checkpoint and statistics arrive with the maintenance issue.)
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import peewee

from . import errors

if TYPE_CHECKING:
    from . import Store


@dataclass
class CheckReport:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    def add(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "checks": self.checks}


class Maintenance:
    def __init__(self, store: "Store") -> None:
        self.store = store
        self.db = store.db

    def check(self, quick: bool = False) -> CheckReport:
        """integrity_check (or quick_check), foreign_key_check, FTS index and migrations."""
        report = CheckReport()
        pragma = "quick_check" if quick else "integrity_check"
        try:
            rows = self.db.execute_sql("PRAGMA " + pragma).fetchall()
            report.checks.append(pragma)
            for (line,) in rows:
                if line != "ok":
                    report.add(f"{pragma}: {line}")
            rows = self.db.execute_sql("PRAGMA foreign_key_check").fetchall()
            report.checks.append("foreign_key_check")
            for table, rowid, parent, _fk in rows[:100]:
                report.add(f"foreign key: {table} row {rowid} points to a missing {parent} row")
            if len(rows) > 100:
                report.add(f"foreign key: … and {len(rows) - 100} more rows")
            self._check_fts(report)
        except (sqlite3.Error, peewee.PeeweeException) as exc:
            report.add(str(errors.translate(exc, str(self.store.path))))
        for problem in self.store.migration_status().problems:
            report.add(f"migrations: {problem}")
        report.checks.append("migrations")
        return report

    def _check_fts(self, report: CheckReport) -> None:
        if "file_search_fts" not in self.store.table_names():
            report.add("full-text index file_search_fts is missing (search falls back to LIKE)")
            return
        report.checks.append("fts integrity-check")
        if self.db.read_only:
            # 'integrity-check' is written as an INSERT; a read-only connection refuses it
            # even though it changes nothing. Compare the row counts instead.
            return
        try:
            self.db.execute_sql(
                "INSERT INTO file_search_fts(file_search_fts, rank) VALUES ('integrity-check', 1)"
            )
        except (sqlite3.Error, peewee.PeeweeException) as exc:
            report.add(f"full-text index: {exc} (rebuild it with the search index tools)")
