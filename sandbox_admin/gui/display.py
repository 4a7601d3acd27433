"""How values look in the GUI: one time format, humanized sizes, status colours.

Times are shown in local time in one format (``2026-11-25 14:32:49``) with the UTC
instant in the tooltip; storage hands us aware UTC datetimes (``storage/fields.py``).
No Qt widgets here, only QColor, so models and delegates can share it.
"""

from __future__ import annotations

from datetime import datetime, timezone

from PySide6.QtGui import QColor

from ..storage import is_zero_time

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: "local" or "utc": how times are shown (Preferences → Show times in)
_time_zone = "local"


def set_time_zone(zone: str) -> None:
    global _time_zone
    _time_zone = "utc" if zone == "utc" else "local"


def local_time(value: datetime | None) -> str:
    """The shown time, one format (local time, or UTC when so chosen); empty for no
    value, an em dash for Go's zero time."""
    if value is None:
        return ""
    if is_zero_time(value):
        return "—"
    shown = value.astimezone(timezone.utc) if _time_zone == "utc" else value.astimezone()
    return shown.strftime(TIME_FORMAT)


def utc_tooltip(value: datetime | None) -> str:
    """The exact UTC instant (and how long ago), for tooltips."""
    if value is None:
        return ""
    if is_zero_time(value):
        return "zero time (0001-01-01 00:00:00 UTC): never set"
    utc = value.astimezone(timezone.utc)
    text = utc.strftime(TIME_FORMAT)
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return f"{text} UTC ({relative(value)})"


def relative(value: datetime, now: datetime | None = None) -> str:
    """``3 h ago`` / ``in 2 d``: coarse, for tooltips."""
    now = now or datetime.now(timezone.utc)
    seconds = (now - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            amount = f"{int(seconds // size)} {unit}"
            break
    else:
        return "just now"
    return f"in {amount}" if future else f"{amount} ago"


def size(n: int | float | None) -> str:
    """Bytes in binary units: ``0 B``, ``512 B``, ``1.5 KiB``, ``2.0 GiB``."""
    if n is None:
        return ""
    value = float(n)
    if abs(value) < 1024:
        return f"{int(value)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        value /= 1024
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}"
    return f"{value:.1f} PiB"  # pragma: no cover - loop always returns


def seconds(value: float | None) -> str:
    """CPU seconds: ``0``, ``12.3``, ``1,234.5``."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    return f"{value:,.1f}"


def count(n: int) -> str:
    return f"{n:,}"


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 sandbox`` / ``3 sandboxes`` (``words`` defaults to ``word + "s"``)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


# -- status colours -----------------------------------------------------------------------
#: Badge fill per sandbox status (Go server states); unknown ones get a neutral colour.
STATUS_COLOURS: dict[str, str] = {
    "running": "#2e7d32",
    "creating": "#1565c0",
    "starting": "#1565c0",
    "stopped": "#616161",
    "paused": "#b26a00",
    "stopping": "#b26a00",
    "failed": "#c62828",
    "error": "#c62828",
    "deleted": "#424242",
}
UNKNOWN_STATUS_COLOUR = "#6a1b9a"
DELETED_TEXT_COLOUR = "#9e9e9e"


def status_colour(status: str) -> QColor:
    return QColor(STATUS_COLOURS.get(status.lower(), UNKNOWN_STATUS_COLOUR))


def text_colour_on(fill: QColor) -> QColor:
    """Black or white, whichever reads better on ``fill`` (WCAG relative luminance)."""

    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    lum = 0.2126 * channel(fill.red()) + 0.7152 * channel(fill.green()) + 0.0722 * channel(fill.blue())
    return QColor("#000000") if lum > 0.35 else QColor("#ffffff")


# -- workflow runs -------------------------------------------------------------------------
#: Fill per workflow execution / step status: done green, running blue, failed red.
WORKFLOW_COLOURS: dict[str, str] = {
    "completed": "#2e7d32",
    "running": "#1565c0",
    "pending": "#757575",
    "failed": "#c62828",
    "skipped": "#bdbdbd",
    "cancelled": "#b26a00",
}


def workflow_colour(status: str) -> QColor:
    return QColor(WORKFLOW_COLOURS.get(status.lower(), UNKNOWN_STATUS_COLOUR))


def duration(value: float | None) -> str:
    """``0.4 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 10 min``, ``3 d 4 h``; empty for none."""
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f} s"
    whole = int(round(value))
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
