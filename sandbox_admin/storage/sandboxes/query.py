"""Listing sandboxes: filters, sort keys and keyset pages (no OFFSET, no text-ordered time).

Sorting
    Every sort is on a *key expression* plus ``id`` as the tie breaker, so the order is
    total and a page boundary is one ``(key, id)`` pair. Keys never are NULL
    (``COALESCE`` with a sentinel), because a NULL in a keyset comparison silently drops
    rows. Timestamp columns sort by instant: the database mixes Go's
    ``...38.261790967+00:00``, ``-07:00`` offsets and ``CURRENT_TIMESTAMP``'s
    ``2026-11-26 01:35:19``, which text order gets wrong; SQLite's ``julianday()`` reads
    them all (to the millisecond; rows within one millisecond are ordered by id).
    Migration 9 indexes the created_at/updated_at keys so that every page is an index
    seek; without it (an unmigrated Go database) a page is one table scan.

Keyset
    The next page after ``(k, id)`` is read as two index seeks: the rest of the rows with
    key ``k`` (``key = k AND id < id0``), then rows with ``key < k``. A single
    ``(key, id) < (k, id0)`` row-value test is not used: SQLite cannot turn it into a
    range on an expression index and would re-scan from the top on every page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee
from peewee import SQL, NodeList, fn

from .. import errors
from ..fields import format_timestamp

#: Timestamp columns: keyed by instant (julianday), NULL/unreadable first (-1).
TIME_COLUMNS = ("created_at", "updated_at", "deleted_at", "last_resource_update")
#: Text columns that may hold NULL in old rows: keyed with NULL as ''.
TEXT_COLUMNS = ("container_id", "working_dir")
#: Numeric columns: NULL keyed as 0 (the Go default).
NUMBER_COLUMNS = (
    "version", "cpu_usage_seconds", "memory_usage_bytes", "disk_usage_bytes",
    "network_rx_bytes", "network_tx_bytes",
)
SORTABLE: tuple[str, ...] = ("id", "status", *TIME_COLUMNS, *TEXT_COLUMNS, *NUMBER_COLUMNS)

MAX_PAGE = 50_000


@dataclass(frozen=True)
class SandboxFilter:
    """What to list. Empty ``statuses`` means any status; ``text`` is a case-insensitive
    substring of id or container_id (``%`` and ``_`` match themselves). Time ranges are
    half-open: ``from <= t < to``, compared as instants (to the millisecond).
    ``only_deleted`` lists soft-deleted rows alone, whatever ``include_deleted`` says."""

    statuses: frozenset[str] = frozenset()
    text: str = ""
    created_from: datetime | None = None
    created_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    include_deleted: bool = False
    only_deleted: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.statuses, frozenset):  # accept any iterable of str
            object.__setattr__(self, "statuses", frozenset(self.statuses))

    @property
    def is_trivial(self) -> bool:
        """Only the deleted flags are set (counts can then use indexes alone)."""
        return not (self.statuses or self.text.strip() or self.created_from or self.created_to
                    or self.updated_from or self.updated_to)


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts. Opaque to callers; hashable."""

    sort: str
    descending: bool
    key: Any
    id: str


def sort_key(model: Any, column: str) -> peewee.ColumnBase:
    """The never-NULL key expression for ``column`` (text must match migration 9's index)."""
    if column not in SORTABLE:
        raise errors.InvalidInput(
            f"Cannot sort sandboxes by {column!r}; choose one of: {', '.join(SORTABLE)}."
        )
    field = getattr(model, column)
    if column in ("id", "status"):  # NOT NULL in the schema; plain column keeps Go's indexes
        return field
    if column in TIME_COLUMNS:
        return fn.COALESCE(fn.julianday(field), SQL("-1"))
    if column in TEXT_COLUMNS:
        return fn.COALESCE(field, SQL("''"))
    return fn.COALESCE(field, SQL("0"))


def _unindexed(field: peewee.Field) -> NodeList:
    """``+column``: the same value, but SQLite will not pick an index for this term."""
    return NodeList((SQL("+"), field), glue="")


def _instant(value: datetime) -> Any:
    return fn.julianday(format_timestamp(value))


def _range(model: Any, column: str, lo: datetime | None, hi: datetime | None) -> list[Any]:
    key = sort_key(model, column)
    out = []
    if lo is not None:
        out.append(key >= _instant(lo))
    if hi is not None:
        out.append(key < _instant(hi))
    return out


def conditions(
    model: Any, flt: SandboxFilter, *, ignore_statuses: bool = False, status_by_index: bool = True
) -> list[Any]:
    """WHERE terms for ``flt``. ``status_by_index=False`` keeps SQLite walking the sort
    index instead of the status index (better when the statuses are common)."""
    terms: list[Any] = []  # only_deleted wins over include_deleted (both may be set)
    if flt.only_deleted:
        terms.append(model.deleted_at.is_null(False))
    elif not flt.include_deleted:
        # Deleted rows are few: the deleted_at index would be the worst plan here.
        terms.append(_unindexed(model.deleted_at).is_null())
    if flt.statuses and not ignore_statuses:
        statuses = sorted(flt.statuses)
        column = model.status if status_by_index else _unindexed(model.status)
        terms.append(column.in_(statuses))
    text = flt.text.strip()
    if text:
        terms.append(model.id.contains(text) | model.container_id.contains(text))
    terms += _range(model, "created_at", flt.created_from, flt.created_to)
    terms += _range(model, "updated_at", flt.updated_from, flt.updated_to)
    return terms


def where(terms: list[Any]) -> Any:
    """AND of ``terms`` (``True`` when there are none)."""
    if not terms:
        return SQL("1")
    result = terms[0]
    for term in terms[1:]:
        result = result & term
    return result


def check_page_args(sort: str, after: Cursor | None, descending: bool, limit: int) -> None:
    if sort not in SORTABLE:
        raise errors.InvalidInput(
            f"Cannot sort sandboxes by {sort!r}; choose one of: {', '.join(SORTABLE)}."
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise errors.InvalidInput(f"A page holds 1 to {MAX_PAGE:,} sandboxes, not {limit!r}.")
    if after is not None:
        if not isinstance(after, Cursor):
            raise errors.InvalidInput("That page cursor did not come from SandboxStore.page().")
        if after.sort != sort or after.descending != descending:
            raise errors.InvalidInput(
                f"That page cursor belongs to a listing sorted by {after.sort} "
                f"({'descending' if after.descending else 'ascending'}); start again from the "
                "first page after changing the sort."
            )
