"""How much Python the Sandboxes table runs per page, counted rather than timed.

Wall-clock stalls depend on the machine's load; these counts do not. They hold the
causes of the stalls found in issue #15 down:
- the GUI thread must not loop over a page's rows when it arrives (Python lines
  executed per page do not grow with the page);
- the GUI thread formats only the rows it paints (rows formatted ≤ painted rows);
- the worker runs no Python per row (a page of 10,000 rows costs about the Python of
  a page of 100), so it barely holds the GIL while the GUI thread paints;
- while the table paints, the paging worker waits at the paint gate.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, QTimer

from benchmarks.sandbox_data import generate
from sandbox_admin.gui.models import sandboxes as table_model
from sandbox_admin.gui.panes.sandboxes import SandboxesPane
from sandbox_admin.storage import create_store, open_store

N = 30_000
#: Python lines the GUI thread may run for one arrived page (insert, signals, headline):
#: about 150 today, whatever the page's size; a loop over a 10,000-row page is >= 10,000.
LINES_PER_PAGE = 600


class LineCounter:
    """Counts the Python lines run in this thread while active (sys.settrace)."""

    def __init__(self) -> None:
        self.lines = 0

    def _trace(self, frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "line":
            self.lines += 1
        return self._trace

    def __enter__(self) -> "LineCounter":
        self._old = sys.gettrace()
        sys.settrace(self._trace)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.settrace(self._old)


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


@pytest.fixture(scope="module")
def big_db(tmp_path_factory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("gui-work") / "big.db"
    create_store(path).close()
    return path, generate(path, N)["live"]


@pytest.fixture
def pane(qtbot, runner, settings):
    p = SandboxesPane(runner, settings=settings)
    qtbot.addWidget(p)
    p.resize(1200, 700)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.set_store(None)
    runner.wait_idle(20000)


def test_gui_thread_python_per_page_does_not_grow_with_the_page(qtbot, pane, runner, big_db, monkeypatch):
    path, live = big_db
    model = pane.model
    per_page: list[tuple[int, int]] = []  # (rows in the page, lines run)
    on_page = model._on_page

    def counted(generation, result):  # type: ignore[no-untyped-def]
        with LineCounter() as counter:
            on_page(generation, result)  # the slot and every handler its signals reach
        per_page.append((len(result.rows), counter.lines))

    monkeypatch.setattr(model, "_on_page", counted)
    paint_counter = PaintCounter()
    pane.table.viewport().installEventFilter(paint_counter)
    # Like a person holding End: whenever a page arrives, jump to the bottom.
    model.page_loaded.connect(lambda *_: QTimer.singleShot(0, pane.table.scrollToBottom))
    store = open_store(path)
    try:
        pane.set_store(store)
        qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=20000)
        pane.table.scrollToBottom()
        qtbot.waitUntil(lambda: model.loaded_all and model.total_exact, timeout=60000)
        assert runner.wait_idle(20000)
    finally:
        pane.set_store(None)
        runner.wait_idle(20000)
        store.close()
    assert sum(n for n, _ in per_page) == live
    biggest = max(per_page)
    assert biggest[0] >= 10_000, per_page  # pages did grow to their largest size
    assert max(lines for _, lines in per_page) <= LINES_PER_PAGE, per_page
    # Painting formats the rows it shows, not the rows that arrived.
    visible = pane.table.viewport().height() // pane.table.verticalHeader().defaultSectionSize() + 2
    assert paint_counter.paints > 0
    assert model.rows_formatted <= paint_counter.paints * visible, (model.rows_formatted, paint_counter.paints)
    assert model.rows_formatted < live // 20


class FakeContext:
    cancelled = False

    def check_cancelled(self) -> None:
        pass


class CountingGate:
    def __init__(self) -> None:
        self.waits = 0

    def wait(self, timeout: float = 0) -> None:
        self.waits += 1


def test_the_paging_worker_runs_no_python_per_row_and_stops_at_the_gate(big_db):
    path, _ = big_db
    store = open_store(path)
    query = table_model.Query()
    try:
        with store.connection():
            lines, waits = {}, {}
            for limit in (100, 10_000):
                gate = CountingGate()
                with LineCounter() as counter:
                    result = table_model.fetch_rows(FakeContext(), store, query, None, limit, gate)
                assert len(result.rows) == limit
                lines[limit], waits[limit] = counter.lines, gate.waits
    finally:
        store.close()
    # Between batches of a few hundred rows the worker looks at the gate…
    assert waits[10_000] >= 10_000 // 512
    # …and that is all the Python that grows with the page (a few lines per batch), no
    # per-row work: a loop over the rows would run at least a line per row.
    assert lines[10_000] - lines[100] < 10_000 // 4, lines


def test_the_gate_is_closed_while_the_table_paints(qtbot, pane, runner, big_db, monkeypatch):
    path, _ = big_db
    store = open_store(path)
    model = pane.model
    seen: list[bool] = []
    cell = model._cell  # what multiData asks for every painted cell

    def recording(row: int, column: int):  # type: ignore[no-untyped-def]
        seen.append(model.paint_gate.is_open)
        return cell(row, column)

    try:
        pane.set_store(store)
        qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=20000)
        assert runner.wait_idle(20000)
        monkeypatch.setattr(model, "_cell", recording)
        pane.table.viewport().repaint()
    finally:
        pane.set_store(None)
        runner.wait_idle(20000)
        store.close()
    assert seen and not any(seen)  # every painted cell: the worker was held
    assert model.paint_gate.is_open  # and let go afterwards


def test_a_closed_gate_holds_the_worker_until_it_opens():
    gate = table_model.PaintGate()
    gate.close()
    released = threading.Event()

    def worker() -> None:
        gate.wait(timeout=30)
        released.set()

    thread = threading.Thread(target=worker)
    thread.start()
    assert not released.wait(0.05)
    gate.open()
    assert released.wait(10)
    thread.join()
