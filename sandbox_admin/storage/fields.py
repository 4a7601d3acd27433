"""The one place for time and for JSON columns.

Reading is tolerant: the Go server, SQLite's CURRENT_TIMESTAMP and rollup
``datetime(...,'unixepoch')`` all write timestamps differently (see SCHEMA.md).
Writing is strict: UTC, a space separator, fraction trimmed like Go does, so that the
Go reader parses it and text comparison keeps ordering instants.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import peewee

UTC = timezone.utc

#: Go's zero time.Time as its SQLite driver writes it.
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

_TS_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?"
    r"(?:\s+(?:UTC|[A-Z]{2,5}))?"  # Go's time.String() adds a zone name
    r"(?:\s+m=[+-][\d.]+)?\s*$"  # ...and a monotonic clock reading
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_timestamp(value: Any) -> datetime | None:
    """Read any timestamp form found in sandbox databases; None when absent or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return to_utc(value)
    if isinstance(value, (int, float)):
        # Unix seconds (or milliseconds / nanoseconds for very large values).
        number = float(value)
        if abs(number) > 1e17:
            number /= 1e9
        elif abs(number) > 1e11:
            number /= 1e3
        try:
            return datetime.fromtimestamp(number, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    match = _TS_RE.match(value)
    if not match:
        try:  # numbers stored as text
            return parse_timestamp(float(value))
        except ValueError:
            return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        result = datetime(
            int(year), int(month), int(day),
            int(hour or 0), int(minute or 0), int(second or 0), micro, tzinfo=UTC,
        )
    except ValueError:
        return None
    if offset and offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        try:
            result = result - sign * delta
        except OverflowError:
            return result
    return result


def format_timestamp(value: datetime) -> str:
    """Go-compatible UTC text: ``2026-11-26 01:35:19.123456+00:00`` (fraction trimmed).

    Hot path of metric ingest: ``isoformat`` (C, zero-padded year) is ~4x faster than
    ``strftime``; only a fraction with trailing zeros needs trimming.
    """
    if value.tzinfo is not UTC:
        value = to_utc(value)
    text = value.isoformat(" ")  # YYYY-MM-DD HH:MM:SS[.ffffff]+00:00
    if value.microsecond and text[25] == "0":
        text = text[:26].rstrip("0") + "+00:00"
    return text


def format_timestamps_us(instants_us: Any) -> list[str]:
    """:func:`format_timestamp` for many instants at once (integer µs since the epoch).

    The bulk path of metric ingest, where formatting one datetime at a time was the
    bottleneck: dates come from Hinnant's days-to-civil arithmetic and the text is
    assembled as a numpy array of code points, so the cost per value is a few numpy
    element operations instead of an ``isoformat`` call. Same text as
    ``format_timestamp`` for years 1..9999 (property-tested).
    """
    import numpy as np

    us = np.asarray(instants_us, dtype=np.int64)
    n = len(us)
    secs = us // 1_000_000
    micro = us - secs * 1_000_000
    days = secs // 86400
    sod = secs - days * 86400
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    chars = np.zeros((n, 32), dtype=np.uint32)

    def put(column: int, value: Any, width: int, rows: Any = slice(None)) -> None:
        for k in range(width):
            chars[rows, column + width - 1 - k] = 48 + (value // 10**k) % 10

    put(0, year, 4)
    put(5, month, 2)
    put(8, day, 2)
    put(11, sod // 3600, 2)
    put(14, sod // 60 % 60, 2)
    put(17, sod % 60, 2)
    for column, char in ((4, "-"), (7, "-"), (10, " "), (13, ":"), (16, ":")):
        chars[:, column] = ord(char)
    fraction = micro > 0
    chars[fraction, 19] = ord(".")
    put(20, micro[fraction], 6, fraction)
    trailing = sum((micro % 10**k == 0).astype(np.int64) for k in range(1, 6))
    suffix = np.where(fraction, 26 - trailing, 19)  # the trimmed fraction's zeros are overwritten
    rows = np.arange(n)
    for j, char in enumerate("+00:00"):
        chars[rows, suffix + j] = ord(char)
    return chars.view(np.dtype("U32")).ravel().tolist()


def is_zero_time(value: datetime | None) -> bool:
    return value is not None and value.year == 1 and value.month == 1 and value.day == 1


def to_iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC for JSON output (CLI ``--json``)."""
    if value is None:
        return None
    return to_utc(value).isoformat().replace("+00:00", "Z")


class GoTimestampField(peewee.Field):
    """A TIMESTAMP column as the Go server and SQLite write it; aware UTC datetimes in Python."""

    field_type = "TIMESTAMP"

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            parsed = parse_timestamp(value)
            if parsed is None:
                raise ValueError(f"not a timestamp: {value!r}")
            value = parsed
        if isinstance(value, (int, float)):
            value = parse_timestamp(value)
        return format_timestamp(value)

    def python_value(self, value: Any) -> datetime | None:
        return parse_timestamp(value)


def dumps_json(value: Any) -> str:
    """Compact JSON with sorted keys, as Go's encoding/json writes maps."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def loads_json(text: Any) -> Any:
    """Tolerant JSON reader: NULL and the text ``null`` give None; garbage stays as text."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if "\\ud" in text or "\\uD" in text:  # an escaped surrogate: a lone one cannot be printed
        value = _without_lone_surrogates(value)
    return value


def without_lone_surrogates(text: str) -> str:
    """``text`` with lone surrogates (never valid in UTF-8) replaced by U+FFFD; pairs kept."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return without_lone_surrogates(value)
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


class JSONField(peewee.TextField):
    """A JSON TEXT column. ``None`` is written as the text ``null`` (what Go writes for an
    absent map) unless the column may hold SQL NULL (``null=True``)."""

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None if self.null else "null"
        if isinstance(value, str):
            return value  # already JSON text (e.g. copied from another row)
        return dumps_json(value)

    def python_value(self, value: Any) -> Any:
        return loads_json(value)
