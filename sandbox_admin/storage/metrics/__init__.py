"""Metrics: ingest, queries over raw samples and rollups, retention, sketches, export."""

from .durations import step_seconds
from .export import DEFAULT_BUCKETS, write_csv, write_json, write_prometheus
from .records import DEFAULT_STATS, PERCENTILES, Points, Sample, Series, SeriesInfo
from .rollups import BuildReport, RetentionPolicy, RetentionReport
from .sql import METRIC_TYPES
from .store import MetricsStore

__all__ = [
    "DEFAULT_BUCKETS", "DEFAULT_STATS", "METRIC_TYPES", "PERCENTILES", "BuildReport",
    "MetricsStore", "Points", "RetentionPolicy", "RetentionReport", "Sample", "Series",
    "SeriesInfo", "step_seconds", "write_csv", "write_json", "write_prometheus",
]
