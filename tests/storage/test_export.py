"""Metric exports: Prometheus text format (parsed back with prometheus_client), JSON, CSV, CLI."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox_admin.storage import open_store
from sandbox_admin.storage.metrics.export import (
    DEFAULT_BUCKETS,
    write_csv,
    write_json,
    write_prometheus,
)
from sandbox_admin.storage.metrics.store import Sample
from tests.conftest import GO_FIXTURE

UTC = timezone.utc
T0 = datetime(2026, 11, 20, tzinfo=UTC)
NASTY = 'say "hi"\\ to\nC:\\new\\ and \\"x\\" }{,='


def _prom(samples, **options) -> tuple[str, dict]:
    buf = io.StringIO()
    write_prometheus(samples, buf, **options)
    text = buf.getvalue()
    return text, {f.name: f for f in text_string_to_metric_families(text)}


@pytest.fixture
def store(fresh_store):
    for sid in ("sb-a", "sb-b"):
        fresh_store.models.Sandbox.create(id=sid, status="running")
    return fresh_store


def test_prometheus_export_of_the_go_fixture_parses_and_round_trips():
    with open_store(GO_FIXTURE, read_only=True) as store:
        samples = list(store.metrics.iter_samples(order="series"))
    text, families = _prom(samples)
    headers = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")]
    assert len(headers) == len(set(headers)) == 5  # HELP/TYPE once per family
    assert [line for line in text.splitlines() if line.startswith("# HELP")].__len__() == 5
    assert {n: f.type for n, f in families.items()} == {
        "cpu_usage": "gauge", "memory_bytes": "gauge", "request_latency_seconds": "histogram",
        "requests": "counter", "sandbox_up": "gauge"}

    # gauges and counters: every sample, value, labels (+ sandbox_id) and ms timestamp
    expected = Counter()
    for s in samples:
        if s.type in ("gauge", "counter"):
            name = s.name if s.type == "gauge" or s.name.endswith("_total") else s.name + "_total"
            labels = tuple(sorted({**s.labels, "sandbox_id": s.sandbox_id}.items()))
            ms = (s.timestamp - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
            expected[(name, labels, s.value, ms / 1000)] += 1
    got = Counter()
    for f in families.values():
        if f.type in ("gauge", "counter"):
            for p in f.samples:
                got[(p.name, tuple(sorted(p.labels.items())), float(p.value), p.timestamp)] += 1
    assert got == expected

    # histograms: one cumulative histogram per series from the observations
    observations = defaultdict(list)
    for s in samples:
        if s.type == "histogram":
            observations[tuple(sorted({**s.labels, "sandbox_id": s.sandbox_id}.items()))].append(s.value)
    hist = families["request_latency_seconds"].samples
    counts = {tuple(sorted(p.labels.items())): p.value for p in hist if p.name.endswith("_count")}
    sums = {tuple(sorted(p.labels.items())): p.value for p in hist if p.name.endswith("_sum")}
    assert counts == {k: len(v) for k, v in observations.items()}
    assert sums == {k: math.fsum(sorted(v)) for k, v in observations.items()}
    for key, values in observations.items():
        buckets = [(float(p.labels["le"]), p.value) for p in hist if p.name.endswith("_bucket")
                   and tuple(sorted((k, v) for k, v in p.labels.items() if k != "le")) == key]
        assert [b for b, _ in buckets] == [*DEFAULT_BUCKETS, math.inf]
        assert [c for _, c in buckets] == [sum(v <= b for v in values) for b, _ in buckets]


def test_label_values_with_quotes_backslashes_and_newlines_round_trip(store):
    store.metrics.record_batch([
        Sample("weird_gauge", 1.25, labels={"path": NASTY, "ok": "plain"}, sandbox_id="sb-a", timestamp=T0),
        Sample("weird_total", 3, type="counter", labels={"q": NASTY}, sandbox_id="sb-b",
               timestamp=T0 + timedelta(milliseconds=1234)),
        Sample("jobs", 7, type="counter", labels={"sandbox_id": "theirs"}, sandbox_id="sb-b", timestamp=T0),
    ])
    text, families = _prom(store.metrics.iter_samples(order="series"))
    [g] = families["weird_gauge"].samples
    assert g.labels == {"path": NASTY, "ok": "plain", "sandbox_id": "sb-a"} and g.value == 1.25
    assert g.timestamp == T0.timestamp()
    [c] = families["weird"].samples
    assert c.name == "weird_total" and c.labels["q"] == NASTY and c.timestamp == T0.timestamp() + 1.234
    [j] = families["jobs"].samples  # counters are exposed as <name>_total
    assert j.name == "jobs_total" and j.labels == {"sandbox_id": "theirs"}
    assert "\n" not in [line for line in text.splitlines() if line.startswith("weird_gauge")][0][:-1]


def test_names_are_sanitised_without_collisions_and_values_keep_precision(store):
    values = [0.1 + 0.2, 1e-300, 123456789.123456789, -0.0, float("inf")]
    store.metrics.record_batch(
        [Sample("http.requests-in", v, labels={"bad-key": "x", "9lives": "y"}, sandbox_id="sb-a",
                timestamp=T0 + timedelta(seconds=i)) for i, v in enumerate(values)]
        + [Sample("http_requests_in", 1.0, sandbox_id="sb-a", timestamp=T0)])
    text, families = _prom(store.metrics.iter_samples(order="series"))
    assert set(families) == {"http_requests_in", "http_requests_in_2"}
    first = families["http_requests_in"].samples
    assert [p.value for p in first] == values
    assert first[0].labels == {"bad_key": "x", "_9lives": "y", "sandbox_id": "sb-a"}


def test_latest_only_and_summaries(store):
    store.metrics.record_batch(
        [Sample("temp", float(i), sandbox_id="sb-a", timestamp=T0 + timedelta(seconds=i)) for i in range(5)]
        + [Sample("rpc_seconds", float(v), type="summary", sandbox_id="sb-b",
                  timestamp=T0 + timedelta(seconds=v)) for v in range(1, 101)])
    _, families = _prom(store.metrics.iter_samples(order="series"), latest_only=True)
    assert [(p.value, p.timestamp) for p in families["temp"].samples] == [(4.0, T0.timestamp() + 4)]
    summary = {(p.name, p.labels.get("quantile")): p.value for p in families["rpc_seconds"].samples}
    assert summary[("rpc_seconds", "0.5")] == 50.0 and summary[("rpc_seconds", "0.99")] == 99.0
    assert summary[("rpc_seconds_count", None)] == 100 and summary[("rpc_seconds_sum", None)] == 5050.0


def test_json_and_csv_round_trip(store):
    store.metrics.record_batch([
        Sample("cpu", 0.1 + 0.2, labels={"h": NASTY}, sandbox_id="sb-a", timestamp=T0 + timedelta(microseconds=7)),
        Sample("cpu", float("-inf"), sandbox_id="sb-b", timestamp=T0),
    ])
    samples = store.metrics.query(order="id")
    buf = io.StringIO()
    assert write_json(samples, buf) == 2
    doc = json.loads(buf.getvalue())
    assert doc["count"] == 2 and doc["samples"][0]["value"] == 0.1 + 0.2
    assert doc["samples"][0]["labels"] == {"h": NASTY} and doc["samples"][1]["value"] == "-Inf"
    assert doc["samples"][0]["timestamp"] == "2026-11-20T00:00:00.000007Z"
    buf = io.StringIO()
    assert write_csv(samples, buf) == 2
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert float(rows[0]["value"]) == 0.1 + 0.2 and json.loads(rows[0]["labels"]) == {"h": NASTY}
    assert rows[1]["value"] == "-Inf" and rows[1]["sandbox_id"] == "sb-b"
    empty = io.StringIO()
    assert write_json([], empty) == 0 and json.loads(empty.getvalue())["samples"] == []


# -- CLI ---------------------------------------------------------------------------------

def test_cli_export_metrics_formats_and_errors(go_fixture, run_cli, tmp_path):
    code, out, err = run_cli("export-metrics", go_fixture, "--format", "prometheus", "--name", "sandbox_up",
                             "--latest")
    assert code == 0 and err == ""
    assert {f.name for f in text_string_to_metric_families(out)} == {"sandbox_up"}
    code, out, _ = run_cli("export-metrics", go_fixture, "--format", "json", "--name", "cpu_usage",
                           "--from", "2026-11-26 00:00", "--to", "2026-11-26T01:00:00Z", "--json")
    doc = json.loads(out)
    assert doc["count"] == len(doc["samples"]) > 0
    assert all("2026-11-26T00:" in s["timestamp"] for s in doc["samples"])
    target = tmp_path / "out.csv"
    code, out, _ = run_cli("export-metrics", go_fixture, "--format", "csv", "--period", "1h", "-o", target, "--json")
    assert code == 0 and json.loads(out)["samples"] == 149 and target.stat().st_size > 0
    assert list(tmp_path.iterdir()) == [target]  # no partial file left behind
    code, _, err = run_cli("export-metrics", go_fixture, "--format", "csv", "--latest")
    assert code == 2 and "--latest only applies" in err
    code, _, err = run_cli("export-metrics", go_fixture, "--format", "csv", "-o", tmp_path / "no" / "x.csv")
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_:  # argparse: usage error
        run_cli("export-metrics", go_fixture, "--format", "xml")
    assert exit_.value.code == 2


def test_cli_metrics_text_and_errors(go_fixture, run_cli):
    code, out, _ = run_cli("metrics", go_fixture, "--name", "requests_total", "--step", "1h", "--group-by", "none")
    assert code == 0 and "requests_total  counter" in out and "/s" in out and "1 series" in out
    code, out, _ = run_cli("metrics", go_fixture, "--name", "cpu_usage", "--label", "host=node-a",
                           "--step", "1d", "--group-by", "host", "--percentiles", "--json")
    [series] = json.loads(out)["series"]
    assert series["labels"] == {"host": "node-a"} and "p95" in series["points"][0]
    code, out, _ = run_cli("metrics", go_fixture, "--name", "cpu_usage", "--from", "now", "--to", "now+1h")
    assert code == 0 and "0 series (no samples in the range)" in out
    for args, message in [(("--step", "soon"), "not a step"), (("--label", "host"), "not KEY=VALUE"),
                          (("--from", "2026-11-26", "--to", "2026-11-25", "--points", "5"), "after its start")]:
        code, _, err = run_cli("metrics", go_fixture, "--name", "cpu_usage", *args)
        assert code == 2 and message in err, err
