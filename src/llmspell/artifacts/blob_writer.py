"""Writing blobs: staging content, then creating or re-referencing it in one batch.

Staging hashes the content and, for a stream, compresses it piece by piece into a temp file
(memory stays around ``chunk_size`` plus a 256 KB probe; whether to compress a stream is
decided by compressing that probe once). A :class:`StagedBlob` then turns into store ops on
demand, reading the blob's meta record at that moment: known content gets its count raised
(no bytes are written again), new content gets its creation ops, made with ``expect`` = absent
so two writers of the same content, in two threads or processes, create it once; the other's
batch fails and, on its retry, finds the blob and references it. The stored form is chosen
lazily, only when the blob must be created: compressed when that saves at least 10%, inline
when it fits ``inline_max``, otherwise a file published (:mod:`.blob_files`) before the batch
that names it. The staged blob keeps its temp or published file locked against gc until it is
closed; closing removes the file unless a committed record names it (after a crash, gc does).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from blake3 import blake3

from llmspell import compression as codecs
from llmspell.artifacts.blob_files import BlobFiles, PendingFile
from llmspell.artifacts.blob_records import (
    FILE,
    FORMAT_VERSION,
    INLINE,
    INLINE_HEADER,
    BlobRef,
    Meta,
    RefOps,
    content_hash,
    data_key,
    meta_key,
    now_ms,
)
from llmspell.errors import IntegrityError, StorageError, ValidationError
from llmspell.storage.base import Op, Put, Store

#: Bytes of a stream's head compressed once to decide whether the stream is worth compressing.
STREAM_PROBE = 256 * 1024


class BlobWriter:
    """The write half of a BlobStore (see :class:`~llmspell.artifacts.blobs.BlobStore`)."""

    def __init__(self, store: Store, files: BlobFiles, *, inline_max: int,
                 codec: codecs.Codec, compress_threshold: int) -> None:
        self.store = store
        self.files = files
        self.inline_max = inline_max
        self.codec = codec
        self.compress_threshold = compress_threshold

    def stage(self, content: bytes) -> StagedBlob:
        """Stage ``content`` (already checked by the caller)."""
        return StagedBlob(self, content_hash(content), len(content), content=content)

    def stage_stream(self, chunks: Iterator[bytes]) -> StagedBlob:
        """Stage the content of ``chunks`` through a temp file; short content stays in memory."""
        head = bytearray()
        for chunk in chunks:
            head += chunk
            if len(head) > max(self.inline_max, STREAM_PROBE):
                break
        else:
            return self.stage(bytes(head))
        codec = self.codec
        if codec.name != "none" and not codecs.worth_keeping(
                STREAM_PROBE, len(codec.compress(bytes(head[:STREAM_PROBE])))):
            codec = codecs.get_codec("none")
        pending = self.files.create()
        try:
            sink = _Sink(pending, codec)
            sink.feed(bytes(head))
            del head
            for chunk in chunks:
                sink.feed(chunk)
            sink.finish()
            self.files.finish(pending)
        except BaseException:  # the source's own errors too: nothing is left behind
            pending.discard()
            raise
        return StagedBlob(self, sink.hasher.hexdigest(), sink.size,
                          temp=(pending, codec, sink.stored))

    def commit(self, staged: StagedBlob, ref: bool) -> BlobRef:
        """Store ``staged`` on its own (with one reference if ``ref``) and close it."""
        with staged:
            while True:
                change = staged.ref_ops(int(ref))
                if not change.ops or self.store.batch(change.ops, expect=change.expect):
                    return change.blobs[staged.hash]

    def encode(self, content: bytes) -> tuple[codecs.Codec, bytes]:
        """The codec and payload to store ``content`` with."""
        codec = self.codec
        if codec.name != "none" and len(content) > self.compress_threshold:
            packed = codec.compress(content)
            if codecs.worth_keeping(len(content), len(packed)):
                return codec, packed
        return codecs.get_codec("none"), content


class StagedBlob:
    """Content hashed and ready to be stored as part of a caller's batch.

    ``hash`` and ``size`` name the content. :meth:`ref_ops` gives the ops for one batch;
    call it again after a batch that did not apply. Close the staged blob (or use it as a
    context manager) once done, committed or not, to remove its temp or unused file. Not
    thread-safe: one caller uses it.
    """

    def __init__(self, writer: BlobWriter, blob_hash: str, size: int, *,
                 content: bytes | None = None,
                 temp: tuple[PendingFile, codecs.Codec, int] | None = None) -> None:
        self.hash = blob_hash
        self.size = size
        self._writer = writer
        self._content = content
        self._temp = temp
        self._inline: tuple[codecs.Codec, bytes] | None = None
        self._file: tuple[codecs.Codec, PendingFile, int] | None = None  # + stored size
        self._closed = False

    def ref_ops(self, delta: int = 1) -> RefOps:
        """Ops that make the blob exist with ``delta`` more references (0: just exist).

        Reads the blob's meta record now: the ops raise its count when it exists, or create
        it (compressing the content, or publishing its file, the first time) when not.
        Raises ValidationError for a bad delta or a closed staged blob, StorageError when
        writing the file fails.
        """
        if isinstance(delta, bool) or not isinstance(delta, int) or delta < 0:
            raise ValidationError("delta", "must be an int >= 0", got=delta)
        if self._closed:
            raise ValidationError("staged", "is closed; stage the content again")
        key = meta_key(self.hash)
        raw = self._writer.store.get(key)
        ops: list[Op] = []
        if raw is not None:
            meta = Meta.decode(self.hash, raw)
            if delta or meta.refs == 0:  # a put of unreferenced content restarts its grace
                meta = meta.changed(refs=meta.refs + delta)
                ops.append(Put(key, meta.encode()))
        else:
            meta = self._new_meta(delta, ops)
            ops.append(Put(key, meta.encode()))
        return RefOps(tuple(ops), {key: raw}, {self.hash: meta.refs},
                      {self.hash: meta.ref(self.hash)})

    def _new_meta(self, refs: int, ops: list[Op]) -> Meta:
        """The meta record that creates the blob; adds the inline data op to ``ops``."""
        if self._inline is None and self._file is None:
            self._prepare()
        if self._inline is not None:
            codec, payload = self._inline
            header = INLINE_HEADER.pack(FORMAT_VERSION, codec.code, self.size)
            ops.append(Put(data_key(self.hash), header + payload))
            return Meta(self.size, len(payload), codec.name, INLINE, None, refs, now_ms())
        assert self._file is not None
        codec, pending, stored = self._file
        return Meta(self.size, stored, codec.name, FILE, pending.name, refs, now_ms())

    def _prepare(self) -> None:
        """Choose the stored form: an inline payload, or a published file."""
        writer = self._writer
        if self._content is not None:
            codec, payload = writer.encode(self._content)
            self._content = None
            if len(payload) <= writer.inline_max:
                self._inline = codec, payload
            else:
                self._file = codec, writer.files.write(self.hash, payload), len(payload)
            return
        assert self._temp is not None
        pending, codec, stored = self._temp
        if stored <= writer.inline_max:  # a stream that compressed this well stays inline
            self._inline = codec, _read(pending.path, self.hash)
        else:
            writer.files.publish(pending, self.hash)
            self._temp, self._file = None, (codec, pending, stored)

    def close(self) -> None:
        """Remove the temp file, and the published file unless a record names it."""
        if self._closed:
            return
        self._closed = True
        if self._temp is not None:
            self._temp[0].discard()
        if self._file is None:
            return
        pending = self._file[1]
        raw = self._writer.store.get(meta_key(self.hash))
        try:
            named = raw is not None and Meta.decode(self.hash, raw).file == pending.name
        except IntegrityError:
            named = True  # cannot tell: leave the file for gc to judge
        if named:
            pending.close()
        else:
            pending.discard()

    def __enter__(self) -> StagedBlob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<StagedBlob {self.hash} {self.size} bytes>"


class _Sink:
    """Hashes, compresses and writes the pieces of a stream to a temp file."""

    def __init__(self, pending: PendingFile, codec: codecs.Codec) -> None:
        self.out = pending.out
        self.path = pending.path
        self.compressor = codec.compressor()
        self.hasher = blake3()  # one thread: 3 GB/s measured; AUTO is slower on sub-MB pieces
        self.size = 0
        self.stored = 0

    def feed(self, piece: bytes) -> None:
        self.hasher.update(piece)
        self.size += len(piece)
        self._write(self.compressor.compress(piece))

    def finish(self) -> None:
        self._write(self.compressor.finish())

    def _write(self, block: bytes) -> None:
        if not block:
            return
        self.stored += len(block)
        try:
            self.out.write(block)
        except OSError as exc:
            raise StorageError(f"cannot write blob temp file {self.path}: {exc}") from exc


def _read(path: Path, blob_hash: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StorageError(f"blob {blob_hash}: cannot read back {path}: {exc}") from exc


def source_chunks(source: object, chunk_size: int) -> Iterator[bytes]:
    """The chunks of ``source`` (a binary file object or an iterable of bytes), each checked.

    ValidationError for a bad source now, or for a bad chunk when it is reached.
    """
    if isinstance(source, str | bytes | bytearray | memoryview):
        raise ValidationError("source", "must be a binary file object or an iterable of "
                              "bytes chunks (use put() for bytes)", got=source)
    read = getattr(source, "read", None)
    if callable(read):
        return _read_chunks(read, chunk_size)
    if isinstance(source, Iterable):
        return _checked_chunks(iter(source))
    raise ValidationError("source", "must be a binary file object or an iterable of bytes "
                          "chunks", got=source)


def _read_chunks(read: Callable[[int], object], chunk_size: int) -> Iterator[bytes]:
    for i in itertools.count():
        chunk = read(chunk_size)
        if not isinstance(chunk, bytes | bytearray):
            raise ValidationError("source", "read() must return bytes (is the file open in "
                                  "binary mode?)", path=f"read #{i}", got=chunk)
        if not chunk:
            return
        yield bytes(chunk)


def _checked_chunks(chunks: Iterator[object]) -> Iterator[bytes]:
    for i, chunk in enumerate(chunks):
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise ValidationError("source", "every chunk must be bytes", path=f"[{i}]",
                                  got=chunk)
        if chunk:
            yield bytes(chunk)
