"""FileStore: file metadata, versions, deduplicated content, export, search.

Rows are the Go server's ``file_metadata``; contents live in ``file_chunks`` (one row
per distinct piece, keyed by the sha256 of its bytes, ``ref_count`` = how many
``file_chunk_refs`` rows point at it) and a file is its chunks concatenated in
``chunk_order``. New content is split with content-defined chunking
(:mod:`.chunking`); the Go server's fixed 64 KiB pieces read the same way.

Decisions worth knowing:

* **Checksum**: sha256 of the content when content is given; otherwise the Go
  default, sha256 hex of ``sandbox_id + ":" + file_path`` (which says nothing about
  content, so such files are reported as not verifiable).
* **What is searchable** (``search_content``): the first :data:`INDEX_LIMIT` bytes
  (256 KiB) of text content, decoded as UTF-8; nothing for binary content. The Go
  server keeps the first 4 KiB of chunked files. Whether a file is fully indexed is
  not stored in a flag: it is ``len(search_content in bytes) < size_bytes``, which
  is true for our rows and the Go server's alike (see :attr:`FileRecord.index_state`).
* **updated_at**: our writes set it explicitly. Recording an access must not change
  it, but the Go trigger ``update_file_metadata_updated_at`` sets it to
  CURRENT_TIMESTAMP on any UPDATE that leaves it equal - including writing the same
  value back. :meth:`FileStore.record_access` therefore updates in two steps inside one
  transaction: first ``updated_at || '~'`` (different, so the trigger stays quiet),
  then back to the exact original text (different again). The stored text comes back
  byte for byte, nanoseconds and all.
* **version** is the Go server's optimistic-locking counter of a row (bumped on each
  update, checked with ``expected_version``); a *new version of a file* is a new row
  whose ``parent_file_id`` points at the previous one (starting at version 1, as Go).
* **Deleting** is soft (``deleted_at``), keeps the chunks and can be undone;
  :meth:`FileStore.purge` removes a soft-deleted row for good and :meth:`FileStore.gc`
  then frees chunks that no row references. GC trusts the references, not
  ``ref_count`` (the Go server never decrements it), and repairs the counts.
* **Dedup ratio** = logical bytes of live files with stored content / physical bytes
  of the chunks stored (overall), or of the distinct chunks a sandbox's live files use
  (per sandbox). The Go server divided the other way round and over all files.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import tempfile
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterator

import peewee
from peewee import Cast, fn

from . import errors
from .chunking import Chunker, default_chunker
from .triggers import trusted_schema
from .fields import format_timestamp, to_iso, utcnow
from .filetypes import SNIFF_BYTES, decode_text, detect_mime, is_textual, looks_like_text

if TYPE_CHECKING:
    from . import Store
    from .search import SearchIndex, SearchResult

#: Bytes of text content that go into search_content (the Go server: 4 KiB).
INDEX_LIMIT = 256 * 1024
#: Chunks sent to SQLite per statement when storing content.
_CHUNK_BATCH = 32
_REF_BATCH = 300
#: gc() leaves younger unreferenced chunks alone (a live server may be about to link them).
GC_MIN_AGE = timedelta(hours=1)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

Content = bytes | bytearray | memoryview | str | BinaryIO


def go_default_checksum(sandbox_id: str, file_path: str) -> str:
    """The Go server's checksum for a file stored without a content hash."""
    return hashlib.sha256(f"{sandbox_id}:{file_path}".encode()).hexdigest()


# -- values handed out ---------------------------------------------------------------------

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


@dataclass
class _Stored:
    checksum: str
    size: int
    hashes: list[str]
    head: bytes  # the first INDEX_LIMIT bytes (for MIME sniffing and search_content)


# -- paths for export -------------------------------------------------------------------------

def safe_relative_path(stored_path: str) -> PurePosixPath:
    """Where a stored path goes inside an export folder; UnsafePath if outside it.

    A leading ``/`` (or a Windows drive) is taken as the sandbox's root, i.e. the export
    folder; ``..`` that would climb out of it is refused, not clipped.
    """
    if "\x00" in stored_path:
        raise errors.UnsafePath(f"The stored path {stored_path!r} contains a NUL byte; it cannot be exported.")
    text = stored_path.replace("\\", "/")
    if len(text) >= 2 and text[1] == ":" and text[0].isalpha():
        text = text[2:]  # C:/... -> /...
    parts: list[str] = []
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise errors.UnsafePath(
                    f"The stored path {stored_path!r} leads outside the export folder; "
                    "refusing to write it there. Export it to an explicit file name instead."
                )
            parts.pop()
            continue
        parts.append(part)
    if not parts:
        raise errors.UnsafePath(f"The stored path {stored_path!r} has no file name to export to.")
    return PurePosixPath(*parts)


@contextmanager
def _file_errors(path: Path) -> Iterator[None]:
    """What the operating system refuses (permissions, full disk, bad names) as a StorageError."""
    try:
        yield
    except OSError as exc:
        raise errors.StorageError(f"Cannot write {path}: {exc.strerror or exc}.", detail=str(exc)) from exc


def _within(path: Path, base: Path) -> bool:
    try:
        path.relative_to(base)
    except ValueError:
        return False
    return True


# -- the store -----------------------------------------------------------------------------------

class FileStore:
    """Files of one open store (``store.files``)."""

    def __init__(self, store: "Store", *, chunker: Chunker | None = None,
                 index_limit: int = INDEX_LIMIT) -> None:
        self.store = store
        self.db = store.db
        self.m = store.models
        self.chunker = chunker or default_chunker()
        self.index_limit = index_limit

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One write transaction in which the Go FTS triggers may run (see triggers.py)."""
        with self.store.transaction(), trusted_schema(self.store):
            yield

    # -- reading metadata --------------------------------------------------------------------
    def _select(self) -> peewee.ModelSelect:
        FM = self.m.FileMetadata
        return FM.select(
            FM.id, FM.sandbox, FM.file_path, FM.checksum, FM.size_bytes, FM.mime_type,
            FM.created_at, FM.updated_at, FM.version, FM.parent_file, FM.metadata,
            FM.access_count, FM.last_accessed, FM.deleted_at,
            fn.COALESCE(fn.length(Cast(FM.search_content, "BLOB")), 0).alias("indexed_bytes"),
        )

    @staticmethod
    def _record(row: dict[str, Any]) -> FileRecord:
        return FileRecord(
            id=row["id"],
            sandbox_id=row["sandbox"],
            file_path=row["file_path"],
            checksum=row["checksum"] or "",
            size_bytes=int(row["size_bytes"] or 0),
            mime_type=row["mime_type"] or "",
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            version=int(row["version"] or 0),
            parent_file_id=row["parent_file"],
            metadata=row["metadata"],
            access_count=int(row["access_count"] or 0),
            last_accessed=row["last_accessed"],
            deleted_at=row["deleted_at"],
            indexed_bytes=int(row["indexed_bytes"] or 0),
        )

    def _fetch(self, query: peewee.ModelSelect) -> list[FileRecord]:
        try:
            return [self._record(r) for r in query.dicts()]
        except (peewee.PeeweeException, OSError) as exc:
            raise errors.translate(exc, str(self.store.path)) from exc

    def get(self, file_id: int) -> FileRecord:
        """The file with this id, deleted or not."""
        FM = self.m.FileMetadata
        rows = self._fetch(self._select().where(FM.id == file_id))
        if not rows:
            raise errors.NotFound(f"There is no file with id {file_id}.")
        return rows[0]

    def get_by_path(self, sandbox_id: str, file_path: str, *, include_deleted: bool = False) -> FileRecord:
        """The newest row for this path in this sandbox (live only unless asked)."""
        FM = self.m.FileMetadata
        query = self._select().where((FM.sandbox == sandbox_id) & (FM.file_path == file_path))
        if not include_deleted:
            query = query.where(FM.deleted_at.is_null())
        rows = self._fetch(query.order_by(FM.id.desc()).limit(1))
        if not rows:
            raise errors.NotFound(f"Sandbox {sandbox_id} has no file {file_path}.")
        return rows[0]

    def list(
        self,
        sandbox_id: str | None = None,
        *,
        path_prefix: str | None = None,
        include_deleted: bool = False,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[FileRecord]:
        """Files in id order, a page at a time (pass the last id as ``after_id``)."""
        FM = self.m.FileMetadata
        query = self._select()
        if sandbox_id is not None:
            query = query.where(FM.sandbox == sandbox_id)
        if path_prefix:
            query = query.where(fn.substr(FM.file_path, 1, len(path_prefix)) == path_prefix)
        if not include_deleted:
            query = query.where(FM.deleted_at.is_null())
        if after_id is not None:
            query = query.where(FM.id > after_id)
        return self._fetch(query.order_by(FM.id).limit(max(1, limit)))

    def search_text(self, file_id: int) -> str:
        """The indexed text of a file (search_content)."""
        FM = self.m.FileMetadata
        value = FM.select(FM.search_content).where(FM.id == file_id).scalar()
        if value is None and not FM.select().where(FM.id == file_id).exists():
            raise errors.NotFound(f"There is no file with id {file_id}.")
        return value or ""

    # -- creating ------------------------------------------------------------------------------
    def _check_sandbox(self, sandbox_id: str) -> None:
        if not sandbox_id:
            raise errors.InvalidInput("A file needs a sandbox id.")
        Sandbox = self.m.Sandbox
        row = Sandbox.select(Sandbox.deleted_at).where(Sandbox.id == sandbox_id).tuples().first()
        if row is None:
            raise errors.NotFound(f"There is no sandbox {sandbox_id}; create it before adding files to it.")
        if row[0] is not None:
            raise errors.InvalidInput(f"Sandbox {sandbox_id} is deleted; recover it before adding files to it.")

    @staticmethod
    def _check_path(file_path: str) -> None:
        if not file_path or not file_path.strip():
            raise errors.InvalidInput("A file needs a path.")
        if "\x00" in file_path:
            raise errors.InvalidInput("A file path cannot contain a NUL character.")

    def create(
        self,
        sandbox_id: str,
        file_path: str,
        content: Content | None = None,
        *,
        mime_type: str | None = None,
        metadata: Any = None,
        search_content: str | None = None,
        checksum: str | None = None,
        size_bytes: int | None = None,
        parent_file_id: int | None = None,
    ) -> FileRecord:
        """Store a file. With ``content`` (bytes, str or a binary stream) the content is
        chunked and deduplicated, and checksum, size, MIME type and search text come from
        it; without, only the metadata is stored (checksum: the Go default)."""
        self.store.require_writable()
        self._check_path(file_path)
        if content is not None and (checksum is not None or size_bytes is not None):
            raise errors.InvalidInput("checksum and size_bytes come from the content when content is given.")
        FM, Ref = self.m.FileMetadata, self.m.FileChunkRef
        now = utcnow()
        with self._writing():
            self._check_sandbox(sandbox_id)
            if parent_file_id is not None and not FM.select().where(FM.id == parent_file_id).exists():
                raise errors.NotFound(f"There is no file with id {parent_file_id} to be the parent.")
            stored = self._store_chunks(content, now) if content is not None else None
            if stored is not None:
                sniff = stored.head[:SNIFF_BYTES]
                mime = mime_type or detect_mime(file_path, sniff)
                if search_content is None:
                    textual = is_textual(mime) and looks_like_text(sniff)
                    search_content = decode_text(stored.head[: self.index_limit]) if textual else ""
                checksum, size_bytes = stored.checksum, stored.size
            else:
                mime = mime_type or detect_mime(file_path)
                checksum = checksum or go_default_checksum(sandbox_id, file_path)
            file_id = FM.insert(
                sandbox=sandbox_id,
                file_path=file_path,
                checksum=checksum,
                size_bytes=int(size_bytes or 0),
                mime_type=mime,
                created_at=now,
                updated_at=now,
                version=1,
                parent_file=parent_file_id,
                metadata={} if metadata is None else metadata,
                search_content=search_content or "",
                access_count=0,
            ).execute()
            if stored is not None and stored.hashes:
                rows = [(file_id, h, i) for i, h in enumerate(stored.hashes)]
                for start in range(0, len(rows), _REF_BATCH):
                    Ref.insert_many(
                        rows[start:start + _REF_BATCH], fields=[Ref.file, Ref.chunk, Ref.chunk_order]
                    ).execute()
        return self.get(file_id)

    def _pieces(self, content: Content) -> Iterator[bytes | memoryview]:
        if isinstance(content, str):
            content = content.encode("utf-8")
        if isinstance(content, (bytes, bytearray, memoryview)):
            return self.chunker.split(content)
        if hasattr(content, "read"):
            return self.chunker.split_stream(content)
        raise errors.InvalidInput(f"File content must be bytes, text or a binary stream, not {type(content).__name__}.")

    def _store_chunks(self, content: Content, now: datetime) -> _Stored:
        """Write the content's chunks (new ones stored, known ones' ref_count raised)."""
        total = hashlib.sha256()
        size = 0
        hashes: list[str] = []
        head = bytearray()
        head_limit = max(self.index_limit, SNIFF_BYTES)
        batch: list[tuple[str, bytes | memoryview]] = []
        for piece in self._pieces(content):
            total.update(piece)
            size += len(piece)
            if len(head) < head_limit:
                head += piece[: head_limit - len(head)]
            digest = hashlib.sha256(piece).hexdigest()
            hashes.append(digest)
            batch.append((digest, piece))
            if len(batch) >= _CHUNK_BATCH:
                self._upsert_chunks(batch, now)
                batch = []
        if batch:
            self._upsert_chunks(batch, now)
        return _Stored(total.hexdigest(), size, hashes, bytes(head))

    def _upsert_chunks(self, batch: list[tuple[str, bytes | memoryview]], now: datetime) -> None:
        FC = self.m.FileChunk
        rows = [
            {FC.chunk_hash: h, FC.data: data, FC.size_bytes: len(data), FC.ref_count: 1, FC.created_at: now}
            for h, data in batch
        ]
        FC.insert_many(rows).on_conflict(
            conflict_target=[FC.chunk_hash], update={FC.ref_count: FC.ref_count + 1}
        ).execute()

    def new_version(
        self,
        file_id: int,
        content: Content | None = None,
        *,
        file_path: str | None = None,
        mime_type: str | None = None,
        metadata: Any = None,
        search_content: str | None = None,
    ) -> FileRecord:
        """A new row for a new version of ``file_id`` (its parent), in the same sandbox."""
        parent = self.get(file_id)
        if parent.is_deleted:
            raise errors.InvalidInput(f"File {file_id} is deleted; recover it before adding a version.")
        return self.create(
            parent.sandbox_id,
            file_path or parent.file_path,
            content,
            mime_type=mime_type,
            metadata=parent.metadata if metadata is None else metadata,
            search_content=search_content,
            parent_file_id=file_id,
        )

    # -- changing ---------------------------------------------------------------------------------
    def update(
        self,
        file_id: int,
        *,
        expected_version: int | None = None,
        file_path: str | None = None,
        mime_type: str | None = None,
        metadata: Any = None,
        search_content: str | None = None,
    ) -> FileRecord:
        """Change a file's metadata; bumps ``version`` and sets ``updated_at``.

        With ``expected_version`` the change happens only if nobody changed the row
        since (VersionConflict otherwise, carrying the current row).
        """
        self.store.require_writable()
        FM = self.m.FileMetadata
        changes: dict[Any, Any] = {FM.version: FM.version + 1, FM.updated_at: utcnow()}
        if file_path is not None:
            self._check_path(file_path)
            changes[FM.file_path] = file_path
        if mime_type is not None:
            changes[FM.mime_type] = mime_type
        if metadata is not None:
            changes[FM.metadata] = metadata
        if search_content is not None:
            changes[FM.search_content] = search_content
        with self._writing():
            query = FM.update(changes).where(FM.id == file_id)
            if expected_version is not None:
                query = query.where(FM.version == expected_version)
            if query.execute() == 0:
                current = self.get(file_id)  # NotFound if it is not there at all
                raise errors.VersionConflict(
                    f"File {file_id} was changed by someone else (now version {current.version}, "
                    f"you had {expected_version}). Reload it and make your change again.",
                    current=current,
                )
        return self.get(file_id)

    def delete(self, file_id: int) -> FileRecord:
        """Soft delete: the row and its content stay until purged."""
        return self._set_deleted(file_id, utcnow())

    def recover(self, file_id: int) -> FileRecord:
        """Undo a soft delete."""
        return self._set_deleted(file_id, None)

    def _set_deleted(self, file_id: int, when: datetime | None) -> FileRecord:
        self.store.require_writable()
        FM = self.m.FileMetadata
        with self._writing():
            record = self.get(file_id)
            if record.is_deleted == (when is not None):
                return record  # already so
            FM.update({FM.deleted_at: when, FM.updated_at: utcnow()}).where(FM.id == file_id).execute()
        return self.get(file_id)

    def purge(self, file_id: int) -> None:
        """Remove a soft-deleted file for good (its chunks stay until :meth:`gc`).

        Newer versions that pointed at it are re-linked to its parent, so a version
        chain stays connected.
        """
        self.store.require_writable()
        FM, Ref, FC = self.m.FileMetadata, self.m.FileChunkRef, self.m.FileChunk
        with self._writing():
            record = self.get(file_id)
            if not record.is_deleted:
                raise errors.InvalidInput(f"File {file_id} is not deleted; delete it before purging it.")
            counts = (
                Ref.select(Ref.chunk, fn.COUNT(Ref.chunk_order).alias("n"))
                .where(Ref.file == file_id)
                .group_by(Ref.chunk)
                .tuples()
            )
            for chunk_hash, n in list(counts):
                FC.update({FC.ref_count: fn.MAX(FC.ref_count - n, 0)}).where(FC.chunk_hash == chunk_hash).execute()
            Ref.delete().where(Ref.file == file_id).execute()
            FM.update({FM.parent_file: record.parent_file_id}).where(FM.parent_file == file_id).execute()
            self.m.FileContentCache.delete().where(self.m.FileContentCache.file == file_id).execute()
            FM.delete().where(FM.id == file_id).execute()

    def record_access(self, file_id: int) -> FileRecord:
        """Count an access (access_count + 1, last_accessed = now), leaving updated_at as
        it was - to the byte - despite the Go trigger (see the module docstring)."""
        self.store.require_writable()
        FM = self.m.FileMetadata
        with self._writing():
            changed = (
                FM.update({
                    FM.access_count: fn.COALESCE(FM.access_count, 0) + 1,
                    FM.last_accessed: utcnow(),
                    FM.updated_at: FM.updated_at.concat(peewee.Value("~", converter=False)),
                })
                .where(FM.id == file_id)
                .execute()
            )
            if not changed:
                raise errors.NotFound(f"There is no file with id {file_id}.")
            FM.update({FM.updated_at: fn.substr(FM.updated_at, 1, fn.length(FM.updated_at) - 1)}).where(
                FM.id == file_id
            ).execute()
        return self.get(file_id)

    # -- versions -------------------------------------------------------------------------------
    def ancestors(self, file_id: int) -> list[FileRecord]:
        """Older versions, nearest first (parent, grandparent, ...)."""
        result: list[FileRecord] = []
        seen = {file_id}
        parent = self.get(file_id).parent_file_id
        while parent is not None and parent not in seen:
            seen.add(parent)
            try:
                record = self.get(parent)
            except errors.NotFound:
                break  # a dangling parent id ends the chain
            result.append(record)
            parent = record.parent_file_id
        return result

    def descendants(self, file_id: int) -> list[FileRecord]:
        """Every newer version (children, their children, ...), oldest first."""
        FM = self.m.FileMetadata
        base = FM.select(FM.id).where(FM.parent_file == file_id).cte("newer", recursive=True, columns=("id",))
        Child = FM.alias()
        step = Child.select(Child.id).join(base, on=(Child.parent_file == base.c.id))
        tree = base.union(step)
        ids = tree.select_from(tree.c.id)
        query = self._select().where((FM.id.in_(ids)) & (FM.id != file_id)).with_cte(tree)
        return self._fetch(query.order_by(FM.created_at, FM.id))

    def versions(self, file_id: int, *, newest_first: bool = False) -> list[FileRecord]:
        """The whole version chain ``file_id`` belongs to, from its first version on."""
        chain = self.ancestors(file_id)
        root = chain[-1] if chain else self.get(file_id)
        result = [root, *self.descendants(root.id)]
        result.sort(key=lambda r: (r.created_at is None, r.created_at or datetime.min, r.id))
        return list(reversed(result)) if newest_first else result

    def diff(self, old_id: int, new_id: int, *, context: int = 3, max_bytes: int = 8 * 1024 * 1024) -> str:
        """A unified diff between two text files (usually two versions of one)."""
        texts = []
        labels = []
        for file_id in (old_id, new_id):
            record = self.get(file_id)
            data = self.read_content(file_id, max_bytes=max_bytes, verify=False)
            if not looks_like_text(data[:SNIFF_BYTES]):
                raise errors.InvalidInput(
                    f"File {file_id} ({record.file_path}) is binary; only text files can be compared."
                )
            texts.append(decode_text(data).splitlines(keepends=True))
            labels.append(f"{record.file_path} (id {record.id})")
        return "".join(difflib.unified_diff(texts[0], texts[1], labels[0], labels[1], n=context))

    # -- content ----------------------------------------------------------------------------------
    def _chunk_list(self, file_id: int) -> list[tuple[int, str]]:
        Ref = self.m.FileChunkRef
        query = (
            Ref.select(Ref.chunk_order, Ref.chunk)
            .where(Ref.file == file_id)
            .order_by(Ref.chunk_order, Ref.chunk)
            .tuples()
        )
        return list(query)

    def _chunk_data(self, file_id: int, chunk_hash: str) -> bytes:
        FC = self.m.FileChunk
        data = FC.select(FC.data).where(FC.chunk_hash == chunk_hash).scalar()
        if data is None:
            raise errors.ContentUnavailable(
                f"Chunk {chunk_hash[:12]}… of file {file_id} is missing from file_chunks; "
                "the file's content cannot be rebuilt. Restore the database from a backup."
            )
        return bytes(data)

    def open_content(self, file_id: int) -> ContentStream:
        """The content as a stream of blocks (one chunk in memory at a time).

        Sources, in order: the file's chunks; an empty file; the Go server's content
        cache; the indexed text when it is the whole file (small Go files). Raises
        ContentUnavailable when none holds it.
        """
        record = self.get(file_id)
        verifiable = record.has_content_checksum
        refs = self._chunk_list(file_id)
        if refs:
            def parts() -> Iterator[bytes]:
                for _order, chunk_hash in refs:
                    yield self._chunk_data(file_id, chunk_hash)

            return ContentStream(record, "chunks", verifiable, parts, chunk_count=len(refs))
        if record.size_bytes == 0 and record.checksum == EMPTY_SHA256:
            return ContentStream(record, "empty", True, lambda: iter(()))
        cached = self._cached_content(record)
        if cached is not None:
            return ContentStream(record, "cache", verifiable, lambda: _blocks(cached))
        text = self.search_text(file_id).encode("utf-8")
        if text and (
            hashlib.sha256(text).hexdigest() == record.checksum
            or (not verifiable and len(text) == record.size_bytes)
        ):
            return ContentStream(record, "search_content", verifiable, lambda: _blocks(text))
        raise errors.ContentUnavailable(
            f"File {file_id} ({record.file_path}) has no stored content: the server kept only "
            "its metadata" + (" and the first part of its text" if record.indexed_bytes else "") + "."
        )

    def _cached_content(self, record: FileRecord) -> bytes | None:
        Cache = self.m.FileContentCache
        row = (
            Cache.select(Cache.content_data, Cache.compressed, Cache.content_hash)
            .where(Cache.file == record.id)
            .tuples()
            .first()
        )
        if row is None or row[0] is None:
            return None
        data, compressed, content_hash = bytes(row[0]), row[1], row[2]
        if compressed:
            try:
                data = zlib.decompress(data, wbits=47)  # zlib or gzip header
            except zlib.error:
                return None
        digest = hashlib.sha256(data).hexdigest()
        return data if digest in (record.checksum, content_hash) else None

    def read_content(self, file_id: int, *, max_bytes: int = 64 * 1024 * 1024, verify: bool = True) -> bytes:
        """The whole content in memory (for previews and diffs; refuses big files)."""
        stream = self.open_content(file_id)
        if stream.record.size_bytes > max_bytes:
            raise errors.InvalidInput(
                f"File {file_id} is {stream.record.size_bytes:,} bytes, more than {max_bytes:,} "
                "that can be read at once; export it instead."
            )
        data = stream.read_all()
        if verify and stream.verified is False:
            raise errors.ChecksumMismatch(
                f"The content of file {file_id} does not match its checksum (sha256 {stream.sha256}, "
                f"recorded {stream.record.checksum}); it may be damaged."
            )
        return data

    def verify(self, file_id: int) -> VerifyResult:
        """Rebuild the content and compare it with the checksum; each chunk is checked too."""
        record = self.get(file_id)
        problems: list[str] = []
        try:
            stream = self.open_content(file_id)
        except errors.ContentUnavailable as exc:
            return VerifyResult(file_id, None, "none", None, record.checksum, record.size_bytes, [str(exc)])
        try:
            if stream.source == "chunks":
                refs = self._chunk_list(file_id)
                orders = [order for order, _h in refs]
                if orders != list(range(len(orders))):
                    problems.append("chunk_order is not 0, 1, 2, ...: some pieces are missing or repeated")
                digest = hashlib.sha256()
                size = 0
                for order, chunk_hash in refs:
                    data = self._chunk_data(file_id, chunk_hash)
                    if hashlib.sha256(data).hexdigest() != chunk_hash:
                        problems.append(f"chunk {order} ({chunk_hash[:12]}…) does not hash to its name")
                    digest.update(data)
                    size += len(data)
                sha = digest.hexdigest()
            else:
                data = stream.read_all()
                sha, size = stream.sha256, len(data)
        except errors.ContentUnavailable as exc:
            return VerifyResult(file_id, False, stream.source, None, record.checksum, record.size_bytes, [str(exc)])
        if size != record.size_bytes:
            problems.append(f"content is {size:,} bytes, size_bytes says {record.size_bytes:,}")
        ok: bool | None
        if stream.verifiable:
            ok = sha == record.checksum and not problems
            if sha != record.checksum:
                problems.append(f"sha256 {sha} differs from the recorded checksum {record.checksum}")
        else:
            ok = None if not problems else False
            problems.append("the checksum is the Go server's path hash, so the content cannot be verified")
        return VerifyResult(file_id, ok, stream.source, sha, record.checksum, size, problems)

    # -- export --------------------------------------------------------------------------------------
    def export_to_file(self, file_id: int, target: str | os.PathLike[str], *, overwrite: bool = False) -> ExportResult:
        """Write the content to exactly ``target`` (a path the person chose)."""
        path = Path(target).expanduser()
        with _file_errors(path):
            if not path.parent.is_dir():
                raise errors.InvalidInput(f"The folder {path.parent} does not exist; create it or choose another.")
            return self._write_export(file_id, path, overwrite)

    def export_into(self, file_id: int, folder: str | os.PathLike[str], *, overwrite: bool = False) -> ExportResult:
        """Write the content under ``folder`` at its stored path (``/app/main.py`` ->
        ``folder/app/main.py``), refusing any stored path that leads outside ``folder``."""
        base = Path(folder).expanduser()
        with _file_errors(base):
            if not base.is_dir():
                raise errors.InvalidInput(f"{base} is not a folder; create it or choose another.")
            base = base.resolve()
            record = self.get(file_id)
            relative = safe_relative_path(record.file_path)
            path = base.joinpath(*relative.parts)
            # Check the existing folders on the way (a symlink in the tree may point out).
            existing = path.parent
            while not existing.exists():
                existing = existing.parent
            if not _within(existing.resolve(), base):
                raise errors.UnsafePath(
                    f"Exporting {record.file_path} would write outside {base} (through a link at "
                    f"{existing}); refusing."
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            if not _within(path.parent.resolve(), base):
                raise errors.UnsafePath(f"Exporting {record.file_path} would write outside {base}; refusing.")
            return self._write_export(file_id, path, overwrite)

    def _write_export(self, file_id: int, path: Path, overwrite: bool) -> ExportResult:
        if path.is_dir():
            raise errors.InvalidInput(f"{path} is a folder; choose a file name.")
        if os.path.lexists(path) and not overwrite:
            raise errors.InvalidInput(f"{path} already exists; choose another name or allow overwriting (--force).")
        stream = self.open_content(file_id)
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".partial", dir=path.parent)
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                for block in stream:
                    handle.write(block)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)  # no half-written file is left behind
            raise
        assert stream.sha256 is not None
        return ExportResult(path, stream.bytes_read, stream.sha256, stream.verified, stream.record.checksum, stream.source)

    # -- chunk housekeeping ---------------------------------------------------------------------------
    def gc(self, *, dry_run: bool = False, min_age: timedelta = GC_MIN_AGE) -> GCResult:
        """Delete chunks no file references and set every ref_count to the real count.

        Only chunks older than ``min_age`` go: the Go server stores a chunk and links it
        to its file in two separate transactions, so a brand-new unreferenced chunk may be
        about to be used by a server writing right now.
        """
        if not dry_run:
            self.store.require_writable()
        FC, Ref = self.m.FileChunk, self.m.FileChunkRef
        removable = ~fn.EXISTS(Ref.select(peewee.SQL("1")).where(Ref.chunk == FC.chunk_hash))
        if min_age > timedelta(0):
            cutoff = format_timestamp(utcnow() - min_age)
            removable &= FC.created_at.is_null() | (fn.julianday(FC.created_at) <= fn.julianday(cutoff))
        real = Ref.select(fn.COUNT(peewee.SQL("*"))).where(Ref.chunk == FC.chunk_hash)
        wrong = fn.COALESCE(FC.ref_count, -1) != real
        totals = FC.select(fn.COUNT(FC.chunk_hash), fn.COALESCE(fn.SUM(FC.size_bytes), 0)).where(removable)
        with self.store.connection():
            if dry_run:
                count, freed = totals.tuples().get()
                fixed = FC.select().where(wrong & ~removable).count()
                return GCResult(int(count), int(freed), int(fixed), True)
            with self._writing():
                count, freed = totals.tuples().get()
                FC.delete().where(removable).execute()  # nothing refers to them: no cascade
                fixed = FC.update({FC.ref_count: real}).where(wrong).execute()
        return GCResult(int(count), int(freed), int(fixed), False)

    def storage_stats(self) -> StorageStats:
        """Counts and dedup ratios, overall and per sandbox (see the module docstring)."""
        FM, FC, Ref = self.m.FileMetadata, self.m.FileChunk, self.m.FileChunkRef
        live = FM.deleted_at.is_null()
        live_files = FM.select().where(live).count()
        deleted_files = FM.select().where(~live).count()
        chunks, physical = FC.select(fn.COUNT(FC.chunk_hash), fn.COALESCE(fn.SUM(FC.size_bytes), 0)).tuples().get()
        logical = (
            Ref.select(FM.sandbox, fn.COUNT(fn.DISTINCT(FM.id)), fn.SUM(FC.size_bytes), fn.COUNT(Ref.chunk_order))
            .join(FM, on=(Ref.file == FM.id))
            .switch(Ref)
            .join(FC, on=(Ref.chunk == FC.chunk_hash))
            .where(live)
            .group_by(FM.sandbox)
            .tuples()
        )
        distinct = (
            Ref.select(FM.sandbox.alias("sid"), FC.chunk_hash, FC.size_bytes.alias("size"))
            .join(FM, on=(Ref.file == FM.id))
            .switch(Ref)
            .join(FC, on=(Ref.chunk == FC.chunk_hash))
            .where(live)
            .distinct()
        )
        per_physical = dict(
            FM.select(distinct.c.sid, fn.SUM(distinct.c.size)).from_(distinct).group_by(distinct.c.sid).tuples()
        )
        per_sandbox: dict[str, DedupStats] = {}
        total_files = total_logical = total_refs = 0
        for sandbox_id, files, nbytes, nrefs in logical:
            per_sandbox[sandbox_id] = DedupStats(int(files), int(nbytes or 0), int(per_physical.get(sandbox_id) or 0), int(nrefs))
            total_files += int(files)
            total_logical += int(nbytes or 0)
            total_refs += int(nrefs)
        unref_count, unref_bytes = FC.select(fn.COUNT(FC.chunk_hash), fn.COALESCE(fn.SUM(FC.size_bytes), 0)).where(
            ~fn.EXISTS(Ref.select(peewee.SQL("1")).where(Ref.chunk == FC.chunk_hash))
        ).tuples().get()
        live_ref = Ref.select(peewee.SQL("1")).join(FM, on=(Ref.file == FM.id)).where(
            (Ref.chunk == FC.chunk_hash) & live
        )
        deleted_only = FC.select(fn.COALESCE(fn.SUM(FC.size_bytes), 0)).where(
            fn.EXISTS(Ref.select(peewee.SQL("1")).where(Ref.chunk == FC.chunk_hash)) & ~fn.EXISTS(live_ref)
        ).scalar()
        return StorageStats(
            live_files=live_files,
            deleted_files=deleted_files,
            overall=DedupStats(total_files, total_logical, int(physical), total_refs),
            chunks=int(chunks),
            unreferenced_chunks=int(unref_count),
            unreferenced_bytes=int(unref_bytes),
            deleted_only_bytes=int(deleted_only or 0),
            per_sandbox=per_sandbox,
        )

    # -- search ------------------------------------------------------------------------------------
    def search(self, query: str, **filters: Any) -> "SearchResult":
        """Full-text search; see :func:`.search.search_files` for the filters."""
        from .search import search_files

        return search_files(self.store, query, **filters)

    @property
    def index(self) -> "SearchIndex":
        """Rebuild / optimize / check the full-text index."""
        from .search import SearchIndex

        return SearchIndex(self.store)


def _blocks(data: bytes, size: int = 1024 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def content_from_path(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a local file as content for :meth:`FileStore.create` (streamed)."""
    return open(path, "rb")


__all__ = [
    "FileStore", "FileRecord", "ContentStream", "VerifyResult", "ExportResult", "GCResult",
    "DedupStats", "StorageStats", "safe_relative_path", "go_default_checksum", "INDEX_LIMIT",
    "content_from_path", "index_state",
]
