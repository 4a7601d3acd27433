"""Durations as people write them (``30m``, ``24h``, ``7d``, ``1y``, seconds): retention
periods and chart steps."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from .. import errors

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w|y)?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 365 * 86400, None: 1}


def parse_duration(value: Any) -> timedelta | None:
    """``'24h'``, ``'7d'``, ``'1y'``, seconds, a timedelta; None / 'forever' = keep forever."""
    if value is None or value == "forever":
        return None
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    match = _DURATION_RE.match(str(value))
    if not match:
        raise errors.InvalidInput(f"{value!r} is not a duration; use e.g. 30m, 24h, 7d, 1y.")
    try:
        return timedelta(seconds=float(match.group(1)) * _UNIT[match.group(2)])
    except (OverflowError, ValueError):
        raise errors.InvalidInput(f"{value!r} is too long a duration.") from None


def format_duration(value: timedelta | None) -> str:
    if value is None:
        return "forever"
    seconds = int(value.total_seconds())
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def step_seconds(value: Any) -> float:
    """A step such as ``'5m'``, ``'1h'``, ``300`` in seconds (> 0)."""
    try:
        duration = parse_duration(value)
    except errors.InvalidInput:
        duration = None
    if duration is None or duration.total_seconds() <= 0:
        raise errors.InvalidInput(f"{value!r} is not a step; use e.g. 1m, 5m, 1h, 1d or seconds.")
    return duration.total_seconds()
