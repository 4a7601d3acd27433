"""Hostile content is bounded: search over one huge repetitive document, and a
compressed cache cell that inflates to far more than it stores."""

from __future__ import annotations

import time

from sandbox_admin.storage import MARK_END, MARK_START


def test_search_of_a_1_mib_one_word_document_is_quick(fresh_store, run_cli):
    fresh_store.sandboxes.create("sb", "running")
    fresh_store.files.create("sb", "/big.txt", b"word " * (1 << 18))  # 1.25 MiB, 256 KiB indexed
    fresh_store.files.create("sb", "/mid.txt", b"word " * 3000)  # just above the FTS5 snippet bound
    fresh_store.files.create("sb", "/small.txt", b"a word here")
    started = time.monotonic()
    result = fresh_store.files.search("word", limit=10)
    assert time.monotonic() - started < 2
    assert {h.file_path for h in result.hits} == {"/big.txt", "/mid.txt", "/small.txt"}
    for hit in result.hits:
        assert f"{MARK_START}word{MARK_END}" in hit.snippet
        assert len(hit.snippet) < 2000
    started = time.monotonic()
    code, out, err = run_cli("search", fresh_store.path, "word")
    assert code == 0 and "/big.txt" in out, err
    assert time.monotonic() - started < 2
