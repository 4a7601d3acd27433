"""'Serve to Prometheus…' in the Metrics pane: off by default, started and stopped by
jobs, shows its address and state; a taken port is a clear message (real sockets on
127.0.0.1, a real store, offscreen Qt)."""

from __future__ import annotations

import os
import socket
import urllib.request
from pathlib import Path

import pytest

from sandbox_admin.gui.panes.metrics_serve import OFF_TEXT

from .metrics_fixtures import pane, store  # noqa: F401  (fixtures)

WAIT = 15000




def test_serve_to_prometheus_starts_shows_its_address_and_stops(qtbot, store, pane, runner, tmp_path):
    pane.set_store(store)
    serve = pane.serve
    assert not serve.running and serve.state_label.text() == OFF_TEXT  # off by default
    assert serve.button.text() == "Serve to Prometheus…" and serve.button.isEnabled()
    serve.start("127.0.0.1:0", "desk-1")
    qtbot.waitUntil(lambda: serve.running, timeout=WAIT)
    url = serve.endpoint.address
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/metrics")
    body = urllib.request.urlopen(url, timeout=10).read().decode()
    assert 'instance="desk-1"' in body and "sandbox_status{" in body
    serve._show_state()
    assert f"Serving at {url}" in serve.state_label.text() and "1 scrape" in serve.state_label.text()
    assert serve.button.text() == "Stop serving"
    out = os.environ.get("SANDBOX_ADMIN_SCREENSHOTS")
    if out:  # a look at it: the chart loaded, the endpoint's line under it
        qtbot.waitUntil(lambda: pane.names_list.count() > 0 and not pane.busy(), timeout=WAIT)
        runner.wait_idle(WAIT)
        pane.grab().save(str(Path(out) / "metrics-serving.png"))
    serve.stop()
    assert runner.wait_idle(WAIT)
    assert serve.state_label.text() == OFF_TEXT
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


def test_a_taken_port_is_a_clear_message(qtbot, store, pane, runner):
    messages = []
    pane.message_requested.connect(lambda *m: messages.append(m))
    pane.set_store(store)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        pane.serve.start(f"127.0.0.1:{port}")
        qtbot.waitUntil(lambda: bool(messages), timeout=WAIT)
    assert not pane.serve.running
    text = pane.serve.state_label.text()
    assert "already in use" in text and "--" not in text
    out = os.environ.get("SANDBOX_ADMIN_SCREENSHOTS")
    if out:
        pane.serve.grab().save(str(Path(out) / "metrics-serve-taken.png"))
    assert messages[0][0] == "error" and "already in use" in messages[0][1]


def test_another_database_stops_serving(qtbot, store, pane, runner):
    pane.set_store(store)
    pane.serve.start("127.0.0.1:0")
    qtbot.waitUntil(lambda: pane.serve.running, timeout=WAIT)
    url = pane.serve.endpoint.address
    pane.set_store(None)
    assert runner.wait_idle(WAIT)
    assert not pane.serve.running and not pane.serve.button.isEnabled()
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)
