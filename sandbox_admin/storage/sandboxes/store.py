"""SandboxStore: sandboxes with optimistic locking, soft delete, audit trail, checkpoints.

Every change is one IMMEDIATE transaction that reads the row, changes it with
``UPDATE ... SET ..., version = version + 1 WHERE id = ? AND version = ?`` and writes
its audit entry; nothing is half done. Rows keep the Go server's formats (SCHEMA.md):
timestamps through :mod:`fields`, JSON compact and sorted, '' rather than SQL NULL.
Columns nobody changed are never rewritten, so Go's nanosecond timestamps survive.

Records and value checks live in :mod:`sandbox_records`, filters, sort keys and the
keyset in :mod:`sandbox_query`, the audit trail in :mod:`sandbox_audit`; this module
re-exports what callers need.
"""

from __future__ import annotations

import functools
import math
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import peewee
from peewee import SQL, Case, fn

from .. import errors
from ..fields import dumps_json, format_timestamp, loads_json, utcnow
from ..triggers import trusted_schema
from . import audit as sandbox_audit
from .audit import ACTIONS, AuditRecord, Checkpoint, rfc3339
from .listing import keyset_page
from .query import (
    SORTABLE,
    Cursor,
    SandboxFilter,
    check_page_args,
    conditions,
    where,
)
from .records import (
    COLUMNS,
    JSON_COLUMNS,
    LISTING_COLUMNS,
    RESOURCE_COLUMNS,
    UPDATABLE,
    ListingPage,
    Page,
    SandboxRecord,
    _db_value,
    _json,
    _resource,
    _text,
    record_from_row,
)

if TYPE_CHECKING:
    from ..store import Store

__all__ = [
    "ACTIONS", "AuditRecord", "Checkpoint", "COLUMNS", "Cursor", "LISTING_COLUMNS", "ListingPage",
    "Page", "SandboxFilter", "SandboxRecord", "SandboxStore", "SORTABLE", "UPDATABLE",
    "record_from_row",
]

#: Below this many rows an exact count is as cheap as an estimate.
EXACT_COUNT_BELOW = 20_000
#: How many rows an estimate samples, in how many rowid ranges spread over the table.
SAMPLE_ROWS = 10_000
SAMPLE_WINDOWS = 20
#: A status filter matching at least this share of rows walks the sort index.
COMMON_STATUS_SHARE = 0.02


def _guarded(method: Any) -> Any:
    """Database errors out of a SandboxStore method as :mod:`errors` a person can act on."""

    @functools.wraps(method)
    def wrapper(self: "SandboxStore", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except errors.StorageError as exc:  # already one of ours (writes are translated)
            schema = self._schema_error(exc.detail or exc.message)
            if schema is None:
                raise
            raise schema from exc
        except (sqlite3.Error, peewee.PeeweeException) as exc:
            raise (self._schema_error(str(exc)) or errors.translate(exc, str(self.store.path))) from exc

    return wrapper


class SandboxStore:
    """Sandboxes of one :class:`~sandbox_admin.storage.Store`. Safe to share between threads
    (each thread uses its own pooled connection)."""

    SORTABLE = SORTABLE

    def __init__(self, store: "Store") -> None:
        self.store = store
        self.db = store.db
        self.models = store.models

    # -- reading one ---------------------------------------------------------------------
    def _select(self, *extra: Any) -> Any:
        S = self.models.Sandbox
        return S.select(*(getattr(S, name) for name in COLUMNS), *extra)

    def _fetch(self, id: str) -> SandboxRecord | None:
        row = self.db.execute(self._select().where(self.models.Sandbox.id == id)).fetchone()
        return record_from_row(row) if row else None

    def _not_found(self, id: str) -> errors.NotFound:
        return errors.NotFound(
            f"There is no sandbox {id!r} in {self.store.path.name}; it may have been purged. "
            "Refresh the list."
        )

    def _schema_error(self, text: str) -> errors.StorageError | None:
        """A clear error when the database predates the columns we read (Go schema < 3)."""
        if "no such column" not in text and "no such table" not in text:
            return None
        try:
            version: object = self.store.schema_version()
        except (sqlite3.Error, peewee.PeeweeException, errors.StorageError):
            version = "unknown"  # only the message loses a detail; the cause is `text`
        return errors.StorageError(
            f"{self.store.path.name} has schema version {version}, older than sandboxes need "
            f"(the resource columns came with version 3). Back it up, then upgrade its schema.",
            detail=text, cli_hint=f"sandbox-admin migrate {self.store.path}",
        )

    @_guarded
    def get(self, id: str) -> SandboxRecord:
        """One sandbox, soft-deleted or not; :class:`errors.NotFound` when there is none."""
        record = self._fetch(id)
        if record is None:
            raise self._not_found(id)
        return record

    # -- writing -------------------------------------------------------------------------
    @_guarded
    def create(
        self,
        id: str,
        status: str,
        *,
        container_id: str = "",
        working_dir: str = "",
        environment: Any = None,
        config: Any = None,
        metadata: Any = None,
        user_id: str = "",
        audit_metadata: dict[str, Any] | None = None,
    ) -> SandboxRecord:
        """A new sandbox and its ``create`` audit entry (``audit_metadata`` is added to the
        entry's metadata, e.g. the template it was made from); joins the caller's
        transaction if there is one."""
        _text("id", id, required=True)
        values = {
            "id": id,
            "status": _db_value("status", status),
            "container_id": _db_value("container_id", container_id),
            "working_dir": _db_value("working_dir", working_dir),
            "environment": _db_value("environment", environment),
            "config": _db_value("config", config),
            "metadata": _db_value("metadata", metadata),
            "recovery_data": "null",
            "version": 1,
            **{name: 0 for name in RESOURCE_COLUMNS},
        }
        with self.store.transaction():
            if self._fetch(id) is not None:
                raise errors.InvalidInput(
                    f"A sandbox with id {id!r} already exists; choose another id."
                )
            now = utcnow()
            self.models.Sandbox.insert(created_at=now, updated_at=now, **values).execute()
            record = self.get(id)
            sandbox_audit.write(self.models, "create", id, new=record.snapshot(), user_id=user_id,
                                metadata=audit_metadata)
        return record

    def _change(
        self,
        id: str,
        expected_version: int | None,
        make: Callable[[SandboxRecord, datetime], dict[str, Any]],
        *,
        action: str,
        user_id: str,
        audit_metadata: Callable[[SandboxRecord, SandboxRecord, datetime], dict[str, Any]] | None = None,
        audit_raw_new: str | None = None,
    ) -> SandboxRecord:
        """Read, check, ``UPDATE ... WHERE id = ? AND version = ?``, audit: one transaction.

        ``make(old, now)`` returns the columns to set (and may raise InvalidInput). The
        audit entry holds the whole sandbox before and after, unless ``audit_raw_new`` is
        given (Go's checkpoint shape: no old_data, that text as new_data).
        """
        if expected_version is not None and (
            isinstance(expected_version, bool) or not isinstance(expected_version, int)
        ):
            raise errors.InvalidInput(f"expected_version must be a whole number, not {expected_version!r}.")
        S = self.models.Sandbox
        with self.store.transaction():
            old = self._fetch(id)
            if old is None:
                raise self._not_found(id)
            now = utcnow()
            if old.updated_at is not None and now <= old.updated_at:
                now = old.updated_at + timedelta(microseconds=1)  # never backwards per row
            changes = make(old, now)
            version = old.version if expected_version is None else expected_version
            values = {getattr(S, name): value for name, value in changes.items()}
            values[S.updated_at] = now
            values[S.version] = fn.COALESCE(S.version, SQL("0")) + 1
            updated = S.update(values).where(
                (S.id == id) & (fn.COALESCE(S.version, SQL("0")) == version)
            ).execute()
            if updated == 0:
                current = self._fetch(id)  # we hold the write lock: this is the row now
                if current is None:
                    raise self._not_found(id)
                raise errors.VersionConflict(
                    f"Sandbox {id} was changed by someone else: it is at version "
                    f"{current.version}, your change was made to version {version}. "
                    "Reload it and apply your change again.",
                    current=current,
                )
            new = self.get(id)
            whole = audit_raw_new is None
            sandbox_audit.write(
                self.models, action, id, old=old.snapshot() if whole else None,
                new=new.snapshot() if whole else None, raw_new=audit_raw_new, user_id=user_id,
                metadata=audit_metadata(old, new, now) if audit_metadata else {},
            )
        return new

    @_guarded
    def update(self, id: str, expected_version: int, *, user_id: str = "", **changes: Any) -> SandboxRecord:
        """Change fields of a sandbox whose stored version is ``expected_version``;
        :class:`errors.VersionConflict` (with ``current``) when somebody changed it first."""
        if expected_version is None:
            raise errors.InvalidInput("update() needs the version you read (expected_version).")
        if not changes:
            raise errors.InvalidInput("Nothing to change: give at least one field.")
        values = {name: _db_value(name, value) for name, value in changes.items()}
        return self._change(
            id, expected_version, lambda old, now: dict(values), action="update", user_id=user_id,
            audit_metadata=lambda old, new, now: {"changed": sorted(values)},
        )

    @_guarded
    def update_resources(
        self, id: str, expected_version: int | None = None, *, user_id: str = "", **resources: Any
    ) -> SandboxRecord:
        """Set resource counters (migration 3's columns); stamps last_resource_update."""
        unknown = sorted(set(resources) - set(RESOURCE_COLUMNS))
        if unknown or not resources:
            raise errors.InvalidInput(
                f"Resource fields are {', '.join(RESOURCE_COLUMNS)}"
                + (f"; not {', '.join(unknown)}." if unknown else "; give at least one.")
            )
        values = {name: _resource(name, value) for name, value in resources.items()}
        return self._change(
            id, expected_version, lambda old, now: values | {"last_resource_update": now},
            action="update", user_id=user_id,
            audit_metadata=lambda old, new, now: {"changed": sorted(values), "kind": "resources"},
        )

    @_guarded
    def soft_delete(self, id: str, expected_version: int | None = None, *, user_id: str = "") -> SandboxRecord:
        """Mark deleted (hidden from default listings; :meth:`recover` undoes it)."""

        def make(old: SandboxRecord, now: datetime) -> dict[str, Any]:
            if old.deleted:
                raise errors.InvalidInput(
                    f"Sandbox {id} is already deleted (since {format_timestamp(old.deleted_at)}); "  # type: ignore[arg-type]
                    "recover it, or purge it for good."
                )
            return {"deleted_at": now}

        return self._change(id, expected_version, make, action="delete", user_id=user_id)

    @_guarded
    def recover(self, id: str, expected_version: int | None = None, *, user_id: str = "") -> SandboxRecord:
        """Undo a soft delete."""

        def make(old: SandboxRecord, now: datetime) -> dict[str, Any]:
            if not old.deleted:
                raise errors.InvalidInput(f"Sandbox {id} is not deleted; there is nothing to recover.")
            return {"deleted_at": None}

        return self._change(id, expected_version, make, action="recover", user_id=user_id)

    @_guarded
    def checkpoint(
        self,
        id: str,
        reason: str,
        data: Any = None,
        expected_version: int | None = None,
        *,
        user_id: str = "",
    ) -> SandboxRecord:
        """Record a checkpoint as the Go server does: ``checkpoint_data``,
        ``checkpoint_reason`` and ``checkpoint_time`` (RFC 3339) merged into recovery_data;
        audited as action ``checkpoint`` with the data as new_data."""
        _text("reason", reason)
        data_text = _json("checkpoint data", data)
        times: dict[str, str] = {}

        def make(old: SandboxRecord, now: datetime) -> dict[str, Any]:
            merged = dict(old.recovery_data) if isinstance(old.recovery_data, dict) else {}
            times["at"] = rfc3339(now)
            merged.update(
                checkpoint_data=loads_json(data_text), checkpoint_reason=reason,
                checkpoint_time=times["at"],
            )
            return {"recovery_data": dumps_json(merged)}

        return self._change(
            id, expected_version, make, action="checkpoint", user_id=user_id,
            audit_raw_new=data_text,
            audit_metadata=lambda old, new, now: {
                "reason": reason, "checkpoint_time": times["at"], "version": new.version,
            },
        )

    @_guarded
    def checkpoints(self, id: str) -> list[Checkpoint]:
        """A sandbox's checkpoints from the audit trail (Go's and ours), newest first."""
        entries = sandbox_audit.read(
            self.db, self.models, id, actions=["checkpoint"], newest_first=True, limit=100_000
        )
        return [sandbox_audit.checkpoint_from(e) for e in entries]

    def _purge(self, record: SandboxRecord, user_id: str, metadata: dict[str, Any]) -> None:
        """Delete one sandbox row; call inside ``_purging()``.

        The foreign keys remove its files (and their chunk references, cached content,
        FTS entries through the Go triggers) and metrics, and set workflow executions'
        sandbox_id to NULL. Chunk ref_counts are lowered as FileStore.purge does; chunks
        left unreferenced stay until ``FileStore.gc()``.
        """
        S, FM, Ref, FC = (self.models.Sandbox, self.models.FileMetadata, self.models.FileChunkRef,
                          self.models.FileChunk)
        files = FM.select(FM.id).where(FM.sandbox == record.id)
        counts = (Ref.select(Ref.chunk, fn.COUNT(SQL("*"))).where(Ref.file.in_(files))
                  .group_by(Ref.chunk).tuples())
        for chunk_hash, n in list(counts):
            FC.update({FC.ref_count: fn.MAX(FC.ref_count - n, 0)}).where(FC.chunk_hash == chunk_hash).execute()
        # A file of another sandbox derived from one of these would block the delete.
        FM.update({FM.parent_file: None}).where(
            FM.parent_file.in_(files) & (FM.sandbox != record.id)).execute()
        S.delete().where(S.id == record.id).execute()
        sandbox_audit.write(
            self.models, "purge", record.id, old=record.snapshot(), user_id=user_id, metadata=metadata
        )

    @contextmanager
    def _purging(self) -> Iterator[None]:
        """A write transaction in which the Go FTS triggers may run (see triggers.py)."""
        with self.store.transaction(), trusted_schema(self.store):
            yield

    @_guarded
    def purge(self, id: str, *, user_id: str = "") -> None:
        """Delete for good, with its files and metrics (see :meth:`_purge`)."""
        with self._purging():
            record = self._fetch(id)
            if record is None:
                raise self._not_found(id)
            self._purge(record, user_id, {})

    @_guarded
    def cleanup_deleted(self, older_than_days: float, *, user_id: str = "") -> list[str]:
        """Purge sandboxes soft-deleted more than ``older_than_days`` ago; returns their ids.

        Ages are compared as instants (``julianday``), whatever offset a row was written
        with; a deleted_at that cannot be read as a time is left alone.
        """
        if isinstance(older_than_days, bool) or not isinstance(older_than_days, (int, float)) \
                or not math.isfinite(older_than_days) or older_than_days < 0:
            raise errors.InvalidInput(
                f"older_than_days must be a number of days (0 or more), not {older_than_days!r}."
            )
        cutoff = utcnow() - timedelta(days=older_than_days)
        S = self.models.Sandbox
        with self._purging():
            query = self._select().where(
                fn.julianday(S.deleted_at) < fn.julianday(format_timestamp(cutoff))
            ).order_by(fn.julianday(S.deleted_at), S.id)
            records = [record_from_row(r) for r in self.db.execute(query).fetchall()]
            meta = {"reason": "cleanup", "older_than_days": older_than_days, "cutoff": rfc3339(cutoff)}
            for record in records:
                self._purge(record, user_id, meta)
        return [r.id for r in records]

    @_guarded
    def record_audit(
        self,
        action: str,
        entity_id: str,
        *,
        entity_type: str = "sandbox",
        old: Any = None,
        new: Any = None,
        user_id: str = "",
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """Write an audit entry for a change made elsewhere (e.g. ``restore`` of the
        database); joins the caller's transaction if there is one. Returns its id."""
        with self.store.transaction():
            return sandbox_audit.write(
                self.models, action, entity_id, entity_type=entity_type, old=old, new=new,
                user_id=user_id, metadata=metadata,
            )

    # -- listing -------------------------------------------------------------------------
    def _sample(self, terms: list[Any], rows: int = SAMPLE_ROWS, windows: int = SAMPLE_WINDOWS
                ) -> tuple[int, int, int]:
        """(rows matching ``terms``, rows looked at, max rowid) over ``windows`` rowid
        ranges spread evenly across the table: ``rows`` rows at most, each range an
        index seek, so the cost does not grow with the table."""
        S = self.models.Sandbox
        rowid = SQL("rowid")
        top = int(self.db.execute(S.select(fn.MAX(rowid))).fetchone()[0] or 0)
        span = max(1, rows // windows)
        starts = sorted({int(top * k / windows) for k in range(windows)})
        matched = looked = 0
        hit = fn.SUM(Case(None, [(where(terms), 1)], 0))
        for start in starts:
            query = S.select(fn.COUNT(SQL("*")), hit).where((rowid > start) & (rowid <= start + span))
            n, m = self.db.execute(query).fetchone()
            looked += int(n or 0)
            matched += int(m or 0)
        return matched, looked, top

    def _status_by_index(self, flt: SandboxFilter, sort: str) -> bool:
        """Use the status index for a status filter, unless the statuses are common and
        the sort has its own index (then walking the sort index finds a page sooner)."""
        if not flt.statuses or sort not in ("id", "created_at", "updated_at"):
            return True
        S = self.models.Sandbox
        matched, window, _ = self._sample([S.status.in_(sorted(flt.statuses))], 2000, 4)
        return window == 0 or matched / window < COMMON_STATUS_SHARE

    def _keyset(self, flt: SandboxFilter, sort: str, descending: bool, after: Cursor | None,
                limit: int, columns: Any, between: Callable[[], None] | None = None,
                ) -> tuple[list[tuple[Any, ...]], Cursor | None]:
        check_page_args(sort, after, descending, limit)
        S = self.models.Sandbox
        terms = conditions(S, flt, status_by_index=self._status_by_index(flt, sort))
        return keyset_page(self.db, S, terms, sort, descending, after, limit, columns, between)

    @_guarded
    def page(
        self,
        flt: SandboxFilter = SandboxFilter(),
        *,
        sort: str = "created_at",
        descending: bool = True,
        after: Cursor | None = None,
        limit: int = 200,
        with_json: bool = True,
    ) -> Page:
        """One page in ``(sort, id)`` order; pass ``next_cursor`` back as ``after``.

        ``with_json=False`` leaves the JSON columns (environment, config, metadata,
        recovery_data) out, as None: for listings that do not show them (half the work
        per row; the detail panel uses get()).

        Keyset paging: every row present for the whole listing is returned exactly once,
        however many rows other processes insert or delete meanwhile (rows inserted
        behind the cursor are simply not seen). A row whose sort value changes during
        the listing can move across the cursor.
        """
        S = self.models.Sandbox
        columns = [SQL("NULL") if name in JSON_COLUMNS and not with_json else getattr(S, name)
                   for name in COLUMNS]
        rows, cursor = self._keyset(flt, sort, descending, after, limit, columns)
        return Page([record_from_row(r[:-1]) for r in rows], cursor)

    @_guarded
    def listing(
        self,
        flt: SandboxFilter = SandboxFilter(),
        *,
        sort: str = "created_at",
        descending: bool = True,
        after: Cursor | None = None,
        limit: int = 200,
        between: Callable[[], None] | None = None,
    ) -> ListingPage:
        """:meth:`page` for tables of many rows: rows are the plain tuples sqlite3 reads
        (:data:`LISTING_COLUMNS` as stored, then the sort key), made by no Python code of
        ours, so that a worker thread reading them barely holds the GIL;
        :func:`listing_values` types one. ``between()`` is called after every
        ``listing.BATCH`` rows (a worker can pause there, e.g. while the GUI thread paints)."""
        S = self.models.Sandbox
        columns = [getattr(S, name) for name in LISTING_COLUMNS]
        rows, cursor = self._keyset(flt, sort, descending, after, limit, columns, between)
        return ListingPage(rows, cursor)

    def iter_all(self, flt: SandboxFilter = SandboxFilter(), *, sort: str = "created_at",
                 descending: bool = True, page_size: int = 1000) -> Iterable[SandboxRecord]:
        """Every matching sandbox, page by page (for exports and scripts)."""
        cursor: Cursor | None = None
        while True:
            page = self.page(flt, sort=sort, descending=descending, after=cursor, limit=page_size)
            yield from page.rows
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    @_guarded
    def count(self, flt: SandboxFilter = SandboxFilter()) -> int:
        """Exact number of matching sandboxes (a table scan for most filters: run it off
        the GUI thread, after the first page)."""
        S = self.models.Sandbox
        if flt.is_trivial and not flt.include_deleted:
            deleted = int(self.db.execute(
                S.select(fn.COUNT(SQL("*"))).where(S.deleted_at.is_null(False))).fetchone()[0])
            if flt.only_deleted:
                return deleted
            return int(self.db.execute(S.select(fn.COUNT(SQL("*")))).fetchone()[0]) - deleted
        query = S.select(fn.COUNT(SQL("*"))).where(where(conditions(S, flt)))
        return int(self.db.execute(query).fetchone()[0])

    @_guarded
    def count_estimate(self, flt: SandboxFilter = SandboxFilter()) -> int:
        """A cheap count: exact for small tables and for the deleted/not-deleted split
        (index-only counts), otherwise the share of matches in a sample of SAMPLE_ROWS
        rows (rowid ranges across the table) times the row count. May be off, most for
        rare or clustered matches; :meth:`count` is exact."""
        S = self.models.Sandbox
        if flt.is_trivial:
            return self.count(flt)
        matched, window, top = self._sample(conditions(S, flt))
        if top <= EXACT_COUNT_BELOW or window == 0:
            return self.count(flt)
        total = int(self.db.execute(S.select(fn.COUNT(SQL("*")))).fetchone()[0])
        if window >= total:
            return matched
        return min(total, round(matched * total / window))

    @_guarded
    def status_counts(self, flt: SandboxFilter = SandboxFilter()) -> dict[str, int]:
        """Facet counts: sandboxes per status under ``flt`` (its status selection ignored,
        so that a UI can offer the statuses not yet chosen)."""
        S = self.models.Sandbox
        query = (S.select(S.status, fn.COUNT(SQL("*")))
                 .where(where(conditions(S, flt, ignore_statuses=True)))
                 .group_by(S.status).order_by(S.status))
        return {str(status): int(n) for status, n in self.db.execute(query).fetchall()}

    # -- audit ---------------------------------------------------------------------------
    @_guarded
    def audit(
        self,
        entity_id: str | None = None,
        *,
        entity_type: str | None = "sandbox",
        actions: Iterable[str] | None = None,
        user_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_id: int | None = None,
        limit: int = 500,
        newest_first: bool = False,
    ) -> list[AuditRecord]:
        """Audit entries ordered by id (see :func:`sandbox_audit.read`)."""
        return sandbox_audit.read(
            self.db, self.models, entity_id, entity_type=entity_type, actions=actions,
            user_id=user_id, since=since, until=until, after_id=after_id, limit=limit,
            newest_first=newest_first,
        )
