"""File contents: chunks stored once under their sha256, streamed back and verified.

A file is its ``file_chunk_refs`` rows' chunks concatenated in ``chunk_order``. Chunks
are ref-counted; :meth:`ContentStore.gc` trusts the references, not ``ref_count`` (the
Go server never decrements it), and repairs the counts.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator

import peewee
from peewee import fn

from .. import errors
from ..fields import format_timestamp, utcnow
from .chunking import Chunker
from .records import (
    EMPTY_SHA256,
    Content,
    ContentStream,
    DedupStats,
    FileRecord,
    GCResult,
    StorageStats,
    VerifyResult,
)

if TYPE_CHECKING:
    from .store import FileStore

#: Chunks sent to SQLite per statement when storing content.
_CHUNK_BATCH = 32
#: gc() leaves younger unreferenced chunks alone (a live server may be about to link them).
GC_MIN_AGE = timedelta(hours=1)


@dataclass
class _Stored:
    checksum: str
    size: int
    hashes: list[str]
    head: bytes  # the first INDEX_LIMIT bytes (for MIME sniffing and search_content)


class ContentStore:
    """The content side of a :class:`FileStore` (``store.files.content``)."""

    def __init__(self, files: "FileStore", chunker: Chunker, head_limit: int) -> None:
        self.files = files
        self.store = files.store
        self.m = files.m
        self.chunker = chunker
        self.head_limit = head_limit

    # -- storing -----------------------------------------------------------------------------
    def _pieces(self, content: Content) -> Iterator[bytes | memoryview]:
        if isinstance(content, str):
            content = content.encode("utf-8")
        if isinstance(content, (bytes, bytearray, memoryview)):
            return self.chunker.split(content)
        if hasattr(content, "read"):
            return self.chunker.split_stream(content)
        raise errors.InvalidInput(f"File content must be bytes, text or a binary stream, not {type(content).__name__}.")

    def store_chunks(self, content: Content, now: datetime) -> _Stored:
        """Write the content's chunks (new ones stored, known ones' ref_count raised)."""
        total = hashlib.sha256()
        size = 0
        hashes: list[str] = []
        head = bytearray()
        head_limit = self.head_limit
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

    # -- reading ----------------------------------------------------------------------------------
    def chunk_list(self, file_id: int) -> list[tuple[int, str]]:
        Ref = self.m.FileChunkRef
        query = (
            Ref.select(Ref.chunk_order, Ref.chunk)
            .where(Ref.file == file_id)
            .order_by(Ref.chunk_order, Ref.chunk)
            .tuples()
        )
        return list(query)

    def chunk_data(self, file_id: int, chunk_hash: str) -> bytes:
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
        record = self.files.get(file_id)
        verifiable = record.has_content_checksum
        refs = self.chunk_list(file_id)
        if refs:
            def parts() -> Iterator[bytes]:
                for _order, chunk_hash in refs:
                    yield self.chunk_data(file_id, chunk_hash)

            return ContentStream(record, "chunks", verifiable, parts, chunk_count=len(refs))
        if record.size_bytes == 0 and record.checksum == EMPTY_SHA256:
            return ContentStream(record, "empty", True, lambda: iter(()))
        cached = self._cached_content(record)
        if cached is not None:
            return ContentStream(record, "cache", verifiable, cached)
        text = self.files.search_text(file_id).encode("utf-8")
        if text and (
            hashlib.sha256(text).hexdigest() == record.checksum
            or (not verifiable and len(text) == record.size_bytes)
        ):
            return ContentStream(record, "search_content", verifiable, lambda: _blocks(text))
        raise errors.ContentUnavailable(
            f"File {file_id} ({record.file_path}) has no stored content: the server kept only "
            "its metadata" + (" and the first part of its text" if record.indexed_bytes else "") + "."
        )

    def _cached_content(self, record: FileRecord) -> Callable[[], Iterator[bytes]] | None:
        """The Go server's cached copy as a block source, when it holds this file's
        content. A compressed cell is inflated as a stream, never whole, and never past
        the file's recorded size (or CACHE_INFLATE_LIMIT): a cell that inflates further
        (a decompression bomb) is not this file's content."""
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
            limit = record.size_bytes if record.size_bytes > 0 else CACHE_INFLATE_LIMIT
            limit = min(limit, CACHE_INFLATE_LIMIT)

            def source() -> Iterator[bytes]:
                return _inflate(data, limit)
        else:
            def source() -> Iterator[bytes]:
                return _blocks(data)
        digest = hashlib.sha256()
        try:
            for block in source():  # one bounded pass to check it is this file's content
                digest.update(block)
        except (zlib.error, _TooBig):
            return None
        return source if digest.hexdigest() in (record.checksum, content_hash) else None

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
        record = self.files.get(file_id)
        problems: list[str] = []
        try:
            stream = self.open_content(file_id)
        except errors.ContentUnavailable as exc:
            return VerifyResult(file_id, None, "none", None, record.checksum, record.size_bytes, [str(exc)])
        try:
            if stream.source == "chunks":
                refs = self.chunk_list(file_id)
                orders = [order for order, _h in refs]
                if orders != list(range(len(orders))):
                    problems.append("chunk_order is not 0, 1, 2, ...: some pieces are missing or repeated")
                digest = hashlib.sha256()
                size = 0
                for order, chunk_hash in refs:
                    data = self.chunk_data(file_id, chunk_hash)
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
            with self.files.writing():
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




#: The most a compressed cache cell is inflated to when its file's size is unknown.
CACHE_INFLATE_LIMIT = 256 * 1024 * 1024
_INFLATE_BLOCK = 1024 * 1024


class _TooBig(Exception):
    pass


def _inflate(data: bytes, limit: int) -> Iterator[bytes]:
    """zlib or gzip ``data`` inflated a block at a time; _TooBig past ``limit`` bytes."""
    inflater = zlib.decompressobj(wbits=47)  # zlib or gzip header
    pending = data
    total = 0
    while pending:
        block = inflater.decompress(pending, _INFLATE_BLOCK)
        pending = inflater.unconsumed_tail
        total += len(block)
        if total > limit:
            raise _TooBig()
        if block:
            yield block
        if inflater.eof:
            break
        if not block and not pending:
            break
    rest = inflater.flush()
    total += len(rest)
    if total > limit:
        raise _TooBig()
    if rest:
        yield rest


def _blocks(data: bytes, size: int = 1024 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]



def content_from_path(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a local file as content for :meth:`FileStore.create` (streamed)."""
    return open(path, "rb")
