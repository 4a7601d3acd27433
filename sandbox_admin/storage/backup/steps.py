"""What backing up and restoring share: step sizes, the progress/cancel watch of the
backup API, disk-space checks, and tidying temporary files."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

from .. import errors
from .files import CancelFn, ProgressFn

#: Pages copied per backup step: small enough for smooth progress and prompt
#: cancelling, large enough that the per-step cost vanishes (benchmarks/bench_backup.py).
DEFAULT_PAGES_PER_STEP = 4096
#: How long a restore waits for other writers of the live database before giving up.
DEFAULT_LOCK_TIMEOUT_S = 30.0
#: Sleep between retries when the destination is busy (Python's default is 0.25 s).
BUSY_SLEEP_S = 0.05
PAGE_SIZE_SQL = {n: "PRAGMA page_size=" + str(n) for n in (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)}


class StepWatch:
    """The backup API's progress callback: reports, cancels, and bounds waiting on locks."""

    def __init__(self, phase: str, progress: ProgressFn | None, cancel: CancelFn | None,
                 lock_timeout_s: float, what: str) -> None:
        self.phase = phase
        self.progress = progress
        self.cancel = cancel
        self.lock_timeout_s = lock_timeout_s
        self.what = what
        self.steps = 0
        self._busy_since: float | None = None

    def __call__(self, status: int, remaining: int, total: int) -> None:
        self.steps += 1
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            now = time.monotonic()
            self._busy_since = self._busy_since or now
            if now - self._busy_since > self.lock_timeout_s:
                raise errors.DatabaseLocked(
                    f"{self.what} is locked by another program for more than "
                    f"{self.lock_timeout_s:.0f} s; nothing was changed. Stop the SandboxRunner "
                    "server (or wait for it) and try again."
                )
        else:
            self._busy_since = None
        if self.cancel is not None and self.cancel():
            raise errors.Cancelled(f"{self.phase} cancelled; nothing was changed.")
        if self.progress is not None:
            self.progress(self.phase, total - remaining, total)


def prefixed(progress: ProgressFn | None, prefix: str) -> ProgressFn | None:
    if progress is None:
        return None
    return lambda phase, done, total: progress(prefix + phase, done, total)


def check_space(directory: Path, needed: int, what: str) -> None:
    free = shutil.disk_usage(directory).free
    if free < needed + (16 << 20):
        raise errors.NotEnoughSpace(
            f"Not enough free space in {directory} for {what}: {needed:,} bytes needed, "
            f"{free:,} free. Free some space or choose another folder."
        )


def unlink_quietly(path: Path) -> None:
    for p in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
