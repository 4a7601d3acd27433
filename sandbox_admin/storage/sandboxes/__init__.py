"""Sandboxes: records, filtered keyset listing, optimistic updates, audit trail, checkpoints."""

from .audit import ACTIONS, AuditRecord, Checkpoint
from .query import SORTABLE, Cursor, SandboxFilter
from .records import (
    COLUMNS,
    LISTING_COLUMNS,
    UPDATABLE,
    ListingPage,
    Page,
    SandboxRecord,
    listing_row,
    listing_values,
)
from .store import SandboxStore

__all__ = [
    "ACTIONS", "AuditRecord", "Checkpoint", "COLUMNS", "Cursor", "LISTING_COLUMNS", "ListingPage",
    "Page", "SandboxFilter", "SandboxRecord", "SandboxStore", "SORTABLE", "UPDATABLE",
    "listing_row", "listing_values",
]
