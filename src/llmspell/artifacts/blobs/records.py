"""How blobs are laid out in the store: their keys, their meta record, the hash that names them.

``blob/m/<hash>``, the meta record (always present while the blob exists), is small JSON,
readable with the ``sqlite3`` shell::

    {"size": 1048576, "stored": 31502, "codec": "zstd", "loc": "chunks", "file": null,
     "refs": 3, "t": 1718000000123, "gen": "<32 hex digits>", "chunks": 1}

``refs`` is the reference count and ``t`` the time (ms since the epoch) of the last change of
the record; every reference change and every gc delete is a compare-and-set on the exact bytes
of this record. Where the stored payload (compressed or raw) is, by ``loc``:

- ``inline``: ``blob/d/<hash>``, a 10-byte header (format version, codec code, content size,
  little-endian ``<BBQ``) followed by the payload; created and deleted with the meta record.
- ``chunks``: ``blob/c/<gen>/<n>`` for n = 0 .. ``chunks`` - 1 (8 digits), the payload cut
  in pieces of :data:`CHUNK_BYTES`. ``gen`` is random, picked per write, so one set of chunk
  keys is named by at most one meta record in its whole life. Chunks too large for the
  record's own batch are written first, in bounded batches, under a pending record
  ``blob/p/<gen>`` (``{"t": ms, "n": chunks written, "b": their bytes}``) that the record's
  batch deletes: gc removes the chunks of a pending record left untouched for its grace.
- ``file``: a file under the blob directory (stores written before blobs moved into chunk
  keys; see :mod:`.files`). Read and collected, never written.
"""

from __future__ import annotations

import re
import secrets
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from blake3 import blake3

from llmspell.codec import DECODE_ERRORS
from llmspell.errors import IntegrityError, ValidationError, describe
from llmspell.storage.base import Op

META_PREFIX = "blob/m/"
DATA_PREFIX = "blob/d/"
CHUNK_PREFIX = "blob/c/"
PENDING_PREFIX = "blob/p/"
#: The key ranges a whole-store backup copies for blobs (an upload in progress is not).
STORE_PREFIXES = (META_PREFIX, DATA_PREFIX, CHUNK_PREFIX)
INLINE = "inline"
CHUNKS = "chunks"
FILE = "file"
#: Size of each chunk key's value, and at most how many payload bytes one batch writes: a
#: 500 MB blob is 1000 chunk keys written 4 at a time (measured, docs/artifacts.md).
CHUNK_BYTES = 512 * 1024
BATCH_BYTES = 4 * CHUNK_BYTES
INLINE_HEADER = struct.Struct("<BBQ")
FORMAT_VERSION = 1
#: One-shot hashing of content at least this large uses all cores (measured: 4 MB hashes
#: 1.7x faster with blake3.AUTO on 2 vCPU; under 1 MB threads cost more than they save).
THREADED_HASH_MIN = 1 << 20

_HASH = re.compile(r"^[0-9a-f]{64}$")


def content_hash(data: bytes | bytearray | memoryview) -> str:
    """The BLAKE3 hex digest that names ``data``."""
    if len(data) >= THREADED_HASH_MIN:
        return str(blake3(data, max_threads=blake3.AUTO).hexdigest())
    # one thread is the default; bytes.hex spells the digest as hexdigest does, ~2k
    # instructions sooner (a collected answer is hashed on every agent call)
    return blake3(data).digest().hex()


def check_hash(value: object, *, argument: str = "blob_hash") -> str:
    """``value`` if it is a blob hash (64 lowercase hex digits); ValidationError otherwise."""
    if not isinstance(value, str) or not _HASH.match(value):
        raise ValidationError(argument, "must be a BLAKE3 hex digest (64 lowercase hex "
                              "digits)", got=value)
    return value


def meta_key(blob_hash: str) -> str:
    return META_PREFIX + blob_hash


def data_key(blob_hash: str) -> str:
    return DATA_PREFIX + blob_hash


def chunk_key(gen: str, index: int) -> str:
    return f"{CHUNK_PREFIX}{gen}/{index:08d}"


def pending_key(gen: str) -> str:
    return PENDING_PREFIX + gen


def pending_record(t: int, chunks: int, stored: int) -> bytes:
    """A pending record: last touched at ``t`` (ms), ``chunks`` keys of ``stored`` bytes."""
    return b'{"t":%d,"n":%d,"b":%d}' % (t, chunks, stored)


def new_gen() -> str:
    """A fresh chunk generation: 32 random hex digits."""
    return secrets.token_hex(16)


def chunk_count(stored: int) -> int:
    """How many chunk keys hold a payload of ``stored`` bytes."""
    return -(-stored // CHUNK_BYTES)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class MissingPart(IntegrityError):
    """A chunk key or blob file that a blob's record names is not there: lost, or removed by
    gc while being read (the reader tells which by reading the record again)."""


@dataclass(frozen=True, slots=True)
class BlobRef:
    """What is stored for one content: ``compression`` is zstd, lz4 or none; ``location``
    inline (one record), chunks (chunk keys) or file (a blob file of an older store)."""

    hash: str
    size: int
    stored_size: int
    compression: str
    location: str


@dataclass(frozen=True, slots=True)
class RefOps:
    """Store ops that create or re-reference blobs, to merge into a caller's batch.

    ``ops`` write the meta records (and, for a staged blob not stored yet, its inline data);
    ``expect`` holds the bytes each meta record had when read (``None``: absent), so the
    batch applies only if nobody changed them meanwhile. ``refcounts`` and ``blobs`` are
    each blob's count and :class:`BlobRef` once the batch is applied.
    """

    ops: tuple[Op, ...]
    expect: Mapping[str, bytes | None]
    refcounts: Mapping[str, int]
    blobs: Mapping[str, BlobRef]


@dataclass(slots=True)
class Meta:
    """A decoded meta record. Treat it as read-only: it is shared (a writer remembers the
    records it encoded, :class:`~.writer.BlobWriter`). Not frozen: a frozen dataclass sets
    each of its 9 fields through ``object.__setattr__``, 1.6 us more per record built (two
    per reference change)."""

    size: int
    stored: int
    codec: str
    loc: str
    file: str | None
    refs: int
    t: int
    gen: str | None = None
    chunks: int = 0

    def encode(self) -> bytes:
        fields = {"size": self.size, "stored": self.stored, "codec": self.codec,
                  "loc": self.loc, "file": self.file, "refs": self.refs, "t": self.t}
        if self.loc == CHUNKS:
            fields.update(gen=self.gen, chunks=self.chunks)
        return orjson.dumps(fields)

    def ref(self, blob_hash: str) -> BlobRef:
        return BlobRef(blob_hash, self.size, self.stored, self.codec, self.loc)

    def changed(self, *, refs: int | None = None) -> Meta:
        """A copy with ``t`` set to now (and ``refs`` when given)."""
        return Meta(self.size, self.stored, self.codec, self.loc, self.file,
                    self.refs if refs is None else refs, now_ms(), self.gen, self.chunks)

    @classmethod
    def decode(cls, blob_hash: str, raw: bytes) -> Meta:
        """The record ``raw`` of ``blob_hash``; IntegrityError when it is malformed."""
        try:
            fields = orjson.loads(raw)
            meta = cls(**fields)
        except DECODE_ERRORS as exc:
            raise IntegrityError(f"blob {blob_hash}: meta record {meta_key(blob_hash)!r} is "
                                 f"malformed: {exc} (got {describe(raw)})") from None
        ints = (meta.size, meta.stored, meta.refs, meta.t, meta.chunks)
        if (any(type(v) is not int or v < 0 for v in ints)
                or meta.loc not in (INLINE, CHUNKS, FILE)
                or (meta.loc == FILE) != isinstance(meta.file, str)
                or (meta.loc == CHUNKS) != (isinstance(meta.gen, str)
                                            and meta.chunks == chunk_count(meta.stored))
                or not isinstance(meta.codec, str)):
            raise IntegrityError(f"blob {blob_hash}: meta record {meta_key(blob_hash)!r} has "
                                 f"invalid fields (got {describe(raw)})")
        return meta
