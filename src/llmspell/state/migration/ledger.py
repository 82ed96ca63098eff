"""Where migrations are recorded in the store, and the bytes kept to roll one back.

::

    mig/log/<n, 20 digits>           one entry per applied migration, in order (JSON, below)
    mig/id/<plan id>                 n, while the migration stands applied (not rolled back)
    mig/undo/<n>/<chunk, 6 digits>   the records it replaced, exactly: (store key, bytes) pairs

A log entry: ``{"n", "id", "plan", "applied_at", "seq_first", "seq_last", "items", "changed",
"undo_chunks", "rolled_back_at"}``; ``seq_first..seq_last`` are the change-sequence numbers
the migration's writes took, which is how a rollback tells whether a value was changed since.
All of it is written in the same transaction as the migration itself (its undo chunks with
the records they hold, chunk by chunk; the log entry last). Undo data is kept for the
last ``[state] migration_undo_keep`` migrations (older ones are dropped in that batch).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from llmspell.codec import DECODE_ERRORS, damaged, stored_int, stored_object
from llmspell.storage.base import Delete, Op, Put, Store

LOG = "mig/log/"
IDS = "mig/id/"
UNDO = "mig/undo/"
#: Every key range of the migration history (no backup holds it).
PREFIXES = (LOG, IDS, UNDO)

#: An undo chunk holds at most this many records, or about this many bytes. Small chunks:
#: SQLite frees a large value's overflow pages one by one, and deleting ~300 KB values in a
#: big batch measured 5-8x slower than deleting the same bytes in 64 KB values.
CHUNK_ITEMS = 256
CHUNK_BYTES = 64 * 1024

_LEN = struct.Struct(">I")


def log_key(n: int) -> str:
    return f"{LOG}{n:020d}"


def id_key(plan_id: str) -> str:
    return IDS + plan_id


def undo_prefix(n: int) -> str:
    return f"{UNDO}{n:020d}/"


def next_number(store: Store) -> int:
    """The number the next applied migration gets."""
    last = next(store.keys(LOG, reverse=True, limit=1), None)
    return 1 if last is None else int(last[len(LOG):]) + 1


def applied_number(store: Store, plan_id: str) -> int | None:
    """The log number of ``plan_id`` if it stands applied, else None."""
    key = id_key(plan_id)
    raw = store.get(key)
    if raw is None:
        return None
    return stored_int(raw, key)


def entry(store: Store, n: int) -> dict[str, Any] | None:
    key = log_key(n)
    raw = store.get(key)
    return None if raw is None else stored_object(raw, key)


def history(store: Store) -> list[dict[str, Any]]:
    """Every log entry, oldest first (rolled-back ones included, marked)."""
    return [stored_object(raw, key) for key, raw in store.scan(LOG)]


def last_applied(store: Store) -> dict[str, Any] | None:
    """The newest entry that was not rolled back, or None."""
    for key, raw in store.scan(LOG, reverse=True):
        found = stored_object(raw, key)
        if not found.get("rolled_back_at"):
            return found
    return None


def entry_op(found: dict[str, Any]) -> Put:
    return Put(log_key(found["n"]), orjson.dumps(found))


def undo_ops(n: int, items: Iterable[tuple[str, bytes]], first: int = 0) -> tuple[list[Op], int]:
    """Puts of the undo chunks of migration ``n`` holding ``items``, numbered from ``first``
    (a migration written in several parts continues the numbering); and how many chunks."""
    ops: list[Op] = []
    parts: list[bytes] = []
    size = count = 0
    prefix = undo_prefix(n)
    pack = _LEN.pack
    for skey, raw in items:
        key = skey.encode()
        parts.append(pack(len(key)) + key + pack(len(raw)))
        parts.append(raw)
        size += len(key) + len(raw) + 8
        count += 1
        if count >= CHUNK_ITEMS or size >= CHUNK_BYTES:
            ops.append(Put(f"{prefix}{first + len(ops):06d}", b"".join(parts)))
            parts, size, count = [], 0, 0
    if parts:
        ops.append(Put(f"{prefix}{first + len(ops):06d}", b"".join(parts)))
    return ops, len(ops)


def read_undo(store: Store, n: int) -> Iterator[tuple[str, bytes]]:
    """The (store key, record bytes) pairs kept to roll migration ``n`` back."""
    unpack = _LEN.unpack_from
    for ukey, chunk in store.scan(undo_prefix(n)):
        at, end = 0, len(chunk)
        while at < end:
            try:
                if at + 4 > end:
                    raise ValueError("a length is cut short")
                (klen,) = unpack(chunk, at)
                skey = chunk[at + 4:at + 4 + klen].decode()
                at += 4 + klen
                if at + 4 > end:
                    raise ValueError("a length is cut short")
                (vlen,) = unpack(chunk, at)
                if at + 4 + vlen > end:
                    raise ValueError(f"a record of {vlen} bytes runs past the chunk's end")
            except DECODE_ERRORS as exc:
                raise damaged(ukey, exc) from None
            yield skey, chunk[at + 4:at + 4 + vlen]
            at += 4 + vlen


def undo_numbers(store: Store) -> list[int]:
    """The migrations whose undo data is kept, oldest first."""
    found: list[int] = []
    start: str | None = None
    while True:
        key = next(store.keys(UNDO, start_after=start, limit=1), None)
        if key is None:
            return found
        n = int(key[len(UNDO):len(UNDO) + 20])
        found.append(n)
        start = f"{undo_prefix(n)}\U0010ffff"


def drop_undo_ops(store: Store, numbers: Iterable[int]) -> list[Op]:
    """Deletes of the undo chunks of the migrations ``numbers``."""
    return [Delete(key) for n in numbers for key in store.keys(undo_prefix(n))]
