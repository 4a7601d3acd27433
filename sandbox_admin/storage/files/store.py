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
import os
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterator

import peewee
from peewee import Cast, fn

from .. import errors
from ..fields import utcnow
from ..triggers import trusted_schema
from . import export
from .chunking import Chunker, default_chunker
from .content import GC_MIN_AGE, ContentStore
from .filetypes import (
    SNIFF_BYTES,
    decode_text,
    detect_mime,
    is_textual,
    looks_like_text,
)
from .records import (
    INDEX_LIMIT,
    Content,
    ContentStream,
    ExportResult,
    FileRecord,
    GCResult,
    StorageStats,
    VerifyResult,
    go_default_checksum,
)

if TYPE_CHECKING:
    from ..store import Store
    from .search import SearchResult
    from .search_index import SearchIndex

_REF_BATCH = 300


class FileStore:
    """Files of one open store (``store.files``)."""

    def __init__(self, store: "Store", *, chunker: Chunker | None = None,
                 index_limit: int = INDEX_LIMIT) -> None:
        self.store = store
        self.db = store.db
        self.m = store.models
        self.index_limit = index_limit
        self.content = ContentStore(self, chunker or default_chunker(), max(index_limit, SNIFF_BYTES))

    @property
    def chunker(self) -> Chunker:
        return self.content.chunker

    @contextmanager
    def writing(self) -> Iterator[None]:
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
        with errors.translated(self.store.path, os_errors=True):
            return [self._record(r) for r in query.dicts()]

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
        mime_prefix: str | None = None,
        include_deleted: bool = False,
        after_id: int | None = None,
        newest_first: bool = False,
        latest_only: bool = False,
        limit: int = 100,
    ) -> list[FileRecord]:
        """Files a page at a time, by id (the table is AUTOINCREMENT, so id order is
        insertion order): oldest first, or ``newest_first``. Pass the last id of a page
        as ``after_id`` for the next one (keyset paging, never OFFSET). ``latest_only``
        keeps each version chain's newest row (older versions: :meth:`ancestors`) on a
        database that has migration 10's index; without it every row is listed, since
        finding the newest rows would read the whole table for each page."""
        FM = self.m.FileMetadata
        query = self._select()
        if sandbox_id is not None:
            query = query.where(FM.sandbox == sandbox_id)
        if path_prefix:
            query = query.where(fn.substr(FM.file_path, 1, len(path_prefix)) == path_prefix)
        if mime_prefix:
            prefix = mime_prefix.lower()
            query = query.where(fn.lower(fn.substr(FM.mime_type, 1, len(prefix))) == prefix)
        if not include_deleted:
            query = query.where(FM.deleted_at.is_null())
        if after_id is not None:
            query = query.where(FM.id < after_id if newest_first else FM.id > after_id)
        if latest_only and self.chains_indexed():
            Newer = FM.alias()
            newer = Newer.select(peewee.SQL("1")).where(Newer.parent_file == FM.id)
            if not include_deleted:
                newer = newer.where(Newer.deleted_at.is_null())
            query = query.where(~fn.EXISTS(newer))
        order = FM.id.desc() if newest_first else FM.id
        return self._fetch(query.order_by(order).limit(max(1, limit)))

    def chains_indexed(self) -> bool:
        """Whether newer versions can be found by index (migration 10)."""
        query = "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?"
        with errors.translated(self.store.path):
            return self.db.execute_sql(query, ("admin_idx_file_metadata_parent",)).fetchone() is not None

    def version_counts(self, file_ids: list[int]) -> dict[int, int]:
        """How many versions each file's chain has up to it (itself and its ancestors);
        one recursive query for a page of ids. A chain that loops is cut at 10,000."""
        if not file_ids:
            return {}
        FM = self.m.FileMetadata
        base = (FM.select(FM.id.alias("head"), FM.parent_file.alias("parent"), peewee.Value(1).alias("depth"))
                .where(FM.id.in_(list(file_ids))).cte("chain", recursive=True, columns=("head", "parent", "depth")))
        Older = FM.alias()
        step = (Older.select(base.c.head, Older.parent_file, base.c.depth + 1)
                .join(base, on=(Older.id == base.c.parent)).where(base.c.depth < 10_000))
        chain = base.union_all(step)
        query = chain.select_from(chain.c.head, fn.COUNT(peewee.SQL("*"))).group_by(chain.c.head)
        with errors.translated(self.store.path):
            return {int(head): int(n) for head, n in query.bind(self.db).tuples()}

    def sandbox_ids(self) -> list[str]:
        """Sandboxes that have files, in id order."""
        FM = self.m.FileMetadata
        query = FM.select(FM.sandbox).distinct().order_by(FM.sandbox).tuples()
        with errors.translated(self.store.path):
            return [r[0] for r in query]

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
        with self.writing():
            self._check_sandbox(sandbox_id)
            if parent_file_id is not None and not FM.select().where(FM.id == parent_file_id).exists():
                raise errors.NotFound(f"There is no file with id {parent_file_id} to be the parent.")
            stored = self.content.store_chunks(content, now) if content is not None else None
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
        with self.writing():
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
        with self.writing():
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
        with self.writing():
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
        with self.writing():
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

    # -- content (see content.py and export.py) ---------------------------------------------
    def open_content(self, file_id: int) -> ContentStream:
        """The content as a stream of blocks; see :meth:`ContentStore.open_content`."""
        return self.content.open_content(file_id)

    def read_content(self, file_id: int, *, max_bytes: int = 64 * 1024 * 1024, verify: bool = True) -> bytes:
        return self.content.read_content(file_id, max_bytes=max_bytes, verify=verify)

    def verify(self, file_id: int) -> VerifyResult:
        return self.content.verify(file_id)

    def export_to_file(self, file_id: int, target: str | os.PathLike[str], *, overwrite: bool = False) -> ExportResult:
        """Write the content to exactly ``target`` (a path the person chose)."""
        return export.export_to_file(self.content, file_id, target, overwrite=overwrite)

    def export_into(self, file_id: int, folder: str | os.PathLike[str], *, overwrite: bool = False) -> ExportResult:
        """Write the content under ``folder`` at its stored path, never outside it."""
        return export.export_into(self.content, file_id, folder, overwrite=overwrite)

    def gc(self, *, dry_run: bool = False, min_age: timedelta = GC_MIN_AGE) -> GCResult:
        return self.content.gc(dry_run=dry_run, min_age=min_age)

    def storage_stats(self) -> StorageStats:
        return self.content.storage_stats()

    # -- search ------------------------------------------------------------------------------------
    def search(self, query: str, **filters: Any) -> "SearchResult":
        """Full-text search; see :func:`.search.search_files` for the filters."""
        from .search import search_files

        return search_files(self.store, query, **filters)

    def search_first(self, query: str, **filters: Any) -> "SearchResult | None":
        """A first page quickly (``provisional``, or final when that was cheap), to show
        while :meth:`search` ranks every match; see :func:`.first_page.first_page`."""
        from .first_page import first_page

        return first_page(self.store, query, **filters)

    @property
    def index(self) -> "SearchIndex":
        """Rebuild / optimize / check the full-text index."""
        from .search_index import SearchIndex

        return SearchIndex(self.store)

