"""The content-addressed blob store: each distinct content kept once, verified on every read.

Content is named by its BLAKE3 hex digest. Everything lives in the store, through the storage
contract, on every backend: blobs whose stored form (compressed when that saves at least 10%)
fits ``inline_max`` in one record, larger ones in chunk keys, with a meta record per blob
(layout in :mod:`.records`). So every process and machine sharing a store reads every blob,
and backups, gc and integrity checks see all of it. Artifacts, sessions and backups sit on
top of this layer and refer to blobs by hash. (Stores written before chunk keys kept large
blobs in files under ``blob_dir``: those are still read, and :meth:`BlobStore.migrate_files`
moves them into chunk keys; see :mod:`.files`.)

One batch. An artifact write stores its content, the content's reference and its own
records (metadata, version pointer, journal entry) in ONE atomic batch, so a crash can never
leave a reference without its artifact, an artifact without its content, or the reverse.
:meth:`BlobStore.stage` hashes the content (and, for a stream, writes it ahead in chunk
keys); ``ref_ops`` reads the blob's meta record and returns the ops that either add a
reference to the existing blob or create it with that reference::

    with blobs.stage(content) as staged:           # or stage_stream(file)
        while True:
            refs = staged.ref_ops(1)
            ops, expect = my_records(staged.hash)  # the caller's own writes and conditions
            if store.batch([*ops, *refs.ops], expect={**expect, **refs.expect}):
                break                              # all committed, or nothing: go again

``refs.expect`` holds the exact bytes of the meta record that was read (or ``None`` when the
blob did not exist), so two writers, in threads or processes, never lose a count nor create
one content twice: one of them fails the compare-and-set and goes round again. Content known
by hash only (an artifact copied to another session, a delete) uses
:meth:`BlobStore.ref_ops` / :meth:`BlobStore.ref_ops_many` the same way, with negative deltas
to drop references. :meth:`BlobStore.put` (``ref=False`` by default) stores content on its
own; a caller that references it later must do so within ``grace`` seconds (below).

Garbage collection (:meth:`BlobStore.gc`) removes a blob only when its count is 0 and its
record has not changed for ``grace`` seconds, by deleting the record on a compare-and-set of
those same bytes. A ``put`` of content whose count is 0 refreshes the record's time, so the
content a ``put`` returned stays for at least ``grace`` seconds: long enough for its caller
to reference it. (git's ``gc.pruneExpire`` protects fresh objects the same way.) The details,
including chunks written ahead by a stream that never committed, are in :mod:`.gc`.

Reads. ``get`` returns the whole content after checking its hash. ``open`` streams it in
``chunk_size`` pieces, hashing as it goes and holding back the last piece until the hash has
been checked: a mismatch raises IntegrityError in place of the last piece. A blob of at most
``chunk_size`` bytes is therefore never seen unverified; for larger ones a consumer must treat
what it has received as provisional until the iteration ends, or pass ``verify_first=True``
(one extra read) to have the hash checked before the first byte is returned.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from llmspell import compression as codecs
from llmspell.artifacts.blobs.files import BlobFiles, migrate_files
from llmspell.artifacts.blobs.gc import GcReport, collect
from llmspell.artifacts.blobs.reader import BlobReader, ChunkFile, verified_chunks
from llmspell.artifacts.blobs.records import (
    CHUNKS,
    FORMAT_VERSION,
    INLINE,
    INLINE_HEADER,
    META_PREFIX,
    BlobRef,
    Meta,
    MissingPart,
    RefOps,
    check_hash,
    content_hash,
    data_key,
    meta_key,
)
from llmspell.artifacts.blobs.writer import BlobWriter, StagedBlob, source_chunks
from llmspell.config_schema import default
from llmspell.errors import BlobNotFound, IntegrityError, ValidationError
from llmspell.storage.base import Op, Put, Store
from llmspell.validation import check_flag

_MAX_INLINE = 64 * 1024 * 1024
_MIN_CHUNK, _MAX_CHUNK = 4 * 1024, 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BlobStats:
    """Totals over every blob: ``logical_bytes`` as given, ``stored_bytes`` after compression;
    ``file_blobs`` are blob files of an older store (:meth:`BlobStore.migrate_files`);
    ``unreferenced`` blobs have a count of 0 (gc removes them once past the grace period)."""

    blobs: int
    logical_bytes: int
    stored_bytes: int
    inline_blobs: int
    chunked_blobs: int
    file_blobs: int
    unreferenced: int
    references: int


class BlobStore:
    """Content-addressed, deduplicated, compressed, verified blobs on a :class:`Store`.

    Args:
        store: where every blob lives.
        blob_dir: where an older store kept its blob files (read and migrated, never
            written); None when there are none.
        inline_max: blobs whose stored form is at most this many bytes are one record;
            larger ones are chunk keys.
        compression: ``"zstd"`` (level 1), ``"lz4"`` or ``"none"``.
        compress_threshold: content larger than this is compressed when that saves space.
        chunk_size: the read size for streams, and the size of the pieces ``open`` yields.
        grace: seconds an unreferenced blob (or chunks written ahead and not committed) is
            kept after its last change before gc may remove it; callers must reference a
            put blob within this time.

    Raises ValidationError for a bad argument. Thread-safe, and safe for several processes
    or machines on a multi-process store.
    """

    def __init__(self, store: Store, blob_dir: str | os.PathLike[str] | None = None, *,
                 inline_max: int = 64 * 1024,
                 compression: str = default("session.artifact_compression_algorithm"),
                 compress_threshold: int = default("session.compression_threshold"),
                 chunk_size: int = 1024 * 1024,
                 grace: float = float(default("session.artifact_gc_grace_seconds"))) -> None:
        if not isinstance(store, Store):
            raise ValidationError("store", "must be a llmspell.storage.Store", got=store)
        if blob_dir is not None and (not isinstance(blob_dir, str | os.PathLike)
                                     or not os.fspath(blob_dir)):
            raise ValidationError("blob_dir", "must be a non-empty directory path or None",
                                  got=blob_dir)
        _check_int("inline_max", inline_max, 0, _MAX_INLINE)
        codecs.check_codec_name(compression)
        _check_int("compress_threshold", compress_threshold, 0, None)
        _check_int("chunk_size", chunk_size, _MIN_CHUNK, _MAX_CHUNK)
        self.grace = _check_grace(grace)
        self.store = store
        self.blob_dir = None if blob_dir is None else Path(blob_dir)
        self.inline_max = inline_max
        self.compression = compression
        self.compress_threshold = compress_threshold
        self.chunk_size = chunk_size
        self.files = BlobFiles(self.blob_dir)
        self._writer = BlobWriter(store, inline_max=inline_max,
                                  codec=codecs.get_codec(compression),
                                  compress_threshold=compress_threshold)

    # -- writing ----------------------------------------------------------------------------

    def put(self, data: bytes | bytearray | memoryview, *, ref: bool = False) -> BlobRef:
        """Store ``data`` once; return its :class:`BlobRef` (the existing one when known).

        With ``ref=True`` one reference is added in the same atomic step; otherwise none is,
        and the caller adds it with :meth:`ref_ops` (or :meth:`incref`) within ``grace``
        seconds. To store content and its reference together with records of your own in
        one batch, use :meth:`stage` instead. Raises ValidationError for a bad argument,
        StorageError when the store fails.
        """
        return self._writer.commit(self.stage(data), check_flag(ref, "ref"))

    def put_stream(self, source: Iterable[bytes] | BinaryIO, *, ref: bool = False) -> BlobRef:
        """Store the content of ``source`` without holding it in memory; like :meth:`put`.

        ``source`` is a binary file object (read ``chunk_size`` bytes at a time) or an
        iterable of bytes chunks; see :meth:`stage_stream`. Raises as :meth:`stage_stream`.
        """
        check_flag(ref, "ref")
        return self._writer.commit(self.stage_stream(source), ref)

    def stage(self, data: bytes | bytearray | memoryview) -> StagedBlob:
        """Hash ``data`` and get it ready to be stored by a batch of the caller's.

        ``staged.ref_ops(1)`` gives the ops that create the blob with one reference, or add
        one to the blob if it exists; see the module docstring. Close the staged blob when
        done. Raises ValidationError for a bad argument.
        """
        return self._writer.stage(_check_data(data))

    def stage_stream(self, source: Iterable[bytes] | BinaryIO) -> StagedBlob:
        """Like :meth:`stage` for a stream, without holding it in memory.

        ``source`` is a binary file object (read ``chunk_size`` bytes at a time) or an
        iterable of bytes chunks. The content is hashed and compressed as it streams into
        chunk keys written ahead in bounded batches (or kept for an inline record, if it
        compressed to ``inline_max`` or less); whether to compress is decided on the first
        256 KB. Short content (up to the larger of ``inline_max`` and 256 KB) is staged from
        memory.

        Raises ValidationError for a bad source or chunk, StorageError when the store
        fails; an error raised by ``source`` itself propagates unchanged, and nothing is
        left behind.
        """
        return self._writer.stage_stream(source_chunks(source, self.chunk_size))

    # -- references -------------------------------------------------------------------------

    def ref_ops(self, blob_hash: str, delta: int) -> RefOps:
        """The ops and conditions that change ``blob_hash``'s count by ``delta``.

        Nothing is written: merge ``ops`` and ``expect`` into your own batch and retry from
        here when the batch returns False (see the module docstring). Raises
        ValidationError for a bad argument or a count that would go below 0, BlobNotFound
        when no such blob exists.
        """
        check_hash(blob_hash)
        return self._ref_ops({blob_hash: _check_delta("delta", delta)}, lambda _: "delta")

    def ref_ops_many(self, deltas: Mapping[str, int]) -> RefOps:
        """Like :meth:`ref_ops` for several blobs (hash -> delta), read in one round trip."""
        if not isinstance(deltas, Mapping) or not deltas:
            raise ValidationError("deltas", "must be a non-empty mapping of blob hash to a "
                                  "non-zero int", got=deltas)
        for blob_hash, delta in deltas.items():
            check_hash(blob_hash, argument="deltas")
            _check_delta(f"deltas[{blob_hash!r}]", delta)
        return self._ref_ops(dict(deltas), lambda h: f"deltas[{h!r}]")

    def _ref_ops(self, deltas: dict[str, int], argument: Callable[[str], str]) -> RefOps:
        found = self.store.get_many([meta_key(h) for h in deltas])
        ops: list[Op] = []
        expect: dict[str, bytes | None] = {}
        counts: dict[str, int] = {}
        refs: dict[str, BlobRef] = {}
        for blob_hash, delta in deltas.items():
            key = meta_key(blob_hash)
            raw = found.get(key)
            if raw is None:
                raise BlobNotFound(blob_hash, "store it (again) before adding a reference"
                                   if delta > 0 else "")
            meta = Meta.decode(blob_hash, raw)
            if meta.refs + delta < 0:
                raise ValidationError(argument(blob_hash), f"would take the reference count "
                                      f"of blob {blob_hash} below 0 (it is {meta.refs})",
                                      got=delta)
            meta = meta.changed(refs=meta.refs + delta)
            ops.append(Put(key, meta.encode()))
            expect[key] = raw
            counts[blob_hash] = meta.refs
            refs[blob_hash] = meta.ref(blob_hash)
        return RefOps(tuple(ops), expect, counts, refs)

    def incref(self, blob_hash: str) -> int:
        """Add one reference to ``blob_hash`` atomically; return the new count.

        Raises ValidationError for a bad hash, BlobNotFound when no such blob exists.
        """
        return self._change_refs(blob_hash, +1)

    def decref(self, blob_hash: str) -> int:
        """Drop one reference from ``blob_hash`` atomically; return the new count.

        Raises ValidationError for a bad hash or a count already at 0, BlobNotFound when no
        such blob exists. A count of 0 makes the blob collectable by :meth:`gc`.
        """
        return self._change_refs(blob_hash, -1)

    def _change_refs(self, blob_hash: str, delta: int) -> int:
        check_hash(blob_hash)
        while True:
            change = self._ref_ops({blob_hash: delta}, lambda _: "delta")
            if self.store.batch(change.ops, expect=change.expect):
                return change.refcounts[blob_hash]
            time.sleep(0)  # lost the compare-and-set: let the winner run, then read again

    def refcount(self, blob_hash: str) -> int:
        """How many references ``blob_hash`` has; BlobNotFound when no such blob exists."""
        return self._meta(blob_hash).refs

    # -- reading ----------------------------------------------------------------------------

    def exists(self, blob_hash: str) -> bool:
        """Whether a blob with this hash is stored (ValidationError for a bad hash)."""
        check_hash(blob_hash)
        return self.store.get(meta_key(blob_hash)) is not None

    def stat(self, blob_hash: str) -> BlobRef:
        """The :class:`BlobRef` of a stored blob, without reading its content.

        Raises ValidationError for a bad hash, BlobNotFound when no such blob exists.
        """
        return self._meta(blob_hash).ref(blob_hash)

    def get(self, blob_hash: str) -> bytes:
        """The whole content of ``blob_hash``, verified against its hash.

        Raises ValidationError for a bad hash, BlobNotFound when no such blob exists,
        IntegrityError (naming the hash, and the record, chunk key or file) when what is
        stored does not decode to content with that hash, StorageError when reading fails.
        """
        check_hash(blob_hash)
        for _ in range(3):
            inline, meta = self._locate(blob_hash)
            if inline is not None:
                return _decode_inline(blob_hash, inline)
            assert meta is not None
            try:
                if meta.loc == CHUNKS:
                    payload, where = ChunkFile(self.store, blob_hash, meta).read_all(), "chunks"
                else:
                    payload, where = self.files.read(blob_hash, meta), "file"
            except MissingPart:
                self._vanished(blob_hash, meta)
                continue
            try:
                content = _codec_of(blob_hash, meta).decompress(payload, meta.size)
            except codecs.CorruptPayload as exc:
                raise IntegrityError(f"blob {blob_hash} ({where}): stored payload does not "
                                     f"decode: {exc}") from None
            _verify(blob_hash, content_hash(content), where)
            return content
        raise BlobNotFound(blob_hash, "it kept being collected and stored again while read")

    def open(self, blob_hash: str, *, verify_first: bool = False) -> BlobReader:
        """A reader of ``blob_hash``'s content in pieces of at most ``chunk_size`` bytes.

        The reader is an iterator of chunks and has ``read(n)``; close it (or use it as a
        context manager) when done. The hash is checked before the last piece is returned,
        so IntegrityError arrives at the end of a corrupt stream; with ``verify_first`` the
        whole blob is checked first (one extra read). Raises as :meth:`get` does.
        """
        check_hash(blob_hash)
        check_flag(verify_first, "verify_first")
        for _ in range(3):
            inline, meta = self._locate(blob_hash)
            if inline is not None:  # streamed too: 64 KB of zstd can hold gigabytes
                codec, size, payload = _parse_inline(blob_hash, inline)
                where = _inline_where(blob_hash)
            else:
                assert meta is not None
                codec, size, payload = _codec_of(blob_hash, meta), meta.size, None
                where = "chunks" if meta.loc == CHUNKS else "file"
            try:
                if verify_first:
                    with self._stored(blob_hash, payload, meta) as first:
                        for _ in verified_chunks(first, codec, blob_hash, size,
                                                 self.chunk_size, where):
                            pass
                stream = self._stored(blob_hash, payload, meta)
            except MissingPart:
                assert meta is not None
                self._vanished(blob_hash, meta)
                continue
            return BlobReader(verified_chunks(stream, codec, blob_hash, size, self.chunk_size,
                                              where), size, on_close=stream.close)
        raise BlobNotFound(blob_hash, "it kept being collected and stored again while read")

    def _stored(self, blob_hash: str, inline: memoryview | None,
                meta: Meta | None) -> BinaryIO:
        """The stored payload as a binary file: an inline payload, chunks, or a file."""
        if inline is not None:
            return io.BytesIO(inline)
        assert meta is not None
        if meta.loc == CHUNKS:
            return ChunkFile.open(self.store, blob_hash, meta)
        return self.files.open(blob_hash, meta)

    def _locate(self, blob_hash: str) -> tuple[bytes | None, Meta | None]:
        """The inline record of ``blob_hash``, or the meta record of a chunked or file blob."""
        for _ in range(2):
            inline = self.store.get(data_key(blob_hash))
            if inline is not None:
                return inline, None
            meta = self._meta(blob_hash)
            if meta.loc != INLINE:
                return None, meta
            # an inline blob stored between the two reads: read its data again
        raise IntegrityError(f"blob {blob_hash}: its meta record says inline but the data "
                             f"record {data_key(blob_hash)!r} is missing")

    def _meta(self, blob_hash: str) -> Meta:
        check_hash(blob_hash)
        raw = self.store.get(meta_key(blob_hash))
        if raw is None:
            raise BlobNotFound(blob_hash)
        return Meta.decode(blob_hash, raw)

    def _vanished(self, blob_hash: str, meta: Meta) -> None:
        """Explain missing chunks or a missing file: collected (BlobNotFound), lost
        (IntegrityError), or replaced by a newer copy of the same content (return, so the
        caller reads again)."""
        raw = self.store.get(meta_key(blob_hash))
        if raw is None:
            raise BlobNotFound(blob_hash, "removed by gc while being read")
        now = Meta.decode(blob_hash, raw)
        if (now.loc, now.gen, now.file) == (meta.loc, meta.gen, meta.file):
            what = "a chunk key" if meta.loc == CHUNKS else f"file {self.files.path_of(meta)}"
            raise IntegrityError(f"blob {blob_hash}: {what} is missing")

    # -- upkeep -----------------------------------------------------------------------------

    def gc(self, *, dry_run: bool = False, grace: float | None = None) -> GcReport:
        """Remove unreferenced blobs, and chunks written ahead that were never committed.

        Only what has been unreferenced (or untouched) for ``grace`` seconds (default: the
        store's) goes; ``grace=0`` is safe only when no put is waiting to add its reference.
        With ``dry_run`` nothing is removed and the report says what would be. Raises
        ValidationError for a bad argument, StorageError when the store or directory fails.
        """
        check_flag(dry_run, "dry_run")
        return collect(self, dry_run=dry_run,
                       grace=self.grace if grace is None else _check_grace(grace))

    def stats(self) -> BlobStats:
        """Counts and byte totals over every blob (one scan of the meta records)."""
        blobs = logical = stored = inline = chunked = unreferenced = references = 0
        for key, raw in self.store.scan(META_PREFIX):
            meta = Meta.decode(key[len(META_PREFIX):], raw)
            blobs += 1
            logical += meta.size
            stored += meta.stored
            inline += meta.loc == INLINE
            chunked += meta.loc == CHUNKS
            unreferenced += meta.refs == 0
            references += meta.refs
        return BlobStats(blobs, logical, stored, inline, chunked, blobs - inline - chunked,
                         unreferenced, references)

    def migrate_files(self) -> int:
        """Move every blob file of an older store into chunk keys; return how many moved.

        Each file is copied into chunk keys in bounded batches, checked against its record,
        then its record switched to the chunks (a compare-and-set), then the file removed.
        Safe to run while the store is in use, and again (it does nothing the second time).
        Raises IntegrityError for a file that does not match its record (it is left as it
        is), StorageError when the store or the directory fails.
        """
        return migrate_files(self)

    def __repr__(self) -> str:
        return f"<BlobStore {self.store.url}>"


# -- helpers ------------------------------------------------------------------------------------


def _codec_of(blob_hash: str, meta: Meta) -> codecs.Codec:
    try:
        return codecs.get_codec(meta.codec)
    except KeyError:
        raise IntegrityError(f"blob {blob_hash}: meta record names an unknown compression "
                             f"{meta.codec!r}") from None


def _parse_inline(blob_hash: str, record: bytes) -> tuple[codecs.Codec, int, memoryview]:
    """The codec, content size and payload of an inline record."""
    try:
        if len(record) < INLINE_HEADER.size:
            raise codecs.CorruptPayload(f"record is {len(record)} bytes, shorter than its "
                                        "header")
        version, code, size = INLINE_HEADER.unpack_from(record)
        if version != FORMAT_VERSION:
            raise codecs.CorruptPayload(f"unknown format version {version}")
        return codecs.codec_for_code(code), size, memoryview(record)[INLINE_HEADER.size:]
    except codecs.CorruptPayload as exc:
        raise IntegrityError(f"blob {blob_hash} ({_inline_where(blob_hash)}): stored payload "
                             f"does not decode: {exc}") from None


def _decode_inline(blob_hash: str, record: bytes) -> bytes:
    codec, size, payload = _parse_inline(blob_hash, record)
    where = _inline_where(blob_hash)
    try:
        content = codec.decompress(bytes(payload), size)
    except codecs.CorruptPayload as exc:
        raise IntegrityError(f"blob {blob_hash} ({where}): stored payload does not decode: "
                             f"{exc}") from None
    _verify(blob_hash, content_hash(content), where)
    return content


def _inline_where(blob_hash: str) -> str:
    return f"inline record {data_key(blob_hash)!r}"


def _verify(blob_hash: str, got: str, where: str) -> None:
    if got != blob_hash:
        raise IntegrityError(f"blob {blob_hash} ({where}): content hash is {got}, expected "
                             f"{blob_hash}")


def _check_data(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise ValidationError("data", "must be bytes, bytearray or memoryview", got=data)


def _check_int(name: str, value: object, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValidationError(name, f"must be an int {bound}", got=value)


def _check_grace(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            0 <= value < float("inf")):
        raise ValidationError("grace", "must be a finite number of seconds >= 0", got=value)
    return float(value)


def _check_delta(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value == 0:
        raise ValidationError(name, "must be a non-zero int", got=value)
    return value
