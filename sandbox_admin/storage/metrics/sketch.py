"""A mergeable percentile sketch: DDSketch-style logarithmic buckets, 1 % relative error.

A value ``x`` with ``|x| >= MIN_INDEXABLE`` falls into bucket ``k = ceil(log_gamma |x|)``
(negative values into a mirrored store, smaller ones into a zero bucket). A quantile is
answered with its bucket's representative ``2 * gamma**k / (gamma + 1)``, which lies
within ``RELATIVE_ERROR`` of every value in that bucket, so within 1 % of the exact
quantile. Quantiles use the *lower* rank, the sorted sample at index
``floor(q * (n - 1))``; the exact raw-path percentiles use the same definition.
Sketches merge by adding bucket counts: a 1 h bucket merged from twelve 5 m buckets is
the very sketch built from the raw samples.

Many sketches are handled at once as :class:`Bins`: parallel arrays ``(row, code,
count)``, where ``row`` says which partial aggregate a bin belongs to and ``code``
encodes (store, bucket) so that ascending codes are ascending values. Everything is
vectorised with numpy, (de)serialisation included.

Serialised form (version 1, little endian): header ``<BBBIIi`` = version, offset width,
count width, number of negative bins, number of positive bins, base key; then the
bins' ``key - base`` (negative store then positive store, in value order) as unsigned
ints of the offset width; then their counts and finally the zero bucket's count, as
unsigned ints of the count width. Widths are 1, 2, 4 (or 8 for counts) bytes, the
smallest that fits, so a typical bucket of a gauge costs ~2 bytes per bin.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

RELATIVE_ERROR = 0.01
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_LN_GAMMA = math.log(GAMMA)
_REPR = 2.0 / (GAMMA + 1.0)
#: Magnitudes below this count as zero (still exact: the zero bucket answers 0).
MIN_INDEXABLE = 1e-300
_MAX_FINITE = np.finfo(np.float64).max

_KOFF = 1 << 31
_ZERO = 1 << 32  # the zero bucket's code; negatives below, positives above
CODE_BITS = 34
_CODE_MASK = (1 << CODE_BITS) - 1

VERSION = 1
_HEADER = struct.Struct("<BBBIIi")
_OFFSET_TYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32}
_COUNT_TYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_I64 = np.int64


@dataclass
class Bins:
    """Bucket counts of many sketches: bin ``i`` says ``count[i]`` samples of partial
    ``row[i]`` fell into bucket ``code[i]``. Canonical form: sorted by (row, code), unique."""

    row: np.ndarray
    code: np.ndarray
    count: np.ndarray

    @classmethod
    def empty(cls) -> "Bins":
        return cls(np.empty(0, _I64), np.empty(0, _I64), np.empty(0, _I64))

    def __len__(self) -> int:
        return len(self.row)

    @classmethod
    def concat(cls, parts: Sequence["Bins"]) -> "Bins":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, a) for p in parts]) for a in ("row", "code", "count")))


def codes(values: np.ndarray) -> np.ndarray:
    """The bucket code of each value (ascending codes = ascending values)."""
    values = np.asarray(values, dtype=np.float64)
    mag = np.minimum(np.abs(values), _MAX_FINITE)
    tiny = mag < MIN_INDEXABLE
    keys = np.ceil(np.log(np.where(tiny, 1.0, mag)) / _LN_GAMMA).astype(_I64)
    code = np.where(values > 0, _ZERO + 1 + _KOFF + keys, _KOFF - keys)
    return np.where(tiny, _ZERO, code)


def implied(count: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Which rollup rows need no stored sketch (NULL) because their minimum and maximum
    say everything: every value equal, or just two values. A 1-minute bucket of a
    sample every 15-30 s is mostly the latter, and its sketch cost more to encode and
    write than the rest of the row."""
    count, lo, hi = np.asarray(count), np.asarray(lo), np.asarray(hi)
    return (lo == hi) | (count == 2)


def implied_bins(rows: np.ndarray, count: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Bins:
    """Canonical bins of rows stored without a sketch where :func:`implied` holds:
    ``count`` values at ``lo`` when it equals ``hi``, else one at each."""
    rows, count = np.asarray(rows, dtype=_I64), np.asarray(count, dtype=_I64)
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    if not len(rows):
        return Bins.empty()
    two = lo != hi
    both = Bins(np.concatenate([rows, rows[two]]), codes(np.concatenate([lo, hi[two]])),
                np.concatenate([np.where(two, 1, count), np.ones(int(two.sum()), _I64)]))
    return merge(both)


def values_of(code: np.ndarray) -> np.ndarray:
    """The representative value of each bucket code."""
    code = np.asarray(code, dtype=_I64)
    positive = code > _ZERO
    keys = np.where(positive, code - (_ZERO + 1 + _KOFF), _KOFF - code).astype(np.float64)
    with np.errstate(over="ignore"):
        rep = np.exp(keys * _LN_GAMMA) * _REPR
    return np.where(positive, rep, np.where(code < _ZERO, -rep, 0.0))


def build(rows: np.ndarray, values: np.ndarray) -> Bins:
    """Bins of the samples ``values``, sample ``i`` belonging to partial ``rows[i]``."""
    if len(values) == 0:
        return Bins.empty()
    comb = (np.asarray(rows, dtype=_I64) << CODE_BITS) | codes(values)
    unique, counts = np.unique(comb, return_counts=True)
    return Bins(unique >> CODE_BITS, unique & _CODE_MASK, counts.astype(_I64))


def merge(bins: Bins, row_map: np.ndarray | None = None) -> Bins:
    """Add up bins that (after renumbering rows through ``row_map``) share row and code."""
    if not len(bins):
        return Bins.empty()
    rows = bins.row if row_map is None else row_map[bins.row]
    comb = (rows << CODE_BITS) | bins.code
    unique, inverse = np.unique(comb, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=bins.count, minlength=len(unique))
    return Bins(unique >> CODE_BITS, unique & _CODE_MASK, np.rint(counts).astype(_I64))


def quantiles(bins: Bins, n_rows: int, qs: Iterable[float]) -> dict[float, np.ndarray]:
    """Lower-rank quantiles per row from canonical bins; NaN for rows without bins."""
    qs = list(qs)
    out = {q: np.full(n_rows, np.nan) for q in qs}
    if not len(bins) or not qs:
        return out
    cum = np.cumsum(bins.count)
    total = np.bincount(bins.row, weights=bins.count, minlength=n_rows)
    rows = np.flatnonzero(total > 0)
    first = np.searchsorted(bins.row, rows, side="left")
    start = cum[first] - bins.count[first]
    for q in qs:
        rank = np.floor(q * (total[rows] - 1)).astype(_I64)
        idx = np.searchsorted(cum, start + rank, side="right")
        out[q][rows] = values_of(bins.code[idx])
    return out


# -- serialisation ----------------------------------------------------------------------

def _widths(maximum: np.ndarray, choices: Sequence[int]) -> np.ndarray:
    """Per element: the smallest width in ``choices`` (bytes) that holds ``maximum``."""
    out = np.full(len(maximum), choices[-1], _I64)
    for w in reversed(choices):
        if w < 8:
            out[maximum < (1 << (8 * w))] = w
    if choices[-1] < 8 and len(maximum) and (maximum >= (1 << (8 * choices[-1]))).any():
        raise ValueError(f"sketch value {int(maximum.max())} too large to encode")
    return out


def _put(buf: np.ndarray, pos: np.ndarray, values: np.ndarray, width: np.ndarray | int) -> None:
    """Write ``values`` as little-endian unsigned ints of per-element ``width`` bytes at
    byte offsets ``pos`` of ``buf`` (the inverse of :func:`_gather`)."""
    values = np.asarray(values).astype(np.uint64)
    widths = np.broadcast_to(np.asarray(width), values.shape)
    for k in range(int(widths.max()) if len(widths) else 0):
        take = widths > k
        buf[pos[take] + k] = ((values[take] >> np.uint64(8 * k)) & np.uint64(0xFF)).astype(np.uint8)


def encode_rows(bins: Bins, rows: Sequence[int]) -> list[bytes]:
    """Serialise the sketches of ``rows`` (each must have bins) from canonical bins.

    All sketches are laid out in one byte buffer at once (no loop per sketch); only the
    final split into ``bytes`` objects is per sketch.
    """
    if not len(rows):
        return []
    rows_arr = np.asarray(rows, dtype=_I64)
    first = np.searchsorted(bins.row, rows_arr, side="left")
    lengths = np.searchsorted(bins.row, rows_arr, side="right") - first
    if (lengths == 0).any():
        raise ValueError("encode_rows: a requested row has no bins")
    starts = np.cumsum(lengths) - lengths  # local: segments of the gathered bins below
    which = np.repeat(np.arange(len(rows_arr), dtype=_I64), lengths)
    idx = np.arange(int(lengths.sum()), dtype=_I64) + (first - starts)[which]
    code, counts = bins.code[idx], bins.count[idx]
    positive = code > _ZERO
    keys = np.where(positive, code - (_ZERO + 1 + _KOFF), _KOFF - code)
    is_zero = code == _ZERO
    big = np.iinfo(_I64).max
    base = np.minimum.reduceat(np.where(is_zero, big, keys), starts)
    base = np.where(base == big, 0, base)
    top = np.maximum.reduceat(np.where(is_zero, -big, keys), starts)
    max_off = np.where(top == -big, 0, top - base)
    max_count = np.maximum.reduceat(counts, starts)
    n_neg = np.add.reduceat((code < _ZERO).astype(_I64), starts)
    n_zero = np.add.reduceat(is_zero.astype(_I64), starts)
    wo = _widths(max_off, (1, 2, 4))
    wc = _widths(max_count, (1, 2, 4, 8))
    stored = lengths - n_zero  # bins with an offset; the zero bucket's count goes last
    size = _HEADER.size + stored * (wo + wc) + wc
    at = np.cumsum(size) - size
    buf = np.zeros(int(size.sum()), np.uint8)
    for offset, value, width in ((0, VERSION, 1), (1, wo, 1), (2, wc, 1), (3, n_neg, 4),
                                 (7, stored - n_neg, 4), (11, base & 0xFFFFFFFF, 4)):
        _put(buf, at + offset, np.broadcast_to(value, at.shape), width)
    body = at + _HEADER.size
    keep = ~is_zero
    w = which[keep]
    rank = (np.cumsum(keep) - 1 - (np.cumsum(stored) - stored)[which])[keep]
    _put(buf, body[w] + rank * wo[w], (keys - base[which])[keep], wo[w])
    _put(buf, body[w] + stored[w] * wo[w] + rank * wc[w], counts[keep], wc[w])
    zero_count = np.zeros(len(rows_arr), _I64)
    zero_count[which[is_zero]] = counts[is_zero]
    _put(buf, body + stored * (wo + wc), zero_count, wc)
    data = buf.tobytes()
    return [data[a:b] for a, b in zip(at.tolist(), (at + size).tolist())]


def _gather(buf: np.ndarray, pos: np.ndarray, width: np.ndarray, max_width: int) -> np.ndarray:
    """Little-endian unsigned ints of per-element ``width`` bytes at byte offsets ``pos``."""
    out = np.zeros(len(pos), _I64)
    for k in range(max_width):
        take = width > k
        out[take] |= buf[pos[take] + k].astype(_I64) << (8 * k)
    return out


def decode_rows(blobs: Sequence[bytes], rows: Sequence[int]) -> Bins:
    """Canonical bins of serialised sketches, ``blobs[i]`` belonging to ``rows[i]``.

    Only the headers are read per sketch; the bodies are gathered for all at once.
    """
    if not len(blobs):
        return Bins.empty()
    joined = b"".join(blobs)
    header = np.array([_HEADER.unpack_from(b) for b in blobs], dtype=_I64).reshape(-1, 6)
    if (header[:, 0] != VERSION).any():
        raise ValueError(f"unknown sketch version {int(header[header[:, 0] != VERSION][0, 0])}")
    wo, wc, neg, npos, base = (header[:, i] for i in range(1, 6))
    lengths = np.fromiter((len(b) for b in blobs), _I64, len(blobs))
    start = np.cumsum(lengths) - lengths + _HEADER.size
    buf = np.frombuffer(joined + bytes(8), np.uint8)
    n = neg + npos
    # offsets: n per sketch
    which = np.repeat(np.arange(len(blobs)), n)
    j = np.arange(int(n.sum()), dtype=_I64) - np.repeat(np.cumsum(n) - n, n)
    keys = _gather(buf, start[which] + j * wo[which], wo[which], 4) + base[which]
    cnt = _gather(buf, start[which] + n[which] * wo[which] + j * wc[which], wc[which], 8)
    code = np.where(j < neg[which], _KOFF - keys, _ZERO + 1 + _KOFF + keys)
    zero = _gather(buf, start + n * wo + n * wc, wc, 8)
    # canonical order without sorting: each sketch's slots are [negatives, zero, positives]
    out_start = np.cumsum(n + 1) - (n + 1)
    slot = out_start[which] + j + (j >= neg[which])
    total = int((n + 1).sum())
    rows_arr = np.asarray(rows, dtype=_I64)
    out_row = np.empty(total, _I64)
    out_code = np.empty(total, _I64)
    out_count = np.empty(total, _I64)
    out_row[slot], out_code[slot], out_count[slot] = rows_arr[which], code, cnt
    zslot = out_start + neg
    out_row[zslot], out_code[zslot], out_count[zslot] = rows_arr, _ZERO, zero
    keep = out_count > 0
    bins = Bins(out_row[keep], out_code[keep], out_count[keep])
    if (np.diff(rows_arr) > 0).all():
        return bins  # canonical: rows ascending, codes ascending within each
    return merge(bins)


def renumber(bins: Bins, row_map: np.ndarray) -> Bins:
    """Bins with rows renumbered one-to-one (no two rows merge): a stable sort keeps
    each row's codes in order, cheaper than :func:`merge`."""
    rows = row_map[bins.row]
    order = np.argsort(rows, kind="stable")
    return Bins(rows[order], bins.code[order], bins.count[order])


def encode_values(values: Iterable[float]) -> bytes:
    """One sketch of ``values`` (convenience for tests and exports)."""
    arr = np.fromiter(values, dtype=np.float64)
    bins = build(np.zeros(len(arr), _I64), arr)
    return encode_rows(bins, [0])[0]


def quantile_of(blob: bytes, q: float) -> float:
    bins = decode_rows([blob], [0])
    return float(quantiles(bins, 1, [q])[q][0])
