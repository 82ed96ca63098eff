"""Bulk rewrites of state records: many records changed in one atomic stream of batches,
with their change-log entries, for migrations, their rollback and restores.

A :class:`StateManager` commit encodes values and stamps fresh metadata; a bulk rewrite writes
record bytes it was given, exactly (a restore puts back the bytes a backup holds; a rollback
the bytes a migration replaced). Everything else a commit guarantees still holds: each changed
key takes the next number of the store's change sequence, gets its ``chg/<seq>`` entry, and
the sequence key (``chg~seq``) moves, all in the same transaction, so incremental backups see
the change. The manager's batch contributors (the sessions journal) are asked for their ops as
for any commit.

The records come in chunks (:class:`BulkPlan`), produced while the write runs and applied one
by one inside ONE transaction (:meth:`~llmspell.storage.base.Store.batch_stream`): memory is
that of a chunk, not of the run, on the backends that stream (SQLite, PostgreSQL).
Either every chunk is written or none: an exception from the producer, a failed condition or a
killed process leaves the store as it was. The contributors are asked once, in the last
chunk, about the changes they want (``StateManager.contributors_want``): their journals are
numbered once, against the journal as committed (memory: the changes of sessions' scopes).

:func:`write_bulk` holds the store's sequence lock (no other state write of this process can
interleave), plans the stream with the caller's ``build(current_seq)``, and applies it only if
the sequence has not moved (the first chunk's condition, checked before anything is
written); if another process moved it, the stream is planned again.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import orjson

from llmspell.errors import StateError
from llmspell.state.commit import DELETE, PUT, Change, Contributor, sequence_for
from llmspell.state.records import decode_encoded, record_value_hash
from llmspell.state.scopes import CHANGE_PREFIX, SEQ_KEY, STATE_PREFIX, change_key
from llmspell.storage.base import Chunk, Delete, Op, Put, Store, check_ops
from llmspell.storage.retry import retry_stream

if TYPE_CHECKING:
    from llmspell.state.manager import StateManager

T = TypeVar("T")

#: How many times a bulk write is planned again after another process moved the sequence:
#: far fewer than other writes (retry_batch's MAX_ATTEMPTS), as each plan may read and
#: rebuild thousands of records.
ATTEMPTS = 8
#: How many records a chunk of a bulk write holds (a producer's suggestion, see
#: :func:`chunked`): large enough that a chunk's statements cost little per record, small
#: enough that its memory does not matter.
CHUNK_RECORDS = 2000
#: And about how many bytes of values (a producer of large values cuts its chunks by this).
CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class RecordChange:
    """One record to write: ``data`` the exact record bytes, or None to delete the key.

    ``old`` is what the key holds now (None: absent); contributors are told its value hash.
    """

    scope: str
    key: str
    skey: str
    data: bytes | None
    old: bytes | None = None


#: One chunk of a plan: records to write and other ops to write with them.
Records = tuple[Sequence[RecordChange], list[Op]]


@dataclass
class BulkPlan:
    """What :func:`write_bulk`'s ``build`` returns.

    ``chunks``: ``(changes, extra ops)`` pairs, pulled one at a time while the write runs (a
    generator reading the store by pages, say); the changes are numbered consecutively from
    ``first_seq`` (default: the current sequence + 1; it may be larger, never smaller).
    ``finish(first, last)``: the ops of the last chunk (a ledger entry, say), called once the
    chunks are exhausted, with the numbers the changes took (``last`` < ``first``: none).
    ``expect``: conditions checked before anything is written. ``journal``: ask the batch
    contributors (the sessions journal) for their ops; False for a restore that puts the
    journals back themselves.
    """

    chunks: Iterable[Records]
    finish: Callable[[int, int], list[Op]] | None = None
    expect: dict[str, bytes | None] = field(default_factory=dict)
    first_seq: int | None = None
    journal: bool = True


@dataclass(slots=True)
class BulkResult:
    """The sequence numbers the changes took (``first`` > ``last`` when there were none;
    ``last`` is known once the stream was written)."""

    first: int
    last: int

    def changes(self, store: Store) -> Iterator[RecordChange]:
        """The changes, read back from the change log in order (see :func:`written`)."""
        return written(store, self.first, self.last)


def write_bulk(state: StateManager, build: Callable[[int], BulkPlan], *,
               attempts: int = ATTEMPTS) -> BulkResult:
    """Plan with ``build(current_seq)`` and apply the plan's chunks as one atomic stream.

    ``build`` runs under the store's sequence lock and may be called again (after another
    process wrote), so it must read what it needs afresh and have no side effects; so must
    its chunks, which are produced while the stream runs. Exceptions from ``build`` or the
    chunks propagate; nothing is written then.

    Raises:
        WriteContention: other processes kept moving the sequence (``attempts`` times).
        StateError: a condition of the plan's ``expect`` did not hold.
        StorageError: the store failed; nothing was written.
    """
    store = state.store
    sequence = sequence_for(store)
    contributors = _contributors(state)
    tried: list[tuple[bytes | None, BulkPlan]] = []  # the sequence and plan of each attempt

    def planned(attempt: int) -> tuple[Iterator[Chunk], BulkResult]:
        sequence.reload(store)
        current, raw = sequence.value, sequence.raw
        plan = build(current)
        tried.append((raw, plan))
        first = current + 1 if plan.first_seq is None else plan.first_seq
        if first <= current:
            raise StateError(f"a bulk write must number its changes after the current "
                             f"sequence {current}, got {first}")
        result = BulkResult(first, first - 1)
        asked = contributors if plan.journal else ()
        return _chunks(state, plan, raw, first, asked, result), result

    def lost() -> None:
        """Refuse at once when the sequence held and one of the plan's own conditions did
        not: planning again would not help."""
        raw, plan = tried[-1]
        if store.get(SEQ_KEY) == raw:
            wrong = [k for k, v in plan.expect.items() if store.get(k) != v]
            if wrong:
                raise StateError(f"a bulk write was refused: {wrong[0]!r} changed while it "
                                 "was planned; nothing was written")

    with sequence.lock, paused_gc():
        # Keys and values were built (and checked) here or by check_ops: skip the second
        # check that Store.batch_stream would make, as state's own commits do.
        result = retry_stream(store, planned, what="apply a bulk write", lost=lost,
                              attempts=attempts)
        state.invalidate()
        return result


def _chunks(state: StateManager, plan: BulkPlan, raw: bytes | None, first: int,
            asked: Sequence[Contributor], result: BulkResult) -> Iterator[Chunk]:
    """The stream of one attempt: the conditions first (nothing written yet), then a chunk
    per chunk of the plan (records, their change-log entries, the plan's extra ops), then the
    last one (the sequence key, the plan's ``finish``, the contributors' ops). Sets
    ``result.last`` on the way."""
    yield [], {SEQ_KEY: raw, **plan.expect}
    wanting: dict[str, bool] = {}  # scope -> whether a contributor wants its changes

    def wants(scope: str) -> bool:
        found = wanting.get(scope)
        if found is None:
            found = wanting[scope] = state.contributors_want(scope)
        return found

    told: list[Change] = []  # what the contributors will be told (only what they want)
    seq = first - 1
    for changes, extra in plan.chunks:
        ops = _ops(changes, seq + 1)
        if asked:
            told.extend(_change(ch, n) for n, ch in enumerate(changes, seq + 1)
                        if wants(ch.scope))
        seq += len(changes)
        ops.extend(extra)
        yield ops, {}
    result.last = seq
    ops = [Put(SEQ_KEY, b"%d" % seq)] if seq >= first else []
    if plan.finish is not None:
        ops.extend(plan.finish(first, seq))
    conditions: dict[str, bytes | None] = {}
    for contributor in asked if told else ():
        more = contributor(told)
        if more:
            added, wanted = more
            ops.extend(check_ops(added))
            conditions.update(wanted or {})
    yield ops, conditions


def chunked(items: Iterable[T], size: int | None = None) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (default :data:`CHUNK_RECORDS`; the last one shorter)."""
    size = size or CHUNK_RECORDS
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def written(store: Store, first: int, last: int) -> Iterator[RecordChange]:
    """The changes a bulk write numbered ``first..last``, read back page by page from the
    change log (``chg/``), with the record each key holds now: for announcing them (hooks,
    events) without having held them. A key changed again since is told as it is now."""
    if last < first:
        return
    start = _change_key(first - 1) if first > 0 else None
    cut = len(CHANGE_PREFIX)
    page: list[tuple[str, str, str, bool]] = []

    def flush() -> Iterator[RecordChange]:
        held = store.get_many([skey for _, _, skey, put in page if put])
        for scope, key, skey, put in page:
            yield RecordChange(scope, key, skey, held.get(skey) if put else None)
        page.clear()

    for ckey, raw in store.scan(CHANGE_PREFIX, start_after=start):
        if int(ckey[cut:]) > last:
            break
        entry = orjson.loads(raw)
        scope, key = entry["s"], entry["k"]
        page.append((scope, key, f"{STATE_PREFIX}{scope}/{key}", entry["o"] == PUT))
        if len(page) >= 500:
            yield from flush()
    yield from flush()


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a bulk operation allocates its many small
    objects (records, ops): with a large heap, the collections it would trigger cost as much as
    the work itself. Reference counting still frees everything as usual."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _ops(changes: Sequence[RecordChange], first: int) -> list[Op]:
    """A chunk's ops: deletes, then puts, then the change-log entries. (The keys differ, so
    the order does not matter to the result; grouped, a backend applies each group in one go
    and walks each key range once.)"""
    deletes: list[Op] = []
    puts: list[Op] = []
    log: list[Op] = []
    dumps = orjson.dumps
    scopes: dict[str, bytes] = {}
    seq = first - 1
    for ch in changes:
        seq += 1
        scope = ch.scope
        quoted = scopes.get(scope)
        if quoted is None:
            quoted = scopes[scope] = dumps(scope)
        # Formatted, not orjson.dumps(dict): orjson's result keeps a 4 KB allocation, which a
        # memory store would hold per change.
        if ch.data is None:
            deletes.append(Delete(ch.skey))
            log.append(Put(_change_key(seq), b'{"s":%b,"k":%b,"o":"del"}' % (quoted,
                                                                            dumps(ch.key))))
        else:
            puts.append(Put(ch.skey, ch.data))
            log.append(Put(_change_key(seq), b'{"s":%b,"k":%b,"o":"put"}' % (quoted,
                                                                            dumps(ch.key))))
    deletes.extend(puts)
    deletes.extend(log)
    return deletes


def _change(ch: RecordChange, seq: int) -> Change:
    """What the contributors are told about one change (value hashes: only when asked)."""
    encoded = None if ch.data is None else decode_encoded(ch.data)[0]
    return Change(ch.scope, ch.key, PUT if ch.data is not None else DELETE,
                  None if ch.old is None else record_value_hash(ch.old),
                  None if ch.data is None else record_value_hash(ch.data), seq, encoded)


def _change_key(seq: int) -> str:
    """:func:`~llmspell.state.scopes.change_key`, faster (checked to agree at import)."""
    return CHANGE_PREFIX + str(seq).zfill(20)


if _change_key(1234567) != change_key(1234567):  # pragma: no cover - the layout changed
    _change_key = change_key


def _contributors(state: StateManager) -> tuple[Contributor, ...]:
    """The manager's batch contributors (the sessions journal): a bulk write is a state
    change like any other, so they add their ops to it."""
    return state.contributors
