"""Content on its way into an artifact: a value in memory, a stream, or a file.

A :class:`Source` gives the media-type detection its first bytes (``head``) without
consuming a stream, and stages the content in the blob store: a value in one piece, a stream
or a file chunk by chunk (never all in memory), stopping with ArtifactTooLarge as soon as the
content passes ``[session] max_artifact_size``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from llmspell.artifacts import mime
from llmspell.artifacts.blobs.store import BlobStore
from llmspell.artifacts.blobs.writer import StagedBlob, source_chunks
from llmspell.artifacts.content import to_bytes
from llmspell.errors import ArtifactTooLarge


@dataclass
class Source:
    """Content to store. ``data``: all of it, in memory; else ``chunks`` (after ``head``).

    ``value`` is what ``artifact:before_store`` hooks see as ``content`` (in-memory content
    only); ``file`` is closed by :meth:`close`.
    """

    head: bytes
    complete: bool
    data: bytes | None = None
    chunks: Iterator[bytes] | None = None
    encoding: str | None = None
    value: Any = None
    path: str | None = None
    size: int | None = None
    file: BinaryIO | None = None

    @classmethod
    def of_value(cls, content: Any) -> Source:
        """In-memory content: bytes, str, or a JSON value (see :mod:`.content`)."""
        data, encoding = to_bytes(content)
        return cls(data, True, data=data, encoding=encoding, value=content, size=len(data))

    @classmethod
    def of_stream(cls, stream: Any, chunk_size: int) -> Source:
        """A binary file object or an iterable of bytes chunks, peeked at, not consumed."""
        chunks = source_chunks(stream, chunk_size)
        taken: list[bytes] = []
        held = 0
        for chunk in chunks:
            taken.append(chunk)
            held += len(chunk)
            if held >= mime.SNIFF_BYTES:
                break
        else:
            data = b"".join(taken)
            return cls(data, True, data=data, value=data, size=len(data))
        return cls(b"".join(taken)[:mime.SNIFF_BYTES], False,
                   chunks=itertools.chain(taken, chunks))

    @classmethod
    def of_file(cls, file: BinaryIO, path: str, size: int, chunk_size: int) -> Source:
        """An open file (checked by :class:`~.files.FileGuard`) of ``size`` bytes."""
        try:
            source = cls.of_stream(file, chunk_size)
        except BaseException:
            file.close()
            raise
        source.path, source.file = path, file
        if source.size is None:
            source.size = size
        return source

    def detect_mime(self, name: str) -> str:
        return mime.detect(name, self.head, complete=self.complete)

    def check_size(self, limit: int, name: str) -> None:
        if limit and self.size is not None and self.size > limit:
            raise too_large(name, self.size, limit)

    def stage(self, blobs: BlobStore, limit: int, name: str) -> StagedBlob:
        """Hash (and, for a stream, write to a temp file) the content; see BlobStore.stage."""
        if self.data is not None:
            self.check_size(limit, name)
            return blobs.stage(self.data)
        assert self.chunks is not None
        return blobs.stage_stream(_limited(self.chunks, limit, name) if limit else self.chunks)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def too_large(name: str, size: int, limit: int, *, at_least: bool = False) -> ArtifactTooLarge:
    got = f"more than {limit:,}" if at_least else f"{size:,}"
    return ArtifactTooLarge(f"artifact {name!r} is {got} bytes, over the {limit:,}-byte "
                            "limit ([session] max_artifact_size)")


def _limited(chunks: Iterator[bytes], limit: int, name: str) -> Iterator[bytes]:
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise too_large(name, seen, limit, at_least=True)
        yield chunk
