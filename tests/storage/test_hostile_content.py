"""Hostile content is bounded: search over one huge repetitive document, and a
compressed cache cell that inflates to far more than it stores."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zlib

import pytest

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


def _bomb(inflated_mib: int) -> bytes:
    """zlib data that inflates to ``inflated_mib`` MiB of zeros (about 1000:1)."""
    deflater = zlib.compressobj(9)
    zeros = bytes(1 << 20)
    parts = [deflater.compress(zeros) for _ in range(inflated_mib)]
    return b"".join(parts) + deflater.flush()


def _file_with_cached_cell(store, cell: bytes, size_bytes: int) -> int:
    store.sandboxes.create("sb", "running")
    record = store.files.create("sb", "/bomb.bin", None, checksum="0" * 64, size_bytes=size_bytes)
    Cache = store.models.FileContentCache
    Cache.insert(file=record.id, content_hash="1" * 64, content_data=cell, compressed=True).execute()
    return record.id


@pytest.mark.parametrize("claimed", [1000, 4 << 30])
def test_a_decompression_bomb_in_the_cache_is_bounded(fresh_store, tmp_path, claimed):
    file_id = _file_with_cached_cell(fresh_store, _bomb(600), claimed)
    path = fresh_store.path
    fresh_store.close()
    # VmHWM (peak RSS) of this process image: ru_maxrss would carry the parent's over exec
    script = (
        "import re, sys\n"
        "from sandbox_admin.cli import main\n"
        f"code = main(['export-file', {str(path)!r}, '{file_id}', {str(tmp_path / 'out.bin')!r}])\n"
        "status = open('/proc/self/status').read()\n"
        "print(re.search(r'VmHWM:\\s+(\\d+)', status).group(1))\n"
        "sys.exit(code)\n"
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))
    rss_kib = int(proc.stdout.strip().splitlines()[-1])
    assert rss_kib < 256 * 1024, f"{rss_kib} KiB"
    assert proc.returncode != 0 and "no stored content" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out.bin").exists()
    assert time.monotonic() - started < 60
