"""Which backups to keep (restic's ``forget`` policy) and when the next one is due.

Retention works like ``restic forget``: ``keep_last`` keeps the newest N; each of
``keep_hourly/daily/weekly/monthly`` keeps the newest backup of each of the last N
hours/days/ISO weeks/months that have one (local time). A backup kept by any rule
stays; the reasons are reported. An empty policy removes nothing.

Safety rules of our own: only *our verified* backups are counted and removed; the
Go server's, unverified and broken ones are never deleted automatically, and
backups are grouped by the database they were taken from (a shared folder holds
several databases' backups; ``keep_last=3`` means three of each).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..fields import to_iso, to_utc, utcnow
from .files import BackupInfo, list_backups, sidecar_path

_BUCKETS: tuple[tuple[str, Callable[[datetime], str]], ...] = (
    ("hourly", lambda t: t.strftime("%Y-%m-%d %H:00")),
    ("daily", lambda t: t.strftime("%Y-%m-%d")),
    ("weekly", lambda t: "%04d-W%02d" % t.isocalendar()[:2]),
    ("monthly", lambda t: t.strftime("%Y-%m")),
)


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int | None = None
    keep_hourly: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None

    def __post_init__(self) -> None:
        for name in ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be 0 or more")

    @property
    def empty(self) -> bool:
        return not any(
            (self.keep_last, self.keep_hourly, self.keep_daily, self.keep_weekly, self.keep_monthly)
        )

    def as_dict(self) -> dict[str, int | None]:
        return {
            "keep_last": self.keep_last,
            "keep_hourly": self.keep_hourly,
            "keep_daily": self.keep_daily,
            "keep_weekly": self.keep_weekly,
            "keep_monthly": self.keep_monthly,
        }


@dataclass
class RetentionPlan:
    keep: dict[Path, list[str]] = field(default_factory=dict)  # path -> reasons
    remove: list[Path] = field(default_factory=list)
    untouched: list[Path] = field(default_factory=list)  # not ours / not verified
    removed: list[Path] = field(default_factory=list)  # filled by apply

    def as_dict(self) -> dict[str, Any]:
        return {
            "keep": {str(p): r for p, r in self.keep.items()},
            "remove": [str(p) for p in self.remove],
            "removed": [str(p) for p in self.removed],
            "untouched": [str(p) for p in self.untouched],
        }


def _group_key(entry: BackupInfo) -> str:
    return os.path.normcase(os.path.abspath(entry.source_path)) if entry.source_path else ""


def plan_retention(backups: Iterable[BackupInfo], policy: RetentionPolicy) -> RetentionPlan:
    """Decide (without deleting anything) what ``policy`` keeps and removes."""
    plan = RetentionPlan()
    groups: dict[str, list[BackupInfo]] = {}
    for entry in backups:
        if entry.origin != "sandbox-admin" or not entry.verified:
            plan.untouched.append(entry.path)
            continue
        groups.setdefault(_group_key(entry), []).append(entry)
    for entries in groups.values():
        newest_first = sorted(entries, key=lambda e: (e.created_at, e.path.name), reverse=True)
        if policy.empty:
            for e in newest_first:
                plan.keep[e.path] = ["no policy given"]
            continue
        reasons: dict[Path, list[str]] = {e.path: [] for e in newest_first}
        for e in newest_first[: policy.keep_last or 0]:
            reasons[e.path].append(f"last {policy.keep_last}")
        for rule, bucket_of in _BUCKETS:
            limit = getattr(policy, f"keep_{rule}") or 0
            seen: list[str] = []
            for e in newest_first:
                if len(seen) >= limit:
                    break
                bucket = bucket_of(to_utc(e.created_at).astimezone())
                if bucket not in seen:
                    seen.append(bucket)
                    reasons[e.path].append(f"{rule} {bucket}")
        for e in newest_first:
            if reasons[e.path]:
                plan.keep[e.path] = reasons[e.path]
            else:
                plan.remove.append(e.path)
    return plan


def apply_retention(plan: RetentionPlan) -> RetentionPlan:
    """Delete what the plan removes (the backup and its description)."""
    for path in plan.remove:
        for p in (path, sidecar_path(path)):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
        plan.removed.append(path)
    return plan


def forget(
    directory: str | os.PathLike[str], policy: RetentionPolicy, *, source: str | None = None,
    dry_run: bool = False,
) -> RetentionPlan:
    """Apply ``policy`` to the backups in ``directory`` (only those of ``source`` if given)."""
    entries = list_backups(directory)
    if source is not None:
        key = os.path.normcase(os.path.abspath(source))
        entries = [e for e in entries if _group_key(e) == key]
    plan = plan_retention(entries, policy)
    return plan if dry_run else apply_retention(plan)


# -- the schedule ------------------------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    """Automatic backups every ``every`` (while the app runs, or from cron)."""

    every: timedelta
    policy: RetentionPolicy = RetentionPolicy()

    def __post_init__(self) -> None:
        if self.every <= timedelta(0):
            raise ValueError("the backup interval must be positive")


#: Clock differences tolerated before a backup's time counts as "in the future".
FUTURE_SLACK = timedelta(minutes=5)


def future_backups(backups: Sequence[BackupInfo], source: str,
                   now: datetime | None = None) -> list[BackupInfo]:
    """This database's backups stamped later than now (a wrong clock, a copied file): a
    schedule ignores them, or it would wait until that date."""
    key = os.path.normcase(os.path.abspath(source))
    limit = (to_utc(now) if now is not None else utcnow()) + FUTURE_SLACK
    return [e for e in backups if e.origin == "sandbox-admin" and _group_key(e) == key
            and to_utc(e.created_at) > limit]


def last_backup_time(backups: Sequence[BackupInfo], source: str,
                     now: datetime | None = None) -> datetime | None:
    """When the newest verified backup of ``source`` was made (ours only, none stamped
    in the future)."""
    key = os.path.normcase(os.path.abspath(source))
    limit = (to_utc(now) if now is not None else utcnow()) + FUTURE_SLACK
    times = [
        e.created_at for e in backups
        if e.origin == "sandbox-admin" and e.verified and _group_key(e) == key
        and to_utc(e.created_at) <= limit
    ]
    return max(times) if times else None


def next_due(last: datetime | None, schedule: Schedule, now: datetime | None = None) -> datetime:
    now = to_utc(now) if now is not None else utcnow()
    return now if last is None else to_utc(last) + schedule.every


def is_due(last: datetime | None, schedule: Schedule, now: datetime | None = None) -> bool:
    now = to_utc(now) if now is not None else utcnow()
    return next_due(last, schedule, now) <= now


@dataclass
class ScheduledRun:
    ran: bool
    next_due: datetime
    backup: Any = None  # BackupResult when ran
    retention: RetentionPlan | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ran": self.ran,
            "next_due": to_iso(self.next_due),
            "backup": self.backup.as_dict() if self.backup is not None else None,
            "removed": [str(p) for p in self.retention.removed] if self.retention else [],
        }
