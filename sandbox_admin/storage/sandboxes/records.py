"""Sandbox rows as Python values, and checking values before they are written.

:func:`record_from_row` is the listing hot path: a page of a 200k-row table should cost
about what its SQL costs, so rows are read straight from the cursor (no model
instances) and the common timestamp forms take a shortcut (see :func:`_time`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from .. import errors
from ..fields import dumps_json, loads_json, parse_timestamp
from . import audit as sandbox_audit
from .query import Cursor

COLUMNS = (
    "id", "container_id", "status", "working_dir", "environment", "created_at", "updated_at",
    "config", "metadata", "version", "deleted_at", "recovery_data", "cpu_usage_seconds",
    "memory_usage_bytes", "disk_usage_bytes", "network_rx_bytes", "network_tx_bytes",
    "last_resource_update",
)
JSON_COLUMNS = ("environment", "config", "metadata", "recovery_data")
TIME_COLUMNS = ("created_at", "updated_at", "deleted_at", "last_resource_update")
RESOURCE_COLUMNS = (
    "cpu_usage_seconds", "memory_usage_bytes", "disk_usage_bytes", "network_rx_bytes",
    "network_tx_bytes",
)
#: What ``SandboxStore.listing`` reads per sandbox: the columns a table shows, no JSON.
LISTING_COLUMNS = (
    "id", "status", "container_id", "created_at", "updated_at", "deleted_at", "version",
    "cpu_usage_seconds", "memory_usage_bytes", "disk_usage_bytes", "network_rx_bytes",
    "network_tx_bytes", "last_resource_update",
)
UPDATABLE = ("container_id", "status", "working_dir", *JSON_COLUMNS, *RESOURCE_COLUMNS,
             "last_resource_update")

UTC = timezone.utc
ZERO = timedelta(0)

@dataclass(frozen=True)
class SandboxRecord:
    id: str
    container_id: str
    status: str
    working_dir: str
    environment: Any
    config: Any
    metadata: Any
    recovery_data: Any  # dict, None for Go's `null`, or the raw text when unreadable
    created_at: datetime | None
    updated_at: datetime | None
    deleted_at: datetime | None
    version: int
    cpu_usage_seconds: float
    memory_usage_bytes: int
    disk_usage_bytes: int
    network_rx_bytes: int
    network_tx_bytes: int
    last_resource_update: datetime | None
    #: The timestamp columns' stored text (for "as stored" tooltips and Go-exact audit JSON).
    raw_times: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS} | {"deleted": self.deleted}

    def snapshot(self) -> dict[str, Any]:
        """The whole sandbox as the Go server puts it into audit_trail old/new_data."""
        t = lambda name: sandbox_audit.json_time(self.raw_times.get(name), getattr(self, name))  # noqa: E731
        snap: dict[str, Any] = {
            "id": self.id, "container_id": self.container_id, "status": self.status,
            "working_dir": self.working_dir, "environment": self.environment,
            "created_at": t("created_at"), "updated_at": t("updated_at"), "config": self.config,
            "metadata": self.metadata, "version": self.version,
        }
        if self.deleted_at is not None:
            snap["deleted_at"] = t("deleted_at")
        if self.recovery_data is not None:
            snap["recovery_data"] = self.recovery_data
        for name in RESOURCE_COLUMNS:
            snap[name] = getattr(self, name)
        if self.last_resource_update is not None:
            snap["last_resource_update"] = t("last_resource_update")
        return snap


@dataclass(frozen=True)
class Page:
    rows: list[SandboxRecord]
    next_cursor: Cursor | None  # None: no more rows


@dataclass(frozen=True)
class ListingPage:
    """Rows as stored: :data:`LISTING_COLUMNS` then the sort key (see :func:`listing_values`)."""

    rows: list[tuple[Any, ...]]
    next_cursor: Cursor | None  # None: no more rows


def _int(value: Any) -> int:
    """Counters for display: NULL (or junk) is the Go default 0."""
    if type(value) is int:
        return value
    try:
        return int(float(value)) if value not in (None, "") else 0
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float:
    if type(value) is float:
        return value
    try:
        return float(value) if value not in (None, "") else 0.0
    except (TypeError, ValueError):
        return 0.0


def _time(value: Any) -> datetime | None:
    """fields.parse_timestamp, with a shortcut for the ISO-like forms nearly every row
    holds (``datetime.fromisoformat`` reads them ~30x faster; same result: fraction cut
    to microseconds, offsets turned into UTC, no offset taken as UTC)."""
    if type(value) is str and len(value) >= 19 and value[4] == "-" and value[10] in " T":
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed if parsed.utcoffset() == ZERO else parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            pass  # not ISO enough, or out of range: the tolerant reader decides
    return parse_timestamp(value)


def _json_value(text: Any) -> Any:
    if text == "null" or text is None:
        return None
    if text == "{}":
        return {}
    return loads_json(text)


def _str(value: Any) -> str:
    return value if type(value) is str else ("" if value is None else str(value))


def record_from_row(row: tuple[Any, ...]) -> SandboxRecord:
    """A record from a row of :data:`COLUMNS` as sqlite3 returns it (the listing hot path)."""
    (id_, container_id, status, working_dir, environment, created_at, updated_at, config,
     metadata, version, deleted_at, recovery_data, cpu, memory, disk, rx, tx, resource_update) = row
    return SandboxRecord(
        id=_str(id_), container_id=_str(container_id), status=_str(status),
        working_dir=_str(working_dir), environment=_json_value(environment),
        config=_json_value(config), metadata=_json_value(metadata),
        recovery_data=_json_value(recovery_data), created_at=_time(created_at),
        updated_at=_time(updated_at), deleted_at=_time(deleted_at), version=_int(version),
        cpu_usage_seconds=_float(cpu), memory_usage_bytes=_int(memory),
        disk_usage_bytes=_int(disk), network_rx_bytes=_int(rx), network_tx_bytes=_int(tx),
        last_resource_update=_time(resource_update),
        raw_times={"created_at": created_at, "updated_at": updated_at, "deleted_at": deleted_at,
                   "last_resource_update": resource_update},
    )


def listing_values(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A listing row (:data:`LISTING_COLUMNS` as stored, anything after them ignored) typed
    as records are: text, aware UTC datetimes (None when absent), numbers (0 for NULL)."""
    (id_, status, container_id, created_at, updated_at, deleted_at, version, cpu, memory, disk,
     rx, tx, resource_update) = row[:13]
    return (_str(id_), _str(status), _str(container_id), _time(created_at), _time(updated_at),
            _time(deleted_at), _int(version), _float(cpu), _int(memory), _int(disk), _int(rx),
            _int(tx), _time(resource_update))


def listing_row(record: SandboxRecord) -> tuple[Any, ...]:
    """A record as a listing row (stored timestamp text; no sort key)."""
    t = record.raw_times
    return (record.id, record.status, record.container_id, t.get("created_at"),
            t.get("updated_at"), t.get("deleted_at"), record.version, record.cpu_usage_seconds,
            record.memory_usage_bytes, record.disk_usage_bytes, record.network_rx_bytes,
            record.network_tx_bytes, t.get("last_resource_update"))


# -- validating what callers write --------------------------------------------------------

def _text(name: str, value: Any, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise errors.InvalidInput(f"{name} must be text, not {type(value).__name__}.")
    if required and not value.strip():
        raise errors.InvalidInput(f"A sandbox needs a non-empty {name}.")
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON (Go's reader rejects it)")


def _json(name: str, value: Any) -> str:
    try:
        text = dumps_json(value)
        json.loads(text, parse_constant=_reject_constant)  # NaN / Infinity
    except (TypeError, ValueError) as exc:
        raise errors.InvalidInput(f"{name} cannot be stored as JSON: {exc}.") from exc
    return text


def _resource(name: str, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.InvalidInput(f"{name} must be a number, not {value!r}.")
    if not math.isfinite(value) or value < 0:
        raise errors.InvalidInput(f"{name} must be zero or more, not {value!r}.")
    if name == "cpu_usage_seconds":
        return float(value)
    if value != int(value):
        raise errors.InvalidInput(f"{name} counts bytes: a whole number, not {value!r}.")
    return int(value)


def _db_value(name: str, value: Any) -> Any:
    """A column value for writing, checked; raises InvalidInput with what is wrong."""
    if name == "status":
        return _text(name, value, required=True)
    if name in ("container_id", "working_dir"):
        return _text(name, value)
    if name in JSON_COLUMNS:
        return _json(name, value)
    if name in RESOURCE_COLUMNS:
        return _resource(name, value)
    if name == "last_resource_update":
        if value is not None and not isinstance(value, datetime):
            raise errors.InvalidInput(f"last_resource_update must be a datetime, not {value!r}.")
        return value
    raise errors.InvalidInput(
        f"{name!r} is not a sandbox field that can be changed; changeable: {', '.join(UPDATABLE)}."
    )
