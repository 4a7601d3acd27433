"""The storage core: open a SandboxRunner database safely and work with it.

``open_store(path)`` is the way in (``create_store`` makes a new one). It checks the
file before SQLite touches it, refuses what is not a sandbox database with a clear
error, opens read-only when the schema is newer than we know, and never writes unless
a write is asked for. See ``store.py``.

This module is the public API: the GUI, the CLI, the demo generator and the benchmarks
import from here. The heavier stores (numpy for metrics) load on first use.

Thread use: the database is pooled; each thread gets its own connection. A worker
thread should wrap its work in ``with store.connection():`` so that its connection
goes back to the pool afterwards.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from . import errors
from .database import SQLITE_VERSION, PoolConfig, library_versions, other_users
from .fields import dumps_json, format_timestamp, is_zero_time, parse_timestamp, to_iso, utcnow
from .migrations import MigrationStatus, by_version, latest_version
from .store import SafeMigration, Store, create_store, open_store

#: public name -> the submodule that defines it (imported when first asked for)
_LAZY = {
    # sandboxes
    "SandboxStore": "sandboxes", "SandboxRecord": "sandboxes", "SandboxFilter": "sandboxes",
    "Cursor": "sandboxes", "Page": "sandboxes", "AuditRecord": "sandboxes",
    "ListingPage": "sandboxes", "LISTING_COLUMNS": "sandboxes", "listing_values": "sandboxes",
    "listing_row": "sandboxes",
    "Checkpoint": "sandboxes", "COLUMNS": "sandboxes", "SORTABLE": "sandboxes",
    "UPDATABLE": "sandboxes", "ACTIONS": "sandboxes", "rfc3339": "sandboxes.audit",
    "trusted_schema": "triggers",
    # files
    "FileStore": "files", "FileRecord": "files", "ContentStream": "files",
    "VerifyResult": "files", "ExportResult": "files", "StorageStats": "files",
    "SearchHit": "files", "SearchResult": "files", "SearchIndex": "files",
    "snippet_html": "files", "snippet_plain": "files", "snippet_spans": "files",
    "INDEX_LIMIT": "files", "CDCChunker": "files", "FixedChunker": "files",
    "SNIFF_BYTES": "files.filetypes", "decode_text": "files.filetypes",
    "looks_like_text": "files.filetypes", "to_fts_query": "files",
    "ELLIPSIS": "files.search", "MARK_START": "files.search", "MARK_END": "files.search",
    "PATH_WEIGHT": "files.search", "SNIPPET_TOKENS": "files.search",
    # the content cache
    "ContentCache": "files.cache", "CacheStats": "files.cache", "CacheEntry": "files.cache",
    "EvictResult": "files.cache",
    # templates
    "TemplateStore": "templates", "TemplateRecord": "templates", "TemplateCursor": "templates",
    "TemplatePage": "templates", "TEMPLATE_EDITABLE": "templates",
    # workflows
    "WorkflowStore": "workflows", "WorkflowFilter": "workflows", "WorkflowCursor": "workflows",
    "WorkflowPage": "workflows", "ExecutionRecord": "workflows", "StepRecord": "workflows",
    "Timeline": "workflows", "EXECUTION_STATES": "workflows", "STEP_STATES": "workflows",
    # metrics
    "MetricsStore": "metrics", "Sample": "metrics", "Series": "metrics",
    "SeriesInfo": "metrics", "Points": "metrics", "MetricsRetention": "metrics",
    "parse_duration": "metrics.durations", "export_metrics": "metrics.export",
    "fleet_view": "metrics.fleet", "plotted": "metrics.fleet", "series_key": "metrics.fleet",
    "fleet_chart": "metrics.fleet_sql", "FleetChart": "metrics.fleet_sql",
    "fleet_overview": "metrics.fleet_sql", "fleet_top": "metrics.fleet_sql", "fleet_frame": "metrics.fleet_sql",
    "FLEET_ABOVE": "metrics.fleet", "TOP_N": "metrics.fleet", "TOP_BY": "metrics.fleet",
    "METRIC_TYPES": "metrics", "DEFAULT_STATS": "metrics", "PERCENTILES": "metrics",
    "step_seconds": "metrics", "DEFAULT_BUCKETS": "metrics", "write_csv": "metrics",
    "write_json": "metrics", "write_prometheus": "metrics",
    "write_openmetrics": "metrics.export", "chart_rows": "metrics.export", "write_chart": "metrics.export",
    "MetricsEndpoint": "metrics.endpoint",
    "EndpointState": "metrics.endpoint", "DEFAULT_LISTEN": "metrics.endpoint",
    "LatestSamples": "metrics.scrape",
    # backups
    "BackupManager": "backup", "BackupInfo": "backup", "BackupResult": "backup",
    "RestoreResult": "backup", "VerifyReport": "backup", "RetentionPolicy": "backup",
    "BACKUP_API": "backup", "SNAPSHOT_COPY": "backup", "DEFAULT_PAGES_PER_STEP": "backup",
    "fsync_file": "backup.files",
    "Schedule": "backup", "ScheduledRun": "backup", "verify_backup": "backup",
    "list_backups": "backup", "read_sidecar": "backup", "describe_backup": "backup", "VERIFIED": "backup",
    "UNVERIFIED": "backup", "BROKEN": "backup",
    # maintenance
    "Maintenance": "maintenance", "CheckReport": "maintenance",
    "DatabaseStats": "maintenance", "VacuumReport": "maintenance",
    "CheckpointResult": "maintenance",
    # writing outputs
    "output_file": "outfile", "resolve_output": "outfile", "partial_path": "outfile",
    "publish_new": "outfile", "remove_stale_partials": "outfile",
    # change detection
    "ChangeProbe": "changes",
}
#: names that differ from the defining module's (metrics and backups each have a RetentionPolicy)
_RENAMED = {"MetricsRetention": "RetentionPolicy", "export_metrics": "export",
            "TEMPLATE_EDITABLE": "EDITABLE"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), _RENAMED.get(name, name))
    globals()[name] = value
    return value


__all__ = [
    "SQLITE_VERSION", "MigrationStatus", "PoolConfig", "SafeMigration", "Store", "by_version", "create_store",
    "other_users",
    "dumps_json", "errors", "format_timestamp", "is_zero_time", "latest_version", "library_versions",
    "parse_timestamp", "to_iso", "utcnow",
    "open_store", *sorted(_LAZY),
]
