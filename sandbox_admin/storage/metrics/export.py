"""Metric exports: JSON, CSV and the Prometheus text exposition format (0.0.4).

Writers take an iterable of :class:`~.metrics.Sample` (use
``store.metrics.iter_samples(order="series")``, which streams) and a text stream, and
return the number of samples read.

Prometheus specifics:

* ``# HELP`` and ``# TYPE`` once per family; names and label names are made valid
  (other characters become ``_``; a sanitised name that would collide gets a suffix).
* Label values escape ``\\``, ``"`` and newlines; the sample's sandbox becomes a
  ``sandbox_id`` label (unless the labels already have one).
* Counters are named ``<name>_total``; values and timestamps (milliseconds) per sample.
* Histograms whose rows are observations (the Go server's) become one cumulative
  histogram per series, ``_bucket{le=...}`` / ``_sum`` / ``_count``, stamped with the
  last observation's time; rows that already carry an ``le`` label are passed through as
  ``_bucket`` samples. Summaries likewise become ``{quantile=...}`` (exact lower-rank
  quantiles) / ``_sum`` / ``_count``.
* ``latest_only`` writes only the newest sample of each gauge/counter series, which is
  what a scrape would show; the default writes every sample with its timestamp.
"""

from __future__ import annotations

import csv
import json
import math
import re
from datetime import datetime, timezone
from itertools import groupby
from typing import Any, Iterable, Iterator, Sequence, TextIO

from .. import errors
from ..fields import to_iso
from .sql import to_us

FORMATS = ("json", "csv", "prometheus", "openmetrics")
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
SUMMARY_QUANTILES = (0.5, 0.9, 0.95, 0.99)


def _json_value(value: float) -> Any:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


def write_json(samples: Iterable[Any], out: TextIO) -> int:
    """One JSON document: ``{"format": ..., "samples": [...], "count": n}``, streamed."""
    out.write('{"format": "sandbox-admin-metrics", "version": 1, "samples": [')
    n = 0
    for s in samples:
        out.write(",\n  " if n else "\n  ")
        out.write(json.dumps({
            "id": s.id, "name": s.name, "type": s.type, "labels": dict(s.labels or {}),
            "sandbox_id": s.sandbox_id, "timestamp": to_iso(s.timestamp),
            "value": _json_value(s.value), "period": s.period,
        }, ensure_ascii=False, sort_keys=True))
        n += 1
    out.write(("\n" if n else "") + f'], "count": {n}}}\n')
    return n


CSV_COLUMNS = ("id", "timestamp", "name", "type", "value", "sandbox_id", "period", "labels")


def write_csv(samples: Iterable[Any], out: TextIO) -> int:
    """CSV with a header; labels as compact sorted JSON; values as round-trip text."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    n = 0
    texts: dict[tuple[tuple[str, str], ...], str] = {}  # a series' labels, encoded once
    for s in samples:
        key = tuple((s.labels or {}).items())
        labels = texts.get(key)
        if labels is None:
            labels = texts[key] = json.dumps(dict(key), sort_keys=True, separators=(",", ":"),
                                             ensure_ascii=False)
        writer.writerow([
            s.id, to_iso(s.timestamp) or "", s.name, s.type, _number(s.value), s.sandbox_id or "",
            s.period, labels,
        ])
        n += 1
    return n


# -- Prometheus --------------------------------------------------------------------------

_NAME_BAD = re.compile(r"[^a-zA-Z0-9_:]")
_LABEL_BAD = re.compile(r"[^a-zA-Z0-9_]")


def _number(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def metric_name(name: str) -> str:
    clean = _NAME_BAD.sub("_", name) or "_"
    return "_" + clean if clean[0].isdigit() else clean


def label_name(name: str) -> str:
    clean = _LABEL_BAD.sub("_", name) or "_"
    if clean[0].isdigit():
        clean = "_" + clean
    return "_" + clean.lstrip("_") if clean.startswith("__") else clean  # __ is reserved


def _labels(labels: dict[str, Any], sandbox_id: str | None, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs: list[tuple[str, str]] = []
    used: set[str] = set()
    items = [(label_name(str(k)), str(v)) for k, v in sorted(labels.items())]
    if sandbox_id and "sandbox_id" not in {k for k, _ in items}:
        items.append(("sandbox_id", sandbox_id))
    for key, value in [*items, *extra]:
        base, i = key, 2
        while key in used:
            key, i = f"{base}_{i}", i + 1
        used.add(key)
        pairs.append((key, value))
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs) + "}"


def _ms(sample: Any) -> str:
    if sample.timestamp is None:
        return ""
    return " " + str(to_us(sample.timestamp) // 1000)


class _Names:
    """Valid, unique family names for the original (name, type) pairs."""

    def __init__(self) -> None:
        self.taken: dict[str, tuple[str, str]] = {}

    def family(self, name: str, type_: str) -> str:
        base = metric_name(name)
        if type_ == "counter":
            base = base[:-6] if base.endswith("_total") and len(base) > 6 else base
        candidate, i = base, 2
        while candidate in self.taken and self.taken[candidate] != (name, type_):
            candidate, i = f"{base}_{i}", i + 1
        self.taken[candidate] = (name, type_)
        return candidate


def write_prometheus(samples: Iterable[Any], out: TextIO, *, latest_only: bool = False,
                     buckets: tuple[float, ...] = DEFAULT_BUCKETS) -> int:
    """Samples grouped by name and type (as ``iter_samples(order="series")`` gives them)."""
    names = _Names()
    counter = [0]

    def counted(it: Iterable[Any]) -> Iterator[Any]:
        for s in it:
            counter[0] += 1
            yield s

    for (name, type_), family_samples in groupby(counted(samples), key=lambda s: (s.name, s.type)):
        family = names.family(name, type_)
        prom_type = type_ if type_ in ("counter", "gauge", "histogram", "summary") else "untyped"
        header = family + "_total" if prom_type == "counter" else family
        out.write(f"# HELP {header} {escape_help(f'{name} ({type_}) exported by sandbox-admin')}\n")
        out.write(f"# TYPE {header} {prom_type}\n")
        for sandbox, sandbox_samples in groupby(family_samples, key=lambda s: s.sandbox_id):
            # 'null' and '{}' labels are one series but not adjacent in text order
            runs: dict[tuple, list[Any]] = {}
            for s in sandbox_samples:
                runs.setdefault(tuple(sorted((s.labels or {}).items())), []).append(s)
            for items, series in sorted(runs.items()):
                _write_series(out, family, header, prom_type, dict(items), sandbox, series,
                              latest_only, buckets)
    return counter[0]


def _write_series(out: TextIO, family: str, header: str, prom_type: str, labels: dict[str, Any],
                  sandbox: str | None, series: list[Any], latest_only: bool,
                  buckets: tuple[float, ...]) -> None:
    series.sort(key=lambda s: (s.timestamp is not None, s.timestamp or 0))
    if prom_type == "histogram":
        _write_histogram(out, family, labels, sandbox, series, buckets)
    elif prom_type == "summary":
        _write_summary(out, family, labels, sandbox, series)
    else:
        label_text = _labels(labels, sandbox)
        for s in series[-1:] if latest_only else series:
            out.write(f"{header}{label_text} {_number(s.value)}{_ms(s)}\n")


def _write_histogram(out: TextIO, family: str, labels: dict[str, Any], sandbox: str | None,
                     series: list[Any], buckets: tuple[float, ...]) -> None:
    if "le" in labels:  # already bucketed: pass through
        rest = {k: v for k, v in labels.items() if k != "le"}
        text = _labels(rest, sandbox, (("le", str(labels["le"])),))
        for s in series:
            out.write(f"{family}_bucket{text} {_number(s.value)}{_ms(s)}\n")
        return
    values = sorted(float(s.value) for s in series)
    stamp = _ms(max(series, key=lambda s: (s.timestamp is not None, s.timestamp or 0)))
    total = math.fsum(values)
    i = 0
    for bound in buckets:
        while i < len(values) and values[i] <= bound:
            i += 1
        out.write(f"{family}_bucket{_labels(labels, sandbox, (('le', _number(bound)),))} {i}{stamp}\n")
    out.write(f"{family}_bucket{_labels(labels, sandbox, (('le', '+Inf'),))} {len(values)}{stamp}\n")
    out.write(f"{family}_sum{_labels(labels, sandbox)} {_number(total)}{stamp}\n")
    out.write(f"{family}_count{_labels(labels, sandbox)} {len(values)}{stamp}\n")


def _write_summary(out: TextIO, family: str, labels: dict[str, Any], sandbox: str | None,
                   series: list[Any]) -> None:
    if "quantile" in labels:  # already quantiles: pass through
        for s in series:
            out.write(f"{family}{_labels(labels, sandbox)} {_number(s.value)}{_ms(s)}\n")
        return
    values = sorted(float(s.value) for s in series)
    stamp = _ms(max(series, key=lambda s: (s.timestamp is not None, s.timestamp or 0)))
    for q in SUMMARY_QUANTILES:
        value = values[int(math.floor(q * (len(values) - 1)))]
        out.write(f"{family}{_labels(labels, sandbox, (('quantile', _number(q)),))} {_number(value)}{stamp}\n")
    out.write(f"{family}_sum{_labels(labels, sandbox)} {_number(math.fsum(values))}{stamp}\n")
    out.write(f"{family}_count{_labels(labels, sandbox)} {len(values)}{stamp}\n")


# -- OpenMetrics (history for backfilling) -----------------------------------------------

def _seconds_text(ms: int) -> str:
    whole, frac = divmod(ms, 1000)
    return f"{whole}.{frac:03d}"


def write_openmetrics(samples: Iterable[Any], out: TextIO, *,
                      buckets: tuple[float, ...] = DEFAULT_BUCKETS,
                      labels: dict[str, str] | None = None) -> int:
    """Samples grouped by name and type (``iter_samples(order="series")``); ``labels``
    are added to every series (e.g. ``{"instance": "server-1"}``). Samples without a
    readable timestamp are left out (Prometheus needs one)."""
    names = _Names()
    extra = tuple(sorted((labels or {}).items()))
    counter = [0]

    def counted(it: Iterable[Any]) -> Iterator[Any]:
        for s in it:
            counter[0] += 1
            if s.timestamp is not None:
                yield s

    for (name, type_), family_samples in groupby(counted(samples), key=lambda s: (s.name, s.type)):
        family = names.family(name, type_)
        om_type = type_ if type_ in ("counter", "gauge", "histogram", "summary") else "unknown"
        out.write(f"# HELP {family} {escape_help(f'{name} ({type_}) exported by sandbox-admin')}\n")
        out.write(f"# TYPE {family} {om_type}\n")
        for sandbox, sandbox_samples in groupby(family_samples, key=lambda s: s.sandbox_id):
            runs: dict[tuple, list[Any]] = {}
            for s in sandbox_samples:
                runs.setdefault(tuple(sorted((s.labels or {}).items())), []).append(s)
            for items, series in sorted(runs.items()):
                series.sort(key=lambda s: to_us(s.timestamp))
                _write_om_series(out, family, om_type, dict(items), sandbox, series, extra, buckets)
    out.write("# EOF\n")
    return counter[0]


def _by_ms(series: list[Any]) -> Iterator[tuple[int, list[Any]]]:
    """(ms, samples) in time order: what Prometheus can store of one series."""
    return ((ms, list(group)) for ms, group in groupby(series, key=lambda s: to_us(s.timestamp) // 1000))


def _write_om_series(out: TextIO, family: str, om_type: str, labels: dict[str, Any],
                     sandbox: str | None, series: list[Any], extra: tuple[tuple[str, str], ...],
                     buckets: tuple[float, ...]) -> None:
    observations = (om_type == "histogram" and "le" not in labels
                    or om_type == "summary" and "quantile" not in labels)
    if not observations:
        if om_type == "histogram":
            rest = {k: v for k, v in labels.items() if k != "le"}
            text, name = _labels(rest, sandbox, (*extra, ("le", str(labels["le"])))), family + "_bucket"
        else:
            name = family + "_total" if om_type == "counter" else family
            text = _labels(labels, sandbox, extra)
        for ms, group in _by_ms(series):
            out.write(f"{name}{text} {_number(group[-1].value)} {_seconds_text(ms)}\n")
        return
    plain = _labels(labels, sandbox, extra)
    bucket_text = [_labels(labels, sandbox, (*extra, ("le", _number(b)))) for b in buckets]
    inf_text = _labels(labels, sandbox, (*extra, ("le", "+Inf")))
    counts = [0] * len(buckets)
    n, parts = 0, []
    for ms, group in _by_ms(series):
        for s in group:
            v = float(s.value)
            n += 1
            parts.append(v)
            for i, bound in enumerate(buckets):
                if v <= bound:
                    counts[i] += 1
        total = _number(math.fsum(parts))
        parts = [math.fsum(parts)]
        stamp = _seconds_text(ms)
        if om_type == "histogram":
            for text, c in zip(bucket_text, counts):
                out.write(f"{family}_bucket{text} {c} {stamp}\n")
            out.write(f"{family}_bucket{inf_text} {n} {stamp}\n")
        out.write(f"{family}_count{plain} {n} {stamp}\n")
        out.write(f"{family}_sum{plain} {total} {stamp}\n")


WRITERS = {"json": write_json, "csv": write_csv, "prometheus": write_prometheus,
           "openmetrics": write_openmetrics}


def export(samples: Iterable[Any], fmt: str, out: TextIO, **options: Any) -> int:
    if fmt not in WRITERS:
        from .. import errors

        raise errors.InvalidInput(f"Unknown export format {fmt!r}; use {', '.join(FORMATS)}.")
    return WRITERS[fmt](samples, out, **options)


# -- a chart's data ------------------------------------------------------------------------

CHART_CSV_COLUMNS = ("time", "series", "name", "type", "sandbox_id", "labels", "step_seconds",
                     "samples", "value", "min", "max", "last")


def chart_rows(series: Sequence[Any], titles: Sequence[str], start: float, end: float) -> list[dict[str, Any]]:
    """A chart's buckets overlapping ``[start, end)`` (Unix seconds), one dict each: what
    the line shows (``value``: a counter's rate per second, otherwise the average) with
    the bucket's samples, min, max and last value; ``titles`` name each series."""
    rows: list[dict[str, Any]] = []
    for s, title in zip(series, titles):
        p = s.points
        shown = p.rate if s.type == "counter" and p.rate is not None else p.avg
        for i in range(len(p)):
            t = float(p.t[i])
            if t >= end or t + s.step_seconds <= start:
                continue
            rows.append({
                "time": to_iso(datetime.fromtimestamp(t, timezone.utc)), "series": title, "name": s.name,
                "type": s.type, "sandbox_id": s.sandbox_id, "labels": dict(s.labels),
                "step_seconds": s.step_seconds, "samples": int(p.count[i]), "value": _json_value(float(shown[i])),
                "min": _json_value(float(p.min[i])), "max": _json_value(float(p.max[i])),
                "last": _json_value(float(p.last[i])),
            })
    return rows


def write_chart(rows: Sequence[dict[str, Any]], out: TextIO, fmt: str) -> int:
    """``rows`` of :func:`chart_rows` as CSV (labels as compact sorted JSON) or JSON."""
    if fmt == "json":
        json.dump({"buckets": list(rows)}, out, indent=1, ensure_ascii=False, sort_keys=False)
        out.write("\n")
        return len(rows)
    if fmt != "csv":
        raise errors.InvalidInput(f"Unknown chart format {fmt!r}; use csv or json.")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CHART_CSV_COLUMNS)
    for r in rows:
        cells = []
        for column in CHART_CSV_COLUMNS:
            value = r[column]
            if column == "labels":
                value = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            cells.append("" if value is None else value)
        writer.writerow(cells)
    return len(rows)
