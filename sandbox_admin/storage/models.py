"""One Peewee model per table of SCHEMA.md, bound to one database.

Models are built per database by :func:`build_models` rather than bound globally:
the app opens several databases at once (the live one, a backup being verified, a
demo), from several threads, and Peewee's global ``bind`` is neither per-database nor
thread-safe. Each :class:`~sandbox_admin.storage.Store` owns one :class:`Models`.

Table and column names are the Go server's; never rename or retype them. The tables
themselves are created by migrations (the Go DDL), not by ``create_table``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import peewee
from peewee import (
    AutoField,
    BlobField,
    BooleanField,
    CompositeKey,
    FloatField,
    IntegerField,
    Model,
    TextField,
)
from playhouse.sqlite_ext import FTS5Model, RowIDField, SearchField

from .fields import GoTimestampField, JSONField

#: JSON columns the Go reader fails on when NULL (SCHEMA.md): write the text ``null``.
#: (``JSONField(null=False)`` does that; text columns get ``default=""``.)


@dataclass(frozen=True)
class Models:
    database: peewee.Database
    Migration: Any
    Sandbox: Any
    FileMetadata: Any
    Metric: Any
    AuditEntry: Any
    FileChunk: Any
    FileChunkRef: Any
    FileSearch: Any
    FileContentCache: Any
    SandboxTemplate: Any
    WorkflowExecution: Any
    WorkflowStep: Any
    AdminMigration: Any

    def all(self) -> list[type[Model]]:
        return [
            self.Migration, self.Sandbox, self.FileMetadata, self.Metric, self.AuditEntry,
            self.FileChunk, self.FileChunkRef, self.FileContentCache, self.SandboxTemplate,
            self.WorkflowExecution, self.WorkflowStep, self.AdminMigration,
        ]


def bound_base(database: peewee.Database) -> type[Model]:
    """A fresh base class whose models use ``database`` (see the module docstring)."""

    class Base(Model):
        class Meta:
            legacy_table_names = False

    Base._meta.database = database
    return Base


def build_models(database: peewee.Database) -> Models:
    """Model classes bound to ``database`` (see the module docstring for why)."""
    Base = bound_base(database)

    class Migration(Base):
        id = AutoField()
        version = IntegerField(unique=True)
        applied_at = GoTimestampField(null=True)
        description = TextField(default="")

        class Meta:
            table_name = "migrations"

    class Sandbox(Base):
        id = TextField(primary_key=True)
        container_id = TextField(default="")
        status = TextField()
        working_dir = TextField(default="")
        environment = JSONField(default=dict)
        created_at = GoTimestampField(null=True)
        updated_at = GoTimestampField(null=True)
        config = JSONField(default=dict)
        metadata = JSONField(default=dict)
        version = IntegerField(default=1)
        deleted_at = GoTimestampField(null=True)
        recovery_data = JSONField(default=dict)
        cpu_usage_seconds = FloatField(default=0)
        memory_usage_bytes = IntegerField(default=0)
        disk_usage_bytes = IntegerField(default=0)
        network_rx_bytes = IntegerField(default=0)
        network_tx_bytes = IntegerField(default=0)
        last_resource_update = GoTimestampField(null=True)

        class Meta:
            table_name = "sandboxes"

    class FileMetadata(Base):
        id = AutoField()
        sandbox = peewee.ForeignKeyField(
            Sandbox, column_name="sandbox_id", backref="files", on_delete="CASCADE"
        )
        file_path = TextField()
        checksum = TextField(default="")
        size_bytes = IntegerField(default=0)
        mime_type = TextField(default="")
        created_at = GoTimestampField(null=True)
        updated_at = GoTimestampField(null=True)
        version = IntegerField(default=1)
        parent_file = peewee.ForeignKeyField(
            "self", column_name="parent_file_id", null=True, backref="children"
        )
        metadata = JSONField(default=dict)
        search_content = TextField(default="")
        access_count = IntegerField(default=0)
        last_accessed = GoTimestampField(null=True)
        deleted_at = GoTimestampField(null=True)

        class Meta:
            table_name = "file_metadata"

    class Metric(Base):
        id = AutoField()
        metric_name = TextField()
        metric_type = TextField()
        labels = JSONField(default=dict)
        value = FloatField()
        timestamp = GoTimestampField(null=True)
        # Not a ForeignKeyField: SCHEMA.md forbids SQL NULL here, so "no sandbox" is ''.
        sandbox_id = TextField(default="")
        aggregation_period = TextField(default="raw", null=True)

        class Meta:
            table_name = "metrics"

    class AuditEntry(Base):
        id = AutoField()
        entity_type = TextField()
        entity_id = TextField()
        action = TextField()
        old_data = JSONField(default=None)
        new_data = JSONField(default=None)
        user_id = TextField(default="", null=True)
        timestamp = GoTimestampField(null=True)
        metadata = JSONField(default=None)

        class Meta:
            table_name = "audit_trail"

    class FileChunk(Base):
        chunk_hash = TextField(primary_key=True)
        data = BlobField()
        size_bytes = IntegerField()
        ref_count = IntegerField(default=1)
        created_at = GoTimestampField(null=True)

        class Meta:
            table_name = "file_chunks"

    class FileChunkRef(Base):
        file = peewee.ForeignKeyField(
            FileMetadata, column_name="file_id", backref="chunk_refs", on_delete="CASCADE"
        )
        chunk = peewee.ForeignKeyField(
            FileChunk, column_name="chunk_hash", backref="refs", on_delete="CASCADE"
        )
        chunk_order = IntegerField()

        class Meta:
            table_name = "file_chunk_refs"
            primary_key = CompositeKey("file", "chunk", "chunk_order")

    class FileSearch(FTS5Model):
        """The Go server's external-content FTS5 index over file_metadata."""

        rowid = RowIDField()
        file_path = SearchField()
        search_content = SearchField()

        class Meta:
            table_name = "file_search_fts"
            options = {"content": "file_metadata", "content_rowid": "id"}

    FileSearch._meta.database = database

    class FileContentCache(Base):
        file = peewee.ForeignKeyField(
            FileMetadata, column_name="file_id", primary_key=True, on_delete="CASCADE"
        )
        content_hash = TextField()
        content_data = BlobField(null=True)
        compressed = BooleanField(default=False)
        cached_at = GoTimestampField(null=True)
        access_count = IntegerField(default=0)
        last_accessed = GoTimestampField(null=True)

        class Meta:
            table_name = "file_content_cache"

    class SandboxTemplate(Base):
        id = TextField(primary_key=True)
        name = TextField()
        description = TextField(null=True)
        config = JSONField(default=dict)
        base_image = TextField()
        pre_installed_packages = JSONField(null=True)
        environment_vars = JSONField(null=True)
        resource_limits = JSONField(null=True)
        created_at = GoTimestampField(null=True)
        updated_at = GoTimestampField(null=True)
        created_by = TextField(null=True)
        usage_count = IntegerField(default=0)
        is_default = BooleanField(default=False)
        tags = JSONField(null=True)

        class Meta:
            table_name = "sandbox_templates"

    class WorkflowExecution(Base):
        id = TextField(primary_key=True)
        workflow_name = TextField()
        sandbox = peewee.ForeignKeyField(
            Sandbox, column_name="sandbox_id", null=True, on_delete="SET NULL"
        )
        status = TextField()
        input_data = JSONField(null=True)
        output_data = JSONField(null=True)
        error_message = TextField(null=True)
        started_at = GoTimestampField(null=True)
        completed_at = GoTimestampField(null=True)
        execution_time_seconds = FloatField(null=True)
        step_count = IntegerField(default=0)
        current_step = IntegerField(default=0)
        metadata = JSONField(null=True)

        class Meta:
            table_name = "workflow_executions"

    class WorkflowStep(Base):
        id = AutoField()
        execution = peewee.ForeignKeyField(
            WorkflowExecution, column_name="execution_id", backref="steps", on_delete="CASCADE"
        )
        step_name = TextField()
        step_order = IntegerField()
        status = TextField()
        input_data = JSONField(null=True)
        output_data = JSONField(null=True)
        error_message = TextField(null=True)
        started_at = GoTimestampField(null=True)
        completed_at = GoTimestampField(null=True)
        execution_time_seconds = FloatField(null=True)
        retry_count = IntegerField(default=0)

        class Meta:
            table_name = "workflow_steps"

    class AdminMigration(Base):
        """Our own record of applied migrations with checksums (migration 7)."""

        version = IntegerField(primary_key=True)
        checksum = TextField()
        applied_at = GoTimestampField(null=True)

        class Meta:
            table_name = "admin_migrations"

    return Models(
        database=database,
        Migration=Migration,
        Sandbox=Sandbox,
        FileMetadata=FileMetadata,
        Metric=Metric,
        AuditEntry=AuditEntry,
        FileChunk=FileChunk,
        FileChunkRef=FileChunkRef,
        FileSearch=FileSearch,
        FileContentCache=FileContentCache,
        SandboxTemplate=SandboxTemplate,
        WorkflowExecution=WorkflowExecution,
        WorkflowStep=WorkflowStep,
        AdminMigration=AdminMigration,
    )
