"""Issue #15 in the Files pane: a provisional first page, then the exact one in its place.

Real pane, real store (the Go fixture), real JobRunner threads, offscreen. The order of
events is forced (the exact search waits until the first page is on screen, or the
other way round), never timed.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from sandbox_admin.gui.panes.files import ID_ROLE
from sandbox_admin.storage.files import first_page as quick

from .test_files_pane import files_pane

WAIT = 15000


@pytest.fixture(params=[True, False], ids=["beside", "after"])
def pane(request, qtbot, runner, tmp_path: Path, go_db: Path, monkeypatch):
    """The pane, with the exact search started beside the first page or after it."""
    monkeypatch.setattr(quick, "CANDIDATES", 10)  # 226 files: make "import" take the bounded plan
    with files_pane(qtbot, runner, tmp_path, go_db, search_in_parallel=request.param) as p:
        yield p


def _held(monkeypatch, files, name: str, until: threading.Event) -> None:
    """``files.<name>`` waits (in its worker) until ``until`` is set."""
    original = getattr(files, name)

    def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        assert until.wait(WAIT / 1000), f"{name} waited in vain"
        return original(*args, **kwargs)

    monkeypatch.setattr(files, name, held)


def test_typing_shows_a_first_page_then_the_exact_one_replaces_it(qtbot, pane, monkeypatch):
    files = pane.store.files
    exact = files.search("import", limit=50)
    first = files.search_first("import", limit=50)
    assert first is not None and first.provisional
    assert [h.file_id for h in first.hits] != [h.file_id for h in exact.hits]
    shown = threading.Event()
    _held(monkeypatch, files, "search", shown)
    events: list[tuple[str, list[int], str, bool]] = []

    def record(kind: str) -> None:
        events.append((kind, pane.row_ids(), pane.headline.text(), pane.more_button.isVisible()))
        shown.set()

    pane.first_results_loaded.connect(lambda: record("first"))
    pane.results_loaded.connect(lambda: record("exact"))
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        qtbot.keyClicks(pane.search_edit, "import")  # debounced typing, as a person types
    assert [e[0] for e in events] == ["first", "exact"]
    assert events[0][1] == [h.file_id for h in first.hits]  # the first page was on screen…
    assert "first results" in events[0][2] and not events[0][3]  # said so; no "Load more" yet
    assert events[1][1] == [h.file_id for h in exact.hits]  # …and the exact order replaced it
    assert "best match first" in events[1][2] and "first results" not in events[1][2]
    assert pane.row_ids() == [h.file_id for h in exact.hits]
    assert pane.selected_id() == exact.hits[0].file_id
    assert pane.more_button.isVisible() == exact.has_more
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        pane.more_button.click()  # the next page continues the exact order
    assert pane.row_ids() == [h.file_id for h in exact.hits + files.search("import", limit=50, offset=50).hits]


def test_a_file_selected_on_the_first_page_stays_selected(qtbot, pane, monkeypatch):
    files = pane.store.files
    exact = [h.file_id for h in files.search("import", limit=50).hits]
    first = [h.file_id for h in files.search_first("import", limit=50).hits]
    kept = next(i for i in first if i in exact and i != exact[0])
    release = threading.Event()
    _held(monkeypatch, files, "search", release)
    with qtbot.waitSignal(pane.first_results_loaded, timeout=WAIT):
        pane.search_edit.setText("import")
        pane.search_now()
    assert pane.row_ids() == first and pane.selected_id() is None  # no detail load for a provisional row
    assert pane.select_file(kept)
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        release.set()
    assert pane.row_ids() == exact and pane.selected_id() == kept


def test_same_rows_are_updated_in_place(qtbot, pane, monkeypatch):
    """When the exact page lists the same files in the same order the rows stay (no flicker)."""
    monkeypatch.setattr(quick, "CANDIDATES", 100_000)  # the first page covers every match: exact
    files = pane.store.files
    answer = files.search_first("import", limit=50)
    assert answer is not None and not answer.provisional

    def as_provisional(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = original(*args, **kwargs)
        return dataclasses.replace(result, provisional=True)

    original = files.search_first
    monkeypatch.setattr(files, "search_first", as_provisional)
    release = threading.Event()
    _held(monkeypatch, files, "search", release)
    with qtbot.waitSignal(pane.first_results_loaded, timeout=WAIT):
        pane.search_edit.setText("import")
        pane.search_now()
    items = [pane.results.topLevelItem(i) for i in range(pane.results.topLevelItemCount())]
    assert pane.select_file(items[3].data(0, ID_ROLE))
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        release.set()
    assert [pane.results.topLevelItem(i) for i in range(pane.results.topLevelItemCount())] == items
    assert pane.results.currentItem() is items[3]


# only with the searches side by side: one after the other, the exact answer cannot come first
@pytest.mark.parametrize("pane", [True], ids=["beside"], indirect=True)
def test_an_exact_answer_first_is_never_replaced_by_the_first_page(qtbot, pane, monkeypatch, runner):
    assert pane.search_in_parallel
    files = pane.store.files
    exact = [h.file_id for h in files.search("import", limit=50).hits]
    done = threading.Event()
    _held(monkeypatch, files, "search_first", done)
    events: list[str] = []
    pane.first_results_loaded.connect(lambda: events.append("first"))
    pane.results_loaded.connect(lambda: (events.append("exact"), done.set()))
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        pane.search_edit.setText("import")
        pane.search_now()
    assert runner.wait_idle(WAIT)
    assert events == ["exact"] and pane.row_ids() == exact


def test_a_quick_answer_that_is_exact_is_the_answer(qtbot, pane, monkeypatch, runner):
    """Few matches: the first page is the exact answer, shown once; the long search is
    cancelled (beside) or never started (after)."""
    files = pane.store.files
    never = threading.Event()
    _held(monkeypatch, files, "search", never)  # would wait: it is cancelled instead
    calls = []
    monkeypatch.setattr(files, "search", lambda *a, _held=files.search, **k: (calls.append(a), _held(*a, **k))[1])
    events: list[str] = []
    pane.first_results_loaded.connect(lambda: events.append("first"))
    pane.results_loaded.connect(lambda: events.append("exact"))
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        pane.search_edit.setText("handle_96")
        pane.search_now()
    assert events == ["exact"] and pane.row_ids() == [h.file_id for h in files.search_first("handle_96").hits]
    assert "best match first" in pane.headline.text()
    exact_job = pane._exact_job
    never.set()
    assert runner.wait_idle(WAIT)
    assert events == ["exact"]
    if pane.search_in_parallel:
        # cancelled: while it ran (one call), or before a worker took it up (none)
        assert exact_job is not None and exact_job.cancelled and len(calls) <= 1
    else:
        assert exact_job is None and calls == []


def test_a_new_search_stops_the_one_it_replaces(qtbot, pane, monkeypatch):
    release = threading.Event()
    _held(monkeypatch, pane.store.files, "search", release)
    with qtbot.waitSignal(pane.first_results_loaded, timeout=WAIT):
        pane.search_edit.setText("import")
        pane.search_now()
    old = pane._exact_job  # running (held) in both modes now
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        pane.search_edit.setText("json")
        pane.search_now()
        release.set()
    assert old.cancelled and "json" in pane.headline.text()


def test_row_heights_follow_the_lines_without_a_layout(qtbot, pane):
    """The delegate sizes rows by their number of lines (no layout per row); the heights
    are those a layout gives: one line, two lines, a path with a newline in it."""
    from PySide6.QtWidgets import QStyleOptionViewItem

    from sandbox_admin.gui.panes.files import row_html
    from sandbox_admin.gui.widgets.html_delegate import HtmlDelegate

    quick_sizes = HtmlDelegate(line_blocks=True)
    laid_out = HtmlDelegate()
    option = QStyleOptionViewItem()
    option.font = pane.results.font()
    option.rect.setWidth(600)
    for html in (row_html("/app/\x02main\x03.py", "", False, ""),
                 row_html("/app/main.py", "import \x02os\x03", True, "first 4 KiB"),
                 row_html("/app/a\nb.py", "x", False, "")):
        index = _Index(html)
        assert quick_sizes.sizeHint(option, index).height() == laid_out.sizeHint(option, index).height()


def test_a_line_wider_than_its_cell_ends_with_an_ellipsis(qtbot, pane):
    """At 1024 px a long path stopped mid-word with nothing to say it goes on: each
    unwrapped line wider than the cell gets an ellipsis at its right end, only those."""
    from PySide6.QtGui import QImage, QPainter, QStandardItemModel
    from PySide6.QtWidgets import QStyleOptionViewItem

    from sandbox_admin.gui.panes.files import row_html
    from sandbox_admin.gui.widgets.html_delegate import HTML_ROLE, HtmlDelegate, cut_lines

    delegate = HtmlDelegate(line_blocks=True)
    option = QStyleOptionViewItem()
    option.font = pane.results.font()
    long_path = "/workspace/internal/pipeline/" + "deeper/" * 12 + "client_2.go"

    def boxes(html: str, width: int) -> list:
        return cut_lines(delegate._layout(option, html, width, False), width, 12)

    assert boxes(row_html("/app/main.py", "", False, ""), 400) == []
    [cut] = boxes(row_html(long_path, "", False, ""), 400)
    assert cut.right() == 400 and cut.top() < 5
    # path and snippet: only the line that is too wide is marked (the snippet, below)
    [snippet_cut] = boxes(row_html("/app/a.py", "import " + "x" * 200, False, ""), 400)
    assert snippet_cut.top() >= cut.bottom() - 1
    assert len(boxes(row_html(long_path, "import " + "x" * 200, False, ""), 400)) == 2
    # and it is painted: the mark's box differs from the same cell painted wide enough
    model = QStandardItemModel(1, 1)
    model.setData(model.index(0, 0), row_html(long_path, "", False, ""), HTML_ROLE)
    images = []
    for width in (300, 3000):
        option.rect.setRect(0, 0, width, 24)
        image = QImage(width, 24, QImage.Format.Format_ARGB32)
        image.fill(0xFFFFFFFF)
        painter = QPainter(image)
        delegate.paint(painter, option, model.index(0, 0))
        painter.end()
        images.append(image.copy(300 - 14, 0, 14, 24))
    assert images[0] != images[1]


class _Index:
    def __init__(self, html: str) -> None:
        self.html = html

    def data(self, role):  # type: ignore[no-untyped-def]
        from sandbox_admin.gui.widgets.html_delegate import HTML_ROLE

        return self.html if role == HTML_ROLE else None
