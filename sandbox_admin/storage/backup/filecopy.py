"""Copy the first N bytes of a file chunk by chunk (standard library only, no package imports).

:mod:`backup_snapshot` runs this file as a child process::

    python -I -S filecopy.py SRC DST NBYTES CHUNK

so that the *child*, not the backup process, opens and closes the database file:
closing a descriptor drops every POSIX lock its process holds on that file, SQLite's
included (ARCHITECTURE.md; SQLite's howtocorrupt §2.2), and the child holds none.

Protocol: after each chunk the child prints the number of bytes copied so far and, if
more remain, waits for a line on stdin before the next chunk (EOF on stdin: stop, exit
3). Exit 0: DST holds exactly NBYTES; 4: SRC is shorter than NBYTES. DST must not exist.

Where there are no POSIX locks (Windows) the backup process imports :class:`RangeCopier`
and copies in-process instead.
"""

from __future__ import annotations

import errno
import os
import sys

#: errno values meaning "this copy primitive does not work for these files": try the next.
_UNSUPPORTED = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP,
                errno.ETXTBSY, errno.EPERM, errno.EBADF}
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_RW_BUFFER = 1 << 20


class SourceTooShort(OSError):
    """The source ended before the bytes it was supposed to hold."""


class RangeCopier:
    """Copies byte ranges between two open descriptors to the same offsets.

    Uses ``copy_file_range`` (in-kernel, may share extents on CoW file systems), then
    ``sendfile`` (Linux), then plain reads and writes, stepping down when one fails.
    """

    def __init__(self, src_fd: int, dst_fd: int) -> None:
        self.src = src_fd
        self.dst = dst_fd
        modes = []
        if hasattr(os, "copy_file_range"):
            modes.append("copy_file_range")
        if sys.platform.startswith("linux"):
            modes.append("sendfile")
        modes.append("readwrite")
        self.modes = modes

    @property
    def mode(self) -> str:
        return self.modes[0]

    def copy(self, offset: int, count: int) -> None:
        """Copy exactly ``count`` bytes at ``offset`` (raises SourceTooShort at EOF)."""
        done = 0
        while done < count:
            try:
                n = self._step(offset + done, count - done)
            except OSError as exc:
                if exc.errno in _UNSUPPORTED and len(self.modes) > 1:
                    self.modes.pop(0)
                    continue
                raise
            if n == 0:
                raise SourceTooShort(f"the source ended at byte {offset + done:,}; "
                                     f"{offset + count:,} bytes were expected")
            done += n

    def _step(self, pos: int, count: int) -> int:
        mode = self.mode
        if mode == "copy_file_range":
            return os.copy_file_range(self.src, self.dst, count, pos, pos)
        if mode == "sendfile":
            os.lseek(self.dst, pos, os.SEEK_SET)
            return os.sendfile(self.dst, self.src, pos, count)
        os.lseek(self.src, pos, os.SEEK_SET)
        data = os.read(self.src, min(count, _RW_BUFFER))
        if data:
            os.lseek(self.dst, pos, os.SEEK_SET)
            view = memoryview(data)
            while view:
                view = view[os.write(self.dst, view):]
        return len(data)


def open_pair(src: str, dst: str) -> tuple[int, int]:
    """(source for reading, new destination for writing; fails if it exists)."""
    src_fd = os.open(src, os.O_RDONLY | _BINARY)
    try:
        dst_fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o600)
    except BaseException:
        os.close(src_fd)
        raise
    return src_fd, dst_fd


def main(argv: list[str]) -> int:
    src, dst, nbytes, chunk = argv[0], argv[1], int(argv[2]), int(argv[3])
    src_fd, dst_fd = open_pair(src, dst)
    try:
        copier = RangeCopier(src_fd, dst_fd)
        done = 0
        while done < nbytes:
            step = min(chunk, nbytes - done)
            try:
                copier.copy(done, step)
            except SourceTooShort as exc:
                sys.stderr.write(f"{exc}\n")
                return 4
            done += step
            sys.stdout.write(f"{done}\n")
            sys.stdout.flush()
            if done < nbytes and not sys.stdin.readline():
                return 3
        return 0
    finally:
        os.close(dst_fd)
        os.close(src_fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
