"""Backups: consistent online copies, their files on disk, retention, verification, restore."""

from .files import (
    BROKEN,
    UNVERIFIED,
    VERIFIED,
    BackupInfo,
    VerifyReport,
    backup_name,
    describe_backup,
    list_backups,
    parse_backup_name,
    read_sidecar,
    sidecar_path,
    verify_backup,
)
from .manager import DEFAULT_PAGES_PER_STEP, BackupManager, BackupResult, RestoreResult
from .policy import (
    RetentionPlan,
    RetentionPolicy,
    Schedule,
    ScheduledRun,
    plan_retention,
)
from .snapshot import BACKUP_API, SNAPSHOT_COPY

__all__ = [
    "BACKUP_API", "BROKEN", "DEFAULT_PAGES_PER_STEP", "SNAPSHOT_COPY", "UNVERIFIED", "VERIFIED",
    "BackupInfo", "BackupManager", "BackupResult", "RestoreResult", "RetentionPlan",
    "RetentionPolicy", "Schedule", "ScheduledRun", "VerifyReport", "backup_name",
    "describe_backup", "list_backups", "parse_backup_name", "plan_retention", "read_sidecar",
    "sidecar_path", "verify_backup",
]
