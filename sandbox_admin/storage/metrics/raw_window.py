"""The text range of a narrow window's raw samples, found in the name/time index alone.

A raw read narrows the rows by a whole-day text prefilter (offsets up to 14 hours and
any separator make text order only roughly time order; :func:`.sql.time_conditions`)
and reads each row's instant in numpy. For a narrow window that prefilter spans two
or three days: the last hour of a server's ``cpu_usage`` (300 sandboxes) read 31,000
rows in full, with a table look-up each, for the 650 in the hour: 200 ms. So the
timestamps alone are read first, from the index, their instants in numpy, and the rows
are then read between the smallest and the largest text whose instant is in the window:
every row the prefilter keeps that can be in it, few others.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Sequence

from peewee import Value

from .bulk import first_column
from .instants import instants_us
from .sql import NO_INSTANT, US, prefilter_dates, readable_instants, release

#: Read the index first when the window is at most this share of the prefilter's span.
NARROW = 0.5
#: :func:`window_texts`: no readable sample of those metrics lies in the window.
EMPTY = ("", "")
#: Texts compared per C-level pass.
_STEP = 16_384


def window_texts(metrics: Any, names: Sequence[str] | None, start_us: int | None,
                 end_us: int | None) -> tuple[str, str] | None:
    """(smallest, largest) timestamp text of ``names``' rows whose instant is in
    ``[start, end)``, :data:`EMPTY` when there is none, or None when the window is not
    narrow (read with the day prefilter). Call inside the read transaction of the read
    that uses it: rows written in between could fall outside the range."""
    if not names or start_us is None or end_us is None:
        return None
    low, high = prefilter_dates(start_us, end_us)
    if low is None or high is None:
        return None
    span_us = (date.fromisoformat(high) - date.fromisoformat(low)).days * 86_400 * US
    if end_us - start_us > NARROW * span_us:
        return None
    M = metrics.store.models.Metric
    query = M.select(M.timestamp).where(M.metric_name.in_(list(names)),
                                        M.timestamp >= Value(low, converter=False),
                                        M.timestamp < Value(high, converter=False))
    texts = first_column(metrics.db, query)
    found: list[str] = []
    try:
        if texts:
            inside = readable_instants(instants_us(metrics.db, texts, NO_INSTANT), start_us, end_us)
            found = [texts[i] for i in inside.nonzero()[0].tolist()]
        if not found:
            return EMPTY
        # a slice at a time: each min() over the texts is one C loop holding the GIL
        steps = range(0, len(found), _STEP)
        return min(min(found[i:i + _STEP]) for i in steps), max(max(found[i:i + _STEP]) for i in steps)
    finally:
        release(texts)  # hundreds of thousands of texts: freed a step at a time too
        release(found)
