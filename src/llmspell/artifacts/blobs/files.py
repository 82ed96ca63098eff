"""Blob files of older stores: read, collected and migrated into chunk keys, never written.

Before blobs moved into chunk keys (so that every machine sharing a store can read them, and
backups hold them), a blob whose stored form was over ``inline_max`` was a file under the
blob directory, named by its record (``"loc": "file"``)::

    ab/cd/<hash>.<gen>         the payload, compressed or raw, no header

Such a store still reads: :class:`BlobFiles` opens those files, gc unlinks a file once its
record is deleted, and :func:`migrate_files` (``BlobStore.migrate_files``, CLI
``llmspell artifact migrate-blobs``) copies each into chunk keys and removes it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from llmspell import compression as codecs
from llmspell.artifacts.blobs.reader import ChunkFile, verified_chunks
from llmspell.artifacts.blobs.records import (
    BATCH_BYTES,
    CHUNK_BYTES,
    FILE,
    META_PREFIX,
    Meta,
    MissingPart,
    pending_key,
)
from llmspell.artifacts.blobs.writer import ChunkWriter
from llmspell.errors import IntegrityError, StorageError
from llmspell.storage.base import Delete, Put

if TYPE_CHECKING:
    from llmspell.artifacts.blobs.store import BlobStore


class BlobFiles:
    """The blob files under ``root`` (None: the store has none)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def path_of(self, meta: Meta) -> Path:
        """Where the file a file blob's record names lives."""
        assert meta.file is not None
        if self.root is None:
            raise IntegrityError(f"blob file {meta.file}: the store keeps blobs in files (an "
                                 "older store) but no blob directory was given")
        name = meta.file
        return self.root / name[:2] / name[2:4] / name

    def open(self, blob_hash: str, meta: Meta) -> BinaryIO:
        """The file of a file blob, open for reading, its size checked against the record.

        Raises MissingPart when it is not there, IntegrityError when its size is not the
        recorded one, StorageError when it cannot be opened.
        """
        path = self.path_of(meta)
        try:
            raw = path.open("rb")
        except FileNotFoundError:
            raise MissingPart(f"blob {blob_hash}: file {path} is missing") from None
        except OSError as exc:
            raise StorageError(f"blob {blob_hash}: cannot open {path}: {exc}") from exc
        size = os.fstat(raw.fileno()).st_size
        if size != meta.stored:
            raw.close()
            raise IntegrityError(f"blob {blob_hash} (file {path}): file is {size} bytes, its "
                                 f"record says {meta.stored}")
        return raw

    def read(self, blob_hash: str, meta: Meta) -> bytes:
        """The whole stored payload of a file blob; raises as :meth:`open`."""
        with self.open(blob_hash, meta) as raw:
            try:
                return raw.read()
            except OSError as exc:
                raise StorageError(f"blob {blob_hash}: cannot read {raw.name}: {exc}") from exc

    def remove(self, meta: Meta) -> bool:
        """Unlink the file a deleted record named; False when it was already gone."""
        path = self.path_of(meta)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"blob directory: cannot remove {path}: {exc}") from exc
        return True


def migrate_files(blobs: BlobStore) -> int:
    """Move every file blob of ``blobs`` into chunk keys (see ``BlobStore.migrate_files``)."""
    store, files = blobs.store, blobs.files
    moved = 0
    for key, raw in store.scan(META_PREFIX):
        blob_hash = key[len(META_PREFIX):]
        meta = Meta.decode(blob_hash, raw)
        if meta.loc != FILE:
            continue
        codec = codecs.get_codec(meta.codec)
        chunks = ChunkWriter(store, codec)
        committed = False
        try:
            with files.open(blob_hash, meta) as source:
                while block := source.read(BATCH_BYTES):
                    chunks.write([block[at:at + CHUNK_BYTES]
                                  for at in range(0, len(block), CHUNK_BYTES)])
            for _ in verified_chunks(ChunkFile.open(store, blob_hash, chunks.meta(meta)), codec,
                                     blob_hash, meta.size, CHUNK_BYTES, "chunks"):
                pass
            while True:  # the count may change meanwhile: carry it over, switch the location
                pending = pending_key(chunks.gen)
                if store.batch([Put(key, chunks.meta(meta).encode()), Delete(pending)],
                               expect={key: raw, pending: chunks.pending}):
                    chunks.pending, committed = None, True
                    break
                now = store.get(key)
                if now is None or Meta.decode(blob_hash, now).file != meta.file:
                    break  # collected (or migrated by another process) meanwhile
                raw, meta = now, Meta.decode(blob_hash, now)
        finally:
            chunks.discard()  # what was not committed
        if committed:
            files.remove(meta)
            moved += 1
    return moved
