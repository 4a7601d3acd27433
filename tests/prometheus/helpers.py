"""A real Prometheus server for tests: Debian's ``prometheus`` package, on loopback only,
with a temporary config and data folder; every wait is bounded in count and time."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")

needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason="the prometheus and promtool binaries are not installed (Debian: apt-get install "
    "prometheus; packaging/dev.sh test installs it)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> bytes:
    assert url.startswith("http://127.0.0.1:"), url  # loopback only, ever
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as r:
        return r.read()


def wait_for(check: Callable[[], Any], *, seconds: float = 20.0, every: float = 0.25, what: str = "") -> Any:
    """Call ``check`` until it returns something truthy: at most ``seconds`` and 400 tries."""
    deadline = time.monotonic() + seconds
    last_error: BaseException | None = None
    for _ in range(400):
        try:
            value = check()
            if value:
                return value
        except (OSError, ValueError, KeyError, IndexError) as exc:  # not ready yet
            last_error = exc
        if time.monotonic() > deadline:
            break
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what or check}: {last_error!r}")


class Prometheus:
    """One Prometheus process on 127.0.0.1 with its own config and data folder."""

    def __init__(self, folder: Path, scrape_targets: list[str] | None = None,
                 data: Path | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = data or folder / "data"
        config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                             "evaluation_interval": "1s"},
                  "scrape_configs": []}
        if scrape_targets:
            config["scrape_configs"].append({"job_name": "sandbox", "honor_labels": True,
                                             "static_configs": [{"targets": scrape_targets}]})
        self.config = folder / "prometheus.yml"
        self.config.write_text(json.dumps(config))  # JSON is YAML
        self.log = folder / "prometheus.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Prometheus":
        self.proc = subprocess.Popen(
            [str(PROMETHEUS), f"--config.file={self.config}", f"--storage.tsdb.path={self.data}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=3650d",
             "--log.level=warn"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(self._ready, seconds=20, what="prometheus to be ready")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited: {self.log.read_text()[-2000:]}")
        return get(self.url + "/-/ready", timeout=1).startswith(b"Prometheus")

    def api(self, path: str, **params: Any) -> Any:
        body = json.loads(get(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"))
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None

    def __enter__(self) -> "Prometheus":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
