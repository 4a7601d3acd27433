"""What the Files pane asks the database, as plain functions run in JobRunner workers.

Nothing here touches Qt widgets; each function takes the store and returns plain
values the pane shows on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...storage import SNIFF_BYTES, Store, decode_text, errors, looks_like_text

#: Text previews show at most this much of a file.
TEXT_PREVIEW_BYTES = 64 * 1024
#: Binary previews show a hex dump of this much.
HEX_PREVIEW_BYTES = 4 * 1024


@dataclass(frozen=True)
class Filters:
    """The filter fields of the pane (empty string = not set)."""

    sandbox_id: str = ""
    mime_prefix: str = ""
    path_prefix: str = ""
    include_deleted: bool = False

    def search_kwargs(self) -> dict[str, Any]:
        return {
            "sandbox_id": self.sandbox_id or None,
            "mime_prefix": self.mime_prefix or None,
            "path_prefix": self.path_prefix or None,
            "include_deleted": self.include_deleted,
        }


def list_newest(store: Store, flt: Filters, before_id: int | None,
                limit: int) -> tuple[list[Any], bool, dict[int, int]]:
    """Files newest first, a page at a time, each version chain once (its newest row).
    Returns (records, has_more, versions per record id)."""
    rows = store.files.list(
        flt.sandbox_id or None,
        path_prefix=flt.path_prefix or None,
        mime_prefix=flt.mime_prefix or None,
        include_deleted=flt.include_deleted,
        after_id=before_id,
        newest_first=True,
        latest_only=True,
        limit=limit + 1,
    )
    page = rows[:limit]
    return page, len(rows) > limit, store.files.version_counts([r.id for r in page])


def older_versions(store: Store, file_id: int) -> list[Any]:
    """A file's older versions, nearest first (for expanding its row)."""
    return store.files.ancestors(file_id)


def sandbox_ids(store: Store) -> list[str]:
    """Sandboxes that have files (for the sandbox filter's completer)."""
    return store.files.sandbox_ids()


@dataclass
class Preview:
    kind: str  # "text", "hex" or "none"
    text: str
    shown_bytes: int
    total_bytes: int
    source: str = ""
    note: str = ""


@dataclass
class FileDetails:
    """Everything the detail side shows about one file."""

    record: Any  # storage.files.FileRecord
    versions: list[Any] = field(default_factory=list)
    preview: Preview | None = None


def hex_dump(data: bytes, width: int = 16) -> str:
    """Offset, hex bytes and printable ASCII, ``width`` bytes a line."""
    lines = []
    for start in range(0, len(data), width):
        row = data[start:start + width]
        hexes = " ".join(f"{b:02x}" for b in row)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{start:08x}  {hexes:<{width * 3 - 1}}  {text}")
    return "\n".join(lines)


def read_preview(store: Store, file_id: int, ctx: Any = None) -> Preview:
    """The first part of a file's content: text (64 KiB) or a hex dump (4 KiB)."""
    try:
        stream = store.files.open_content(file_id)
    except errors.ContentUnavailable as exc:
        return Preview("none", "", 0, 0, note=str(exc))
    head = bytearray()
    try:
        for block in stream:  # stop early: a big file is not read to its end
            head += block
            if ctx is not None:
                ctx.check_cancelled()
            if len(head) >= TEXT_PREVIEW_BYTES:
                break
    except errors.ContentUnavailable as exc:  # a chunk is missing
        return Preview("none", "", 0, stream.record.size_bytes, stream.source, note=str(exc))
    total = stream.record.size_bytes
    data = bytes(head[:TEXT_PREVIEW_BYTES])
    if looks_like_text(data[:SNIFF_BYTES]):
        text = decode_text(data)
        note = f"first {len(data):,} of {total:,} bytes" if len(data) < total else ""
        return Preview("text", text, len(data), total, stream.source, note)
    data = data[:HEX_PREVIEW_BYTES]
    note = f"binary: first {len(data):,} of {total:,} bytes as hex" if len(data) < total else "binary"
    return Preview("hex", hex_dump(data), len(data), total, stream.source, note)


def load_details(store: Store, file_id: int, ctx: Any = None) -> FileDetails:
    record = store.files.get(file_id)
    versions = store.files.versions(file_id)
    return FileDetails(record, versions, read_preview(store, file_id, ctx))
