"""Writing a stored file's content to disk, never outside the folder asked for."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Iterator

from .. import errors
from ..outfile import output_file
from .records import ExportResult

if TYPE_CHECKING:
    from .content import ContentStore


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


    # -- export --------------------------------------------------------------------------------------
def export_to_file(content: "ContentStore", file_id: int, target: str | os.PathLike[str], *, overwrite: bool = False) -> ExportResult:
    """Write the content to exactly ``target`` (a path the person chose)."""
    path = Path(target).expanduser()
    with _file_errors(path):
        return _write_export(content, file_id, path, overwrite)

def export_into(content: "ContentStore", file_id: int, folder: str | os.PathLike[str], *, overwrite: bool = False) -> ExportResult:
    """Write the content under ``folder`` at its stored path (``/app/main.py`` ->
    ``folder/app/main.py``), refusing any stored path that leads outside ``folder``."""
    base = Path(folder).expanduser()
    with _file_errors(base):
        if not base.is_dir():
            raise errors.InvalidInput(f"{base} is not a folder; create it or choose another.")
        base = base.resolve()
        record = content.files.get(file_id)
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
        if not _within(path.parent.resolve(), base) or not _within(path.resolve(), base):
            raise errors.UnsafePath(f"Exporting {record.file_path} would write outside {base}; refusing.")
        return _write_export(content, file_id, path, overwrite)

def _write_export(content: "ContentStore", file_id: int, path: Path, overwrite: bool) -> ExportResult:
    if os.path.lexists(path) and not path.is_dir() and not overwrite:
        raise errors.InvalidInput(f"{path} already exists; choose another name or allow overwriting it.",
                                  cli_hint="--force overwrites it")
    stream = content.open_content(file_id)
    with output_file(path, overwrite=overwrite) as handle:
        for block in stream:
            handle.write(block)
    assert stream.sha256 is not None
    return ExportResult(path, stream.bytes_read, stream.sha256, stream.verified, stream.record.checksum, stream.source)
