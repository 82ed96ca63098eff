"""Garbage collection of blobs, safe against puts and reference changes running meanwhile.

The protocol, in three sweeps:

1. **Unreferenced blobs.** A blob is removed when its meta record says ``refs == 0`` and was
   last changed more than ``grace`` seconds ago. The record (and the inline data record) is
   deleted in one batch that expects the exact bytes gc read. Any put, touch or incref since
   then rewrote those bytes, so the delete fails and the blob stays: gc never removes a blob
   that someone referenced or put in the meantime. A put of content whose count is 0
   rewrites its record's time, which is how the content a put returned is protected for
   ``grace`` seconds until its caller's reference lands.
2. **The blob's file** (file blobs) is unlinked only after that delete committed, and only
   the file that the deleted record named. A put that stores the same content again after
   the delete publishes a file with a new random generation in its name (see
   :mod:`.blob_files`), so gc cannot unlink a file a live record names.
3. **Strays.** Temp files (``tmp/``) and blob files that no record names (left by a crash
   between publishing a file and committing its record) are removed once their mtime is
   older than ``grace`` and no writer holds them: a writer keeps its file under an
   exclusive ``flock`` from creation until its record is committed or its write abandoned,
   gc takes that lock without waiting (skipping the file when it cannot), and asks the
   store again, lock in hand, whether a record now names the file. So however slow a
   writer is, gc never removes a file it is still writing or about to record.

The grace period assumes clocks that agree across the processes sharing a store (a blob's
"last changed" time is written by whichever process changed it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmspell.artifacts.blobs.files import FoundFile
from llmspell.artifacts.blobs.records import (
    INLINE,
    META_PREFIX,
    Meta,
    data_key,
    meta_key,
)
from llmspell.errors import IntegrityError
from llmspell.storage.base import Delete, Op, Store

if TYPE_CHECKING:
    from llmspell.artifacts.blobs.store import BlobStore


@dataclass(frozen=True, slots=True)
class GcReport:
    """What a gc run removed (or, with ``dry_run``, would remove).

    ``bytes_freed`` counts stored bytes of removed blobs plus the sizes of removed stray
    files. ``kept_in_grace``: unreferenced blobs still inside the grace period.
    ``skipped_changed``: blobs that changed while gc was deciding (a concurrent put or
    incref) and were kept. ``corrupt_records``: hashes whose meta record could not be read;
    they are left for a person to look at.
    """

    dry_run: bool
    blobs_removed: int
    bytes_freed: int
    files_removed: int
    temp_files_removed: int
    orphan_files_removed: int
    kept_in_grace: int
    skipped_changed: int
    corrupt_records: tuple[str, ...]


def collect(blobs: BlobStore, *, dry_run: bool, grace: float) -> GcReport:
    """Run the three sweeps of the module docstring over ``blobs``."""
    store, files = blobs.store, blobs.files
    started = time.time()
    cutoff_ms = int((started - grace) * 1000)
    removed = freed = files_removed = kept = skipped = temps = orphans = 0
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
            if meta.loc == INLINE:
                ops.append(Delete(data_key(blob_hash)))
            if not store.batch(ops, expect={key: raw}):
                skipped += 1
                continue
            if meta.file is not None and files.remove(blob_hash, meta.file):
                files_removed += 1
        removed += 1
        freed += meta.stored

    stale_before = started - grace
    for found in files.temp_files():
        if found.mtime < stale_before and files.unlink_stray(found.path, lambda: True,
                                                             dry_run=dry_run):
            temps += 1
            freed += found.size

    for _, found_files in files.blob_files():
        records = store.get_many(meta_key(f.blob_hash) for f in found_files)
        for found in found_files:
            if found.mtime >= stale_before or _named(found, records.get(
                    meta_key(found.blob_hash))):
                continue
            if files.unlink_stray(found.path, _still_stray(store, found), dry_run=dry_run):
                orphans += 1
                freed += found.size

    return GcReport(dry_run, removed, freed, files_removed, temps, orphans, kept, skipped,
                    tuple(corrupt))


def _named(found: FoundFile, record: bytes | None) -> bool:
    """Whether ``record`` names the file (a corrupt record counts as naming it: leave it)."""
    if record is None:
        return False
    try:
        return Meta.decode(found.blob_hash, record).file == found.name
    except IntegrityError:
        return True


def _still_stray(store: Store, found: FoundFile) -> Callable[[], bool]:
    return lambda: not _named(found, store.get(meta_key(found.blob_hash)))
