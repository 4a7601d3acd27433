"""Samples to ``metrics`` rows: validation and Go-compatible values, column-wise.

The ingest hot path. Samples are taken in chunks and handled a column at a time: the
attributes by list comprehension, values checked as one numpy array, sandboxes and
names and types as sets, timestamps as integer microseconds formatted together by
:func:`fields.format_timestamps_us`, label dicts through an identity-keyed cache.
Per sample that costs well under a microsecond of Python, where formatting one
datetime at a time cost more than the INSERT itself.

Every refusal names the sample (1-based position in the batch) and why.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from itertools import islice, repeat
from typing import Any, Iterable, Iterator

import numpy as np

from .. import errors
from ..fields import format_timestamps_us, parse_timestamp, to_utc, utcnow
from .sql import EPOCH, METRIC_TYPES, labels_text

CHUNK = 8192
_ONE_US = timedelta(microseconds=1)
_TYPES = frozenset(METRIC_TYPES)
#: Instants format_timestamps_us can write (years 1..9999).
_MIN_US = (datetime(1, 1, 1, tzinfo=EPOCH.tzinfo) - EPOCH) // _ONE_US
_MAX_US = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=EPOCH.tzinfo) - EPOCH) // _ONE_US


def bad_sample(n: int, sample: Any, why: str) -> errors.InvalidInput:
    name = getattr(sample, "name", "?")
    return errors.InvalidInput(f"Sample {n} ({name!r}) was refused, nothing was recorded: {why}.")


class RowMaker:
    """Turns :class:`~.metrics.Sample` objects into row tuples
    ``(name, type, labels, value, timestamp, sandbox_id, 'raw')`` and remembers the
    sandboxes seen (to name unknown ones if the foreign key refuses the batch)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.count = 0
        self._labels: dict[int, tuple[Any, dict, str]] = {}
        self._now_us: int | None = None

    def rows(self, samples: Iterable[Any]) -> Iterator[tuple]:
        it = iter(samples)
        while True:
            chunk = list(islice(it, CHUNK))
            if not chunk:
                return
            yield from self._chunk(chunk, self.count)
            self.count += len(chunk)

    # -- one chunk, column by column ---------------------------------------------------------
    def _chunk(self, chunk: list[Any], offset: int) -> Iterator[tuple]:
        try:
            names = [s.name for s in chunk]
            types = [s.type for s in chunk]
            values = [s.value for s in chunk]
            sandboxes = [s.sandbox_id for s in chunk]
            stamps = [s.timestamp for s in chunk]
            labels = [s.labels for s in chunk]
        except AttributeError:
            i = next(i for i, s in enumerate(chunk) if not all(
                hasattr(s, a) for a in ("name", "type", "value", "sandbox_id", "timestamp", "labels")))
            raise bad_sample(offset + i + 1, chunk[i], f"{type(chunk[i]).__name__} is not a Sample") from None

        def first(test: Any) -> int:
            return next(i for i, x in enumerate(chunk) if test(i))

        if not _all_distinct(names, lambda x: isinstance(x, str) and x != ""):
            i = first(lambda i: not (isinstance(names[i], str) and names[i]))
            raise bad_sample(offset + i + 1, chunk[i], "a metric needs a name (a non-empty string)")
        if not _all_distinct(types, lambda x: x in _TYPES):
            i = first(lambda i: not _hashable_in(types[i], _TYPES))
            raise bad_sample(offset + i + 1, chunk[i],
                             f"type {types[i]!r} is not one of {', '.join(METRIC_TYPES)}")
        floats = self._values(chunk, values, offset)
        sandboxes = self._sandboxes(chunk, sandboxes, offset)
        texts = format_timestamps_us(self._instants(chunk, stamps, offset))
        label_texts = self._label_texts(labels)
        return zip(names, types, label_texts, floats, texts, sandboxes, repeat("raw"))

    def _values(self, chunk: list[Any], values: list[Any], offset: int) -> list[float]:
        try:
            array = np.array(values, dtype=np.float64)
            if array.shape != (len(values),):
                raise ValueError("not scalars")
        except (TypeError, ValueError):
            for i, value in enumerate(values):
                if _as_float(value) is None:
                    raise bad_sample(offset + i + 1, chunk[i], f"value {value!r} is not a number") from None
            array = np.array([float(v) for v in values], dtype=np.float64)
        nan = np.isnan(array)
        if nan.any():
            i = int(np.flatnonzero(nan)[0])
            value = values[i]
            if _as_float(value) is None:
                raise bad_sample(offset + i + 1, chunk[i], f"value {value!r} is not a number")
            raise bad_sample(offset + i + 1, chunk[i], "value is NaN, which SQLite stores as NULL "
                                                       "(value is NOT NULL)")
        return array.tolist()

    def _sandboxes(self, chunk: list[Any], sandboxes: list[Any], offset: int) -> list[str]:
        if not _all_distinct(sandboxes, lambda x: bool(x)):
            i = next(i for i, x in enumerate(sandboxes) if not x)
            raise bad_sample(offset + i + 1, chunk[i], "it has no sandbox_id; the Go schema's foreign key "
                                                       "drops metrics without one, so they are refused. "
                                                       "Pass the sandbox's id")
        if not _all_distinct(sandboxes, lambda x: x.__class__ is str):
            sandboxes = [x if x.__class__ is str else str(x) for x in sandboxes]
        self.seen.update(sandboxes)
        return sandboxes

    def _instants(self, chunk: list[Any], stamps: list[Any], offset: int) -> list[int]:
        try:  # aware datetimes (the usual case): exact µs, any zone
            return [(t - EPOCH) // _ONE_US for t in stamps]
        except TypeError:
            return [self._instant(offset + i + 1, chunk[i], t) for i, t in enumerate(stamps)]

    def _instant(self, n: int, sample: Any, value: Any) -> int:
        if isinstance(value, datetime):
            return (to_utc(value) - EPOCH) // _ONE_US
        if value is None:
            if self._now_us is None:  # one "now" for the whole batch
                self._now_us = (utcnow() - EPOCH) // _ONE_US
            return self._now_us
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            us = int(round(float(value) * 1_000_000))
        else:
            parsed = parse_timestamp(value) if isinstance(value, (str, bytes)) else None
            if parsed is None:
                raise bad_sample(n, sample, f"timestamp {value!r} is not a time")
            us = (parsed - EPOCH) // _ONE_US
        if not _MIN_US <= us <= _MAX_US:
            raise bad_sample(n, sample, f"timestamp {value!r} is outside the years 1-9999")
        return us

    def _label_texts(self, labels: list[Any]) -> list[str]:
        cache = self._labels
        out = []
        append = out.append
        for lab in labels:
            if not lab:
                append("{}")
                continue
            # callers reuse one dict per series: key by identity, confirmed by equality
            entry = cache.get(id(lab))
            if entry is not None and entry[0] is lab and entry[1] == lab:
                append(entry[2])
                continue
            text = labels_text(lab)
            if len(cache) > 65536:
                cache.clear()
            cache[id(lab)] = (lab, dict(lab), text)
            append(text)
        return out


def _all_distinct(column: list[Any], ok: Any) -> bool:
    """``ok`` holds for every element, checked once per distinct value when hashable."""
    try:
        distinct = set(column)
    except TypeError:
        return all(_safe(ok, x) for x in column)
    return all(_safe(ok, x) for x in distinct)


def _safe(test: Any, x: Any) -> bool:
    try:
        return bool(test(x))
    except TypeError:
        return False


def _hashable_in(x: Any, allowed: frozenset) -> bool:
    try:
        return x in allowed
    except TypeError:
        return False


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
