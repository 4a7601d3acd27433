"""Sandboxes: records, filtered keyset listing, optimistic updates, audit trail, checkpoints."""

from .audit import ACTIONS, AuditRecord, Checkpoint
from .query import SORTABLE, Cursor, SandboxFilter
from .records import COLUMNS, UPDATABLE, Page, SandboxRecord
from .store import SandboxStore

__all__ = [
    "ACTIONS", "AuditRecord", "Checkpoint", "COLUMNS", "Cursor", "Page", "SandboxFilter",
    "SandboxRecord", "SandboxStore", "SORTABLE", "UPDATABLE",
]
