"""The Files pane on a copy of the Go server's database, through the UI.

Real store, real JobRunner threads, offscreen Qt; waiting with qtbot.waitUntil /
waitSignal, never sleeps.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor

from sandbox_admin.gui.panes.file_detail import DiffHighlighter
from sandbox_admin.gui.panes.files import DELETED_ROLE, ID_ROLE, FilesPane
from sandbox_admin.gui.widgets.html_delegate import HTML_ROLE
from sandbox_admin.storage import open_store

WAIT = 15000
CHUNKED = 25  # /data/input/data.csv: 120,319 bytes in 2 chunks, 4 KiB indexed
DELETED = 198  # /app/tests/test_main.py, soft-deleted
VERSIONED_OLD, VERSIONED_NEW = 13, 226  # /app/main.py and its new version


@contextmanager
def files_pane(qtbot, runner, tmp_path: Path, go_db: Path, **attrs) -> Iterator[FilesPane]:
    """A Files pane on the Go fixture, its first listing in (``attrs`` set before)."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    p = FilesPane(runner, settings=settings)
    for name, value in attrs.items():
        setattr(p, name, value)
    qtbot.addWidget(p)
    p.resize(1400, 800)
    p.show()
    store = open_store(go_db)
    with qtbot.waitSignal(p.results_loaded, timeout=WAIT):
        p.set_store(store)
    yield p
    p.set_store(None)
    runner.wait_idle(WAIT)
    store.close()


@pytest.fixture
def pane(qtbot, runner, tmp_path: Path, go_db: Path):
    with files_pane(qtbot, runner, tmp_path, go_db) as p:
        yield p


def search(qtbot, pane: FilesPane, text: str) -> None:
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        pane.search_edit.setText(text)
        pane.search_now()


def item(pane: FilesPane, file_id: int):
    found = pane.item_for(file_id)
    assert found is not None, f"file {file_id} not listed"
    return found


def select(qtbot, pane: FilesPane, file_id: int) -> None:
    if pane.detail.current_id() == file_id:
        return
    with qtbot.waitSignal(pane.details_loaded, timeout=WAIT, check_params_cb=lambda i: i == file_id):
        assert pane.select_file(file_id)


def test_empty_box_lists_newest_first_and_pages(qtbot, pane):
    ids = pane.row_ids()
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    assert pane.more_button.isVisible()
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        pane.more_button.click()
    more = pane.row_ids()
    assert len(more) == 100 and more[:50] == ids and more == sorted(more, reverse=True)
    assert "newest first" in pane.headline.text()


def test_typing_import_ranks_like_the_store_with_highlighted_snippets(qtbot, pane):
    expected = pane.store.files.search("import", limit=50)
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        qtbot.keyClicks(pane.search_edit, "import")  # debounced typing
    assert pane.row_ids() == [h.file_id for h in expected.hits]
    assert pane.more_button.isVisible() == expected.has_more
    first = item(pane, expected.hits[0].file_id).data(0, HTML_ROLE)
    assert "<b>import</b>" in first
    assert "\x02" not in first and "\x03" not in first
    assert "best match first" in pane.headline.text()
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        pane.more_button.click()  # the next page, still in the store's order
    second = pane.store.files.search("import", limit=50, offset=50)
    assert pane.row_ids() == [h.file_id for h in expected.hits + second.hits]


def test_partial_index_is_said(qtbot, pane):
    search(qtbot, pane, "data.csv")
    html = item(pane, CHUNKED).data(0, HTML_ROLE)
    assert "only the first 4.0 KiB are searchable" in html


@pytest.mark.parametrize("text", ["main.py", '"unbalanced', "C++", "*", "<b>&", "path:", "AND OR"])
def test_whatever_is_typed_never_errors(qtbot, pane, text):
    messages: list[tuple] = []
    pane.message_requested.connect(lambda *a: messages.append(a))
    search(qtbot, pane, text)
    assert not messages
    assert "failed" not in pane.headline.text()
    if text == "main.py":
        assert pane.row_ids() and all("main.py" in item(pane, i).text(0) for i in pane.row_ids()[:5])
    if text == "*":
        assert pane.notice.isVisible() and "Nothing to search for" in pane.notice.text()


def test_html_in_paths_and_text_is_escaped(qtbot, pane):
    search(qtbot, pane, "<b>&")
    assert all("<b>&" not in item(pane, i).data(0, HTML_ROLE) for i in pane.row_ids())


def test_deleted_file_only_with_show_deleted_and_looks_different(qtbot, pane):
    search(qtbot, pane, "test_main")
    assert pane.item_for(DELETED) is None
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        pane.deleted_check.setChecked(True)
    row = item(pane, DELETED)
    assert row.data(0, DELETED_ROLE) is True
    assert row.font(0).strikeOut()
    assert row.foreground(1).color() == QColor("#9e9e9e")
    assert "deleted" in row.data(0, HTML_ROLE) and "<s>" in row.data(0, HTML_ROLE)
    live = next(i for i in pane.row_ids() if i != DELETED)
    assert not item(pane, live).font(0).strikeOut()


def test_filters_narrow_the_results(qtbot, pane):
    sandbox = "db19444b"
    full = next(r.sandbox_id for r in pane.store.files.list(limit=300) if r.sandbox_id.startswith(sandbox))
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        pane.sandbox_edit.setText(full)
        pane.search_now()
    assert pane.row_ids() and all(item(pane, i).text(1) == full for i in pane.row_ids())
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        pane.mime_edit.setText("text/x-python")
        pane.search_now()
    assert [item(pane, i).text(0) for i in pane.row_ids()] == ["/data/notebooks/analysis.py"]
    search(qtbot, pane, "import")
    assert pane.row_ids() and all(item(pane, i).text(1) == full for i in pane.row_ids())
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        pane.path_edit.setText("/nowhere/")
        pane.search_now()
    assert pane.row_ids() == []


def test_chunked_file_preview_and_verify(qtbot, pane):
    search(qtbot, pane, "data.csv")
    select(qtbot, pane, CHUNKED)
    d = pane.detail
    assert d.fields["size"].toolTip() == "120,319 bytes"
    assert "first 4.0 KiB" in d.fields["indexed"].text()
    text = d.preview.toPlainText()
    data = pane.store.files.read_content(CHUNKED)
    assert text and data.decode().startswith(text[:1000]) and len(text) == 64 * 1024
    assert "first 65,536 of 120,319 bytes" in d.preview_note.text()
    with qtbot.waitSignal(pane.verified, timeout=WAIT) as sig:
        d.verify_button.click()
    assert sig.args[0].ok is True
    assert d.verify_result.text().startswith("ok")


def test_binary_file_shows_hex(qtbot, pane):
    search(qtbot, pane, "model.bin")
    select(qtbot, pane, 75)
    text = pane.detail.preview.toPlainText()
    assert text.startswith("00000000  ") and len(text.splitlines()) == 4096 // 16
    assert "binary" in pane.detail.preview_note.text()


def test_export_writes_the_bytes(qtbot, pane, tmp_path):
    search(qtbot, pane, "data.csv")
    select(qtbot, pane, CHUNKED)
    out = tmp_path / "export"
    out.mkdir()
    messages: list[tuple] = []
    pane.message_requested.connect(lambda *a: messages.append(a))
    with qtbot.waitSignal(pane.exported, timeout=WAIT) as sig:
        pane.export_to(CHUNKED, str(out))
    path = Path(sig.args[0].path)
    assert path == out / "data" / "input" / "data.csv"
    expected = pane.store.files.get(CHUNKED).checksum
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected
    assert messages and messages[-1][0] == "info" and str(path) in messages[-1][1]
    with qtbot.waitSignal(pane.message_requested, timeout=WAIT) as err:  # again: it exists
        pane.export_to(CHUNKED, str(out))
    assert err.args[0] == "error" and "already exists" in err.args[1]


def test_versions_chain_and_coloured_diff(qtbot, pane):
    search(qtbot, pane, "main.py")
    select(qtbot, pane, VERSIONED_NEW)
    d = pane.detail
    ids = [d.versions.topLevelItem(i).text(0) for i in range(d.versions.topLevelItemCount())]
    assert ids == [str(VERSIONED_OLD), str(VERSIONED_NEW)]
    assert d.fields["versions"].text() == "2"
    with qtbot.waitSignal(pane.diff_loaded, timeout=WAIT) as sig:
        d.select_versions(VERSIONED_OLD, VERSIONED_NEW)
    assert sig.args[0] == pane.store.files.diff(VERSIONED_OLD, VERSIONED_NEW)
    assert d.diff.toPlainText().startswith(f"--- /app/main.py (id {VERSIONED_OLD})")
    doc = d.diff.document()
    colours = {}
    for n in range(doc.blockCount()):
        block = doc.findBlockByNumber(n)
        kind = DiffHighlighter.kind(block.text())
        fmts = block.layout().formats()
        if kind in ("+", "-") and fmts:
            colours[kind] = fmts[0].format.foreground().color().name()
    assert colours == {"+": "#1b5e20", "-": "#b71c1c"}


def test_ctrl_f_focuses_the_search_box(qtbot, pane):
    pane.results.setFocus()
    qtbot.keyClick(pane.results, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: pane.search_edit.hasFocus(), timeout=WAIT)


def test_enter_searches_at_once_and_the_last_question_wins(qtbot, pane):
    pane.search_edit.setText("import")  # starts the debounce timer only
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        qtbot.keyClick(pane.search_edit, Qt.Key.Key_Return)
    assert pane.row_ids() == [h.file_id for h in pane.store.files.search("import").hits]
    pane.search_edit.setText("handler.go")
    pane.search_now()
    pane.search_edit.setText("README")
    with qtbot.waitSignal(pane.results_loaded, timeout=WAIT):
        pane.search_now()
    assert pane.runner.wait_idle(WAIT)
    assert pane.row_ids() == [h.file_id for h in pane.store.files.search("README").hits]


def test_file_without_stored_content_says_so(qtbot, pane):
    search(qtbot, pane, "main.py")
    select(qtbot, pane, VERSIONED_OLD)  # whole text shown: no note
    d = pane.detail
    assert d.preview.toPlainText() and not d.preview_note.isVisibleTo(d)
    search(qtbot, pane, "logo.png")
    select(qtbot, pane, 106)
    assert d.preview.toPlainText() == ""
    assert "no stored content" in d.preview_note.text() and d.preview_note.isVisibleTo(d)
    assert d.fields["indexed"].text() == "not searchable (no text)"
    with qtbot.waitSignal(pane.verified, timeout=WAIT) as sig:
        d.verify_button.click()
    assert sig.args[0].ok is None and d.verify_result.text().startswith("cannot verify")


def test_export_into_a_missing_folder_is_an_error_message(qtbot, pane, tmp_path):
    with qtbot.waitSignal(pane.message_requested, timeout=WAIT) as err:
        pane.export_to(CHUNKED, str(tmp_path / "missing"))
    assert err.args[0] == "error" and "is not a folder" in err.args[1]
    assert not (tmp_path / "missing").exists()


def test_missing_index_falls_back_and_says_so(qtbot, runner, tmp_path, go_db):
    con = sqlite3.connect(go_db)
    con.execute("DROP TABLE file_search_fts")
    con.commit()
    con.close()
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    p = FilesPane(runner, settings=settings)
    qtbot.addWidget(p)
    p.show()  # a hidden pane waits until it is shown
    store = open_store(go_db)
    try:
        with qtbot.waitSignal(p.results_loaded, timeout=WAIT):
            p.set_store(store)
        search(qtbot, p, "import")
        assert p.notice.isVisibleTo(p)
        assert p.notice.text().startswith("Full-text index unavailable: plain text match")
        assert "unranked" in p.headline.text()
        assert p.row_ids() and "<b>import</b>" in p.item_for(p.row_ids()[0]).data(0, HTML_ROLE)
    finally:
        p.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_show_sandbox_switches_to_the_sandboxes_pane(qtbot, go_db, tmp_path):
    from sandbox_admin.gui.main_window import MainWindow
    from sandbox_admin.gui.panes.sandboxes import SandboxesPane

    window = MainWindow(settings=QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    try:
        files = next(p for p in window.panes if isinstance(p, FilesPane))
        window.tabs.setCurrentWidget(files)
        with qtbot.waitSignal(files.results_loaded, timeout=WAIT):
            window.open_database(go_db)
        search(qtbot, files, "data.csv")
        select(qtbot, files, CHUNKED)
        sandbox = files.detail.details.record.sandbox_id
        sandboxes = next(p for p in window.panes if isinstance(p, SandboxesPane))
        with qtbot.waitSignal(files.sandbox_requested, timeout=WAIT) as sig:
            files.detail.sandbox_button.click()
        assert sig.args == [sandbox]
        assert window.tabs.currentWidget() is sandboxes
        qtbot.waitUntil(lambda: sandboxes.selected_id() == sandbox, timeout=WAIT)
    finally:
        window.shutdown()


def test_read_only_store_searches_previews_and_verifies(qtbot, runner, tmp_path, go_db):
    p = FilesPane(runner, settings=QSettings(str(tmp_path / "r.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(p)
    p.show()
    store = open_store(go_db, read_only=True)
    try:
        with qtbot.waitSignal(p.results_loaded, timeout=WAIT):
            p.set_store(store)
        search(qtbot, p, "data.csv")
        select(qtbot, p, CHUNKED)
        with qtbot.waitSignal(p.verified, timeout=WAIT) as sig:
            p.detail.verify_button.click()
        assert sig.args[0].ok is True
    finally:
        p.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_rows_with_a_snippet_get_two_lines(qtbot, pane):
    search(qtbot, pane, "data")
    view = pane.results
    with_snippet = next(i for i in pane.row_ids() if "class='snippet'" in item(pane, i).data(0, HTML_ROLE))
    without = next(i for i in pane.row_ids() if "class='snippet'" not in item(pane, i).data(0, HTML_ROLE))
    tall = view.visualItemRect(item(pane, with_snippet)).height()
    short = view.visualItemRect(item(pane, without)).height()
    line = view.fontMetrics().lineSpacing()
    assert tall >= 2 * line > short >= line


def test_copy_path_puts_the_path_on_the_clipboard(qtbot, pane):
    from PySide6.QtGui import QGuiApplication

    search(qtbot, pane, "data.csv")
    select(qtbot, pane, CHUNKED)
    pane.results.setFocus()
    qtbot.keyClick(pane.results, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "/data/input/data.csv"


def test_export_is_a_save_as_that_asks_before_replacing(qtbot, pane, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    search(qtbot, pane, "data.csv")
    select(qtbot, pane, CHUNKED)
    dialog = pane.choose_export_file(CHUNKED)
    assert dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    assert not dialog.testOption(QFileDialog.Option.DontConfirmOverwrite)  # it asks
    assert dialog.selectedFiles()[0].endswith("data.csv")  # the stored name offered
    dialog.reject()
    target = tmp_path / "mine.csv"
    target.write_text("old")
    with qtbot.waitSignal(pane.exported, timeout=WAIT):
        pane.export_file_as(CHUNKED, str(target))  # the person agreed to replace it
    assert hashlib.sha256(target.read_bytes()).hexdigest() == pane.store.files.get(CHUNKED).checksum
    assert pane.settings.value("files/export_dir") == str(tmp_path)


def test_a_snippet_starts_near_its_match():
    from sandbox_admin.gui.panes.files import focus_snippet
    from sandbox_admin.storage import MARK_END, MARK_START

    text = "words " * 30 + f"{MARK_START}needle{MARK_END} after"
    shown = focus_snippet(text)
    assert shown.startswith("…") and shown.index(MARK_START) <= 45
    assert focus_snippet(f"a {MARK_START}b{MARK_END}") == f"a {MARK_START}b{MARK_END}"


def test_a_files_versions_are_one_row_that_unfolds(qtbot, runner, tmp_path, go_db):
    """Newest first, each version chain once with its count; expanding shows the older ones."""
    with open_store(go_db) as store:
        store.migrate()  # migration 10 indexes the chains
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    p = FilesPane(runner, settings=settings)
    qtbot.addWidget(p)
    p.show()
    store = open_store(go_db)
    try:
        with qtbot.waitSignal(p.results_loaded, timeout=WAIT):
            p.set_store(store)
        while p.more_button.isVisible():
            with qtbot.waitSignal(p.results_loaded, timeout=WAIT):
                p.load_more()
        ids = p.row_ids()
        assert ids == sorted(ids, reverse=True)  # truly newest first
        assert VERSIONED_NEW in ids and VERSIONED_OLD not in ids  # the chain is one row
        item = p.item_for(VERSIONED_NEW)
        assert "2 versions" in item.data(0, HTML_ROLE)
        with qtbot.waitSignal(p.versions_loaded, timeout=WAIT):
            item.setExpanded(True)
        assert [item.child(i).data(0, ID_ROLE) for i in range(item.childCount())] == [VERSIONED_OLD]
    finally:
        p.set_store(None)
        runner.wait_idle(WAIT)
        store.close()



def test_a_hidden_files_pane_waits_until_it_is_shown(qtbot, runner, tmp_path, go_db):
    started: list[str] = []
    runner.job_started.connect(lambda job: started.append(job.name))
    p = FilesPane(runner, settings=QSettings(str(tmp_path / "h.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(p)
    store = open_store(go_db)
    try:
        p.set_store(store)
        p.refresh()
        qtbot.wait(200)
        assert started == [] and runner.is_idle()
        with qtbot.waitSignal(p.results_loaded, timeout=WAIT):
            p.show()
        assert p.row_ids()
    finally:
        p.set_store(None)
        runner.wait_idle(WAIT)
        store.close()


def test_searching_cpp_shows_the_file_that_says_cpp_first(qtbot, runner, tmp_path):
    from sandbox_admin.storage import create_store

    store = create_store(tmp_path / "cpp.db")
    now = "2026-11-26 01:00:00+00:00"
    store.models.Sandbox.insert(id="sb", status="running", created_at=now, updated_at=now).execute()
    for i in range(5):
        store.files.create("sb", f"/vendor/lib{i}/LICENSE", "Copyright (c) the authors (c).\n" * 4)
    wanted = store.files.create("sb", "/docs/stack.md", "Written in C++ mostly. " + "words " * 300).id
    p = FilesPane(runner, settings=QSettings(str(tmp_path / "c.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(p)
    p.show()
    try:
        with qtbot.waitSignal(p.results_loaded, timeout=WAIT):
            p.set_store(store)
        search(qtbot, p, "C++")
        assert p.row_ids()[0] == wanted
        assert "<b>" in p.item_for(wanted).data(0, HTML_ROLE)  # the match is highlighted
    finally:
        p.set_store(None)
        runner.wait_idle(WAIT)
        store.close()
