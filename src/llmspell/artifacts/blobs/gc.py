"""Garbage collection of blobs, safe against puts and reference changes running meanwhile.

The protocol, in two sweeps:

1. **Unreferenced blobs.** A blob is removed when its meta record says ``refs == 0`` and was
   last changed more than ``grace`` seconds ago. The record (with the inline data record, or
   the chunk keys of a small chunked blob) is deleted in one batch that expects the exact
   bytes gc read. Any put, touch or incref since then rewrote those bytes, so the delete
   fails and the blob stays: gc never removes a blob that someone referenced or put in the
   meantime. A put of content whose count is 0 rewrites its record's time, which is how the
   content a put returned is protected for ``grace`` seconds until its caller's reference
   lands. The chunks of a large blob go after the record, in bounded batches, under a
   pending record that the deleting batch writes (so a crash midway is finished by the next
   gc). Chunk keys carry a generation picked per write, so a put that stores the same
   content again meanwhile writes other keys. The file of an older store's file blob is
   unlinked once its record is deleted.
2. **Abandoned writes.** Chunks written ahead by a stream that never committed (its process
   died, or its caller gave up) sit under a pending record. Once that record is older than
   ``grace`` it is marked as taken by gc, on a compare-and-set of the bytes read: a writer
   still at work refreshes the record on each batch and expects its own last bytes, so one
   of the two loses and nothing a live writer needs is removed. The chunks are deleted,
   then the record.

The grace period assumes clocks that agree across the processes sharing a store (a blob's
"last changed" time is written by whichever process changed it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from llmspell.artifacts.blobs.records import (
    CHUNKS,
    FILE,
    INLINE,
    META_PREFIX,
    PENDING_PREFIX,
    Meta,
    chunk_key,
    data_key,
    pending_key,
    pending_record,
)
from llmspell.artifacts.blobs.writer import delete_chunks
from llmspell.codec import DECODE_ERRORS
from llmspell.errors import IntegrityError
from llmspell.storage.base import Delete, Op, Put, Store

if TYPE_CHECKING:
    from llmspell.artifacts.blobs.store import BlobStore

#: Chunked blobs of at most this many chunk keys are deleted with their record, in one batch.
_CHUNKS_WITH_RECORD = 64


@dataclass(frozen=True, slots=True)
class GcReport:
    """What a gc run removed (or, with ``dry_run``, would remove).

    ``bytes_freed`` counts stored bytes of removed blobs and abandoned writes.
    ``files_removed``: blob files of an older store unlinked with their blob.
    ``abandoned_writes_removed``: chunks written ahead that were never committed.
    ``kept_in_grace``: unreferenced blobs still inside the grace period.
    ``skipped_changed``: blobs that changed while gc was deciding (a concurrent put or
    incref) and were kept. ``corrupt_records``: hashes whose meta record could not be read;
    they are left for a person to look at.
    """

    dry_run: bool
    blobs_removed: int
    bytes_freed: int
    files_removed: int
    abandoned_writes_removed: int
    kept_in_grace: int
    skipped_changed: int
    corrupt_records: tuple[str, ...]


def collect(blobs: BlobStore, *, dry_run: bool, grace: float) -> GcReport:
    """Run the two sweeps of the module docstring over ``blobs``."""
    store, files = blobs.store, blobs.files
    cutoff_ms = int((time.time() - grace) * 1000)
    removed = freed = files_removed = kept = skipped = abandoned = 0
    corrupt: list[str] = []

    for key, raw in store.scan(META_PREFIX):
        blob_hash = key[len(META_PREFIX):]
        try:
            meta = Meta.decode(blob_hash, raw)
        except IntegrityError:
            corrupt.append(blob_hash)
            continue
        if meta.refs > 0:
            continue
        if meta.t > cutoff_ms:
            kept += 1
            continue
        if not dry_run:
            ops: list[Op] = [Delete(key)]
            later = meta.loc == CHUNKS and meta.chunks > _CHUNKS_WITH_RECORD
            if meta.loc == INLINE:
                ops.append(Delete(data_key(blob_hash)))
            elif later:
                assert meta.gen is not None
                ops.append(Put(pending_key(meta.gen), pending_record(0, meta.chunks,
                                                                     meta.stored)))
            elif meta.loc == CHUNKS:
                assert meta.gen is not None
                ops.extend(Delete(chunk_key(meta.gen, i)) for i in range(meta.chunks))
            if not store.batch(ops, expect={key: raw}):
                skipped += 1
                continue
            if later:
                assert meta.gen is not None
                _delete_written(store, meta.gen, meta.chunks)
            if meta.loc == FILE and files.remove(meta):
                files_removed += 1
        removed += 1
        freed += meta.stored

    for key, raw in store.scan(PENDING_PREFIX):
        gen = key[len(PENDING_PREFIX):]
        try:
            fields = orjson.loads(raw)
            t, count, stored = int(fields["t"]), int(fields["n"]), int(fields["b"])
        except DECODE_ERRORS:
            corrupt.append(f"pending {gen}")
            continue
        if t > cutoff_ms:
            continue
        if not dry_run:
            if t and not store.batch([Put(key, pending_record(0, count, stored))],
                                     expect={key: raw}):
                continue  # its writer touched it meanwhile: still at work
            _delete_written(store, gen, count)
        abandoned += 1
        freed += stored

    return GcReport(dry_run, removed, freed, files_removed, abandoned, kept, skipped,
                    tuple(corrupt))


def _delete_written(store: Store, gen: str, count: int) -> None:
    """Delete the chunks of a pending record marked as taken by gc, then the record."""
    delete_chunks(store, gen, count)
    store.batch([Delete(pending_key(gen))])
