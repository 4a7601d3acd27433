"""The audit trail in the Go server's shape, and reading it back.

What the Go server writes (SCHEMA.md, and the fixture): ``entity_type`` ``sandbox``;
actions create/update/delete/recover/checkpoint; ``old_data``/``new_data`` the whole
sandbox as JSON (RFC 3339 times inside), or the empty string when there is none;
``metadata`` JSON text or ''. A checkpoint entry holds the checkpoint data as
``new_data`` and ``{"action":"checkpoint","reason":...}`` as metadata. Go writes
``user_id`` NULL when it has none; we write '' (never NULL).

Order is by ``id``: Go's timestamps have one-second resolution, so they cannot order
entries written in the same second (a known Go defect we do not copy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from peewee import fn

from .. import errors
from ..fields import (
    dumps_json,
    format_timestamp,
    loads_json,
    parse_timestamp,
    to_utc,
    utcnow,
)

#: Actions the Go server writes, and ours (purge: hard delete; restore: database restored).
GO_ACTIONS = ("create", "update", "delete", "recover", "checkpoint")
ACTIONS = (*GO_ACTIONS, "purge", "restore")
SOURCE = "sandbox-admin"

_GO_TIME_TEXT = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s*(Z|[+-]\d{2}:\d{2})?$"
)


@dataclass(frozen=True)
class AuditRecord:
    id: int
    entity_type: str
    entity_id: str
    action: str
    old_data: Any  # None when the entry has none ('' / NULL in the database)
    new_data: Any
    user_id: str
    timestamp: datetime | None
    metadata: Any

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "entity_type": self.entity_type, "entity_id": self.entity_id,
            "action": self.action, "old_data": self.old_data, "new_data": self.new_data,
            "user_id": self.user_id, "timestamp": self.timestamp, "metadata": self.metadata,
        }


@dataclass(frozen=True)
class Checkpoint:
    audit_id: int
    time: datetime | None
    reason: str
    data: Any


def rfc3339(value: datetime) -> str:
    """Go's RFC3339Nano for a UTC time: ``2026-11-26T01:35:22.058474Z`` (zeros trimmed)."""
    value = to_utc(value)
    text = f"{value.year:04d}-{value:%m-%dT%H:%M:%S}"
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def json_time(raw: Any, parsed: datetime | None) -> str | None:
    """A stored timestamp as Go's JSON writes it, keeping its digits and offset
    (``2026-11-24 06:26:46.033312972-07:00`` -> ``2026-11-24T06:26:46.033312972-07:00``)."""
    if isinstance(raw, str):
        match = _GO_TIME_TEXT.match(raw.strip())
        if match:
            offset = match.group(3) or "Z"
            return f"{match.group(1)}T{match.group(2)}{'Z' if offset == '+00:00' else offset}"
    return rfc3339(parsed) if parsed is not None else None


def _json_or_empty(value: Any) -> str:
    """Go's audit columns: JSON text, or '' for "none" (never SQL NULL)."""
    return "" if value is None else dumps_json(value)


def _optional_json(text: Any) -> Any:
    if text is None or text == "":
        return None
    return loads_json(text)


def write(
    models: Any,
    action: str,
    entity_id: str,
    *,
    entity_type: str = "sandbox",
    old: Any = None,
    new: Any = None,
    user_id: str = "",
    metadata: dict[str, Any] | None = None,
    raw_new: str | None = None,
) -> int:
    """Insert one audit row (call inside the transaction of the change). Returns its id.

    ``raw_new`` writes ``new_data`` as given (e.g. Go's ``null`` for a checkpoint
    without data) instead of serialising ``new``.
    """
    if action not in ACTIONS:
        raise errors.InvalidInput(f"Unknown audit action {action!r}; expected one of {ACTIONS}.")
    meta = {"action": action, "source": SOURCE, **(metadata or {})}
    return int(
        models.AuditEntry.insert(
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            old_data=_json_or_empty(old),
            new_data=raw_new if raw_new is not None else _json_or_empty(new),
            user_id=user_id or "",
            timestamp=format_timestamp(utcnow()),
            metadata=dumps_json(meta),
        ).execute()
    )


_COLUMNS = ("id", "entity_type", "entity_id", "action", "old_data", "new_data", "user_id",
            "timestamp", "metadata")


def _record(row: tuple[Any, ...]) -> AuditRecord:
    id_, etype, eid, action, old, new, user, ts, meta = row
    return AuditRecord(
        id=int(id_), entity_type=etype or "", entity_id=eid or "", action=action or "",
        old_data=_optional_json(old), new_data=_optional_json(new), user_id=user or "",
        timestamp=parse_timestamp(ts), metadata=_optional_json(meta),
    )


def read(
    db: Any,
    models: Any,
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
    """Audit entries in id order. ``after_id`` continues a listing (in its direction);
    ``user_id=''`` finds entries without a user (Go wrote NULL there); ``since``/``until``
    compare instants (``since <= t < until``)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise errors.InvalidInput(f"limit must be a positive number of entries, not {limit!r}.")
    A = models.AuditEntry
    columns = [getattr(A, name) for name in _COLUMNS]
    query = A.select(*columns)
    if entity_type is not None:
        query = query.where(A.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(A.entity_id == entity_id)
    if actions is not None:
        wanted = sorted(set(actions))
        if not wanted:
            return []
        query = query.where(A.action.in_(wanted))
    if user_id is not None:
        match = A.user_id == user_id
        query = query.where((match | A.user_id.is_null()) if user_id == "" else match)
    if since is not None:
        query = query.where(fn.julianday(A.timestamp) >= fn.julianday(format_timestamp(since)))
    if until is not None:
        query = query.where(fn.julianday(A.timestamp) < fn.julianday(format_timestamp(until)))
    if after_id is not None:
        query = query.where(A.id < after_id if newest_first else A.id > after_id)
    query = query.order_by(A.id.desc() if newest_first else A.id).limit(limit)
    return [_record(row) for row in db.execute(query).fetchall()]


def checkpoint_from(entry: AuditRecord) -> Checkpoint:
    """A checkpoint entry (Go's or ours) as a :class:`Checkpoint`."""
    meta = entry.metadata if isinstance(entry.metadata, dict) else {}
    when = parse_timestamp(meta.get("checkpoint_time")) or entry.timestamp
    reason = meta.get("reason")
    return Checkpoint(
        audit_id=entry.id, time=when, reason=reason if isinstance(reason, str) else "",
        data=entry.new_data,
    )
