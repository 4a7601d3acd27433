"""ContentCache: the Go server's file content cache (``file_content_cache``, migration 4).

One row per file: its content (possibly compressed), the content's sha256, when it was
cached, how often and when it was last read. :meth:`ContentCache.stats` sums it up,
:meth:`entries` lists it least recently used first (keyset paged),
:meth:`evict_to` deletes least-recently-accessed entries until what is left fits a
size budget, :meth:`clear` empties it. Recency is ``last_accessed``, or ``cached_at``
for an entry never read, compared as instants (``julianday``), never as text.

The cache only holds copies: deleting from it loses nothing (the content stays in
``file_chunks``); the Go server fills it again on the next read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from peewee import JOIN, SQL, fn

from .. import errors
from ..fields import format_timestamp, parse_timestamp, utcnow

if TYPE_CHECKING:
    from ..store import Store

#: Rows deleted per statement when evicting (SQLite's bound-parameter limit is far above).
DELETE_BATCH = 500


@dataclass(frozen=True)
class CacheStats:
    entries: int
    bytes: int
    compressed: int
    hits: int
    oldest_access: datetime | None
    newest_access: datetime | None
    oldest_cached: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CacheEntry:
    file_id: int
    file_path: str
    sandbox_id: str
    content_hash: str
    size_bytes: int
    compressed: bool
    cached_at: datetime | None
    access_count: int
    last_accessed: datetime | None
    #: recency as julianday, the keyset of :meth:`ContentCache.entries`
    key: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "key"}


@dataclass(frozen=True)
class EvictResult:
    removed: int
    freed_bytes: int
    remaining_entries: int
    remaining_bytes: int
    budget: int
    removed_ids: list[int]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ContentCache:
    """The content cache of one :class:`~sandbox_admin.storage.Store`; thread-safe."""

    def __init__(self, store: "Store") -> None:
        self.store = store
        self.db = store.db
        self.models = store.models

    def _recency(self) -> Any:
        C = self.models.FileContentCache
        return fn.COALESCE(fn.julianday(fn.COALESCE(C.last_accessed, C.cached_at)), SQL("-1"))

    def _size(self) -> Any:
        return fn.COALESCE(fn.length(self.models.FileContentCache.content_data), 0)

    @errors.translated.method
    def stats(self) -> CacheStats:
        C = self.models.FileContentCache
        recency = self._recency()
        n, size, compressed, hits = self.db.execute(C.select(
            fn.COUNT(SQL("*")), fn.SUM(self._size()), fn.SUM(fn.COALESCE(C.compressed, 0) != 0),
            fn.SUM(fn.COALESCE(C.access_count, 0)))).fetchone()

        def first(field: Any, key: Any, newest: bool = False) -> datetime | None:
            """The stored text of the first row by ``key`` (exact, unlike a julianday)."""
            order = key.desc() if newest else key.asc()
            row = self.db.execute(C.select(field).where(key >= 0).order_by(order).limit(1)).fetchone()
            return parse_timestamp(row[0]) if row else None

        last = fn.COALESCE(C.last_accessed, C.cached_at)
        cached = fn.COALESCE(fn.julianday(C.cached_at), SQL("-1"))
        return CacheStats(int(n or 0), int(size or 0), int(compressed or 0), int(hits or 0),
                          first(last, recency), first(last, recency, newest=True), first(C.cached_at, cached))

    @errors.translated.method
    def entries(self, *, after: tuple[float, int] | None = None, limit: int = 200) -> list[CacheEntry]:
        """Entries least recently accessed first (the order :meth:`evict_to` removes them);
        ``after`` is the last entry's ``(key, file_id)``."""
        C, F = self.models.FileContentCache, self.models.FileMetadata
        recency = self._recency()
        file_id = C._meta.columns["file_id"]
        query = (C.select(file_id, F.file_path, F._meta.columns["sandbox_id"], C.content_hash,
                          self._size(), C.compressed, C.cached_at, C.access_count, C.last_accessed, recency)
                 .join(F, on=(file_id == F.id), join_type=JOIN.LEFT_OUTER))
        if after is not None:
            query = query.where((recency > after[0]) | ((recency == after[0]) & (file_id > after[1])))
        rows = self.db.execute(query.order_by(recency, file_id).limit(limit)).fetchall()
        return [CacheEntry(int(r[0]), r[1] or "", r[2] or "", r[3] or "", int(r[4] or 0),
                           bool(r[5]), parse_timestamp(r[6]), int(r[7] or 0), parse_timestamp(r[8]),
                           float(r[9])) for r in rows]

    @errors.translated.method
    def put(self, file_id: int, data: bytes, *, compressed: bool = False,
            at: datetime | None = None) -> None:
        """Cache ``data`` for a file (replacing what was cached), as the Go server does."""
        when = format_timestamp(at or utcnow())
        C = self.models.FileContentCache
        with self.store.transaction():
            C.insert(file=file_id, content_hash=hashlib.sha256(data).hexdigest(), content_data=data,
                     compressed=compressed, cached_at=when, access_count=0, last_accessed=when,
                     ).on_conflict_replace().execute()

    @errors.translated.method
    def touch(self, file_id: int, *, at: datetime | None = None) -> bool:
        """Count a read of a cached file (``access_count + 1``, ``last_accessed``)."""
        C = self.models.FileContentCache
        with self.store.transaction():
            return bool(C.update(access_count=fn.COALESCE(C.access_count, 0) + 1,
                                 last_accessed=format_timestamp(at or utcnow()))
                        .where(C._meta.columns["file_id"] == file_id).execute())

    @errors.translated.method
    def evict_to(self, budget_bytes: int) -> EvictResult:
        """Delete least-recently-accessed entries until the cached bytes fit ``budget_bytes``
        (ties: fewer reads first, then the lower file id). One transaction."""
        if isinstance(budget_bytes, bool) or not isinstance(budget_bytes, int) or budget_bytes < 0:
            raise errors.InvalidInput(f"A cache budget is 0 or more bytes, not {budget_bytes!r}.")
        C = self.models.FileContentCache
        file_id = C._meta.columns["file_id"]
        with self.store.transaction():
            rows = self.db.execute(C.select(file_id, self._size()).order_by(
                self._recency(), fn.COALESCE(C.access_count, 0), file_id)).fetchall()
            total = sum(int(size) for _, size in rows)
            remaining, victims = total, []
            for fid, size in rows:
                if remaining <= budget_bytes:
                    break
                victims.append(int(fid))
                remaining -= int(size)
            for i in range(0, len(victims), DELETE_BATCH):
                C.delete().where(file_id.in_(victims[i:i + DELETE_BATCH])).execute()
        return EvictResult(len(victims), total - remaining, len(rows) - len(victims), remaining,
                           budget_bytes, victims)

    @errors.translated.method
    def clear(self) -> EvictResult:
        """Empty the cache."""
        return self.evict_to(0)
