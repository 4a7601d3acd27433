"""The benchmark harness: figures, timing, the table.

A benchmark module ``benchmarks/bench_<area>.py`` defines ``run(quick: bool) -> list[Figure]``.
Each figure compares our code with a baseline (raw sqlite3, ``cp``, hashlib…) measured
in the same run on the same data, so that the ratio means something on any machine.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]


#: The Go server's own database (kept with the tests, so a clone alone has it).
GO_FIXTURE = ROOT / "tests" / "fixtures" / "go_sandboxrunner_v6.db"


@dataclass
class Figure:
    """One line of the table. ``ratio`` = ours / baseline (for times: lower is better)."""

    name: str
    ours: float
    baseline: float
    unit: str = "s"
    target: str = ""  # e.g. "<= 1.2x"; shown for reference
    note: str = ""
    higher_is_better: bool = False

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("inf")


def settle() -> None:
    """Flush the disk's pending writes (untimed, before a timed call that ends with an
    fsync, so that it does not wait for what earlier calls left to the kernel)."""
    if hasattr(os, "sync"):
        os.sync()


def timings(fn: Callable[[], object], repeat: int, warm: bool = False,
            settled: bool = False) -> list[float]:
    """Wall time of each of ``repeat`` calls (``warm``: one call first, not timed;
    ``settled``: :func:`settle` before each call)."""
    if warm:
        fn()  # the caches
    times = []
    for _ in range(repeat):
        gc.collect()
        if settled:
            settle()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def best_of(fn: Callable[[], object], repeat: int = 5, settled: bool = False) -> float:
    """Fastest wall time of ``repeat`` calls (the least disturbed by the machine)."""
    return min(timings(fn, repeat, settled=settled))


@contextmanager
def scratch_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sandbox-admin-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def format_table(figures: list[Figure]) -> str:
    headers = ("figure", "ours", "baseline", "ratio", "target", "note")
    rows = []
    for f in figures:
        fmt = (lambda v: f"{v * 1000:.2f} ms") if f.unit == "s" else (lambda v: f"{v:,.4g} {f.unit}")
        rows.append((f.name, fmt(f.ours), fmt(f.baseline), f"{f.ratio:.2f}x", f.target, f.note))
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)
