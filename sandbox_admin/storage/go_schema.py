"""The Go server's schema, versions 1-6, as its migrations create it.

Tables, indexes, triggers and the FTS5 table are plain DDL (Peewee cannot name an
index the way the Go server does); :mod:`.migrations` turns them into migrations 1-6.
Compared with the Go fixture by ``sqlite_master`` names and column lists in the tests.
"""

from __future__ import annotations

import peewee
from peewee import SQL, FloatField, IntegerField

from .fields import GoTimestampField


def default(sql_type_field: peewee.Field, default: str) -> peewee.Field:
    sql_type_field.constraints = [SQL(f"DEFAULT {default}")]
    return sql_type_field


# --- version 1: the Go server's initial schema ---------------------------------------

V1_TABLES = [
    """CREATE TABLE IF NOT EXISTS migrations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        version INTEGER UNIQUE NOT NULL,
        applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        description TEXT
    )""",
    """CREATE TABLE sandboxes (
        id TEXT PRIMARY KEY,
        container_id TEXT,
        status TEXT NOT NULL,
        working_dir TEXT,
        environment TEXT, -- JSON
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        config TEXT, -- JSON
        metadata TEXT, -- JSON
        version INTEGER DEFAULT 1,
        deleted_at TIMESTAMP NULL,
        recovery_data TEXT -- JSON for recovery information
    )""",
    """CREATE TABLE file_metadata (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sandbox_id TEXT NOT NULL,
        file_path TEXT NOT NULL,
        checksum TEXT,
        size_bytes INTEGER,
        mime_type TEXT,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        version INTEGER DEFAULT 1,
        parent_file_id INTEGER,
        metadata TEXT, -- JSON for additional metadata
        search_content TEXT, -- For full-text search
        access_count INTEGER DEFAULT 0,
        last_accessed TIMESTAMP,
        deleted_at TIMESTAMP NULL,
        FOREIGN KEY (sandbox_id) REFERENCES sandboxes(id) ON DELETE CASCADE,
        FOREIGN KEY (parent_file_id) REFERENCES file_metadata(id)
    )""",
    """CREATE TABLE metrics (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        metric_name TEXT NOT NULL,
        metric_type TEXT NOT NULL, -- counter, gauge, histogram
        labels TEXT, -- JSON for labels
        value REAL NOT NULL,
        timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        sandbox_id TEXT,
        aggregation_period TEXT, -- raw, 1m, 5m, 1h, 1d
        FOREIGN KEY (sandbox_id) REFERENCES sandboxes(id) ON DELETE CASCADE
    )""",
    """CREATE TABLE audit_trail (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entity_type TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        action TEXT NOT NULL,
        old_data TEXT, -- JSON
        new_data TEXT, -- JSON
        user_id TEXT,
        timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        metadata TEXT -- JSON for additional context
    )""",
    """CREATE TABLE file_chunks (
        chunk_hash TEXT PRIMARY KEY,
        data BLOB NOT NULL,
        size_bytes INTEGER NOT NULL,
        ref_count INTEGER DEFAULT 1,
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
    )""",
    """CREATE TABLE file_chunk_refs (
        file_id INTEGER NOT NULL,
        chunk_hash TEXT NOT NULL,
        chunk_order INTEGER NOT NULL,
        PRIMARY KEY (file_id, chunk_hash, chunk_order),
        FOREIGN KEY (file_id) REFERENCES file_metadata(id) ON DELETE CASCADE,
        FOREIGN KEY (chunk_hash) REFERENCES file_chunks(chunk_hash) ON DELETE CASCADE
    )""",
]

V1_INDEXES = {
    "idx_sandboxes_status": "sandboxes(status)",
    "idx_sandboxes_created_at": "sandboxes(created_at)",
    "idx_sandboxes_updated_at": "sandboxes(updated_at)",
    "idx_sandboxes_deleted_at": "sandboxes(deleted_at)",
    "idx_file_metadata_sandbox_id": "file_metadata(sandbox_id)",
    "idx_file_metadata_path": "file_metadata(file_path)",
    "idx_file_metadata_checksum": "file_metadata(checksum)",
    "idx_file_metadata_created_at": "file_metadata(created_at)",
    "idx_file_metadata_deleted_at": "file_metadata(deleted_at)",
    "idx_metrics_name_timestamp": "metrics(metric_name, timestamp)",
    "idx_metrics_sandbox_timestamp": "metrics(sandbox_id, timestamp)",
    "idx_metrics_type_period": "metrics(metric_type, aggregation_period)",
    "idx_audit_trail_entity": "audit_trail(entity_type, entity_id)",
    "idx_audit_trail_timestamp": "audit_trail(timestamp)",
}

V1_TRIGGERS_AND_FTS = [
    """CREATE TRIGGER update_sandboxes_updated_at
        AFTER UPDATE ON sandboxes
        FOR EACH ROW
        WHEN NEW.updated_at = OLD.updated_at
    BEGIN
        UPDATE sandboxes SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
    END""",
    """CREATE TRIGGER update_file_metadata_updated_at
        AFTER UPDATE ON file_metadata
        FOR EACH ROW
        WHEN NEW.updated_at = OLD.updated_at
    BEGIN
        UPDATE file_metadata SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
    END""",
    """CREATE VIRTUAL TABLE file_search_fts USING fts5(
        file_path,
        search_content,
        content='file_metadata',
        content_rowid='id'
    )""",
    """CREATE TRIGGER file_metadata_ai AFTER INSERT ON file_metadata BEGIN
        INSERT INTO file_search_fts(rowid, file_path, search_content)
        VALUES (new.id, new.file_path, new.search_content);
    END""",
    """CREATE TRIGGER file_metadata_ad AFTER DELETE ON file_metadata BEGIN
        INSERT INTO file_search_fts(file_search_fts, rowid, file_path, search_content)
        VALUES('delete', old.id, old.file_path, old.search_content);
    END""",
    """CREATE TRIGGER file_metadata_au AFTER UPDATE ON file_metadata BEGIN
        INSERT INTO file_search_fts(file_search_fts, rowid, file_path, search_content)
        VALUES('delete', old.id, old.file_path, old.search_content);
        INSERT INTO file_search_fts(rowid, file_path, search_content)
        VALUES (new.id, new.file_path, new.search_content);
    END""",
]


def create_indexes(indexes: dict[str, str]) -> list[str]:
    return [f"CREATE INDEX IF NOT EXISTS {name} ON {target}" for name, target in indexes.items()]


def drop_indexes(indexes: dict[str, str]) -> list[str]:
    return [f"DROP INDEX IF EXISTS {name}" for name in indexes]


V2_INDEXES = {
    "idx_sandboxes_container_id": "sandboxes(container_id)",
    "idx_file_metadata_mime_type": "file_metadata(mime_type)",
    "idx_file_metadata_size": "file_metadata(size_bytes)",
    "idx_metrics_labels": "metrics(labels)",
    "idx_audit_trail_user": "audit_trail(user_id)",
}

V3_COLUMNS = [
    ("cpu_usage_seconds", lambda: default(FloatField(null=True), "0")),
    ("memory_usage_bytes", lambda: default(IntegerField(null=True), "0")),
    ("disk_usage_bytes", lambda: default(IntegerField(null=True), "0")),
    ("network_rx_bytes", lambda: default(IntegerField(null=True), "0")),
    ("network_tx_bytes", lambda: default(IntegerField(null=True), "0")),
    ("last_resource_update", lambda: GoTimestampField(null=True)),
]
V3_INDEXES = {"idx_sandboxes_resource_update": "sandboxes(last_resource_update)"}

V4_INDEXES = {
    "idx_file_content_cache_hash": "file_content_cache(content_hash)",
    "idx_file_content_cache_accessed": "file_content_cache(last_accessed)",
}
V5_INDEXES = {
    "idx_sandbox_templates_name": "sandbox_templates(name)",
    "idx_sandbox_templates_usage": "sandbox_templates(usage_count DESC)",
    "idx_sandbox_templates_default": "sandbox_templates(is_default)",
}
V6_INDEXES = {
    "idx_workflow_executions_status": "workflow_executions(status)",
    "idx_workflow_executions_sandbox": "workflow_executions(sandbox_id)",
    "idx_workflow_executions_started": "workflow_executions(started_at)",
    "idx_workflow_steps_execution": "workflow_steps(execution_id)",
    "idx_workflow_steps_status": "workflow_steps(status)",
}
