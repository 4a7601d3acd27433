"""Schema migrations: 1–6 exactly as the Go server has them, ours from 7.

Versions 1–6 are the Go DDL (table text kept as the Go server writes it, so a database
we create is indistinguishable by ``sqlite_master`` names and column lists). Column
and index changes that Peewee's ``playhouse.migrate`` can express use it; index names
fixed by the Go schema, FTS5 tables and triggers are plain DDL (Peewee cannot name an
index or write a trigger).

Every applied version is recorded in the Go ``migrations`` table; from version 7 on we
also keep a checksum of each migration's definition in ``admin_migrations`` and verify
it when a database is opened. Each migration runs in one transaction.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, Union

import peewee
from playhouse.migrate import SqliteMigrator

from . import errors
from .fields import GoTimestampField, utcnow
from .go_schema import (
    V1_INDEXES,
    V1_TABLES,
    V1_TRIGGERS_AND_FTS,
    V2_INDEXES,
    V3_COLUMNS,
    V3_INDEXES,
    V4_INDEXES,
    V5_INDEXES,
    V6_INDEXES,
    create_indexes,
    drop_indexes,
)


@dataclass(frozen=True)
class Op:
    """A ``playhouse.migrate`` operation by name, so that it can be checksummed."""

    method: str
    args: tuple[Any, ...]

    def run(self, migrator: SqliteMigrator) -> None:
        getattr(migrator, self.method)(*self.args).run()

    def describe(self) -> str:
        def arg(value: Any) -> str:
            if isinstance(value, peewee.Field):
                constraints = [c.sql if hasattr(c, "sql") else str(c) for c in value.constraints or ()]
                return f"{value.field_type}:null={value.null}:{constraints}"
            return repr(value)

        return f"{self.method}(" + ",".join(arg(a) for a in self.args) + ")"


Step = Union[str, Op]


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    up: Sequence[Step]
    down: Sequence[Step]
    checksum: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256()
        for part in ("up", *map(_describe, self.up), "down", *map(_describe, self.down)):
            digest.update(part.encode() + b"\n")
        object.__setattr__(self, "checksum", digest.hexdigest())


def _describe(step: Step) -> str:
    if isinstance(step, Op):
        return step.describe()
    return re.sub(r"\s+", " ", step).strip()


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "Initial schema",
        up=[*V1_TABLES, *create_indexes(V1_INDEXES), *V1_TRIGGERS_AND_FTS],
        down=[
            "DROP TRIGGER IF EXISTS file_metadata_au",
            "DROP TRIGGER IF EXISTS file_metadata_ad",
            "DROP TRIGGER IF EXISTS file_metadata_ai",
            "DROP TABLE IF EXISTS file_search_fts",
            "DROP TRIGGER IF EXISTS update_file_metadata_updated_at",
            "DROP TRIGGER IF EXISTS update_sandboxes_updated_at",
            "DROP TABLE IF EXISTS file_chunk_refs",
            "DROP TABLE IF EXISTS file_chunks",
            "DROP TABLE IF EXISTS audit_trail",
            "DROP TABLE IF EXISTS metrics",
            "DROP TABLE IF EXISTS file_metadata",
            "DROP TABLE IF EXISTS sandboxes",
            "DROP TABLE IF EXISTS migrations",
        ],
    ),
    Migration(
        2,
        "Add performance indexes for common queries",
        up=create_indexes(V2_INDEXES),
        down=[Op("drop_index", ("sandboxes", name)) for name in V2_INDEXES],
    ),
    Migration(
        3,
        "Add resource tracking columns to sandboxes table",
        up=[
            *(Op("add_column", ("sandboxes", name, make())) for name, make in V3_COLUMNS),
            *create_indexes(V3_INDEXES),
        ],
        down=[
            *(Op("drop_index", ("sandboxes", name)) for name in V3_INDEXES),
            *(Op("drop_column", ("sandboxes", name)) for name, _ in reversed(V3_COLUMNS)),
        ],
    ),
    Migration(
        4,
        "Add file content caching table for faster access",
        up=[
            """CREATE TABLE IF NOT EXISTS file_content_cache (
                file_id INTEGER PRIMARY KEY,
                content_hash TEXT NOT NULL,
                content_data BLOB,
                compressed BOOLEAN DEFAULT FALSE,
                cached_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                access_count INTEGER DEFAULT 0,
                last_accessed TIMESTAMP,
                FOREIGN KEY (file_id) REFERENCES file_metadata(id) ON DELETE CASCADE
            )""",
            *create_indexes(V4_INDEXES),
        ],
        down=[*drop_indexes(V4_INDEXES), "DROP TABLE IF EXISTS file_content_cache"],
    ),
    Migration(
        5,
        "Add sandbox templates for faster sandbox creation",
        up=[
            """CREATE TABLE IF NOT EXISTS sandbox_templates (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                description TEXT,
                config TEXT NOT NULL, -- JSON configuration
                base_image TEXT NOT NULL,
                pre_installed_packages TEXT, -- JSON array
                environment_vars TEXT, -- JSON object
                resource_limits TEXT, -- JSON object
                created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                created_by TEXT,
                usage_count INTEGER DEFAULT 0,
                is_default BOOLEAN DEFAULT FALSE,
                tags TEXT -- JSON array for categorization
            )""",
            *create_indexes(V5_INDEXES),
        ],
        down=[*drop_indexes(V5_INDEXES), "DROP TABLE IF EXISTS sandbox_templates"],
    ),
    Migration(
        6,
        "Add workflow execution tracking for complex operations",
        up=[
            """CREATE TABLE IF NOT EXISTS workflow_executions (
                id TEXT PRIMARY KEY,
                workflow_name TEXT NOT NULL,
                sandbox_id TEXT,
                status TEXT NOT NULL, -- pending, running, completed, failed
                input_data TEXT, -- JSON input parameters
                output_data TEXT, -- JSON output results
                error_message TEXT,
                started_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                completed_at TIMESTAMP,
                execution_time_seconds REAL,
                step_count INTEGER DEFAULT 0,
                current_step INTEGER DEFAULT 0,
                metadata TEXT, -- JSON additional metadata
                FOREIGN KEY (sandbox_id) REFERENCES sandboxes(id) ON DELETE SET NULL
            )""",
            """CREATE TABLE IF NOT EXISTS workflow_steps (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                execution_id TEXT NOT NULL,
                step_name TEXT NOT NULL,
                step_order INTEGER NOT NULL,
                status TEXT NOT NULL, -- pending, running, completed, failed, skipped
                input_data TEXT, -- JSON
                output_data TEXT, -- JSON
                error_message TEXT,
                started_at TIMESTAMP,
                completed_at TIMESTAMP,
                execution_time_seconds REAL,
                retry_count INTEGER DEFAULT 0,
                FOREIGN KEY (execution_id) REFERENCES workflow_executions(id) ON DELETE CASCADE
            )""",
            *create_indexes(V6_INDEXES),
        ],
        down=[
            *drop_indexes(V6_INDEXES),
            "DROP TABLE IF EXISTS workflow_steps",
            "DROP TABLE IF EXISTS workflow_executions",
        ],
    ),
    # --- ours -----------------------------------------------------------------------
    Migration(
        7,
        "sandbox-admin: migration checksums",
        up=[
            """CREATE TABLE IF NOT EXISTS admin_migrations (
                version INTEGER PRIMARY KEY,
                checksum TEXT NOT NULL,
                applied_at TIMESTAMP
            )""",
        ],
        down=["DROP TABLE IF EXISTS admin_migrations"],
    ),
    Migration(
        8,
        "sandbox-admin: metric rollups",
        up=[
            # One row per raw series (name, type, labels text, sandbox); last_* carry a
            # counter's state across incremental builds (reset-aware increase).
            """CREATE TABLE IF NOT EXISTS admin_metric_series (
                id INTEGER PRIMARY KEY,
                metric_name TEXT NOT NULL,
                metric_type TEXT NOT NULL,
                labels TEXT NOT NULL,
                sandbox_id TEXT NOT NULL,
                last_t_us INTEGER,
                last_value REAL,
                UNIQUE (metric_name, metric_type, labels, sandbox_id)
            )""",
            # Mergeable buckets: count/sum(+error term)/min/max/last/increase and a
            # log-bucket percentile sketch; resolution and bucket are Unix seconds.
            """CREATE TABLE IF NOT EXISTS admin_metric_rollups (
                resolution INTEGER NOT NULL,
                series_id INTEGER NOT NULL
                    REFERENCES admin_metric_series(id) ON DELETE CASCADE,
                bucket INTEGER NOT NULL,
                count INTEGER NOT NULL,
                sum REAL NOT NULL,
                sum_err REAL NOT NULL DEFAULT 0,
                min REAL NOT NULL,
                max REAL NOT NULL,
                last REAL NOT NULL,
                last_t_us INTEGER NOT NULL,
                increase REAL NOT NULL DEFAULT 0,
                sketch BLOB,
                PRIMARY KEY (resolution, series_id, bucket)
            ) WITHOUT ROWID""",
            """CREATE TABLE IF NOT EXISTS admin_metric_state (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            )""",
        ],
        down=[
            "DROP TABLE IF EXISTS admin_metric_state",
            "DROP TABLE IF EXISTS admin_metric_rollups",
            "DROP TABLE IF EXISTS admin_metric_series",
        ],
    ),
    Migration(
        9,
        "sandbox-admin: sandbox listing indexes (created/updated by instant)",
        # Keys of storage/sandbox_query.py: julianday() reads every timestamp form the
        # database mixes (offsets, no offset), so keyset pages sort by instant and are
        # index seeks. The expressions must stay identical to sort_key()'s.
        up=[
            "CREATE INDEX IF NOT EXISTS admin_idx_sandboxes_created_instant "
            "ON sandboxes(COALESCE(julianday(created_at), -1), id)",
            "CREATE INDEX IF NOT EXISTS admin_idx_sandboxes_updated_instant "
            "ON sandboxes(COALESCE(julianday(updated_at), -1), id)",
        ],
        down=[
            "DROP INDEX IF EXISTS admin_idx_sandboxes_updated_instant",
            "DROP INDEX IF EXISTS admin_idx_sandboxes_created_instant",
        ],
    ),
    Migration(
        10,
        "sandbox-admin: file version chains index (newer versions by parent)",
        # FileStore.list(latest_only=True) keeps a file's newest version only ("no row
        # names me as its parent"): an index seek per row instead of a scan of the table.
        up=["CREATE INDEX IF NOT EXISTS admin_idx_file_metadata_parent ON file_metadata(parent_file_id)"],
        down=["DROP INDEX IF EXISTS admin_idx_file_metadata_parent"],
    ),
    Migration(
        11,
        "sandbox-admin: fleet rollups (every series of a metric folded per bucket)",
        # Per metric, level and bucket: how many series have a row, their samples, and
        # the sum / min / max of each series' mean and increase. A fleet chart at one
        # rollup row per step reads these few rows instead of every series' rows (see
        # storage/metrics/fleet_rollups.py, which keeps them up to date on each build).
        up=[
            """CREATE TABLE IF NOT EXISTS admin_metric_fleet (
                metric_name TEXT NOT NULL,
                resolution INTEGER NOT NULL,
                bucket INTEGER NOT NULL,
                series INTEGER NOT NULL,
                count INTEGER NOT NULL,
                mean_sum REAL NOT NULL,
                mean_min REAL NOT NULL,
                mean_max REAL NOT NULL,
                increase_sum REAL NOT NULL,
                increase_min REAL NOT NULL,
                increase_max REAL NOT NULL,
                PRIMARY KEY (metric_name, resolution, bucket)
            ) WITHOUT ROWID""",
            """INSERT OR REPLACE INTO admin_metric_fleet
                SELECT s.metric_name, r.resolution, r.bucket, COUNT(*), SUM(r.count),
                       SUM(r.sum / r.count), MIN(r.sum / r.count), MAX(r.sum / r.count),
                       SUM(r.increase), MIN(r.increase), MAX(r.increase)
                FROM admin_metric_rollups AS r JOIN admin_metric_series AS s ON s.id = r.series_id
                GROUP BY s.metric_name, r.resolution, r.bucket""",
        ],
        down=["DROP TABLE IF EXISTS admin_metric_fleet"],
    ),
]

#: The one down step a reset skips (see MigrationRunner._revert).
KEEP_ON_RESET = "DROP TABLE IF EXISTS migrations"

#: The first version that is ours (checksums are kept from here on).
FIRST_OWN_VERSION = 7


def latest_version() -> int:
    return MIGRATIONS[-1].version


def by_version() -> dict[int, Migration]:
    return {m.version: m for m in MIGRATIONS}


@dataclass(frozen=True)
class MigrationStatus:
    current: int
    applied: list[int]
    pending: list[int]
    unknown: list[int]  # applied versions newer than this program knows
    problems: list[str]  # checksum mismatches and gaps, person-readable

    @property
    def too_new(self) -> bool:
        return bool(self.unknown)

    def as_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "applied": self.applied,
            "pending": self.pending,
            "unknown": self.unknown,
            "known_schema_version": latest_version(),
            "problems": self.problems,
        }


ProgressFn = Callable[[int, str], None]


class MigrationRunner:
    """Applies and rolls back migrations on one database, one transaction each."""

    def __init__(self, database: peewee.SqliteDatabase) -> None:
        self.db = database

    # -- reading -------------------------------------------------------------------
    def _table_exists(self, name: str) -> bool:
        row = self.db.execute_sql(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)
        ).fetchone()
        return row is not None

    def applied_versions(self) -> list[int]:
        if not self._table_exists("migrations"):
            return []
        rows = self.db.execute_sql("SELECT version FROM migrations ORDER BY version").fetchall()
        return [int(r[0]) for r in rows]

    def recorded_checksums(self) -> dict[int, str]:
        if not self._table_exists("admin_migrations"):
            return {}
        rows = self.db.execute_sql("SELECT version, checksum FROM admin_migrations").fetchall()
        return {int(v): str(c) for v, c in rows}

    def status(self) -> MigrationStatus:
        known = by_version()
        applied = self.applied_versions()
        unknown = [v for v in applied if v not in known]
        problems: list[str] = []
        recorded = self.recorded_checksums()
        for version, checksum in sorted(recorded.items()):
            migration = known.get(version)
            if migration is not None and migration.checksum != checksum:
                problems.append(
                    f"migration {version} ({migration.description}) does not match this "
                    f"program's definition: checksum {checksum[:12]}… recorded, "
                    f"{migration.checksum[:12]}… expected. The schema may have been changed "
                    "by hand or by another tool; back up and check the database before migrating."
                )
        if recorded:
            for version in applied:
                if version in known and version not in recorded:
                    problems.append(f"migration {version} has no recorded checksum")
        known_applied = [v for v in applied if v in known]
        current = max(applied) if applied else 0
        gaps = [v for v in known if v <= max(known_applied, default=0) and v not in applied]
        if gaps:
            problems.append(f"migrations {gaps} are missing below version {current}")
        pending = [v for v in sorted(known) if v > current]
        return MigrationStatus(current, applied, pending, unknown, problems)

    # -- writing -------------------------------------------------------------------
    def _run_steps(self, steps: Sequence[Step]) -> None:
        migrator = SqliteMigrator(self.db)
        for step in steps:
            if isinstance(step, Op):
                step.run(migrator)
            else:
                self.db.execute_sql(step)

    def _record_checksums(self) -> None:
        if not self._table_exists("admin_migrations"):
            return
        known = by_version()
        recorded = self.recorded_checksums()
        now = utcnow()
        for version in self.applied_versions():
            if version in known and version not in recorded:
                self.db.execute_sql(
                    "INSERT INTO admin_migrations (version, checksum, applied_at) VALUES (?, ?, ?)",
                    (version, known[version].checksum, GoTimestampField().db_value(now)),
                )

    def _refuse_foreign_triggers(self) -> None:
        """The database's own guard (SandboxDatabase.refuse_foreign_triggers), if it has one."""
        guard = getattr(self.db, "refuse_foreign_triggers", None)
        if guard is not None:
            guard()

    def _apply(self, migration: Migration) -> None:
        with self.db.atomic("IMMEDIATE"):
            self._refuse_foreign_triggers()
            self._run_steps(migration.up)
            self.db.execute_sql(
                "INSERT INTO migrations (version, applied_at, description) VALUES (?, ?, ?)",
                (migration.version, GoTimestampField().db_value(utcnow()), migration.description),
            )
            self._record_checksums()

    def _revert(self, migration: Migration) -> None:
        with self.db.atomic("IMMEDIATE"):
            self._refuse_foreign_triggers()
            if self._table_exists("admin_migrations"):
                self.db.execute_sql(
                    "DELETE FROM admin_migrations WHERE version = ?", (migration.version,)
                )
            if self._table_exists("migrations"):
                self.db.execute_sql("DELETE FROM migrations WHERE version = ?", (migration.version,))
            # A reset (down to 0) keeps the empty ``migrations`` table: the file stays
            # recognisable as a sandbox database at version 0 and can be migrated up again.
            # (The step stays in the definition, so the recorded checksums do not change.)
            self._run_steps([step for step in migration.down if step != KEEP_ON_RESET])

    def migrate_to(self, target: int | None = None, progress: ProgressFn | None = None) -> list[int]:
        """Apply (or roll back) migrations until the schema is at ``target`` (default latest).

        Returns the versions applied or reverted, in order. Refuses when the database
        is newer than us or a recorded checksum does not match.
        """
        status = self.status()
        if status.too_new:
            raise errors.SchemaTooNew(
                f"This database has schema version {max(status.unknown)}, newer than this "
                f"sandbox-admin knows ({latest_version()}). Upgrade sandbox-admin to migrate it."
            )
        if status.problems:
            raise errors.MigrationChecksumMismatch(
                "Refusing to migrate: " + "; ".join(status.problems), detail="\n".join(status.problems)
            )
        target = latest_version() if target is None else target
        if target < 0 or target > latest_version():
            raise errors.InvalidInput(
                f"There is no schema version {target}; versions go from 0 to {latest_version()}."
            )
        known = by_version()
        done: list[int] = []
        version = status.current
        try:
            if target >= status.current:
                for version in sorted(v for v in known if status.current < v <= target):
                    if progress:
                        progress(version, f"applying {version}: {known[version].description}")
                    self._apply(known[version])
                    done.append(version)
            else:
                for version in sorted((v for v in status.applied if v > target), reverse=True):
                    if progress:
                        progress(version, f"rolling back {version}: {known[version].description}")
                    self._revert(known[version])
                    done.append(version)
        except (peewee.PeeweeException, errors.StorageError) as exc:
            translated = errors.translate(exc, str(getattr(self.db, "path", "") or ""))
            if isinstance(translated, (errors.DatabaseLocked, errors.ReadOnly, errors.ForeignTriggers,
                                       errors.NotEnoughSpace)):
                raise translated from exc
            raise errors.MigrationError(
                f"Migration {version} failed and was rolled back ({exc}); the database is at "
                f"version {self.status().current}.",
                detail=str(exc),
            ) from exc
        return done

    def reset(self) -> None:
        """Development only: roll everything back and apply it again."""
        self.migrate_to(0)
        self.migrate_to(latest_version())
