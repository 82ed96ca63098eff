"""Media type detection for artifacts stored without a ``mime_type``.

Three steps, first answer wins:

1. A binary signature at the start of the content (PNG, JPEG, GIF, WebP, PDF, ZIP, gzip,
   zstd, SQLite, WAV, MP3, MP4, ...): the bytes say what they are, whatever the name says.
2. The name's extension, from a table of common types and then Python's built-in table
   (never the system's ``/etc/mime.types``, so the answer is the same on every machine).
3. A look at the content: JSON (when the whole content parses), HTML/XML/SVG by their
   opening, text when it is valid UTF-8 without NUL bytes, else
   ``application/octet-stream``.
"""

from __future__ import annotations

import functools
import mimetypes

import orjson

OCTET_STREAM = "application/octet-stream"
JSON = "application/json"
TEXT = "text/plain"
#: How many leading bytes detection looks at when it cannot see the whole content.
SNIFF_BYTES = 4096
#: Whole content up to this size is parsed to tell JSON from text.
_PARSE_MAX = 16 * 1024 * 1024

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\x28\xb5\x2f\xfd", "application/zstd"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"%!PS", "application/postscript"),
    (b"\x7fELF", "application/x-executable"),
    (b"wOFF", "font/woff"),
    (b"wOF2", "font/woff2"),
    (b"PAR1", "application/vnd.apache.parquet"),
)

_EXTENSIONS = {
    ".json": JSON, ".jsonl": "application/jsonl", ".ndjson": "application/x-ndjson",
    ".txt": TEXT, ".text": TEXT, ".log": TEXT, ".md": "text/markdown",
    ".markdown": "text/markdown", ".csv": "text/csv", ".tsv": "text/tab-separated-values",
    ".html": "text/html", ".htm": "text/html", ".xml": "application/xml",
    ".yaml": "application/yaml", ".yml": "application/yaml", ".toml": "application/toml",
    ".ini": TEXT, ".cfg": TEXT, ".lua": "text/x-lua", ".py": "text/x-python",
    ".js": "text/javascript", ".mjs": "text/javascript", ".ts": "text/x-typescript",
    ".rs": "text/x-rust", ".go": "text/x-go", ".sh": "application/x-sh", ".sql": "application/sql",
    ".css": "text/css", ".svg": "image/svg+xml", ".pdf": "application/pdf",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".bmp": "image/bmp", ".ico": "image/vnd.microsoft.icon",
    ".zip": "application/zip", ".gz": "application/gzip", ".tgz": "application/gzip",
    ".zst": "application/zstd", ".tar": "application/x-tar", ".mp3": "audio/mpeg",
    ".wav": "audio/wav", ".ogg": "audio/ogg", ".flac": "audio/flac", ".mp4": "video/mp4",
    ".webm": "video/webm", ".parquet": "application/vnd.apache.parquet",
    ".db": "application/vnd.sqlite3", ".sqlite": "application/vnd.sqlite3",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".bin": OCTET_STREAM,
}

#: The signatures by their first byte: most content (text) starts with a byte none has.
_BY_FIRST_BYTE: dict[bytes, tuple[tuple[bytes, str], ...]] = {
    first: tuple(pair for pair in _SIGNATURES if pair[0][:1] == first)
    for first in {magic[:1] for magic, _ in _SIGNATURES}}

_BUILTIN = mimetypes.MimeTypes(filenames=())


def by_signature(head: bytes) -> str | None:
    """The type a binary signature at the start of ``head`` names, or None."""
    for magic, mime in _BY_FIRST_BYTE.get(head[:1], ()):
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and len(head) >= 12:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(
            head[8:12])
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return None


def by_extension(name: str) -> str | None:
    """The type the extension of ``name`` names, or None."""
    dot = name.rfind(".")
    if dot <= 0 or dot < name.rfind("/"):
        return None
    ext = name[dot:].lower()
    found = _EXTENSIONS.get(ext)
    if found is not None:
        return found
    return _guess(ext)


@functools.lru_cache(maxsize=256)
def _guess(ext: str) -> str | None:
    """Python's table (a fixed one: no system files are read), asked once per extension."""
    guessed, _ = _BUILTIN.guess_type("x" + ext, strict=False)
    return guessed


def by_content(head: bytes, complete: bool) -> str:
    """JSON, HTML, XML, SVG, text or octet-stream, by a look at the content.

    ``complete``: ``head`` is the whole content (only then is JSON recognised by parsing).
    """
    sample = head[:SNIFF_BYTES]
    if b"\x00" in sample:
        return OCTET_STREAM
    start = sample.lstrip()
    first = start[:1]
    if first == b"<":  # markup; most text opens otherwise and skips these tests
        start = start.lower()
        if start.startswith((b"<!doctype html", b"<html")):
            return "text/html"
        if start.startswith(b"<svg") or (start.startswith(b"<?xml") and b"<svg" in start):
            return "image/svg+xml"
        if start.startswith(b"<?xml"):
            return "application/xml"
    elif complete and first in (b"{", b"[") and len(head) <= _PARSE_MAX:
        try:
            orjson.loads(head)
            return JSON
        except orjson.JSONDecodeError:
            pass
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still text
        if complete or exc.start < len(sample) - 3:
            return OCTET_STREAM
    return TEXT


def detect(name: str, head: bytes, *, complete: bool) -> str:
    """The media type of content ``head`` (or its first bytes) stored under ``name``."""
    return by_signature(head) or by_extension(name) or by_content(head, complete)
