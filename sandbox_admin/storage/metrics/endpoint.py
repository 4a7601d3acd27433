"""A read-only Prometheus / OpenMetrics endpoint for a live database.

:class:`MetricsEndpoint` serves ``/metrics`` over HTTP from a custom
``prometheus_client`` collector over :class:`.scrape.LatestSamples`, in the format the
scraper asks for (``prometheus_client``'s own content negotiation and encoders:
OpenMetrics 1.0 for Prometheus, text 0.0.4 for others; gzip when accepted). Each scrape
folds in only the rows written since the last one (see :mod:`.scrape`) and re-encodes
only the series that changed (:meth:`SnapshotCollector.render`).

What a scrape shows:

* every series' latest sample, with its labels plus ``sandbox_id`` (and ``instance``
  when a name was given): gauges as they are, counters as ``<name>_total``, the Go
  server's histogram observations as cumulative ``_bucket{le}`` / ``_count`` / ``_sum``,
  summaries as ``{quantile}`` / ``_count`` / ``_sum``. No sample timestamps: Prometheus
  stamps the scrape, so a quiet series stays current instead of being dropped as old;
  history goes through ``export-metrics --format openmetrics`` and backfilling;
* ``sandbox_status{sandbox_id, status} 1`` for each sandbox not deleted;
* our own health: ``sandbox_admin_database_size_bytes``, ``..._wal_size_bytes``,
  ``..._last_backup_age_seconds``, ``..._table_rows{table}``, the scrape's own time,
  its errors and whether it answered from the last good state (``..._stale``).
"""

from __future__ import annotations

import errno
import gzip
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client.core import Metric
from prometheus_client.exposition import ThreadingWSGIServer, choose_encoder, gzip_accepted
from prometheus_client.registry import CollectorRegistry

from .. import errors
from .export import _Names, label_name
from .scrape import LatestSamples, Snapshot, newest_backup_time

DEFAULT_LISTEN = "127.0.0.1:9464"
PREFIX = "sandbox_admin_"
_HEALTH = {
    "database_size_bytes": "Size of the database file in bytes",
    "wal_size_bytes": "Size of the database's write-ahead log in bytes",
    "last_backup_age_seconds": "Seconds since the newest backup of this database",
    "watermark": "Highest metrics row id folded into this endpoint's view",
    "rows_behind": "Metric rows written but not read yet (read by the next scrapes)",
    "refresh_seconds": "How long the last scrape's read of the database took",
    "refresh_errors": "Scrapes that could not read the database (locked, busy, gone)",
    "series": "Metric series this endpoint shows",
}
#: names our own families take before the database's (a metric named so gets a suffix)
OWN_FAMILIES = ("sandbox_status", *(PREFIX + k for k in (*_HEALTH, "table_rows", "stale")))


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (loopback) or ``[::1]:PORT`` -> (host, port)."""
    host, sep, port = str(text).strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise errors.InvalidInput(f"{text!r} is not an address to listen on; use e.g. 127.0.0.1:9464.")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


#: one series of a family: (cache key, token that changes with its content, its samples)
Entry = tuple[Any, Any, Callable[[], list[tuple[str, dict[str, str], float]]]]


@dataclass
class Family:
    name: str
    doc: str
    type: str
    entries: list[Entry]

    def metric(self, with_samples: bool = True) -> Metric:
        m = Metric(self.name, self.doc, self.type)
        if with_samples:
            for _, _, samples in self.entries:
                for name, labels, value in samples():
                    m.add_sample(name, labels, value)
        return m


class _One:
    """What an encoder wants (something with ``collect()``) for one metric family."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric

    def collect(self) -> list[Metric]:
        return [self.metric]


class SnapshotCollector:
    """A ``prometheus_client`` custom collector over one :class:`LatestSamples`.

    :meth:`render` is what the endpoint serves: the same families, each series' text
    made by ``prometheus_client``'s encoder and kept until that series changes, so a
    scrape re-encodes only what changed since the previous one (the exposition of a
    hundred thousand series otherwise costs seconds).
    """

    def __init__(self, samples: LatestSamples, instance: str | None = None) -> None:
        self.samples = samples
        self.instance = instance or None
        self.lock = threading.Lock()
        self.last: Snapshot | None = None
        self.scrapes = 0
        self._cache: dict[str, dict[Any, tuple[Any, str]]] = {}
        self._plan_cache: tuple[int, list[tuple[Family, list[tuple[bool, Any]]]]] | None = None

    def describe(self) -> list[Metric]:
        return []  # unchecked collector: names depend on the database

    def refresh(self) -> Snapshot:
        with self.lock:  # one reader of the state at a time
            return self._refresh()

    def _refresh(self) -> Snapshot:
        self.last = self.samples.refresh()
        self.scrapes += 1
        return self.last

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            families = self.families(self._refresh())
            metrics = [f.metric() for f in families]
        yield from metrics

    def render(self, encoder: Callable[[Any], bytes], content_type: str) -> bytes:
        """A scrape: refresh, then the exposition in ``encoder``'s format."""

        def encode(fam: Family, samples: list[tuple[str, dict[str, str], float]]) -> str:
            m = Metric(fam.name, fam.doc, fam.type)
            for name, labels, value in samples:
                m.add_sample(name, labels, value)
            text = encoder(_One(m)).decode("utf-8")
            return "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))

        def header(fam: Family) -> str:
            text = encoder(_One(fam.metric(False))).decode("utf-8")
            return "".join(line + "\n" for line in text.splitlines()
                           if line.startswith(("# HELP", "# TYPE", "# UNIT")))

        with self.lock:
            snap = self._refresh()
            cache = self._cache.setdefault(content_type, {})
            plan, fresh = self._plan(snap)
            if fresh and len(cache) > len(snap.latest) + len(snap.distributions) + len(snap.sandboxes):
                keep = set(snap.latest) | set(snap.distributions) | {("sandbox_status", sb.sandbox_id) for sb in snap.sandboxes}
                for key in set(cache) - keep:  # series gone: forget them
                    del cache[key]
            parts: list[str] = []
            for fam, keys in plan:
                parts.append(header(fam))
                for is_dist, key in keys:
                    state = snap.distributions[key] if is_dist else snap.latest[key]
                    hit = cache.get(key)
                    if hit is None or hit[0] != state.seq:
                        samples = (self._distribution_samples(fam, key[3], state) if is_dist
                                   else self._latest_samples(fam, key[3], state))
                        hit = cache[key] = (state.seq, encode(fam, samples))
                    parts.append(hit[1])
            for fam in self._own_families(snap):
                parts.append(header(fam))
                for key, token, samples in fam.entries:
                    hit = cache.get(key) if key is not None else None
                    if hit is None or hit[0] != token:
                        hit = (token, encode(fam, samples()))
                        if key is not None:
                            cache[key] = hit
                    parts.append(hit[1])
        if content_type.startswith("application/openmetrics-text"):
            parts.append("# EOF\n")
        return "".join(parts).encode("utf-8")

    def _plan(self, snap: Snapshot) -> tuple[list[tuple[Family, list[tuple[bool, Any]]]], bool]:
        """The data families in order with their series keys; sorted again only when a
        series appeared (``keys_version``). Returns (plan, whether it was made anew)."""
        if self._plan_cache is not None and self._plan_cache[0] == snap.keys_version:
            return self._plan_cache[1], False
        names = _Names()
        for own in OWN_FAMILIES:
            names.family(own, "gauge")
        groups: dict[tuple[str, str], tuple[Family, list[tuple[bool, Any]]]] = {}
        for is_dist, source in ((False, snap.latest), (True, snap.distributions)):
            for key in sorted(source):
                group = groups.get((key[0], key[1]))
                if group is None:
                    prom_type = key[1] if key[1] in ("counter", "gauge", "histogram", "summary") else "unknown"
                    group = groups[(key[0], key[1])] = (Family(
                        names.family(key[0], key[1]), f"{key[0]} ({key[1]}) from SandboxRunner",
                        prom_type, []), [])
                group[1].append((is_dist, key))
        plan = list(groups.values())
        self._plan_cache = (snap.keys_version, plan)
        return plan, True

    def _labels(self, items: Iterable[tuple[str, str]], sandbox: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in items:
            key = label_name(key)
            if key not in ("le", "quantile") or extra is None:
                out[key] = value
        if sandbox and "sandbox_id" not in out:
            out["sandbox_id"] = sandbox
        if self.instance:
            out["instance"] = self.instance
        if extra:
            out.update(extra)
        return out

    def families(self, snap: Snapshot) -> list[Family]:
        """Every family with all its series (what ``collect()`` yields)."""
        out = []
        for fam, keys in self._plan(snap)[0]:
            entries: list[Entry] = []
            for is_dist, key in keys:
                if is_dist:
                    state = snap.distributions[key]
                    entries.append((key, state.seq, partial(self._distribution_samples, fam, key[3], state)))
                else:
                    state = snap.latest[key]
                    entries.append((key, state.seq, partial(self._latest_samples, fam, key[3], state)))
            out.append(Family(fam.name, fam.doc, fam.type, entries))
        return out + self._own_families(snap)

    def _own_families(self, snap: Snapshot) -> list[Family]:
        out = []
        status = Family("sandbox_status", "1 for each sandbox not deleted, with its status", "gauge", [])
        for sb in snap.sandboxes:
            status.entries.append((("sandbox_status", sb.sandbox_id), sb.status,
                                   partial(self._status_samples, sb.sandbox_id, sb.status)))
        out.append(status)
        for key, help_text in _HEALTH.items():
            if key in snap.health:
                sample = [(PREFIX + key, self._labels((), ""), snap.health[key])]
                out.append(Family(PREFIX + key, help_text, "gauge", [(None, None, partial(list, sample))]))
        rows = [(PREFIX + "table_rows", self._labels((("table", t),), ""), n)
                for t, n in sorted(snap.table_rows.items())]
        out.append(Family(PREFIX + "table_rows", "Rows per table (counted at most once a minute)",
                          "gauge", [(None, None, partial(list, rows))]))
        stale = [(PREFIX + "stale", self._labels((), ""), 1 if snap.stale else 0)]
        out.append(Family(PREFIX + "stale", "1 when this scrape answered from the last good state "
                          "(the database was locked or could not be read)", "gauge",
                          [(None, None, partial(list, stale))]))
        return out

    def _status_samples(self, sandbox: str, status: str) -> list[tuple[str, dict[str, str], float]]:
        return [("sandbox_status", self._labels((("status", status),), sandbox), 1)]

    def _latest_samples(self, fam: Family, sandbox: str, latest: Any) -> list[tuple[str, dict[str, str], float]]:
        if fam.type == "counter":
            return [(fam.name + "_total", self._labels(latest.labels, sandbox), latest.value)]
        if fam.type == "histogram":  # rows that already are buckets
            le = dict(latest.labels).get("le", "+Inf")
            return [(fam.name + "_bucket", self._labels(latest.labels, sandbox, {"le": le}), latest.value)]
        return [(fam.name, self._labels(latest.labels, sandbox), latest.value)]

    def _distribution_samples(self, fam: Family, sandbox: str, dist: Any) -> list[tuple[str, dict[str, str], float]]:
        labels = self._labels(dist.labels, sandbox)
        out: list[tuple[str, dict[str, str], float]] = []
        if fam.type == "histogram":
            for bound, count in dist.cumulative():
                le = "+Inf" if bound == float("inf") else repr(float(bound))
                out.append((fam.name + "_bucket", {**labels, "le": le}, count))
        else:
            for q, value in dist.quantiles():
                out.append((fam.name, {**labels, "quantile": repr(q)}, value))
        out.append((fam.name + "_count", labels, dist.count))
        out.append((fam.name + "_sum", labels, dist.sum))
        return out


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


@dataclass
class EndpointState:
    address: str
    running: bool
    scrapes: int
    stale: bool
    error: str | None
    series: int


class MetricsEndpoint:
    """``/metrics`` for one database, served from a thread until :meth:`stop`."""

    def __init__(self, store: Any, listen: str = DEFAULT_LISTEN, *, instance: str | None = None,
                 backups_dir: Path | None = None, busy_timeout_ms: int = 50,
                 max_rows: int = 500_000) -> None:
        self.host, self.port = parse_listen(listen)
        source = Path(store.path)
        self.samples = LatestSamples(
            store, busy_timeout_ms=busy_timeout_ms, max_rows=max_rows,
            last_backup=lambda: newest_backup_time(backups_dir, source))
        self.collector = SnapshotCollector(self.samples, instance)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def _app(self) -> Any:
        def metrics(environ: dict[str, Any], start_response: Any) -> Any:
            encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
            body = self.collector.render(encoder, content_type)
            headers = [("Content-Type", content_type)]
            if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
                body = gzip.compress(body, compresslevel=1)  # fast: bodies can be tens of MB
                headers.append(("Content-Encoding", "gzip"))
            start_response("200 OK", headers + [("Content-Length", str(len(body)))])
            return [body]

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            path = environ.get("PATH_INFO", "/")
            if path == "/metrics" and environ.get("REQUEST_METHOD", "GET") in ("GET", "HEAD"):
                return metrics(environ, start_response)
            if path == "/":
                start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
                return [b"sandbox-admin metrics endpoint: see /metrics\n"]
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found; the metrics are at /metrics\n"]

        return app

    def start(self) -> "MetricsEndpoint":
        """Bind and serve from a daemon thread; :class:`errors.AddressInUse` if taken."""
        server_class = type("Server", (ThreadingWSGIServer,), {})
        if ":" in self.host:
            import socket

            server_class.address_family = socket.AF_INET6
        try:
            self._server = make_server(self.host, self.port, self._app(), server_class,
                                       handler_class=_QuietHandler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise errors.AddressInUse(
                    f"{self.host}:{self.port} is already in use by another program; "
                    "choose another port or stop that program.") from exc
            raise errors.AddressInUse(
                f"Cannot listen on {self.host}:{self.port}: {exc.strerror or exc}.") from exc
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="metrics-endpoint", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        with self.collector.lock:
            self.samples.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def state(self) -> EndpointState:
        last = self.collector.last
        return EndpointState(self.address, self.running, self.collector.scrapes,
                             bool(last and last.stale), last.error if last else None,
                             len(last.latest) + len(last.distributions) if last else 0)

    def __enter__(self) -> "MetricsEndpoint":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
