"""Reading a blob as a stream, checking its hash before the stream ends.

:class:`ChunkFile` reads a payload stored in chunk keys as a binary file, one chunk key at a
time. :func:`verified_chunks` decompresses a stored payload piece by piece, hashing each piece, and
holds back the last piece until the hash and size have been checked; a mismatch raises
IntegrityError instead of handing it out. So a consumer never receives the end of a wrong
stream, and a blob that fits in one piece is never seen unverified. :class:`BlobReader` wraps
those pieces as an iterator with ``read(n)``, like a binary file.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import BinaryIO

from blake3 import blake3

from llmspell.artifacts.blobs.records import CHUNK_BYTES, Meta, MissingPart, chunk_key
from llmspell.compression import Codec, CorruptPayload
from llmspell.errors import IntegrityError, StorageError, ValidationError
from llmspell.storage.base import Store


class ChunkFile(io.RawIOBase):
    """The stored payload of a chunked blob as a read-only binary file.

    Holds one chunk at a time. A chunk key that is missing, or chunks that do not add up to
    the recorded stored size, raise IntegrityError naming the blob and the key.
    """

    def __init__(self, store: Store, blob_hash: str, meta: Meta) -> None:
        super().__init__()
        assert meta.gen is not None
        self._store = store
        self._hash = blob_hash
        self._meta = meta
        self._index = 0
        self._read = 0
        self._piece = memoryview(b"")

    @classmethod
    def open(cls, store: Store, blob_hash: str, meta: Meta) -> BinaryIO:
        """The chunks of ``meta`` as a buffered binary file."""
        return io.BufferedReader(cls(store, blob_hash, meta), buffer_size=CHUNK_BYTES)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._piece:
            if self._index >= self._meta.chunks:
                return 0
            self._piece = memoryview(self.next_chunk())
        n = min(len(buffer), len(self._piece))
        buffer[:n] = self._piece[:n]
        self._piece = self._piece[n:]
        return n

    def next_chunk(self) -> bytes:
        """The next chunk's bytes, checked against the recorded stored size."""
        meta = self._meta
        assert meta.gen is not None
        key = chunk_key(meta.gen, self._index)
        piece = self._store.get(key)
        if piece is None:
            raise MissingPart(f"blob {self._hash}: chunk key {key!r} is missing")
        self._index += 1
        self._read += len(piece)
        last = self._index == meta.chunks
        if self._read > meta.stored or (last and self._read != meta.stored):
            raise IntegrityError(f"blob {self._hash}: its chunks hold {self._read}"
                                 f"{'' if last else '+'} bytes, its record says {meta.stored}")
        return piece

    def read_all(self) -> bytes:
        """The whole stored payload (from the first chunk)."""
        return b"".join(self.next_chunk() for _ in range(self._meta.chunks))


def verified_chunks(raw: BinaryIO, codec: Codec, blob_hash: str, size: int, chunk_size: int,
                    location: str) -> Iterator[bytes]:
    """The content stored in ``raw``, in pieces of at most ``chunk_size`` bytes, verified.

    Raises IntegrityError naming the blob and its ``location`` (the file, or the inline
    record) when the payload does not decode, is longer or shorter than ``size``, or hashes
    to another digest; StorageError when reading the file fails.
    """
    where = f"blob {blob_hash} ({location})"
    reader = codec.reader(raw)
    hasher = blake3()
    total = 0
    held: bytes | None = None
    while True:
        try:
            piece = reader.read(chunk_size)
        except CorruptPayload as exc:
            raise IntegrityError(f"{where}: stored payload does not decode: {exc}") from None
        except OSError as exc:
            raise StorageError(f"{where}: cannot read: {exc}") from exc
        if not piece:
            break
        total += len(piece)
        if total > size:  # stop early: a corrupt frame could expand without end
            raise IntegrityError(f"{where}: content is longer than its recorded {size} bytes")
        hasher.update(piece)
        if held is not None:
            yield held
        held = piece
    if total != size:
        raise IntegrityError(f"{where}: content is {total} bytes, expected {size}")
    got = hasher.hexdigest()
    if got != blob_hash:
        raise IntegrityError(f"{where}: content hash is {got}, expected {blob_hash}")
    if held is not None:
        yield held


class BlobReader:
    """A blob's content as an iterator of chunks, with ``read(n)`` for file-like use.

    ``size`` is the content's length. Use it as a context manager, or call ``close()``, to
    release the underlying file; iterating to the end does not close it.
    """

    def __init__(self, chunks: Iterator[bytes], size: int,
                 on_close: Callable[[], None] | None = None) -> None:
        self.size = size
        self._chunks = chunks
        self._on_close = on_close
        self._buffer = b""
        self._pos = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        self._check_open()
        if self._pos < len(self._buffer):
            rest = self._buffer[self._pos:]
            self._buffer, self._pos = b"", 0
            return rest
        return next(self._chunks)

    def read(self, size: int | None = -1, /) -> bytes:
        """Up to ``size`` bytes (all that remain when ``size`` is negative or None); fewer
        only at the end. IntegrityError at the end of a corrupt blob."""
        if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
            raise ValidationError("size", "must be an int or None", got=size)
        self._check_open()
        if size is None or size < 0:
            return b"".join(self)
        parts: list[bytes] = []
        wanted = size
        while wanted > 0:
            if self._pos >= len(self._buffer):
                piece = next(self._chunks, None)
                if piece is None:
                    break
                self._buffer, self._pos = piece, 0
            part = self._buffer[self._pos:self._pos + wanted]
            self._pos += len(part)
            wanted -= len(part)
            parts.append(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Stop reading and release the file. Calling it again does nothing."""
        if self.closed:
            return
        self.closed = True
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        if self._on_close is not None:
            self._on_close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValidationError("reader", "is closed")

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
