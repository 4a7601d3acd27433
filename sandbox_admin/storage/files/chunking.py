"""Splitting file content into chunks for the deduplicated store.

Two chunkers, both producing pieces that ``file_chunks`` stores under the sha256 of
their bytes (a file is its chunks concatenated in ``chunk_order``, whatever the sizes):

* :class:`FixedChunker` - fixed-size pieces, what the Go server wrote (64 KiB).
  Reading never needs it (any chunk size reconstructs the same way); it is here for
  comparison and for writing exactly like the Go server if ever wanted.
* :class:`CDCChunker` - content-defined chunking, FastCDC 2020 (Xia et al., "The
  Design of Fast Content-Defined Chunking for Data Deduplication Based Storage
  Systems", 2020): a 64-bit gear hash over the bytes, a cut where the hash has zeros
  under a mask, a stricter mask before the average size and a looser one after
  ("normalized chunking"), and hard minimum / maximum sizes. An insertion near the
  start of a file moves only the cut points next to it, so later chunks keep their
  hashes and are stored once.

The cut points are those of the reference implementation (the published gear table and
masks, the two-bytes-per-step loop of FastCDC 2020 as in fastcdc-rs ``v2020``): the
compiled ``pyfastcdc`` wheel, our numpy code and our pure-Python loop give identical
chunks (tests check it), so dedup does not depend on which one a machine has.
``backend="auto"`` picks the fastest available: pyfastcdc (Cython, about 3 GB/s here)
> numpy (vectorised gear hash, ~150-250 MB/s) > pure Python (~10 MB/s).

How the numpy path works: the gear hash is ``h = (h << 1) + GEAR[byte]`` modulo 2**64,
so bit ``j`` of ``h`` depends only on the last ``j + 1`` bytes. Every mask lies below
bit 48, so the masked bits at position ``i`` are those of the 48-byte window sum
``sum(GEAR[b[i-k]] << k for k < 48)``, which numpy computes for a whole block with six
shift-and-add passes (window doubling). Candidates (``window & mask == 0``) are sparse;
a short Python walk applies the min / average / max rules, computing the first 47
positions after each chunk's minimum exactly (there the reference hash, which starts
from zero at the minimum, has seen fewer than 48 bytes).
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Literal

KIB = 1024
#: The Go server's chunk size.
GO_CHUNK_SIZE = 64 * KIB
_M64 = (1 << 64) - 1
#: Masked bits lie below this bit, so a window of this many bytes decides a cut.
_WINDOW = 48

Backend = Literal["auto", "pyfastcdc", "numpy", "python"]


def chunk_hash(data: bytes | bytearray | memoryview) -> str:
    """The ``file_chunks.chunk_hash`` of ``data``: lowercase sha256 hex."""
    return hashlib.sha256(data).hexdigest()


# FastCDC's published gear table (the paper's reference code; also fastcdc-rs and
# pyfastcdc). Interoperability data: the same table gives the same cut points.
GEAR: tuple[int, ...] = (
    0x3B5D3C7D207E37DC, 0x784D68BA91123086, 0xCD52880F882E7298, 0xEACF8E4E19FDCCA7,
    0xC31F385DFBD1632B, 0x1D5F27001E25ABE6, 0x83130BDE3C9AD991, 0xC4B225676E9B7649,
    0xAA329B29E08EB499, 0xB67FCBD21E577D58, 0x0027BAAADA2ACF6B, 0xE3EF2D5AC73C2226,
    0x0890F24D6ED312B7, 0xA809E036851D7C7E, 0xF0A6FE5E0013D81B, 0x1D026304452CEC14,
    0x03864632648E248F, 0xCDAACF3DCD92B9B4, 0xF5E012E63C187856, 0x8862F9D3821C00B6,
    0xA82F7338750F6F8A, 0x1E583DC6C1CB0B6F, 0x7A3145B69743A7F1, 0xABB20FEE404807EB,
    0xB14B3CFE07B83A5D, 0xB9DC27898ADB9A0F, 0x3703F5E91BAA62BE, 0xCF0BB866815F7D98,
    0x3D9867C41EA9DCD3, 0x1BE1FA65442BF22C, 0x14300DA4C55631D9, 0xE698E9CBC6545C99,
    0x4763107EC64E92A5, 0xC65821FC65696A24, 0x76196C064822F0B7, 0x485BE841F3525E01,
    0xF652BC9C85974FF5, 0xCAD8352FACE9E3E9, 0x2A6ED1DCEB35E98E, 0xC6F483BADC11680F,
    0x3CFD8C17E9CF12F1, 0x89B83C5E2EA56471, 0xAE665CFD24E392A9, 0xEC33C4E504CB8915,
    0x3FB9B15FC9FE7451, 0xD7FD1FD1945F2195, 0x31ADE0853443EFD8, 0x255EFC9863E1E2D2,
    0x10EAB6008D5642CF, 0x46F04863257AC804, 0xA52DC42A789A27D3, 0xDAAADF9CE77AF565,
    0x6B479CD53D87FEBB, 0x6309E2D3F93DB72F, 0xC5738FFBAA1FF9D6, 0x6BD57F3F25AF7968,
    0x67605486D90D0A4A, 0xE14D0B9663BFBDAE, 0xB7BBD8D816EB0414, 0xDEF8A4F16B35A116,
    0xE7932D85AAAFFED6, 0x08161CBAE90CFD48, 0x855507BEB294F08B, 0x91234EA6FFD399B2,
    0xAD70CF4B2435F302, 0xD289A97565BC2D27, 0x8E558437FFCA99DE, 0x96D2704B7115C040,
    0x0889BBCDFC660E41, 0x5E0D4E67DC92128D, 0x72A9F8917063ED97, 0x438B69D409E016E3,
    0xDF4FED8A5D8A4397, 0x00F41DCF41D403F7, 0x4814EB038E52603F, 0x9DAFBACC58E2D651,
    0xFE2F458E4BE170AF, 0x4457EC414DF6A940, 0x06E62F1451123314, 0xBD1014D173BA92CC,
    0xDEF318E25ED57760, 0x9FEA0DE9DFCA8525, 0x459DE1E76C20624B, 0xAEEC189617E2D666,
    0x126A2C06AB5A83CB, 0xB1321532360F6132, 0x65421503DBB40123, 0x2D67C287EA089AB3,
    0x6C93BFF5A56BD6B6, 0x4FFB2036CAB6D98D, 0xCE7B785B1BE7AD4F, 0xEDB42EF6189FD163,
    0xDC905288703988F6, 0x365F9C1D2C691884, 0xC640583680D99BFE, 0x3CD4624C07593EC6,
    0x7F1EA8D85D7C5805, 0x014842D480B57149, 0x0B649BCB5A828688, 0xBCD5708ED79B18F0,
    0xE987C862FBD2F2F0, 0x982731671F0CD82C, 0xBAF13E8B16D8C063, 0x8EA3109CBD951BBA,
    0xD141045BFB385CAD, 0x2ACBC1A0AF1F7D30, 0xE6444D89DF03BFDF, 0xA18CC771B8188FF9,
    0x9834429DB01C39BB, 0x214ADD07FE086A1F, 0x8F07C19B1F6B3FF9, 0x56A297B1BF4FFE55,
    0x94D558E493C54FC7, 0x40BFC24C764552CB, 0x931A706F8A8520CB, 0x32229D322935BD52,
    0x2560D0F5DC4FEFAF, 0x9DBCC48355969BB6, 0x0FD81C3985C0B56A, 0xE03817E1560F2BDA,
    0xC1BB4F81D892B2D5, 0xB0C4864F4E28D2D7, 0x3ECC49F9D9D6C263, 0x51307E99B52BA65E,
    0x8AF2B688DA84A752, 0xF5D72523B91B20B6, 0x6D95FF1FF4634806, 0x562F21555458339A,
    0xC0CE47F889336346, 0x487823E5089B40D8, 0xE4727C7EBC6D9592, 0x5A8F7277E94970BA,
    0xFCA2F406B1C8BB50, 0x5B1F8A95F1791070, 0xD304AF9FC9028605, 0x5440AB7FC930E748,
    0x312D25FBCA2AB5A1, 0x10F4A4B234A4D575, 0x90301D55047E7473, 0x3B6372886C61591E,
    0x293402B77C444E06, 0x451F34A4D3E97DD7, 0x3158D814D81BC57B, 0x034942425B9BDA69,
    0xE2032FF9E532D9BB, 0x62AE066B8B2179E5, 0x9545E10C2F8D71D8, 0x7FF7483EB2D23FC0,
    0x00945FCEBDC98D86, 0x8764BBBE99B26CA2, 0x1B1EC62284C0BFC3, 0x58E0FCC4F0AA362B,
    0x5F4ABEFA878D458D, 0xFD74AC2F9607C519, 0xA4E3FB37DF8CBFA9, 0xBF697E43CAC574E5,
    0x86F14A3F68F4CD53, 0x24A23D076F1CE522, 0xE725CD8048868CC8, 0xBF3C729EB2464362,
    0xD8F6CD57B3CC1ED8, 0x6329E52425541577, 0x62AA688AD5AE1AC0, 0x0A242566269BF845,
    0x168B1A4753ACA74B, 0xF789AFEFFF2E7E3C, 0x6C3362093B6FCCDB, 0x4CE8F50BD28C09B2,
    0x006A2DB95AE8AA93, 0x975B0D623C3D1A8C, 0x18605D3935338C5B, 0x5BB6F6136CAD3C71,
    0x0F53A20701F8D8A6, 0xAB8C5AD2E7E93C67, 0x40B5AC5127ACAA29, 0x8C7BF63C2075895F,
    0x78BD9F7E014A805C, 0xB2C9E9F4F9C8C032, 0xEFD6049827EB91F3, 0x2BE459F482C16FBD,
    0xD92CE0C5745AAA8C, 0x0AAA8FB298D965B9, 0x2B37F92C6C803B15, 0x8C54A5E94E0F0E78,
    0x95F9B6E90C0A3032, 0xE7939FAA436C7874, 0xD16BFE8F6A8A40C9, 0x44982B86263FD2FA,
    0xE285FB39F984E583, 0x779A8DF72D7619D3, 0xF2D79A8DE8D5DD1E, 0xD1037354D66684E2,
    0x004C82A4E668A8E5, 0x31D40A7668B044E6, 0xD70578538BD02C11, 0xDB45431078C5F482,
    0x977121BB7F6A51AD, 0x73D5CCBD34EFF8DD, 0xE437A07D356E17CD, 0x47B2782043C95627,
    0x9FB251413E41D49A, 0xCCD70B60652513D3, 0x1C95B31E8A1B49B2, 0xCAE73DFD1BCB4C1B,
    0x34D98331B1F5B70F, 0x784E39F22338D92F, 0x18613D4A064DF420, 0xF1D8DAE25F0BCEBE,
    0x33F77C15AE855EFC, 0x3C88B3B912EB109C, 0x956A2EC96BAFEEA5, 0x1AA005B5E0AD0E87,
    0x5500D70527C4BB8E, 0xE36C57196421CC44, 0x13C4D286CC36EE39, 0x5654A23D818B2A81,
    0x77B1DC13D161ABDC, 0x734F44DE5F8D5EB5, 0x60717E174A6C89A2, 0xD47D9649266A211E,
    0x5B13A4322BB69E90, 0xF7669609F8B5FC3C, 0x21E6AC55BEDCDAC9, 0x9B56B62B61166DEA,
    0xF48F66B939797E9C, 0x35F332F9C0E6AE9A, 0xCC733F6A9A878DB0, 0x3DA161E41CC108C2,
    0xB7D74AE535914D51, 0x4D493B0B11D36469, 0xCE264D1DFBA9741A, 0xA9D1F2DC7436DC06,
    0x70738016604C2A27, 0x231D36E96E93F3D5, 0x7666881197838D19, 0x4A2A83090AAAD40C,
    0xF1E761591668B35D, 0x7363236497F730A7, 0x301080E37379DD4D, 0x502DEA2971827042,
    0xC2C5EB858F32625F, 0x786AFB9EDFAFBDFF, 0xDAEE0D868490B2A4, 0x617366B3268609F6,
    0xAE0E35A0FE46173E, 0xD1A07DE93E824F11, 0x079B8B115EA4CCA8, 0x93A99274558FAEBB,
    0xFB1E6E22E08A03B3, 0xEA635FDBA3698DD0, 0xCF53659328503A5C, 0xCDE3B31E6FD5D780,
    0x8E3E4221D3614413, 0xEF14D0D86BF1A22C, 0xE1D830D3F16C5DDB, 0xAABD2B2A451504E1,
)

# FastCDC 2020 masks by log2(size): the bits a hash must have clear to cut there.
MASKS: tuple[int, ...] = (
    0, 0, 0, 0, 0,
    0x0000000001804110, 0x0000000001803110, 0x0000000018035100, 0x0000001800035300,
    0x0000019000353000, 0x0000590003530000, 0x0000D90003530000, 0x0000D90103530000,
    0x0000D90303530000, 0x0000D90313530000, 0x0000D90F03530000, 0x0000D90303537000,
    0x0000D90703537000, 0x0000D90707537000, 0x0000D91707537000, 0x0000D91747537000,
    0x0000D91767537000, 0x0000D93767537000, 0x0000D93777537000, 0x0000D93777577000,
    0x0000DB3777577000,
)

#: How much the numpy and Python paths look at in one go (bounds temporary memory).
_WINDOW_BYTES = 4 * 1024 * KIB


@dataclass(frozen=True)
class CDCParams:
    """FastCDC sizes. The mean chunk comes out near ``avg_size + min_size``.

    Defaults (8 / 32 / 128 KiB, mean ~40 KiB) keep the row count close to the Go
    server's 64 KiB pieces while letting edits in the middle of a 100 KiB file share
    most of it with the previous version.
    """

    min_size: int = 8 * KIB
    avg_size: int = 32 * KIB
    max_size: int = 128 * KIB
    normalization: int = 1

    def __post_init__(self) -> None:
        checks = (
            (64 <= self.min_size <= 1024 * KIB, f"min_size {self.min_size} must be 64 B-1 MiB"),
            (256 <= self.avg_size <= 4096 * KIB, f"avg_size {self.avg_size} must be 256 B-4 MiB"),
            (1 * KIB <= self.max_size <= 16384 * KIB, f"max_size {self.max_size} must be 1 KiB-16 MiB"),
            (self.min_size <= self.avg_size <= self.max_size, "sizes must be min <= avg <= max"),
            (0 <= self.normalization <= 3, "normalization must be 0-3"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def bits(self) -> int:
        return int(round(math.log2(self.avg_size)))  # as fastcdc-rs rounds it

    @property
    def mask_s(self) -> int:
        return MASKS[self.bits + self.normalization]

    @property
    def mask_l(self) -> int:
        return MASKS[self.bits - self.normalization]


class Chunker(ABC):
    """Splits content into pieces; concatenating them gives the content back."""

    name: str = ""

    @abstractmethod
    def split(self, data: bytes | bytearray | memoryview) -> Iterator[memoryview]:
        """Pieces of an in-memory buffer (views into it, no copies)."""

    @abstractmethod
    def split_stream(self, stream: BinaryIO) -> Iterator[bytes]:
        """Pieces of a binary stream, read a block at a time (never all of it)."""

    def lengths(self, data: bytes | bytearray | memoryview) -> list[int]:
        return [len(piece) for piece in self.split(data)]

    @abstractmethod
    def describe(self) -> dict[str, object]:
        """What this chunker is, for statistics and reports."""


def _read_full(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes: keeps reading after short reads (pipes, sockets)."""
    parts: list[bytes] = []
    wanted = size
    while wanted > 0:
        block = stream.read(wanted)
        if not block:
            break
        parts.append(block)
        wanted -= len(block)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class FixedChunker(Chunker):
    """Fixed-size pieces (the Go server's 64 KiB by default)."""

    def __init__(self, size: int = GO_CHUNK_SIZE) -> None:
        if size <= 0:
            raise ValueError("chunk size must be positive")
        self.size = size
        self.name = f"fixed-{size}"

    def split(self, data: bytes | bytearray | memoryview) -> Iterator[memoryview]:
        view = memoryview(data).cast("B")
        for start in range(0, len(view), self.size):
            yield view[start:start + self.size]

    def split_stream(self, stream: BinaryIO) -> Iterator[bytes]:
        while True:
            block = _read_full(stream, self.size)
            if not block:
                return
            yield block
            if len(block) < self.size:
                return

    def describe(self) -> dict[str, object]:
        return {"kind": "fixed", "size": self.size}


def _pyfastcdc_class() -> type | None:
    try:
        from pyfastcdc.cy import FastCDC  # the compiled extension only
    except ImportError:
        return None
    return FastCDC


def _numpy_available() -> bool:
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def available_backends() -> list[str]:
    """The CDC backends this machine can run, fastest first."""
    found = ["python"]
    if _numpy_available():
        found.insert(0, "numpy")
    if _pyfastcdc_class() is not None:
        found.insert(0, "pyfastcdc")
    return found


class CDCChunker(Chunker):
    """Content-defined chunks (FastCDC 2020); see the module docstring."""

    def __init__(self, params: CDCParams = CDCParams(), backend: Backend = "auto") -> None:
        self.params = params
        have = available_backends()
        if backend == "auto":
            backend = have[0]  # type: ignore[assignment]
        elif backend not in have:
            raise ValueError(f"chunking backend {backend!r} is not available here (have: {have})")
        self.backend: str = backend
        self.name = f"fastcdc-{params.min_size}-{params.avg_size}-{params.max_size}"

    def describe(self) -> dict[str, object]:
        p = self.params
        return {
            "kind": "fastcdc2020",
            "min_size": p.min_size,
            "avg_size": p.avg_size,
            "max_size": p.max_size,
            "normalization": p.normalization,
            "backend": self.backend,
        }

    # -- pyfastcdc ------------------------------------------------------------------
    def _fastcdc(self):  # type: ignore[no-untyped-def]
        cls = _pyfastcdc_class()
        assert cls is not None
        p = self.params
        return cls(p.avg_size, min_size=p.min_size, max_size=p.max_size,
                   normalized_chunking=p.normalization)

    # -- public -----------------------------------------------------------------------
    def split(self, data: bytes | bytearray | memoryview) -> Iterator[memoryview]:
        view = memoryview(data).cast("B")
        if self.backend == "pyfastcdc":
            for piece in self._fastcdc().cut_buf(view):
                yield piece.data
            return
        cut = _lengths_numpy if self.backend == "numpy" else _lengths_python
        base, total = 0, len(view)
        while base < total:
            window = view[base:base + _WINDOW_BYTES]
            eof = base + len(window) >= total
            for length in cut(window, eof, self.params):
                yield view[base:base + length]
                base += length

    def split_stream(self, stream: BinaryIO) -> Iterator[bytes]:
        if self.backend == "pyfastcdc":
            for piece in self._fastcdc().cut_stream(stream):
                yield bytes(piece.data)  # the view is reused for the next piece
            return
        cut = _lengths_numpy if self.backend == "numpy" else _lengths_python
        pending = b""
        eof = False
        while not eof or pending:
            block = b"" if eof else _read_full(stream, _WINDOW_BYTES - len(pending))
            eof = eof or len(pending) + len(block) < _WINDOW_BYTES
            buffer = pending + block if pending else block
            view = memoryview(buffer)
            pos = 0
            for length in cut(view, eof, self.params):
                yield bytes(view[pos:pos + length])
                pos += length
            pending = bytes(view[pos:])
            if eof and not pending:
                return


# -- the cut rules, shared by the numpy and Python paths ----------------------------------

def _bounds(start: int, avail: int, p: CDCParams) -> tuple[int, int, int, int] | None:
    """(first checked, start of the loose mask, end of checks, fallback length) of a chunk
    at ``start`` with ``avail`` bytes; None when the rest is one chunk (<= min_size)."""
    if avail <= p.min_size:
        return None
    center = p.avg_size
    remaining = avail
    if remaining > p.max_size:
        remaining = p.max_size
    elif remaining < center:
        center = remaining
    return (
        start + (p.min_size // 2) * 2,
        start + (center // 2) * 2,
        start + (remaining // 2) * 2,
        remaining,
    )


def _lengths_python(view: memoryview, eof: bool, p: CDCParams) -> list[int]:
    """Chunk lengths decidable in ``view`` (all of it when ``eof``), byte by byte."""
    gear = GEAR
    mask_s, mask_l = p.mask_s, p.mask_l
    total = len(view)
    lengths: list[int] = []
    start = 0
    while start < total:
        avail = total - start
        if avail < p.max_size and not eof:
            break
        bounds = _bounds(start, avail, p)
        if bounds is None:
            lengths.append(avail)
            break
        pos, mid, end, remaining = bounds
        length = remaining
        h = 0
        while pos < mid:
            h = ((h << 1) + gear[view[pos]]) & _M64
            if not h & mask_s:
                break
            pos += 1
        else:
            while pos < end:
                h = ((h << 1) + gear[view[pos]]) & _M64
                if not h & mask_l:
                    break
                pos += 1
        if pos < end:
            length = pos - start
        lengths.append(length)
        start += length
    return lengths


_GEAR_NP = None
#: numpy block: small enough that the uint64 work arrays stay in cache and are reused.
_NP_BLOCK = 64 * KIB


def _window_candidates(view: memoryview, masks: tuple[int, int]):  # type: ignore[no-untyped-def]
    """Positions in ``view`` whose 48-byte gear window has each mask's bits clear."""
    import numpy as np

    global _GEAR_NP
    if _GEAR_NP is None:
        _GEAR_NP = np.array(GEAR, dtype=np.uint64)
    gear = _GEAR_NP
    data = np.frombuffer(view, dtype=np.uint8)
    size = _NP_BLOCK + _WINDOW
    acc_buf, tmp_buf, top_buf = (np.empty(size, dtype=np.uint64) for _ in range(3))
    hit_buf = np.empty(size, dtype=bool)
    shifts = {k: np.uint64(k) for k in (1, 2, 4, 8, 16, 32)}
    np_masks = [np.uint64(m) for m in masks]
    found: list[list] = [[], []]
    for lo in range(0, len(data), _NP_BLOCK):
        ctx = min(_WINDOW - 1, lo)
        seg = data[lo - ctx:lo + _NP_BLOCK]
        n = len(seg)
        acc, tmp = acc_buf[:n], tmp_buf[:n]
        np.take(gear, seg, out=acc)
        for k in (1, 2, 4, 8):  # window doubling: 2-, 4-, 8-, 16-byte sums
            np.left_shift(acc[:-k], shifts[k], out=tmp[:n - k])
            np.add(acc[k:], tmp[:n - k], out=acc[k:])
        top = top_buf[:max(n - 32, 0)]
        np.left_shift(acc[:n - 32], shifts[32], out=top)  # 16-byte sums, 32 bytes back
        np.left_shift(acc[:-16], shifts[16], out=tmp[:n - 16])
        np.add(acc[16:], tmp[:n - 16], out=acc[16:])  # 32-byte sums
        np.add(acc[32:], top, out=acc[32:])  # 48-byte windows
        window = acc[ctx:]
        m = len(window)
        for slot, mask in enumerate(np_masks):
            np.bitwise_and(window, mask, out=tmp[:m])
            np.equal(tmp[:m], 0, out=hit_buf[:m])
            hits = np.flatnonzero(hit_buf[:m])
            if len(hits):
                found[slot].append(hits + lo)
    return tuple(np.concatenate(f) if f else np.empty(0, dtype=np.int64) for f in found)


def _lengths_numpy(view: memoryview, eof: bool, p: CDCParams) -> list[int]:
    """The same cuts as :func:`_lengths_python`, from vectorised candidates."""
    import numpy as np

    total = len(view)
    if total <= p.min_size:
        return [total] if eof and total else []
    cand_s, cand_l = _window_candidates(view, (p.mask_s, p.mask_l))
    gear = GEAR
    mask_s, mask_l = p.mask_s, p.mask_l
    exact = _WINDOW - 1
    lengths: list[int] = []
    start = 0
    while start < total:
        avail = total - start
        if avail < p.max_size and not eof:
            break
        bounds = _bounds(start, avail, p)
        if bounds is None:
            lengths.append(avail)
            break
        first, mid, end, remaining = bounds
        cut = -1
        # The reference hash restarts at `first`: its first 47 values are computed here.
        h = 0
        for pos in range(first, min(first + exact, end)):
            h = ((h << 1) + gear[view[pos]]) & _M64
            if not h & (mask_s if pos < mid else mask_l):
                cut = pos
                break
        if cut < 0:
            lo = first + exact
            if lo < mid:
                i = int(np.searchsorted(cand_s, lo))
                if i < len(cand_s) and cand_s[i] < mid:
                    cut = int(cand_s[i])
            if cut < 0:
                lo = max(lo, mid)
                i = int(np.searchsorted(cand_l, lo))
                if i < len(cand_l) and cand_l[i] < end:
                    cut = int(cand_l[i])
        length = cut - start if cut >= 0 else remaining
        lengths.append(length)
        start += length
    return lengths


def default_chunker() -> Chunker:
    """What new content is split with: FastCDC with the default sizes."""
    return CDCChunker()
