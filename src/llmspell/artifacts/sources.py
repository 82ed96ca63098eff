"""Content on its way into an artifact: a value in memory, a stream, or a file.

What content may be (:func:`to_bytes`, :func:`from_bytes`): ``bytes`` are stored as they
are; ``str`` as UTF-8; a ``dict``/``list`` (a Lua table), or a JSON scalar (number,
boolean), as compact JSON with ``encoding = "json"``, so reading it gives the value back
rather than its text. Binary strings inside a table are refused: JSON has no bytes (store
them as an artifact of their own).

Files (:class:`FileGuard`): whether ``storeFile`` may read a path is decided by
:mod:`llmspell.paths` (the allowed roots, ``..`` and symlinks resolved the way the operating
system resolves them, ``[runtime.security] allow_file_access``), exactly as for the Lua
sandbox's ``io.open``; a refusal is a SecurityViolation that names the path. The guard then
opens the file by its real path with ``O_NOFOLLOW``, so a symlink swapped in for the file
after the check is not followed, and requires a regular file (not a directory, device or
FIFO). A directory on the way swapped for a symlink between the check and the open is the
one window left; the Lua sandbox has the same one (docs/artifacts.md).

A :class:`Source` gives the media-type detection its first bytes (``head``) without
consuming a stream, and stages the content in the blob store: a value in one piece, a stream
or a file chunk by chunk (never all in memory), stopping with ArtifactTooLarge as soon as the
content passes ``[session] max_artifact_size``.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from llmspell.artifacts import mime
from llmspell.artifacts.blobs.store import BlobStore
from llmspell.artifacts.blobs.writer import StagedBlob, source_chunks
from llmspell.artifacts.model import JSON_ENCODING, Artifact
from llmspell.codec import format_path, to_jsonable, unencodable
from llmspell.errors import (
    ArtifactTooLarge,
    SecurityViolation,
    StorageError,
    ValidationError,
    ValueTooLarge,
)
from llmspell.paths import Confinement


@dataclass(slots=True)
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
    def of_value(cls, content: Any, limit: int = 0, name: str = "") -> Source:
        """In-memory content: bytes, str, or a JSON value (see :func:`to_bytes`; a table over
        ``limit`` bytes, 0: none, is refused before it is encoded)."""
        data, encoding = to_bytes(content, limit, name)
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


def to_bytes(content: object, limit: int = 0, name: str = "") -> tuple[bytes, str | None]:
    """``(bytes, encoding)`` for ``content``; encoding is ``"json"`` or None.

    Raises ValidationError naming ``content`` (and the path inside a table) for content that
    cannot be stored; ArtifactTooLarge for a table whose size, counted while it is checked
    (:func:`llmspell.codec.to_jsonable`), passes ``limit`` (0: none), before it is encoded.
    """
    if isinstance(content, bytes):
        return content, None
    if isinstance(content, str):  # before the union below, built on each call
        try:
            return content.encode("utf-8"), None
        except UnicodeEncodeError:
            raise ValidationError("content", "text must be valid Unicode (it has a lone "
                                  "surrogate)") from None
    if isinstance(content, bytearray | memoryview):
        return bytes(content), None
    if content is None:
        raise ValidationError("content", "must be a string, bytes, or a table/dict/list "
                              "(got nothing)", got=content)
    if isinstance(content, dict | list | tuple | int | float | bool):
        try:
            value, binary = to_jsonable(content, argument="content", max_bytes=limit or None)
        except ValueTooLarge:
            raise too_large(name, limit, limit, at_least=True) from None
        if binary:
            raise ValidationError("content", "a table stored as JSON cannot hold binary "
                                  "strings (store them as an artifact of their own)",
                                  path=format_path(tuple(binary[0])))
        try:
            return orjson.dumps(value), JSON_ENCODING
        except orjson.JSONEncodeError:  # a lone surrogate in a string
            raise unencodable(value, "content") from None
    raise ValidationError("content", "must be a string, bytes, or a table/dict/list",
                          got=content)


def from_bytes(artifact: Artifact, data: bytes) -> Any:
    """The value an artifact was stored with: decoded JSON for ``encoding = "json"``, else the
    bytes (callers decide whether they are text)."""
    if artifact.encoding == JSON_ENCODING:
        return orjson.loads(data)
    return data


class FileGuard:
    """Opens the files ``confinement`` lets ``storeFile`` read."""

    def __init__(self, confinement: Confinement) -> None:
        self.confinement = confinement

    def resolve(self, path: object) -> str:
        """The real path of ``path`` if it may be read; SecurityViolation otherwise."""
        return self.confinement.resolve(path, what="storeFile")

    def open(self, path: object) -> tuple[BinaryIO, str, int]:
        """``(file, real path, size)`` of a regular file under the roots, open for reading.

        Raises SecurityViolation (outside the roots, traversal), ValidationError (not a
        regular file), StorageError (cannot be opened).
        """
        real = self.resolve(path)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(real, flags | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            raise ValidationError("path", f"no such file: {path!r}") from None
        except OSError as exc:
            if exc.errno == getattr(os, "ELOOP", -1):
                raise SecurityViolation(f"storeFile: {path!r} became a symlink after it was "
                                        "checked; refused") from None
            raise StorageError(f"storeFile: cannot open {path!r}: {exc.strerror or exc}") from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
                raise ValidationError("path", f"must name a regular file; {path!r} is {what}")
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb"), real, info.st_size
        except BaseException:
            os.close(fd)
            raise
