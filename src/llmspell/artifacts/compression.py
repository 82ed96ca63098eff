"""Compression codecs for blobs: zstd (the default), lz4, and none.

Each codec compresses whole payloads (inline blobs, files put from memory), compresses a
stream chunk by chunk (large blobs put from a stream), and reads a stored payload back as a
bounded stream, so a 500 MB blob never needs 500 MB of memory. A payload that fails to
decompress raises :class:`CorruptPayload`; the blob layer turns it into an IntegrityError that
names the blob. zstd and lz4 contexts are not thread-safe, so each thread keeps its own.
"""

from __future__ import annotations

import io
import threading
from typing import BinaryIO, Protocol

import lz4.frame
import zstandard

#: Codec names, in the order of their one-byte codes (0, 1, 2) in inline records.
CODECS = ("none", "zstd", "lz4")
#: zstd level used everywhere (DESIGN.md 17: level 1 saved 63-74% on conversation logs).
ZSTD_LEVEL = 1
#: Keep a compressed payload only when raw/compressed is at least this.
MIN_RATIO = 1.1

#: What a corrupt payload may raise from inside zstandard or lz4.
_DECODE_ERRORS = (zstandard.ZstdError, RuntimeError, EOFError, ValueError, MemoryError)


class CorruptPayload(Exception):
    """A stored payload could not be decompressed to the recorded size (internal signal)."""


class StreamCompressor(Protocol):
    """Compresses a stream: feed chunks to ``compress``, then call ``finish`` once."""

    def compress(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class Readable(Protocol):
    """The part of a binary file object that the blob reader uses."""

    def read(self, size: int = -1, /) -> bytes: ...


class Codec:
    """Stores payloads as they are (the ``none`` codec); the base of the others."""

    name = "none"
    code = 0

    def compress(self, data: bytes) -> bytes:
        """``data`` compressed in one frame."""
        return data

    def decompress(self, payload: bytes, size: int) -> bytes:
        """``payload`` decompressed; CorruptPayload unless it yields exactly ``size`` bytes."""
        if len(payload) != size:
            raise CorruptPayload(f"payload is {len(payload)} bytes, expected {size}")
        return payload

    def compressor(self) -> StreamCompressor:
        """A new stream compressor."""
        return _Passthrough()

    def reader(self, raw: BinaryIO) -> Readable:
        """A reader of the decompressed stream over ``raw``; ``read(n)`` returns <= n bytes."""
        return raw


class _Passthrough:
    def compress(self, chunk: bytes) -> bytes:
        return chunk

    def finish(self) -> bytes:
        return b""


class ZstdCodec(Codec):
    """zstd at level 1; one-shot frames record the content size, stream frames do not."""

    name = "zstd"
    code = 1

    def __init__(self) -> None:
        self._local = threading.local()

    def _cctx(self) -> zstandard.ZstdCompressor:
        cctx = getattr(self._local, "cctx", None)
        if cctx is None:
            cctx = self._local.cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        return cctx

    def _dctx(self) -> zstandard.ZstdDecompressor:
        dctx = getattr(self._local, "dctx", None)
        if dctx is None:
            dctx = self._local.dctx = zstandard.ZstdDecompressor()
        return dctx

    def compress(self, data: bytes) -> bytes:
        return bytes(self._cctx().compress(data))

    def decompress(self, payload: bytes, size: int) -> bytes:
        try:
            declared = zstandard.frame_content_size(payload)
            if declared not in (-1, size):  # checked first: a flipped header could ask for TBs
                raise CorruptPayload(f"frame declares {declared} bytes, expected {size}")
            out = bytes(self._dctx().decompress(payload, max_output_size=size))
        except _DECODE_ERRORS as exc:
            raise CorruptPayload(f"zstd: {exc}") from exc
        if len(out) != size:
            raise CorruptPayload(f"decompressed to {len(out)} bytes, expected {size}")
        return out

    def compressor(self) -> StreamCompressor:
        return _ZstdStream(zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj())

    def reader(self, raw: BinaryIO) -> Readable:
        return _Guarded(zstandard.ZstdDecompressor().stream_reader(raw, closefd=False), "zstd")


class _ZstdStream:
    def __init__(self, cobj: zstandard.ZstdCompressionObj) -> None:
        self._cobj = cobj

    def compress(self, chunk: bytes) -> bytes:
        return bytes(self._cobj.compress(chunk))

    def finish(self) -> bytes:
        return bytes(self._cobj.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))


class Lz4Codec(Codec):
    """lz4 frames (faster, compresses less than zstd)."""

    name = "lz4"
    code = 2

    def compress(self, data: bytes) -> bytes:
        return bytes(lz4.frame.compress(data, store_size=True))

    def decompress(self, payload: bytes, size: int) -> bytes:
        try:
            declared = lz4.frame.get_frame_info(payload).get("content_size", 0)
            if declared not in (0, size):
                raise CorruptPayload(f"frame declares {declared} bytes, expected {size}")
            out = bytes(lz4.frame.decompress(payload))
        except _DECODE_ERRORS as exc:
            raise CorruptPayload(f"lz4: {exc}") from exc
        if len(out) != size:
            raise CorruptPayload(f"decompressed to {len(out)} bytes, expected {size}")
        return out

    def compressor(self) -> StreamCompressor:
        return _Lz4Stream()

    def reader(self, raw: BinaryIO) -> Readable:
        return _Guarded(lz4.frame.LZ4FrameFile(raw, mode="rb"), "lz4")


class _Lz4Stream:
    def __init__(self) -> None:
        self._cctx = lz4.frame.LZ4FrameCompressor()
        self._header: bytes | None = bytes(self._cctx.begin())

    def compress(self, chunk: bytes) -> bytes:
        out = bytes(self._cctx.compress(chunk))
        if self._header is not None:
            out, self._header = self._header + out, None
        return out

    def finish(self) -> bytes:
        head, self._header = self._header or b"", None
        return head + bytes(self._cctx.flush())


class _Guarded:
    """A decompressing reader whose decode errors become CorruptPayload."""

    def __init__(self, inner: io.RawIOBase | io.BufferedIOBase | Readable, name: str) -> None:
        self._inner = inner
        self._name = name

    def read(self, size: int = -1, /) -> bytes:
        try:
            return bytes(self._inner.read(size) or b"")
        except _DECODE_ERRORS as exc:
            raise CorruptPayload(f"{self._name}: {exc}") from exc


_BY_NAME: dict[str, Codec] = {c.name: c for c in (Codec(), ZstdCodec(), Lz4Codec())}
_BY_CODE: dict[int, Codec] = {c.code: c for c in _BY_NAME.values()}


def get_codec(name: str) -> Codec:
    """The codec called ``name`` (one of CODECS); KeyError for another name."""
    return _BY_NAME[name]


def codec_for_code(code: int) -> Codec:
    """The codec whose one-byte code is ``code``; CorruptPayload for an unknown code."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise CorruptPayload(f"unknown compression code {code}") from None


def worth_keeping(raw_size: int, compressed_size: int) -> bool:
    """Whether compression saved enough (ratio >= MIN_RATIO) to keep the compressed form."""
    return compressed_size * MIN_RATIO <= raw_size
