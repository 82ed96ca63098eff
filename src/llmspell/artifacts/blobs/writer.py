"""Writing blobs: staging content, then creating or re-referencing it in one batch.

Staging hashes the content and, for a stream, compresses it piece by piece into chunk keys
(memory stays around ``chunk_size`` plus a 256 KB probe and one batch of chunks; whether to
compress a stream is decided by compressing that probe once). A :class:`StagedBlob` then
turns into store ops on demand, reading the blob's meta record at that moment: known content
gets its count raised (no bytes are written again), new content gets its creation ops, made
with ``expect`` = absent so two writers of the same content, in two threads or processes,
create it once; the other's batch fails and, on its retry, finds the blob and references it.

The stored form is chosen lazily, only when the blob must be created: compressed when that
saves at least 10%, inline when it fits ``inline_max``, else chunk keys (:mod:`.records`).
Chunks of up to :data:`~.records.BATCH_BYTES` go in the creating batch itself; larger
payloads (streams) are written before it, in bounded batches, under a pending record that the
creating batch deletes and expects unchanged. Closing the staged blob removes chunks that no
committed record names; after a crash, gc does.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator

from blake3 import blake3

from llmspell import compression as codecs
from llmspell.artifacts.blobs.records import (
    BATCH_BYTES,
    CHUNK_BYTES,
    CHUNKS,
    FORMAT_VERSION,
    INLINE,
    INLINE_HEADER,
    BlobRef,
    Meta,
    RefOps,
    chunk_count,
    chunk_key,
    content_hash,
    data_key,
    meta_key,
    new_gen,
    now_ms,
    pending_key,
    pending_record,
)
from llmspell.bounded import BoundedCache
from llmspell.codec import compact
from llmspell.errors import IntegrityError, StorageError, ValidationError
from llmspell.storage.base import Delete, Op, Put, Store, new_put

#: Bytes of a stream's head compressed once to decide whether the stream is worth compressing.
STREAM_PROBE = 256 * 1024
#: How many chunk keys one batch deletes.
_DELETE_BATCH = 256
#: Meta records a writer remembers having encoded or read (:meth:`BlobWriter.decoded`,
#: :meth:`BlobWriter.belief`).
_KNOWN_METAS = 256
#: First attempts that read the meta record after a belief turned out wrong
#: (:meth:`BlobWriter.belief`): at most one failed attempt per this many stores. Measured
#: under callgrind on SQLite (1 KB content another runtime stored first), a failed attempt
#: costs ~553k instructions and the read it saves ~9k: ~0.5k per store at worst.
_DOUBT = 1024


class BlobWriter:
    """The write half of a BlobStore (see :class:`~llmspell.artifacts.blobs.BlobStore`)."""

    def __init__(self, store: Store, *, inline_max: int, codec: codecs.Codec,
                 compress_threshold: int) -> None:
        self.store = store
        self.inline_max = inline_max
        self.codec = codec
        self.compress_threshold = compress_threshold
        self._encoded: BoundedCache[str, tuple[bytes, Meta]] = BoundedCache(
            _KNOWN_METAS)
        self._lock = threading.Lock()
        self._doubt = 0  # first attempts left that read: see belief()

    def encoded(self, blob_hash: str, meta: Meta) -> bytes:
        """``meta.encode()``, remembered with the record: while the store still holds exactly
        these bytes, :meth:`decoded` gives the record back without decoding."""
        raw = compact(meta.encode())  # kept: not orjson's 4 KB block
        with self._lock:
            self._encoded.touch(blob_hash, (raw, meta))
        return raw

    def decoded(self, blob_hash: str, raw: bytes) -> Meta:
        """The meta record ``raw`` of ``blob_hash``: the one :meth:`encoded` remembered when
        ``raw`` is its bytes (it decodes to an equal record), else decoded (IntegrityError
        when malformed). A content stored again and again (a tool's same result) skips the
        decode: ~5 us per store."""
        hit = self._encoded.get(blob_hash)
        if hit is not None and hit[0] == raw:
            return hit[1]
        meta = Meta.decode(blob_hash, raw)
        with self._lock:
            self._encoded.touch(blob_hash, (raw, meta))  # a belief for the next store
        return meta

    def belief(self, blob_hash: str, small: bool) -> tuple[bytes | None] | None:
        """What a first attempt may plan on without reading the meta record of
        ``blob_hash``: ``(raw,)``, the bytes this writer last wrote or read for it, or
        ``(None,)`` (absent: new content) for ``small`` content it does not know; None when
        it must read (large unknown content: a wrong guess would have written its chunks
        ahead or put megabytes in a failed batch; or a belief was wrong lately).

        The batch expects exactly the believed bytes, so a wrong belief (another process
        stored the same content, or changed its count) only fails that batch, and its retry
        reads (:meth:`StagedBlob.plan` with ``fresh``). That failed batch costs most of a
        store's work again; so after one (:meth:`doubted`) the next :data:`_DOUBT` first
        attempts read, which bounds what content shared with other processes pays (see
        docs/artifacts.md, "What a store costs"). The read skipped is a statement and a
        read transaction of its own on SQLite: ~9k instructions per store under callgrind."""
        if self._doubt:
            self._doubt -= 1  # racy across threads on purpose: it only paces the reads
            return None
        hit = self._encoded.get(blob_hash)
        if hit is not None:
            return (hit[0],)
        return (None,) if small else None

    def doubted(self) -> None:
        """A belief (:meth:`belief`) was wrong: read first for the next stores."""
        self._doubt = _DOUBT

    def stage(self, content: bytes) -> StagedBlob:
        """Stage ``content`` (already checked by the caller)."""
        return StagedBlob(self, content_hash(content), len(content), content=content)

    def stage_stream(self, chunks: Iterator[bytes]) -> StagedBlob:
        """Stage the content of ``chunks`` through chunk keys; short content stays in memory."""
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
        sink = _Sink(self, codec)
        try:
            sink.feed(bytes(head))
            del head
            for chunk in chunks:
                sink.feed(chunk)
            stored = sink.finish()
        except BaseException:  # the source's own errors too: nothing is left behind
            sink.chunks.discard()
            raise
        staged = StagedBlob(self, sink.hasher.hexdigest(), sink.size)
        if stored is None:
            staged._chunks = sink.chunks
        elif len(stored) <= self.inline_max:  # a stream that compressed this well stays inline
            staged._inline = codec, stored
        else:
            staged._chunks = ChunkWriter(self.store, codec, len(stored), stored)
        return staged

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


class ChunkWriter:
    """A payload on its way into chunk keys under a new generation.

    Either the whole payload is held (``payload``: it goes into the creating batch), or it
    is written ahead, :meth:`write` by :meth:`write`, under the pending record whose exact
    bytes (``pending``) the creating batch expects.
    """

    def __init__(self, store: Store, codec: codecs.Codec, stored: int = 0,
                 payload: bytes | None = None) -> None:
        self.store = store
        self.codec = codec
        self.gen = new_gen()
        self.stored = stored
        self.payload = payload
        self.written = 0  # chunk keys written ahead
        self.pending: bytes | None = None

    def write(self, pieces: list[bytes]) -> None:
        """Write ``pieces`` (chunks, in order) as one batch, refreshing the pending record."""
        key = pending_key(self.gen)
        ops: list[Op] = [Put(chunk_key(self.gen, self.written + i), piece)
                         for i, piece in enumerate(pieces)]
        stored = self.stored + sum(len(p) for p in pieces)
        record = pending_record(now_ms(), self.written + len(pieces), stored)
        ops.append(Put(key, record))
        if not self.store.batch(ops, expect={key: self.pending}):
            raise StorageError(f"blob chunks {self.gen}: the pending record was removed by "
                               "gc while being written (a write stalled past gc's grace)")
        self.written += len(pieces)
        self.stored = stored
        self.pending = record

    def creating_ops(self, blob_hash: str, size: int, refs: int, ops: list[Op],
                     expect: dict[str, bytes | None]) -> Meta:
        """The meta record that creates the blob; adds chunk ops and conditions."""
        if self.payload is not None:
            view = memoryview(self.payload)
            ops.extend(Put(chunk_key(self.gen, i), bytes(view[at:at + CHUNK_BYTES]))
                       for i, at in enumerate(range(0, len(view), CHUNK_BYTES)))
        else:
            key = pending_key(self.gen)
            if self.store.get(key) != self.pending:
                raise StorageError(f"blob {blob_hash}: its chunks were removed by gc before "
                                   "they were committed (not committed within gc's grace); "
                                   "store the content again")
            ops.append(Delete(key))
            expect[key] = self.pending
        return Meta(size, self.stored, self.codec.name, CHUNKS, None, refs, now_ms(),
                    self.gen, chunk_count(self.stored))

    def meta(self, old: Meta) -> Meta:
        """``old`` (a record of the same content) moved to these chunks, written ahead."""
        return Meta(old.size, self.stored, old.codec, CHUNKS, None, old.refs, old.t,
                    self.gen, self.written)

    def discard(self) -> None:
        """Remove the chunks written ahead, then their pending record."""
        if self.pending is None:
            return
        delete_chunks(self.store, self.gen, self.written)
        self.store.batch([Delete(pending_key(self.gen))])
        self.pending = None


def delete_chunks(store: Store, gen: str, count: int) -> None:
    """Delete chunk keys 0 .. ``count`` - 1 of ``gen``, a bounded batch at a time."""
    for start in range(0, count, _DELETE_BATCH):
        store.batch([Delete(chunk_key(gen, i))
                     for i in range(start, min(count, start + _DELETE_BATCH))])


class StagedBlob:
    """Content hashed and ready to be stored as part of a caller's batch.

    ``hash`` and ``size`` name the content. :meth:`ref_ops` gives the ops for one batch;
    call it again after a batch that did not apply. Close the staged blob (or use it as a
    context manager) once done, committed or not, to remove chunks written ahead that no
    record names. Not thread-safe: one caller uses it.
    """

    def __init__(self, writer: BlobWriter, blob_hash: str, size: int, *,
                 content: bytes | None = None) -> None:
        self.hash = blob_hash
        self.size = size
        self._writer = writer
        self._content = content
        self._inline: tuple[codecs.Codec, bytes] | None = None
        self._chunks: ChunkWriter | None = None
        self._closed = False
        self._believed: tuple[bytes | None] | None = None  # what the last plan assumed

    def ref_ops(self, delta: int = 1) -> RefOps:
        """Ops that make the blob exist with ``delta`` more references (0: just exist).

        Reads the blob's meta record now: the ops raise its count when it exists, or create
        it (compressing the content the first time) when not. Raises ValidationError for a
        bad delta or a closed staged blob, StorageError when chunks written ahead were
        removed by gc meanwhile.
        """
        if isinstance(delta, bool) or not isinstance(delta, int) or delta < 0:
            raise ValidationError("delta", "must be an int >= 0", got=delta)
        ops, expect, meta = self.plan(delta)
        return RefOps(tuple(ops), expect, {self.hash: meta.refs},
                      {self.hash: meta.ref(self.hash)})

    def plan(self, delta: int, fresh: bool = True,
             ) -> tuple[list[Op], dict[str, bytes | None], Meta]:
        """:meth:`ref_ops` for a ``delta`` already checked (an int >= 0): the ops, their
        ``expect`` and the meta record they write, without the RefOps and BlobRef an
        artifact store does not use (~5k instructions per store). ``fresh=False`` (a
        batch's first attempt) plans on the writer's belief instead of a read when it has
        one (:meth:`BlobWriter.belief`); the retry of a batch that failed must pass True."""
        if self._closed:
            raise ValidationError("staged", "is closed; stage the content again")
        key = meta_key(self.hash)
        writer = self._writer
        belief = None if fresh else writer.belief(self.hash, self._small())
        if belief is None:
            raw = writer.store.get_unchecked(key)  # a key made of our own content hash
            if self._believed is not None and self._believed[0] != raw:
                writer.doubted()
            self._believed = None
        else:
            raw = belief[0]
            self._believed = belief
        ops: list[Op] = []
        expect: dict[str, bytes | None] = {key: raw}
        if raw is not None:
            meta = writer.decoded(self.hash, raw)
            if delta or meta.refs == 0:  # a put of unreferenced content restarts its grace
                meta = meta.changed(refs=meta.refs + delta)
                ops.append(new_put((key, writer.encoded(self.hash, meta))))
        else:
            meta = self._new_meta(delta, ops, expect)
            ops.append(new_put((key, writer.encoded(self.hash, meta))))
        return ops, expect, meta

    def _small(self) -> bool:
        """Whether the content is stored inline, known before it is encoded: held in memory
        and at most ``inline_max`` bytes (encoding only keeps a smaller form), or a stream
        that ended inline."""
        content = self._content
        if content is not None:
            return len(content) <= self._writer.inline_max
        return self._inline is not None

    def _new_meta(self, refs: int, ops: list[Op], expect: dict[str, bytes | None]) -> Meta:
        """The meta record that creates the blob; adds its data ops to ``ops``."""
        if self._content is not None:
            self._prepare(self._content)
            self._content = None
        if self._inline is not None:
            codec, payload = self._inline
            header = INLINE_HEADER.pack(FORMAT_VERSION, codec.code, self.size)
            ops.append(new_put((data_key(self.hash), header + payload)))
            return Meta(self.size, len(payload), codec.name, INLINE, None, refs, now_ms())
        assert self._chunks is not None
        return self._chunks.creating_ops(self.hash, self.size, refs, ops, expect)

    def _prepare(self, content: bytes) -> None:
        """Choose the stored form of content held in memory: inline, or chunks."""
        writer = self._writer
        codec, payload = writer.encode(content)
        if len(payload) <= writer.inline_max:
            self._inline = codec, payload
        elif len(payload) <= BATCH_BYTES:
            self._chunks = ChunkWriter(writer.store, codec, len(payload), payload)
        else:
            chunks = self._chunks = ChunkWriter(writer.store, codec)
            view = memoryview(payload)
            try:
                for at in range(0, len(view), BATCH_BYTES):
                    piece = view[at:at + BATCH_BYTES]
                    chunks.write([bytes(piece[i:i + CHUNK_BYTES])
                                  for i in range(0, len(piece), CHUNK_BYTES)])
            except BaseException:
                chunks.discard()
                self._chunks = None
                raise

    def close(self) -> None:
        """Remove chunks written ahead unless a committed record names them."""
        if self._closed:
            return
        self._closed = True
        chunks = self._chunks
        if chunks is None or chunks.pending is None:
            return
        raw = self._writer.store.get(meta_key(self.hash))
        try:
            named = raw is not None and Meta.decode(self.hash, raw).gen == chunks.gen
        except IntegrityError:
            named = True  # cannot tell: leave the chunks for gc to judge
        if not named:
            chunks.discard()

    def __enter__(self) -> StagedBlob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<StagedBlob {self.hash} {self.size} bytes>"


class _Sink:
    """Hashes and compresses the pieces of a stream, writing full batches of chunks ahead.

    The first ``max(inline_max, BATCH_BYTES)`` stored bytes are held back: a stream that
    ends within them is stored inline or in its creating batch, without a pending record.
    """

    def __init__(self, writer: BlobWriter, codec: codecs.Codec) -> None:
        self.compressor = codec.compressor()
        self.hasher = blake3()  # one thread: 3 GB/s measured; AUTO is slower on sub-MB pieces
        self.size = 0
        self.chunks = ChunkWriter(writer.store, codec)
        self._hold = max(writer.inline_max, BATCH_BYTES)
        self._buffer = bytearray()

    def feed(self, piece: bytes) -> None:
        self.hasher.update(piece)
        self.size += len(piece)
        self._buffer += self.compressor.compress(piece)
        if len(self._buffer) > self._hold:
            self._flush(len(self._buffer) // CHUNK_BYTES * CHUNK_BYTES)

    def finish(self) -> bytes | None:
        """The whole stored payload when nothing was written ahead, else None (all written)."""
        self._buffer += self.compressor.finish()
        if self.chunks.pending is None:
            return bytes(self._buffer)
        self._flush(len(self._buffer))
        return None

    def _flush(self, upto: int) -> None:
        with memoryview(self._buffer) as view:  # released before the buffer is resized
            for start in range(0, upto, BATCH_BYTES):
                end = min(upto, start + BATCH_BYTES)
                self.chunks.write([bytes(view[i:min(i + CHUNK_BYTES, end)])
                                   for i in range(start, end, CHUNK_BYTES)])
        del self._buffer[:upto]


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
