"""Writing an output file a person named, without clobbering what must not be clobbered.

The one way exports (``export-file``, ``export-metrics -o``) write to disk:

- a new name: a temporary file in the same folder, renamed into place when complete;
  a killed export leaves only a ``.NAME.PID-XXXX.partial`` file, which the next export
  into that folder removes once its process is gone;
- an existing regular file is replaced only with consent (``overwrite``); a SQLite
  database (by its header) only with ``overwrite`` itself, never by ``overwrite_plain``;
- a symbolic link: what it points to is written, with these same rules; the link stays;
- a character device or a FIFO (``/dev/stdout``, ``/dev/null``, a named pipe): written
  through in place, never replaced by a regular file;
- a folder, a socket or a block device: refused.
"""

from __future__ import annotations

import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from . import errors
from .database import SQLITE_MAGIC

PARTIAL_SUFFIX = ".partial"


def _is_sqlite(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        return os.read(fd, len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, belongs to someone else
        return True
    return True


def remove_stale_partials(folder: Path) -> list[Path]:
    """Delete ``.NAME.PID-XXXX.partial`` files whose exporting process is gone."""
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for p in entries:
        name = p.name
        if not (name.startswith(".") and name.endswith(PARTIAL_SUFFIX)):
            continue
        tag = name[: -len(PARTIAL_SUFFIX)].rsplit(".", 1)[-1]
        pid_text, sep, token = tag.partition("-")
        if not (sep and pid_text.isdigit() and len(token) == 8):
            continue
        if _pid_alive(int(pid_text)):  # still being written (or by us: not stale)
            continue
        # a database built under this name leaves its -wal/-shm/-journal beside it
        for leftover in (p, *(p.with_name(name + s) for s in ("-wal", "-shm", "-journal"))):
            try:
                if stat.S_ISREG(leftover.lstat().st_mode):
                    leftover.unlink()
                    removed.append(leftover)
            except OSError:
                pass
    return removed


def partial_path(path: Path) -> Path:
    """A private name beside ``path`` to build it under (``.NAME.PID-XXXXXXXX.partial``);
    :func:`remove_stale_partials` removes it if the process is killed."""
    return path.with_name(f".{path.name[:100]}.{os.getpid()}-{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


def publish_new(built: Path, path: Path) -> None:
    """Give the complete file ``built`` its name ``path``, which must not exist: a hard
    link (refused if the name appeared meanwhile) then the private name goes; where links
    are not possible, a rename after a last check."""
    try:
        os.link(built, path)
    except FileExistsError:
        raise errors.InvalidInput(f"{path} appeared while it was being written; it was left "
                                  "as it is.") from None
    except OSError:
        if os.path.lexists(path):
            raise errors.InvalidInput(f"{path} already exists; it was left as it is.") from None
        os.replace(built, path)
        return
    built.unlink()


def resolve_output(target: str | os.PathLike[str], *, overwrite: bool = False,
                   overwrite_plain: bool = False) -> tuple[Path, bool]:
    """Where to write and how: (path, write through in place). Raises what is refused."""
    given = Path(target).expanduser()
    # A link is followed to what it names (the link itself stays); /dev/stdout is one.
    path = Path(os.path.realpath(given)) if os.path.islink(given) else given
    try:
        st = given.stat()
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise errors.InvalidInput(
                f"The folder {path.parent} does not exist; create it or choose another.") from None
        return path, False
    except OSError as exc:
        raise errors.StorageError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    mode = st.st_mode
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return given, True
    if stat.S_ISDIR(mode):
        raise errors.InvalidInput(f"{path} is a folder; choose a file name.")
    if not stat.S_ISREG(mode):
        raise errors.InvalidInput(
            f"{path} is not a regular file (a socket or a block device); refusing to write to it.")
    if _is_sqlite(path):
        if not overwrite:
            raise errors.InvalidInput(
                f"{path} is an SQLite database; refusing to replace it with an export. Choose "
                "another name (or allow overwriting explicitly).")
    elif not (overwrite or overwrite_plain):
        raise errors.InvalidInput(
            f"{path} already exists; choose another name or allow overwriting (--force).")
    return path, False


@contextmanager
def output_file(target: str | os.PathLike[str], *, overwrite: bool = False,
                overwrite_plain: bool = False, fsync: bool = True) -> Iterator[IO[bytes]]:
    """A binary handle for ``target`` following the module's rules; the file appears
    complete when the block ends without error, and nothing is left when it fails."""
    path, through = resolve_output(target, overwrite=overwrite, overwrite_plain=overwrite_plain)
    if through:
        try:
            handle = open(path, "wb")  # a device or a pipe: truncation means nothing
        except OSError as exc:
            raise errors.StorageError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
        with handle:
            yield handle
        return
    remove_stale_partials(path.parent)
    temp = partial_path(path)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:
        raise errors.StorageError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            temp.unlink()
        except OSError:
            pass
        raise
