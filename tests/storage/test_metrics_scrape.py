"""What a Prometheus scrape shows (storage.metrics.scrape/endpoint), on real SQLite files:
incremental from a watermark, seeded from rollups, the last good state when locked, and
the OpenMetrics history export (parsed back with prometheus_client)."""

from __future__ import annotations

import io
import math
import sqlite3
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from sandbox_admin.storage import LatestSamples, MetricsEndpoint, errors, open_store, write_openmetrics
from sandbox_admin.storage.metrics.endpoint import parse_listen
from sandbox_admin.storage.metrics.store import Sample

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def store(fresh_store):
    for sid in ("sb-a", "sb-b"):
        fresh_store.models.Sandbox.create(id=sid, status="running")
    fresh_store.models.Sandbox.create(id="sb-gone", status="stopped", deleted_at=_at(0))
    m = fresh_store.metrics
    m.record_batch([
        Sample("cpu", 1.5, labels={"host": "a"}, sandbox_id="sb-a", timestamp=_at(0)),
        Sample("cpu", 2.5, labels={"host": "a"}, sandbox_id="sb-a", timestamp=_at(60)),
        Sample("cpu", 9.0, labels={"host": "b"}, sandbox_id="sb-b", timestamp=_at(30)),
        Sample("req_total", 10, type="counter", sandbox_id="sb-b", timestamp=_at(1)),
        Sample("req_total", 12, type="counter", sandbox_id="sb-b", timestamp=_at(61)),
        Sample("lat", 0.02, type="histogram", sandbox_id="sb-a", timestamp=_at(5)),
        Sample("lat", 0.3, type="histogram", sandbox_id="sb-a", timestamp=_at(6)),
        Sample("size", 100.0, type="summary", sandbox_id="sb-a", timestamp=_at(7)),
        Sample("size", 300.0, type="summary", sandbox_id="sb-a", timestamp=_at(8)),
    ])
    return fresh_store


def _latest(snap, name, sandbox, **labels):
    return [v.value for (n, _, _, s), v in snap.latest.items()
            if n == name and s == sandbox and dict(v.labels) == labels]


def test_each_scrape_reads_only_the_rows_after_its_watermark(store):
    samples = LatestSamples(store)
    snap = samples.refresh()
    assert samples.rows_read == 9 and samples.watermark == 9 and not snap.stale
    assert _latest(snap, "cpu", "sb-a", host="a") == [2.5]
    assert _latest(snap, "req_total", "sb-b") == [12.0]
    assert [s.sandbox_id for s in snap.sandboxes] == ["sb-a", "sb-b"]  # not the deleted one
    assert snap.table_rows["metrics"] == 9 and snap.health["database_size_bytes"] > 0
    lat = next(d for (n, *_), d in snap.distributions.items() if n == "lat")
    assert lat.count == 2 and lat.sum == pytest.approx(0.32)
    assert dict(lat.cumulative())[0.025] == 1 and dict(lat.cumulative())[math.inf] == 2

    store.metrics.record_batch([
        Sample("cpu", 7.0, labels={"host": "a"}, sandbox_id="sb-a", timestamp=_at(120)),
        Sample("cpu", 0.5, labels={"host": "a"}, sandbox_id="sb-a", timestamp=_at(90)),  # late
        Sample("lat", 3.0, type="histogram", sandbox_id="sb-a", timestamp=_at(130)),
    ])
    snap = samples.refresh()
    assert samples.rows_read == 12 and samples.watermark == 12
    assert _latest(snap, "cpu", "sb-a", host="a") == [7.0]  # the newest by time, not by id
    assert next(d for (n, *_), d in snap.distributions.items() if n == "lat").count == 3
    samples.refresh()
    assert samples.rows_read == 12  # nothing new: nothing read
    store.db.execute_sql("DELETE FROM metrics WHERE id > 4")  # as after restoring an older copy
    store.db.execute_sql("DELETE FROM sqlite_sequence WHERE name = 'metrics'")
    store.metrics.record_batch([Sample("cpu", 5.0, labels={"host": "b"}, sandbox_id="sb-b", timestamp=_at(500))])
    snap = samples.refresh()
    assert samples.watermark == 5 and _latest(snap, "cpu", "sb-b", host="b") == [5.0]
    assert not snap.distributions  # started again from what is there
    samples.close()


def test_the_first_scrape_seeds_from_rollups(store):
    expected = LatestSamples(store).refresh()
    store.metrics.build_rollups()
    store.metrics.record_batch([Sample("cpu", 4.0, labels={"host": "b"}, sandbox_id="sb-b",
                                       timestamp=_at(200))])
    samples = LatestSamples(store)
    snap = samples.refresh()
    assert samples.rows_read == 1  # only the row after the rollups' watermark
    assert _latest(snap, "cpu", "sb-a", host="a") == [2.5]
    assert _latest(snap, "cpu", "sb-b", host="b") == [4.0]
    assert _latest(snap, "req_total", "sb-b") == [12.0]
    for key, dist in expected.distributions.items():
        seeded = snap.distributions[key]
        assert (seeded.count, seeded.sum) == (dist.count, pytest.approx(dist.sum))
        assert seeded.cumulative() == dist.cumulative()
        assert [v for _, v in seeded.quantiles()] == pytest.approx([v for _, v in dist.quantiles()], rel=0.02)
    samples.close()


def test_a_locked_database_answers_from_the_last_good_state_quickly(store, tmp_path):
    samples = LatestSamples(store, busy_timeout_ms=50)
    samples.refresh()
    samples.close()  # reopened by the next refresh
    store.close()
    path = store.path
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")  # a rollback journal: a writer locks readers out
    conn.execute("BEGIN EXCLUSIVE")
    try:
        started = time.perf_counter()
        snap = samples.refresh()
        took = time.perf_counter() - started
    finally:
        conn.execute("ROLLBACK")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.close()
    assert snap.stale and snap.error and samples.errors == 1
    assert took < 1.0
    assert _latest(snap, "cpu", "sb-a", host="a") == [2.5]  # the last good state
    assert not samples.refresh().stale
    samples.close()


def test_endpoint_serves_openmetrics_and_text_and_refuses_a_taken_port(store):
    with MetricsEndpoint(store, "127.0.0.1:0", instance="s1") as endpoint:
        url = endpoint.address
        assert url.startswith("http://127.0.0.1:")
        om = urllib.request.urlopen(urllib.request.Request(
            url, headers={"Accept": "application/openmetrics-text; version=1.0.0"}), timeout=10).read().decode()
        families = {f.name: f for f in text_string_to_metric_families(om)}
        assert families["req"].type == "counter"
        assert [s.value for s in families["req"].samples if s.name == "req_total"] == [12.0]
        lat = {(s.name, s.labels.get("le")): s.value for s in families["lat"].samples}
        assert lat[("lat_count", None)] == 2 and lat[("lat_bucket", "+Inf")] == 2
        assert {s.labels["quantile"] for s in families["size"].samples if "quantile" in s.labels}
        assert all(s.labels["instance"] == "s1" for f in families.values() for s in f.samples)
        status = {s.labels["sandbox_id"]: s.labels["status"] for s in families["sandbox_status"].samples}
        assert status == {"sb-a": "running", "sb-b": "running"}
        assert "sandbox_admin_table_rows" in families and "sandbox_admin_stale" in families
        root = url.removesuffix("metrics")
        assert b"/metrics" in urllib.request.urlopen(root, timeout=10).read()
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(root + "other", timeout=10)
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        assert "# TYPE req_total counter" in text and "# EOF" not in text
        with pytest.raises(errors.AddressInUse, match="already in use"):
            MetricsEndpoint(store, f"127.0.0.1:{endpoint.port}").start()
        assert endpoint.state().scrapes == 2 and endpoint.state().running
    assert not endpoint.running


def test_parse_listen():
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen(":0") == ("127.0.0.1", 0)
    assert parse_listen("[::1]:80") == ("::1", 80)
    for bad in ("nope", "127.0.0.1:x", "1.2.3.4:70000"):
        with pytest.raises(errors.InvalidInput):
            parse_listen(bad)


def test_openmetrics_history_is_sorted_in_seconds_and_ends_with_eof(store):
    store.metrics.record_batch([  # the same millisecond: one point, the last value
        Sample("cpu", 3.5, labels={"host": "a"}, sandbox_id="sb-a", timestamp=_at(60.0004)),
    ])
    buf = io.StringIO()
    n = write_openmetrics(store.metrics.iter_samples(order="series"), buf, labels={"instance": "s1"})
    text = buf.getvalue()
    assert n == 10 and text.endswith("# EOF\n")
    # prometheus_client's (lax) parser trips over histograms with several timestamps,
    # which promtool reads (tests/prometheus): check those lines as text
    lat = [line for line in text.splitlines() if line.startswith("lat_")]
    assert 'lat_bucket{sandbox_id="sb-a",instance="s1",le="0.025"} 1 1795132805.000' in lat
    assert 'lat_bucket{sandbox_id="sb-a",instance="s1",le="+Inf"} 2 1795132806.000' in lat
    assert 'lat_count{sandbox_id="sb-a",instance="s1"} 2 1795132806.000' in lat
    text = "\n".join(line for line in text.splitlines() if not line.startswith(("lat_", "# TYPE lat ", "# HELP lat "))) + "\n"
    families = {f.name: f for f in text_string_to_metric_families(text)}
    cpu = [(s.labels["host"], float(s.timestamp), s.value) for s in families["cpu"].samples]
    assert cpu == [("a", 1795132800.0, 1.5), ("a", 1795132860.0, 3.5), ("b", 1795132830.0, 9.0)]
    assert [s.value for s in families["req"].samples] == [10.0, 12.0]
    size = [line.split("{")[0] for line in buf.getvalue().splitlines() if line.startswith("size")]
    assert size == ["size_count", "size_sum"] * 2
    assert all(s.labels["instance"] == "s1" for f in families.values() for s in f.samples)


def test_open_store_then_endpoint_on_a_read_only_store(store):
    path = store.path
    store.close()
    with open_store(path, read_only=True) as ro:
        samples = LatestSamples(ro)
        assert _latest(samples.refresh(), "cpu", "sb-b", host="b") == [9.0]
        samples.close()


def test_the_cached_exposition_is_prometheus_clients_own_and_follows_changes(store):
    from prometheus_client.exposition import choose_encoder, generate_latest

    endpoint = MetricsEndpoint(store, "127.0.0.1:0", instance="s1")
    collector = endpoint.collector
    for accept in ("", "application/openmetrics-text; version=1.0.0"):
        encoder, content_type = choose_encoder(accept)
        collector.render(encoder, content_type)  # fills the cache
        store.metrics.record_batch([Sample("cpu", 42.0, labels={"host": "a"}, sandbox_id="sb-a",
                                           timestamp=_at(1000 + len(accept)))])
        cached = collector.render(encoder, content_type).decode()
        whole = encoder(endpoint.registry).decode()  # everything encoded afresh
        strip = ("sandbox_admin_refresh_seconds", "# HELP sandbox_admin_refresh", "# TYPE sandbox_admin_refresh")
        assert [x for x in cached.splitlines() if not x.startswith(strip)] == \
               [x for x in whole.splitlines() if not x.startswith(strip)]
        assert 'cpu{host="a",instance="s1",sandbox_id="sb-a"} 42.0' in cached
    assert generate_latest(endpoint.registry)
    endpoint.samples.close()
