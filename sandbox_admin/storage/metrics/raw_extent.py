"""The first and last instant of a metric's raw samples, without reading every row.

Text order is not time order (``2026-11-20 23:00-07:00`` is later than
``2026-11-21 01:00+00:00``), so the exact answer reads every timestamp of the metric:
277,000 rows, 0.6 s, on a server's database. But when every timestamp starts with a
``YYYY-MM-DD`` date (checked in the name/time index alone), the date part *is* in text
order, nearly: SQLite reads a 31st of February as the 3rd of March, two days after the
1st that sorts after it. A text's instant lies within two days of its date's midnight
(a time of day up to 24:59:59, an offset up to 14 hours). So the index is walked from
each end a few thousand rows at a time, reading their instants as the full read would,
until the best instant found is four days clear of the date of the last readable row
walked: no row further on can beat it. Any other layout (a number, a Julian day, a
blob) and the whole metric is read, as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from peewee import Select, Value, fn

from .bulk import first_column
from .instants import days_from_civil, instants_us
from .sql import NO_INSTANT, US, readable_instants

#: Rows walked a step from each end.
WINDOW = 4_096
#: How far a text's instant can be from the midnight of a date that sorts before or
#: after it (two days of a date's own span, two of a 31st of February), and more.
MARGIN_US = 4 * 86_400 * US
_DATED = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"


def raw_extent(metrics: Any, name: str) -> tuple[int | None, int | None]:
    """(first, last) µs of ``name``'s readable raw samples (None, None without any),
    exactly what reading every row gives. Call inside a read transaction."""
    M = metrics.store.models.Metric
    dated = (fn.typeof(M.timestamp) == "text") & fn.glob(_DATED, M.timestamp)
    odd = (M.select(fn.COUNT(M.id))
           .where((M.metric_name == name) & M.timestamp.is_null(False) & ~dated).scalar())
    if odd:
        return every_instant(metrics, name)
    first, last, whole = _walk(metrics, name, ascending=True)
    if first is None or whole:  # no sample, or the walk met every row on its way
        return first, last
    return first, _walk(metrics, name, ascending=False)[1]


def _timestamps(metrics: Any, name: str) -> Select:
    """The timestamp texts of ``name``'s raw rows with a number (as series(metrics, name)
    reads them; numpy reads their instants)."""
    M = metrics.store.models.Metric
    return M.select(M.timestamp).where(*metrics._conditions(names=name, instants=False))


def every_instant(metrics: Any, name: str) -> tuple[int | None, int | None]:
    """The extent from every row's instant (numpy reads the texts)."""
    texts = first_column(metrics.db, _timestamps(metrics, name))
    t = instants_us(metrics.db, texts, NO_INSTANT)
    t = t[readable_instants(t)]
    return (int(t.min()), int(t.max())) if len(t) else (None, None)


def _walk(metrics: Any, name: str, ascending: bool) -> tuple[int | None, int | None, bool]:
    """(first, last, whole) of the rows walked from one end of the index until no row
    further on can beat the best one in that direction; ``whole``: every row was met
    (the data spans less than the margin), so first and last are the metric's own."""
    M = metrics.store.models.Metric
    rows = _timestamps(metrics, name).where(M.timestamp.is_null(False))
    first: int | None = None
    last: int | None = None
    after: str | None = None
    while True:
        query = rows
        if after is not None:  # the text as stored (the field would parse and reformat it)
            text = Value(after, converter=False)
            query = query.where(M.timestamp > text if ascending else M.timestamp < text)
        query = query.order_by(M.timestamp.asc() if ascending else M.timestamp.desc()).limit(WINDOW)
        texts = [row[0] for row in metrics.db.execute(query)]
        if not texts:
            return first, last, True
        t = instants_us(metrics.db, texts, NO_INSTANT)
        ok = readable_instants(t)
        if ok.any():
            low, high = int(t[ok].min()), int(t[ok].max())
            first = low if first is None else min(first, low)
            last = high if last is None else max(last, high)
            # the rows further on are dated from (ascending) or up to (descending) the
            # date of the last readable row walked, give or take the margin
            midnight = _midnight_us(texts[int(np.flatnonzero(ok)[-1])])
            if (first <= midnight - MARGIN_US) if ascending else (last >= midnight + MARGIN_US):
                return first, last, False
        if len(texts) < WINDOW:
            return first, last, True
        after = texts[-1]


def _midnight_us(text: str) -> int:
    """µs of the midnight (UTC) of the date a readable text begins with, counted as
    SQLite counts it (a 31st of February is the 3rd of March)."""
    y, m, d = (np.array([int(part)]) for part in (text[0:4], text[5:7], text[8:10]))
    return int(days_from_civil(y, m, d)[0]) * 86_400 * US
