"""What the file store hands out: records of rows, content streams and reports."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from ..fields import to_iso

#: Bytes of text content that go into search_content (the Go server: 4 KiB).
INDEX_LIMIT = 256 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

Content = bytes | bytearray | memoryview | str | BinaryIO


def go_default_checksum(sandbox_id: str, file_path: str) -> str:
    """The Go server's checksum for a file stored without a content hash."""
    return hashlib.sha256(f"{sandbox_id}:{file_path}".encode()).hexdigest()


@dataclass(frozen=True)
class FileRecord:
    """One file_metadata row (without its search_content text)."""

    id: int
    sandbox_id: str
    file_path: str
    checksum: str
    size_bytes: int
    mime_type: str
    created_at: datetime | None
    updated_at: datetime | None
    version: int
    parent_file_id: int | None
    metadata: Any
    access_count: int
    last_accessed: datetime | None
    deleted_at: datetime | None
    indexed_bytes: int  # bytes of search_content

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def index_state(self) -> str:
        """``full``, ``partial`` (only the start is searchable) or ``none`` (no text)."""
        return index_state(self.indexed_bytes, self.size_bytes)

    @property
    def has_content_checksum(self) -> bool:
        return self.checksum != go_default_checksum(self.sandbox_id, self.file_path)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("created_at", "updated_at", "last_accessed", "deleted_at"):
            data[key] = to_iso(data[key])
        data["index_state"] = self.index_state
        return data


def index_state(indexed_bytes: int, size_bytes: int) -> str:
    if indexed_bytes <= 0:
        return "full" if size_bytes <= 0 else "none"
    return "partial" if indexed_bytes < size_bytes else "full"


@dataclass
class ContentStream:
    """A file's content as an iterator of byte blocks, hashed on the way through.

    After a complete iteration ``sha256`` and ``bytes_read`` are set and ``verified``
    says whether the content matches the recorded checksum (None: not verifiable,
    because the checksum is the Go path hash).
    """

    record: FileRecord
    source: str  # "chunks", "empty", "cache" or "search_content"
    verifiable: bool
    _parts: Callable[[], Iterator[bytes]]
    chunk_count: int = 0
    sha256: str | None = None
    bytes_read: int = 0
    complete: bool = False

    def __iter__(self) -> Iterator[bytes]:
        digest = hashlib.sha256()
        self.bytes_read = 0
        for part in self._parts():
            digest.update(part)
            self.bytes_read += len(part)
            yield part
        self.sha256 = digest.hexdigest()
        self.complete = True

    @property
    def verified(self) -> bool | None:
        if not self.complete or not self.verifiable:
            return None
        return self.sha256 == self.record.checksum

    def read_all(self) -> bytes:
        return b"".join(self)


@dataclass(frozen=True)
class VerifyResult:
    file_id: int
    ok: bool | None  # None: nothing to verify against
    source: str
    sha256: str | None
    expected: str
    size_bytes: int
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    size_bytes: int
    sha256: str
    verified: bool | None
    expected_checksum: str
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "verified": self.verified,
            "expected_checksum": self.expected_checksum,
            "source": self.source,
        }


@dataclass(frozen=True)
class GCResult:
    removed_chunks: int
    freed_bytes: int
    ref_counts_fixed: int
    dry_run: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DedupStats:
    """Content storage of a set of files (all, or one sandbox's)."""

    files_with_content: int
    logical_bytes: int  # what the live files' contents add up to
    physical_bytes: int  # what their chunks take (each chunk once)
    chunk_refs: int

    @property
    def dedup_ratio(self) -> float | None:
        """logical / physical: 2.0 means the contents take half the space they would."""
        if self.physical_bytes <= 0:
            return None
        return self.logical_bytes / self.physical_bytes

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"dedup_ratio": self.dedup_ratio}


@dataclass(frozen=True)
class StorageStats:
    live_files: int
    deleted_files: int
    overall: DedupStats  # physical = every stored chunk
    chunks: int
    unreferenced_chunks: int
    unreferenced_bytes: int  # what gc() would free
    deleted_only_bytes: int  # chunks used only by soft-deleted files (freed once purged)
    per_sandbox: dict[str, DedupStats]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["overall"] = self.overall.as_dict()
        data["per_sandbox"] = {k: v.as_dict() for k, v in self.per_sandbox.items()}
        return data
