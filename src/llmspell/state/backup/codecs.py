"""Streaming compression for backup payloads: zstd (the default), lz4, or none.

A payload is one standard frame (a zstd frame with its content checksum, or an lz4 frame with
its content checksum), so ``zstd -d`` / ``lz4 -d`` read a backup file as they read any other
(they skip the llmspell header and trailer, which are skippable frames). Decoding errors
raise :class:`PayloadError`; the reader turns it into a BackupCorrupt naming the payload.
"""

from __future__ import annotations

from typing import Protocol

import lz4.frame
import zstandard

from llmspell.errors import ValidationError

COMPRESSIONS = ("zstd", "lz4", "none")
#: zstd's own default level: a good ratio at several hundred MB/s.
DEFAULT_LEVEL = 3


class PayloadError(Exception):
    """The payload could not be decompressed (internal; the reader names the file)."""


class Compressor(Protocol):
    def compress(self, data: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class Decompressor(Protocol):
    def decompress(self, data: bytes) -> bytes: ...

    def finish(self) -> None:
        """Raise PayloadError if the frame did not end where the payload did."""


class _Plain:
    def compress(self, data: bytes) -> bytes:
        return data

    def decompress(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return b""


class _PlainReader(_Plain):
    def finish(self) -> None:  # type: ignore[override]
        return None


class _Zstd:
    def __init__(self, level: int) -> None:
        self._obj = zstandard.ZstdCompressor(level=level, write_checksum=True).compressobj()

    def compress(self, data: bytes) -> bytes:
        return bytes(self._obj.compress(data))

    def finish(self) -> bytes:
        return bytes(self._obj.flush())


class _ZstdReader:
    def __init__(self) -> None:
        self._obj = zstandard.ZstdDecompressor().decompressobj()

    def decompress(self, data: bytes) -> bytes:
        try:
            return bytes(self._obj.decompress(data))
        except zstandard.ZstdError as exc:
            raise PayloadError(f"zstd: {exc}") from None

    def finish(self) -> None:
        if not self._obj.eof:
            raise PayloadError("zstd: the frame is incomplete (truncated)")
        if self._obj.unused_data:
            raise PayloadError("zstd: unexpected bytes after the frame")


class _Lz4:
    def __init__(self, level: int) -> None:
        self._obj = lz4.frame.LZ4FrameCompressor(compression_level=min(level, 16),
                                                 content_checksum=True)
        self._started = False

    def compress(self, data: bytes) -> bytes:
        head = b""
        if not self._started:
            head, self._started = self._obj.begin(), True
        return bytes(head + self._obj.compress(data))

    def finish(self) -> bytes:
        head = b"" if self._started else self._obj.begin()
        self._started = True
        return bytes(head + self._obj.flush())


class _Lz4Reader:
    def __init__(self) -> None:
        self._obj = lz4.frame.LZ4FrameDecompressor()

    def decompress(self, data: bytes) -> bytes:
        if self._obj.eof:
            if data:
                raise PayloadError("lz4: unexpected bytes after the frame")
            return b""
        try:
            return bytes(self._obj.decompress(data))
        except RuntimeError as exc:
            raise PayloadError(f"lz4: {exc}") from None

    def finish(self) -> None:
        if not self._obj.eof:
            raise PayloadError("lz4: the frame is incomplete (truncated)")
        if self._obj.unused_data:
            raise PayloadError("lz4: unexpected bytes after the frame")


def check_compression(name: object, argument: str = "compression") -> str:
    if name not in COMPRESSIONS:
        raise ValidationError(argument, f"must be one of {', '.join(COMPRESSIONS)}", got=name)
    return name


def compressor(name: str, level: int = DEFAULT_LEVEL) -> Compressor:
    """A streaming compressor for ``name`` (see COMPRESSIONS)."""
    check_compression(name)
    if name == "zstd":
        return _Zstd(level)
    if name == "lz4":
        return _Lz4(level)
    return _Plain()


def decompressor(name: str) -> Decompressor:
    """A streaming decompressor for ``name``."""
    if name == "zstd":
        return _ZstdReader()
    if name == "lz4":
        return _Lz4Reader()
    if name == "none":
        return _PlainReader()
    raise PayloadError(f"unknown compression {name!r}")
