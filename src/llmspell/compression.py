"""Compression for everything llmspell stores compressed: zstd, lz4, or none.

Artifact blobs and backup files both use this module. Every payload is one standard frame
(``zstd -d`` and ``lz4 -d`` read it), so what was written stays readable whatever the level or
options it was written with. A codec offers:

- ``compress``/``decompress``: a whole payload in one call (``decompress`` checks the size the
  caller recorded, so a damaged header cannot make it allocate terabytes);
- ``compressor()``: a stream compressor (feed chunks, then ``finish``), with a level and an
  optional content checksum (backups ask for one, blobs are verified by their hash instead);
- ``decompressor()``: a push decompressor whose ``finish`` says whether the frame ended where
  the payload did (truncation, trailing bytes);
- ``reader(raw)``: a pull decompressor over a binary file, read in bounded pieces, so a 500 MB
  blob never needs 500 MB of memory.

A payload that fails to decompress raises :class:`CorruptPayload`; callers turn it into the
error of their layer (IntegrityError naming the blob, BackupCorrupt naming the file). zstd and
lz4 contexts are not thread-safe, so each thread keeps its own one-shot contexts and every
stream gets a new one.
"""

from __future__ import annotations

import io
import threading
from abc import ABC, abstractmethod
from typing import Any, BinaryIO, Protocol

import lz4.frame
import zstandard

from llmspell.errors import ValidationError

#: Codec names, in the order of their one-byte codes (0, 1, 2) in inline blob records.
CODECS = ("none", "zstd", "lz4")
#: zstd level when none is given (DESIGN.md 17: level 1 saved 63-74% on conversation logs).
ZSTD_LEVEL = 1
#: lz4's highest level (lz4 HC); a higher requested level is capped to it.
LZ4_MAX_LEVEL = 16
#: Keep a compressed payload only when raw/compressed is at least this.
MIN_RATIO = 1.1

#: What a corrupt payload may raise from inside zstandard or lz4.
_DECODE_ERRORS = (zstandard.ZstdError, RuntimeError, EOFError, ValueError, MemoryError)


class CorruptPayload(Exception):
    """A payload could not be decompressed as recorded (internal signal; callers name the
    blob or file and raise their own error)."""


class StreamCompressor(Protocol):
    """Compresses a stream: feed chunks to ``compress``, then call ``finish`` once."""

    def compress(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class StreamDecompressor(Protocol):
    """Decompresses a stream pushed to it chunk by chunk."""

    def decompress(self, chunk: bytes) -> bytes: ...

    def finish(self) -> None:
        """Raise CorruptPayload unless the frame ended exactly where the payload did."""


class Readable(Protocol):
    """The part of a binary file object that a decompressing reader offers."""

    def read(self, size: int = -1, /) -> bytes: ...


class Codec:
    """Stores payloads as they are (the ``none`` codec); the base of the others."""

    name = "none"
    code = 0

    def compress(self, data: bytes) -> bytes:
        """``data`` compressed in one frame (the frame records its size)."""
        return data

    def decompress(self, payload: bytes, size: int) -> bytes:
        """``payload`` decompressed; CorruptPayload unless it yields exactly ``size`` bytes."""
        if len(payload) != size:
            raise CorruptPayload(f"payload is {len(payload)} bytes, expected {size}")
        return payload

    def compressor(self, *, level: int | None = None, checksum: bool = False) -> StreamCompressor:
        """A new stream compressor. ``level``: the codec's level (None: its default);
        ``checksum``: add the frame's content checksum."""
        return _Passthrough()

    def decompressor(self) -> StreamDecompressor:
        """A new push decompressor for one frame."""
        return _PlainPush()

    def reader(self, raw: BinaryIO) -> Readable:
        """A reader of the decompressed stream over ``raw``; ``read(n)`` returns <= n bytes."""
        return raw


class _Passthrough:
    def compress(self, chunk: bytes) -> bytes:
        return chunk

    def finish(self) -> bytes:
        return b""


class _PlainPush:
    def decompress(self, chunk: bytes) -> bytes:
        return chunk

    def finish(self) -> None:
        return None


class _FrameCodec(Codec, ABC):
    """A codec whose payloads are frames that may declare their content size."""

    def decompress(self, payload: bytes, size: int) -> bytes:
        try:
            declared = self._declared_size(payload)
            if declared is not None and declared != size:  # before decoding: a flipped
                # header could ask for terabytes
                raise CorruptPayload(f"frame declares {declared} bytes, expected {size}")
            out = self._decode(payload, size)
        except _DECODE_ERRORS as exc:
            raise CorruptPayload(f"{self.name}: {exc}") from exc
        if len(out) != size:
            raise CorruptPayload(f"decompressed to {len(out)} bytes, expected {size}")
        return out

    @abstractmethod
    def _declared_size(self, payload: bytes) -> int | None:
        """The content size the frame header declares; None when it does not say."""

    @abstractmethod
    def _decode(self, payload: bytes, size: int) -> bytes:
        """The whole payload decoded (at most ``size`` bytes where the codec can bound it)."""


class ZstdCodec(_FrameCodec):
    """zstd frames; one-shot frames record the content size, stream frames do not."""

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

    def _declared_size(self, payload: bytes) -> int | None:
        declared = zstandard.frame_content_size(payload)
        return None if declared == -1 else int(declared)

    def _decode(self, payload: bytes, size: int) -> bytes:
        return bytes(self._dctx().decompress(payload, max_output_size=size))

    def compressor(self, *, level: int | None = None, checksum: bool = False) -> StreamCompressor:
        cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL if level is None else level,
                                        write_checksum=checksum)
        return _ZstdStream(cctx.compressobj())

    def decompressor(self) -> StreamDecompressor:
        return _FramePush(zstandard.ZstdDecompressor().decompressobj(), "zstd")

    def reader(self, raw: BinaryIO) -> Readable:
        return _Guarded(zstandard.ZstdDecompressor().stream_reader(raw, closefd=False), "zstd")


class _ZstdStream:
    def __init__(self, cobj: zstandard.ZstdCompressionObj) -> None:
        self._cobj = cobj

    def compress(self, chunk: bytes) -> bytes:
        return bytes(self._cobj.compress(chunk))

    def finish(self) -> bytes:
        return bytes(self._cobj.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))


class _FramePush:
    """A push decompressor over a zstd ``decompressobj`` or an ``LZ4FrameDecompressor``
    (both have ``decompress``, ``eof`` and ``unused_data``)."""

    def __init__(self, obj: Any, name: str) -> None:
        self._obj = obj
        self._name = name

    def decompress(self, chunk: bytes) -> bytes:
        if self._obj.eof:
            if chunk:
                raise CorruptPayload(f"{self._name}: unexpected bytes after the frame")
            return b""
        try:
            return bytes(self._obj.decompress(chunk))
        except _DECODE_ERRORS as exc:
            raise CorruptPayload(f"{self._name}: {exc}") from None

    def finish(self) -> None:
        if not self._obj.eof:
            raise CorruptPayload(f"{self._name}: the frame is incomplete (truncated)")
        if self._obj.unused_data:
            raise CorruptPayload(f"{self._name}: unexpected bytes after the frame")


class Lz4Codec(_FrameCodec):
    """lz4 frames (faster, compresses less than zstd)."""

    name = "lz4"
    code = 2

    def compress(self, data: bytes) -> bytes:
        return bytes(lz4.frame.compress(data, store_size=True))

    def _declared_size(self, payload: bytes) -> int | None:
        return int(lz4.frame.get_frame_info(payload).get("content_size", 0)) or None

    def _decode(self, payload: bytes, size: int) -> bytes:
        return bytes(lz4.frame.decompress(payload))

    def compressor(self, *, level: int | None = None, checksum: bool = False) -> StreamCompressor:
        return _Lz4Stream(0 if level is None else min(level, LZ4_MAX_LEVEL), checksum)

    def decompressor(self) -> StreamDecompressor:
        return _FramePush(lz4.frame.LZ4FrameDecompressor(), "lz4")

    def reader(self, raw: BinaryIO) -> Readable:
        return _Guarded(lz4.frame.LZ4FrameFile(raw, mode="rb"), "lz4")


class _Lz4Stream:
    def __init__(self, level: int, checksum: bool) -> None:
        self._cctx = lz4.frame.LZ4FrameCompressor(compression_level=level,
                                                  content_checksum=checksum)
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


def check_codec_name(name: object, argument: str = "compression") -> str:
    """``name`` if it is one of CODECS; ValidationError naming ``argument`` otherwise."""
    if not isinstance(name, str) or name not in _BY_NAME:
        raise ValidationError(argument, f"must be one of {', '.join(CODECS)}", got=name)
    return name


def get_codec(name: str) -> Codec:
    """The codec called ``name`` (one of CODECS); KeyError for another name."""
    return _BY_NAME[name]


def codec_for_name(name: object) -> Codec:
    """The codec a stored payload names (e.g. a backup header); CorruptPayload for a name
    that is not one of CODECS (the payload, not an argument, is wrong)."""
    codec = _BY_NAME.get(name) if isinstance(name, str) else None
    if codec is None:
        raise CorruptPayload(f"unknown compression {name!r}")
    return codec


def codec_for_code(code: int) -> Codec:
    """The codec whose one-byte code is ``code``; CorruptPayload for an unknown code."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise CorruptPayload(f"unknown compression code {code}") from None


def worth_keeping(raw_size: int, compressed_size: int) -> bool:
    """Whether compression saved enough (ratio >= MIN_RATIO) to keep the compressed form."""
    return compressed_size * MIN_RATIO <= raw_size
