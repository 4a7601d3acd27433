"""What kind of file this is: MIME type from name and content, text or binary.

The standard library's ``mimetypes`` knows the name side; a short table of magic
numbers and a text sniff cover the content side. Content wins where they disagree (a
``.txt`` that starts with a PNG header is a PNG; a ``.py`` full of NUL bytes is binary).
No dependency earned its place: libmagic bindings need a system library on every
platform, and the few types sandboxes produce are covered here.

Stored MIME types may carry parameters (``text/csv; charset=utf-8``, as Go's
``mime.TypeByExtension`` writes them): compare with :func:`base_type`.
"""

from __future__ import annotations

import codecs
import mimetypes
import posixpath

#: How much of the start of a file the sniff looks at.
SNIFF_BYTES = 8192

#: Types for names the standard table lacks or gets differently from the Go server.
_BY_EXTENSION = {
    ".go": "text/x-go",
    ".py": "text/x-python",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".yaml": "application/x-yaml",
    ".yml": "application/x-yaml",
    ".toml": "application/toml",
    ".json": "application/json",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".ts": "text/x-typescript",
    ".tsx": "text/x-typescript",
    ".jsx": "text/javascript",
    ".rs": "text/x-rust",
    ".java": "text/x-java",
    ".rb": "text/x-ruby",
    ".sh": "text/x-shellscript",
    ".c": "text/x-c",
    ".h": "text/x-c",
    ".cpp": "text/x-c++",
    ".hpp": "text/x-c++",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".log": "text/plain",
    ".txt": "text/plain",
    ".ini": "text/plain",
    ".cfg": "text/plain",
    ".conf": "text/plain",
    ".env": "text/plain",
    ".sql": "application/sql",
    ".mod": "text/plain",
    ".sum": "text/plain",
    ".lock": "text/plain",
    ".ipynb": "application/x-ipynb+json",
}
_BY_NAME = {
    "makefile": "text/x-makefile",
    "dockerfile": "text/x-dockerfile",
    "license": "text/plain",
    "readme": "text/plain",
    ".gitignore": "text/plain",
    ".dockerignore": "text/plain",
}

#: (offset, signature, type); checked in order.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"BZh", "application/x-bzip2"),
    (0, b"\xfd7zXZ\x00", "application/x-xz"),
    (0, b"(\xb5/\xfd", "application/zstd"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"\x7fELF", "application/x-executable"),
    (0, b"\x00asm", "application/wasm"),
    (0, b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (0, b"\x93NUMPY", "application/octet-stream"),
    (257, b"ustar", "application/x-tar"),
)

_TEXTUAL_APPLICATION = {
    "application/json", "application/xml", "application/x-yaml", "application/yaml",
    "application/javascript", "application/toml", "application/sql", "application/x-sh",
    "application/x-python", "application/x-ipynb+json", "image/svg+xml",
}


def base_type(mime_type: str) -> str:
    """``text/csv; charset=utf-8`` -> ``text/csv`` (lower case)."""
    return mime_type.split(";", 1)[0].strip().lower()


def is_textual(mime_type: str) -> bool:
    """Whether a MIME type names text a person can read and search."""
    base = base_type(mime_type)
    return (
        base.startswith("text/")
        or base in _TEXTUAL_APPLICATION
        or base.endswith("+json")
        or base.endswith("+xml")
    )


def guess_from_name(file_path: str) -> str | None:
    """The MIME type a name suggests, or None."""
    name = posixpath.basename(file_path.replace("\\", "/")).lower()
    if name in _BY_NAME:
        return _BY_NAME[name]
    ext = posixpath.splitext(name)[1]
    if ext in _BY_EXTENSION:
        return _BY_EXTENSION[ext]
    guessed, _encoding = mimetypes.guess_type(name, strict=False)
    return guessed


def sniff_magic(sample: bytes) -> str | None:
    for offset, signature, mime in _MAGIC:
        if sample[offset:offset + len(signature)] == signature:
            return mime
    if sample[:4] == b"RIFF" and sample[8:12] == b"WEBP":
        return "image/webp"
    return None


def _utf16_bom(sample: bytes) -> bool:
    return sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def looks_like_text(sample: bytes) -> bool:
    """UTF-8 (or UTF-16 with a BOM) without NUL bytes, or 8-bit text without control bytes."""
    if not sample:
        return True
    if _utf16_bom(sample):
        return True
    if b"\x00" in sample:
        return False
    try:
        decode_text(sample, strict=True)
        return True
    except UnicodeDecodeError:
        pass
    # Not UTF-8: text in a legacy 8-bit encoding has almost no control bytes; binary
    # data has about one in nine.
    control = sum(1 for b in sample if b < 32 and b not in (8, 9, 10, 12, 13, 27))
    return control <= 0.01 * len(sample)


def decode_text(data: bytes, *, strict: bool = False) -> str:
    """Text from the start of a file; a multi-byte character cut at the end is dropped."""
    if _utf16_bom(data):
        return data.decode("utf-16", errors="strict" if strict else "replace")
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict" if strict else "replace")
    return decoder.decode(data, final=False)  # final=False: a cut character is not an error


def detect_mime(file_path: str, sample: bytes | None = None) -> str:
    """The MIME type for a file named ``file_path`` whose content starts with ``sample``.

    Without content this is the name's type or, like the Go server,
    ``application/octet-stream``.
    """
    if sample:
        magic = sniff_magic(sample[:SNIFF_BYTES])
        if magic:
            return magic
    by_name = guess_from_name(file_path)
    if sample is None:
        return by_name or "application/octet-stream"
    text = looks_like_text(sample[:SNIFF_BYTES])
    if by_name:
        if is_textual(by_name) and not text:
            return "application/octet-stream"
        return by_name
    return "text/plain" if text else "application/octet-stream"
