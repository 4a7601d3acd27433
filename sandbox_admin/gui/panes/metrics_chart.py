"""The pieces of the Metrics pane that are not Qt widgets: ranges, series labels, colours.

Kept apart from :mod:`.metrics` so they can be tested and reused (a sandbox's chart
from another pane) without building a window.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

import numpy as np
import numpy.ma  # noqa: F401  np.median imports it on first use: 22 ms of the first chart's draw

from ...storage import series_key

#: Range presets (label, seconds; None = the metric's whole extent). Grafana-like, but
#: anchored at the metric's newest sample rather than "now": a copied database or an
#: idle server would otherwise show an empty chart.
PRESETS: tuple[tuple[str, float | None], ...] = (
    ("1 h", 3600.0),
    ("6 h", 6 * 3600.0),
    ("24 h", 86400.0),
    ("7 d", 7 * 86400.0),
    ("30 d", 30 * 86400.0),
    ("All data", None),
)
ALL_DATA = "All data"
#: labels that name a series' container (shown instead of its sandbox's short id)
CONTAINER_LABELS = ("container", "container_name")
#: Chart points per pixel of plot width (1 = one bucket per pixel).
MIN_POINTS, MAX_POINTS = 100, 2000


@dataclass
class ChartRequest:
    name: str
    sandbox_id: str | tuple[str, ...] | None  # every sandbox, one, or a chosen few
    start: float | None  # Unix seconds; None = the extent
    end: float | None
    target_points: int
    preset: str | None = None  # the preset that asked (None: a zoom/pan)
    #: What an earlier answer learnt about the metric (listing its series is the slow
    #: part of a chart on a big table); None: list them.
    known: "Description | None" = None
    #: with many series: the top few by this statistic (see :data:`TOP_BY`)
    top_by: str = "max"
    #: the metric's first and last sample (Unix seconds) when an earlier answer gave them
    extent: tuple[float, float] | None = None
    #: one line per value of this label (None: one per series)
    group_by: str | None = None


@dataclass
class Description:
    """A metric's type and, per sandbox (None: no sandbox), first/last time and samples."""

    type: str
    sandboxes: dict[str | None, tuple[float, float, int]]
    #: the label names its series have (what a chart can be grouped by)
    label_keys: list[str] = field(default_factory=list)
    #: each sandbox's container name, from its series' labels
    containers: dict[str, str] = field(default_factory=dict)
    #: :meth:`counts` and each sandbox's place in it, made where the description is
    #: (a worker): 16,000 sandboxes cost the GUI thread nothing to list
    listing: list[tuple[str, int, str]] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_infos(cls, infos: Sequence[Any], fallback_type: str) -> "Description":
        per: dict[str | None, tuple[float, float, int]] = {}
        keys: set[str] = set()
        containers: dict[str, str] = {}
        for i in infos:
            keys.update(i.labels)
            container = next((i.labels[k] for k in CONTAINER_LABELS if i.labels.get(k)), None)
            if container and i.sandbox_id:
                containers[i.sandbox_id] = container
            if i.first is None or i.last is None:
                continue
            a, b, n = per.get(i.sandbox_id, (math.inf, -math.inf, 0))
            per[i.sandbox_id] = (min(a, i.first.timestamp()), max(b, i.last.timestamp()), n + i.count)
        described = cls(infos[0].type if infos else fallback_type, per, sorted(keys), containers)
        described.listing = sorted((k, v[2], containers.get(k, "")) for k, v in per.items() if k)
        described.positions = {row[0]: i for i, row in enumerate(described.listing)}
        return described

    def extent(self, sandbox_id: str | tuple[str, ...] | None = None) -> tuple[float, float] | None:
        """First and last sample of every sandbox, one, or a few (a tuple)."""
        wanted = (sandbox_id,) if isinstance(sandbox_id, str) else sandbox_id
        spans = [v for k, v in self.sandboxes.items() if wanted is None or k in wanted]
        if not spans:
            return None
        return min(s[0] for s in spans), max(s[1] for s in spans)

    def counts(self) -> list[tuple[str, int, str]]:
        """(sandbox id, samples, container name or "") of each sandbox, by id."""
        return self.listing


@dataclass
class ChartAnswer:
    request: ChartRequest
    metric_type: str
    extent: tuple[float, float] | None  # Unix seconds of the metric's first/last sample
    sandboxes: list[tuple[str, int, str]] | None  # id, samples, container (the filter); None: not yet
    start: float  # the range drawn (Unix seconds)
    end: float
    series: list[Any] = field(default_factory=list)  # storage.metrics.Series
    seconds: float = 0.0
    description: Description | None = None
    #: more series than fit on one chart: series[0] is the fleet's aggregate (its band in
    #: ``band``) and the rest are the top few; ``folded`` series are in the aggregate
    band: tuple[np.ndarray, np.ndarray] | None = None
    folded: int = 0
    top_by: str = ""
    #: the fleet's top lines are still to be read (storage.fleet_top's frame); None: whole
    frame: Any = None


def ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def preset_range(preset: str, extent: tuple[float, float] | None) -> tuple[float | None, float | None]:
    """``[start, end)`` of a preset, ending just after the newest sample."""
    if extent is None:
        return None, None
    seconds = dict(PRESETS).get(preset)
    first, last = extent
    end = last + 1.0
    if seconds is None:
        return first, end
    return end - seconds, end


def target_points(width_px: int) -> int:
    """Buckets for a plot ``width_px`` wide: one per two pixels (a line stays readable
    and the step stays near the usual sample spacing), within limits."""
    return int(min(MAX_POINTS, max(MIN_POINTS, width_px // 2)))


#: Distinguishable colours (a series keeps its colour: see :func:`colours_for`); no grey,
#: which is the fleet's (the theme's ``chart_fleet``).
PALETTE = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14),
           (23, 190, 207), (140, 86, 75), (227, 119, 194), (188, 189, 34), (0, 90, 50),
           (57, 59, 121), (250, 200, 40)]


def _slot(series: Any) -> int:
    return zlib.crc32(series_key(series).encode("utf-8", "surrogatepass")) % len(PALETTE)


def colour_for(series: Any) -> tuple[int, int, int]:
    """A series' own colour, from its identity (not its place in an answer)."""
    return PALETTE[_slot(series)]


def colours_for(series: Sequence[Any]) -> list[tuple[int, int, int]]:
    """Each line's colour: its own (:func:`colour_for`) unless a line before it (by
    identity, so the same lines always share out the same way) has it; then the next
    free one. A series keeps its colour under any range or zoom unless two of the lines
    shown would otherwise look alike."""
    out: list[tuple[int, int, int]] = [PALETTE[0]] * len(series)
    taken: set[int] = set()
    for i in sorted(range(len(series)), key=lambda i: series_key(series[i])):
        slot = _slot(series[i])
        for step in range(len(PALETTE)):
            if (slot + step) % len(PALETTE) not in taken:
                slot = (slot + step) % len(PALETTE)
                break
        taken.add(slot)
        if len(taken) == len(PALETTE):
            taken.clear()  # more lines than colours: start sharing again
        out[i] = PALETTE[slot]
    return out


def series_labels(series: Sequence[Any]) -> list[str]:
    """A short, distinct label per series: its container's name (or its sandbox id's
    first part) plus the labels that tell series apart (labels that only repeat the
    sandbox are left out)."""
    keys: set[str] = set()
    for s in series:
        keys.update(s.labels)
    shown = []
    for key in sorted(keys):
        values = {s.labels.get(key) for s in series}
        per_sandbox = {(s.sandbox_id, s.labels.get(key)) for s in series}
        sandboxes = {s.sandbox_id for s in series}
        if len(values) > 1 and len(per_sandbox) > len(sandboxes):
            shown.append(key)
        elif len(values) > 1 and len(sandboxes) <= 1:
            shown.append(key)
    out = []
    for s in series:
        container = next((s.labels[k] for k in CONTAINER_LABELS if s.labels.get(k)), None)
        own = [f"{k}={s.labels[k]}" for k in shown if k in s.labels]
        parts = [container or (s.sandbox_id[:8] if s.sandbox_id else "" if own else "(all)")]
        parts = [p for p in parts if p] + own
        out.append(" ".join(parts))
    return out


def gap_threshold(t: np.ndarray, step: float) -> float:
    """How far apart two buckets may be and still be joined by a line: 1.5 steps, or
    a few times the series' usual spacing when it is sampled more sparsely than the
    step (a sample every 20 min charted at 3-min steps is a line, not dots)."""
    if len(t) < 3:
        return 1.5 * step
    usual = float(np.median(np.diff(t)))
    return max(1.5 * step, 4.0 * usual)


def with_gaps(t: np.ndarray, y: np.ndarray, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Insert NaN where buckets are further apart than ``gap``, so a line does not
    bridge missing data."""
    if len(t) < 2:
        return t, y
    gaps = np.flatnonzero(np.diff(t) > gap)
    if not len(gaps):
        return t, y
    t2 = np.insert(t.astype(np.float64), gaps + 1, (t[gaps] + t[gaps + 1]) / 2)
    y2 = np.insert(y.astype(np.float64), gaps + 1, np.nan)
    return t2, y2


def value_at(t: np.ndarray, y: np.ndarray, x: float, step: float, gap: float | None = None) -> float | None:
    """The value the line shows at ``x``: the bucket holding ``x``, or the bucket
    before it when the line goes on to the next one (None: no line there)."""
    if not len(t):
        return None
    i = int(np.searchsorted(t, x, side="right")) - 1
    if i < 0:
        return None
    inside = x < t[i] + step
    joined = gap is not None and i + 1 < len(t) and t[i + 1] - t[i] <= gap
    if not (inside or joined):
        return None
    v = float(y[i])
    return None if v != v else v


def axis_units(name: str, metric_type: str) -> str | None:
    """Units from the Prometheus naming convention, so the axis scales them (kB, ms)."""
    if metric_type == "counter":
        base = name.removesuffix("_total")
        unit = "B" if base.endswith("_bytes") else "s" if base.endswith("_seconds") else ""
        return f"{unit}/s" if unit else None
    if name.endswith("_bytes"):
        return "B"
    if name.endswith("_seconds"):
        return "s"
    return None


def axis_label(name: str, metric_type: str) -> str:
    """The y axis's title (the metric's name is selected on the left; a short title is
    never clipped, even in a small window)."""
    if metric_type == "counter":
        return "rate per second"
    return "average per bucket"


def step_text(step: float) -> str:
    step = float(step)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if step >= size:
            whole, rest = divmod(step, size)
            if rest and unit != "d":
                small = {"h": ("min", 60), "min": ("s", 1)}[unit]
                return f"{int(whole)} {unit} {int(rest // small[1])} {small[0]}"
            return f"{step / size:g} {unit}"
    return f"{step:g} s"


def value_units(name: str, metric_type: str) -> str | None:
    """Units of a sample's own value (a counter's count, not its rate)."""
    if metric_type == "counter":
        units = axis_units(name, metric_type)
        return units[:-2] if units else None
    return axis_units(name, metric_type)


def number(value: float | None, units: str | None = None) -> str:
    if value is None or value != value:
        return "—"
    if units:
        from pyqtgraph.functions import siFormat

        return siFormat(value, precision=4, suffix=units)
    a = abs(value)
    if a != 0 and (a >= 1e6 or a < 1e-3):
        return f"{value:.4g}"
    if a >= 100:
        return f"{value:,.1f}"
    return f"{value:.4g}"
