"""The value types of the metrics store: samples, series listings, aggregated series."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

import numpy as np

from .. import errors
from .sql import US, from_us

BASIC_STATS = ("count", "sum", "min", "max", "avg", "last")
DEFAULT_STATS = BASIC_STATS
PERCENTILES = ("p50", "p90", "p95", "p99")
DEFAULT_GROUP = ("sandbox_id", "labels")


@dataclass(slots=True)
class Sample:
    """One metric sample. ``timestamp``: aware datetime (naive = UTC), Unix seconds or
    timestamp text; None = now. ``labels``: string keys and values."""

    name: str
    value: float
    type: str = "gauge"
    labels: Mapping[str, str] | None = None
    sandbox_id: str | None = None
    timestamp: datetime | float | str | None = None
    period: str = "raw"
    id: int | None = None


@dataclass
class SeriesInfo:
    name: str
    type: str
    labels: dict[str, str]
    sandbox_id: str | None
    first: datetime | None
    last: datetime | None
    count: int
    period: str = "raw"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Points:
    """Column arrays, one element per non-empty bucket (buckets without samples are
    absent). ``t`` is each bucket's start in Unix seconds."""

    t: np.ndarray
    count: np.ndarray
    sum: np.ndarray
    min: np.ndarray
    max: np.ndarray
    avg: np.ndarray
    last: np.ndarray
    increase: np.ndarray | None = None  # counters: reset-aware increase in the bucket
    rate: np.ndarray | None = None  # counters: increase per second of step
    percentiles: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t)

    def times(self) -> list[datetime]:
        return [from_us(int(round(x * US))) for x in self.t.tolist()]

    def as_dicts(self) -> list[dict[str, Any]]:
        cols: dict[str, list[Any]] = {
            "t": self.times(), "count": self.count.tolist(), "sum": self.sum.tolist(),
            "min": self.min.tolist(), "max": self.max.tolist(), "avg": self.avg.tolist(),
            "last": self.last.tolist(),
        }
        if self.rate is not None and self.increase is not None:
            cols["increase"] = self.increase.tolist()
            cols["rate"] = self.rate.tolist()
        for name, values in self.percentiles.items():
            cols[name] = [None if math.isnan(x) else x for x in values.tolist()]
        keys = list(cols)
        return [dict(zip(keys, row)) for row in zip(*cols.values())]


@dataclass
class Series:
    name: str
    type: str
    labels: dict[str, str]
    sandbox_id: str | None
    step_seconds: float
    points: Points
    source: str = "raw"  # raw | rollup:<seconds> | go:<period>

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "type": self.type, "labels": self.labels,
            "sandbox_id": self.sandbox_id, "step_seconds": self.step_seconds,
            "source": self.source, "points": self.points.as_dicts(),
        }


def _percentile_qs(stats: Iterable[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for stat in stats:
        if stat in BASIC_STATS or stat in ("rate", "increase"):
            continue
        if stat.startswith("p"):
            try:
                q = float(stat[1:]) / 100
            except ValueError:
                q = -1
            if 0 <= q <= 1:
                out[stat] = q
                continue
        raise errors.InvalidInput(
            f"Unknown statistic {stat!r}; use {', '.join(BASIC_STATS)}, rate, increase or p0-p100."
        )
    return out
