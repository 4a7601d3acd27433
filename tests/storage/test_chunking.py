"""Chunkers: every backend cuts the same places, pieces rebuild the input, CDC is local."""

from __future__ import annotations

import hashlib
import io
import random

import pytest

from sandbox_admin.storage.files import chunking
from sandbox_admin.storage.files.chunking import (
    GO_CHUNK_SIZE,
    CDCChunker,
    CDCParams,
    FixedChunker,
    available_backends,
    chunk_hash,
)

SMALL = CDCParams(min_size=64, avg_size=256, max_size=1024)
PARAMS = [
    SMALL,
    CDCParams(min_size=1024, avg_size=4096, max_size=16384, normalization=2),
    CDCParams(min_size=2048, avg_size=8192, max_size=65536, normalization=0),
]


def _data(n: int, seed: int, text: bool = False) -> bytes:
    rng = random.Random(seed)
    if text:
        words = [b"import", b"os", b"def", b"return", b"\n", b"    ", b"x", b"=", b"(", b")"]
        out = bytearray()
        while len(out) < n:
            out += rng.choice(words) + b" "
        return bytes(out[:n])
    return rng.randbytes(n)


class ShortReads(io.RawIOBase):
    """A stream that hands out at most a few bytes per read (like a pipe)."""

    def __init__(self, data: bytes, seed: int = 0) -> None:
        self.data = data
        self.pos = 0
        self.rng = random.Random(seed)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        size = min(n if n >= 0 else len(self.data), self.rng.randint(1, 5000))
        block = self.data[self.pos:self.pos + size]
        self.pos += len(block)
        return block

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        block = self.read(len(buffer))
        buffer[: len(block)] = block
        return len(block)


def test_backends_available_here() -> None:
    # The compiled wheel is a dependency; numpy and pure Python are always there.
    assert available_backends() == ["pyfastcdc", "numpy", "python"]
    assert CDCChunker().backend == "pyfastcdc"


def test_gear_table_is_the_reference_one() -> None:
    from pyfastcdc.py.constants import GEAR, MASKS

    assert list(chunking.GEAR) == list(GEAR)
    assert list(chunking.MASKS) == list(MASKS)


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: f"{p.min_size}-{p.avg_size}-{p.max_size}")
@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 1000, 20_000, 150_000])
def test_all_backends_cut_at_the_same_places(params: CDCParams, size: int) -> None:
    data = _data(size, seed=size, text=size % 2 == 0)
    expected = CDCChunker(params, backend="pyfastcdc").lengths(data)
    for backend in ("numpy", "python"):
        chunker = CDCChunker(params, backend=backend)
        assert chunker.lengths(data) == expected, backend
        assert [len(p) for p in chunker.split_stream(io.BytesIO(data))] == expected, backend
    assert sum(expected) == size


def test_numpy_matches_across_its_window_boundaries() -> None:
    # Longer than the 4 MiB window the numpy path works in, with the default sizes.
    data = _data(9 * 1024 * 1024 + 12345, seed=7)
    expected = CDCChunker(backend="pyfastcdc").lengths(data)
    assert CDCChunker(backend="numpy").lengths(data) == expected
    assert [len(p) for p in CDCChunker(backend="numpy").split_stream(io.BytesIO(data))] == expected


def test_low_entropy_input_is_cut_at_max_size() -> None:
    data = bytes(3 * 1024 * 1024)
    for backend in ("pyfastcdc", "numpy"):
        lengths = CDCChunker(backend=backend).lengths(data)
        assert set(lengths[:-1]) == {CDCParams().max_size}
        assert sum(lengths) == len(data)


@pytest.mark.parametrize("backend", ["pyfastcdc", "numpy", "python"])
def test_pieces_rebuild_the_input_and_respect_the_sizes(backend: str) -> None:
    data = _data(60_000, seed=3)
    chunker = CDCChunker(SMALL, backend=backend)
    pieces = [bytes(p) for p in chunker.split(data)]
    assert b"".join(pieces) == data
    assert all(len(p) <= SMALL.max_size for p in pieces)
    assert all(len(p) >= SMALL.min_size for p in pieces[:-1])
    streamed = list(chunker.split_stream(ShortReads(data, seed=1)))
    assert streamed == pieces


def test_an_insertion_changes_only_nearby_chunks() -> None:
    original = _data(400_000, seed=11, text=True)
    edited = original[:5000] + b"# a new line near the start\n" + original[5000:]
    params = CDCParams(min_size=1024, avg_size=4096, max_size=16384)
    cdc = CDCChunker(params)
    before = {chunk_hash(p) for p in cdc.split(original)}
    after = [chunk_hash(p) for p in cdc.split(edited)]
    shared = sum(1 for h in after if h in before)
    assert shared >= len(after) - 3  # only the chunks around the insertion differ
    fixed = FixedChunker(4096)
    before_fixed = {chunk_hash(p) for p in fixed.split(original)}
    after_fixed = [chunk_hash(p) for p in fixed.split(edited)]
    assert sum(1 for h in after_fixed if h in before_fixed) <= 1  # everything after it moved


def test_fixed_chunker_matches_the_go_layout() -> None:
    data = _data(3 * GO_CHUNK_SIZE + 65, seed=5)
    fixed = FixedChunker()
    assert fixed.lengths(data) == [GO_CHUNK_SIZE] * 3 + [65]
    assert [len(p) for p in fixed.split_stream(ShortReads(data))] == [GO_CHUNK_SIZE] * 3 + [65]
    assert list(fixed.split_stream(io.BytesIO(b""))) == []
    assert fixed.describe() == {"kind": "fixed", "size": GO_CHUNK_SIZE}
    with pytest.raises(ValueError):
        FixedChunker(0)


def test_memoryview_of_another_format_is_split_by_bytes() -> None:
    import array

    values = array.array("I", range(5000))
    pieces = list(CDCChunker(SMALL).split(memoryview(values)))
    assert b"".join(bytes(p) for p in pieces) == values.tobytes()


def test_chunk_hash_is_lowercase_sha256() -> None:
    assert chunk_hash(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert chunk_hash(memoryview(b"abc")) == chunk_hash(bytearray(b"abc"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_size": 10}, "min_size"),
        ({"avg_size": 100, "min_size": 64}, "avg_size"),
        ({"max_size": 100}, "max_size"),
        ({"min_size": 8192, "avg_size": 4096, "max_size": 16384}, "min <= avg <= max"),
        ({"normalization": 4}, "normalization"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CDCParams(**kwargs)


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="not available"):
        CDCChunker(backend="rust")  # type: ignore[arg-type]


def test_describe_names_the_parameters() -> None:
    info = CDCChunker(SMALL, backend="python").describe()
    assert info == {"kind": "fastcdc2020", "min_size": 64, "avg_size": 256, "max_size": 1024,
                    "normalization": 1, "backend": "python"}
