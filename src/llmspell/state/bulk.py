"""Bulk rewrites of state records: many records changed in one atomic batch, with their
change-log entries, for migrations, their rollback and restores.

A :class:`StateManager` commit encodes values and stamps fresh metadata; a bulk rewrite writes
record bytes it was given, exactly (a restore puts back the bytes a backup holds; a rollback
the bytes a migration replaced). Everything else a commit guarantees still holds: each changed
key takes the next number of the store's change sequence, gets its ``chg/<seq>`` entry, and
``meta/state_seq`` moves, all in the same batch, so incremental backups see the change. The
manager's batch contributors (the sessions journal) are asked for their ops as for any commit.

:func:`write_bulk` holds the store's sequence lock (no other state write of this process can
interleave), plans the batch with the caller's ``build(current_seq)``, and applies it only if
``meta/state_seq`` has not moved; if another process moved it, the batch is planned again.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from llmspell.errors import StateError
from llmspell.state.commit import DELETE, PUT, Change, Contributor, sequence_for
from llmspell.state.records import decode_encoded, record_value_hash
from llmspell.state.scopes import CHANGE_PREFIX, SEQ_KEY, change_key
from llmspell.storage.base import Delete, Op, Put, check_ops
from llmspell.storage.retry import Planned, retry_batch

if TYPE_CHECKING:
    from llmspell.state.manager import StateManager

#: How many times a bulk batch is planned again after another process moved the sequence:
#: far fewer than other writes (retry_batch's MAX_ATTEMPTS), as each plan may read and
#: rebuild thousands of records.
ATTEMPTS = 8


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


@dataclass
class BulkPlan:
    """What :func:`write_bulk`'s ``build`` returns.

    ``changes`` are numbered from ``first_seq`` (default: the current sequence + 1; it may be
    larger, never smaller); ``extra`` ops and ``expect`` conditions join the same batch.
    ``journal``: ask the batch contributors (the sessions journal) for their ops; False for
    a restore that puts the journals back themselves.
    """

    changes: Sequence[RecordChange]
    extra: list[Op] = field(default_factory=list)
    expect: dict[str, bytes | None] = field(default_factory=dict)
    first_seq: int | None = None
    journal: bool = True


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What was written: the plan, and the sequence numbers its changes took (``first`` >
    ``last`` when there were none)."""

    plan: BulkPlan
    first: int
    last: int


def write_bulk(state: StateManager, build: Callable[[int], BulkPlan], *,
               attempts: int = ATTEMPTS) -> BulkResult:
    """Plan with ``build(current_seq)`` and apply the plan in one atomic batch.

    ``build`` runs under the store's sequence lock and may be called again (after another
    process wrote), so it must read what it needs afresh and have no side effects. Exceptions
    from ``build`` propagate; nothing is written then.

    Raises:
        WriteContention: other processes kept moving the sequence (``attempts`` times).
        StateError: a condition of the plan's ``expect`` did not hold.
        StorageError: the store failed; nothing was written.
    """
    store = state.store
    sequence = sequence_for(store)
    contributors = _contributors(state)
    tried: list[tuple[bytes | None, BulkPlan]] = []  # the sequence and plan of each attempt

    def planned(attempt: int) -> Planned[BulkResult]:
        sequence.reload(store)
        current, raw = sequence.value, sequence.raw
        plan = build(current)
        tried.append((raw, plan))
        first = current + 1 if plan.first_seq is None else plan.first_seq
        if first <= current:
            raise StateError(f"a bulk write must number its changes after the current "
                             f"sequence {current}, got {first}")
        asked = contributors if plan.journal else ()
        ops, changes = _ops(plan, first, bool(asked))
        last = first + len(plan.changes) - 1
        if plan.changes:
            ops.append(Put(SEQ_KEY, b"%d" % last))
        ops.extend(plan.extra)
        conditions: dict[str, bytes | None] = {SEQ_KEY: raw}
        conditions.update(plan.expect)
        for contributor in asked if plan.changes else ():
            extra = contributor(changes)
            if extra:
                more, wanted = extra
                ops.extend(check_ops(more))
                conditions.update(wanted or {})
        if not ops:
            conditions = {}  # nothing to write: nothing to apply
        return ops, conditions, BulkResult(plan, first, last)

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
        # check that Store.batch would make, as state's own commits do.
        result = retry_batch(store, planned, what="apply a bulk write", checked=False,
                             lost=lost, attempts=attempts)
        if result.plan.changes or result.plan.extra:
            state.invalidate()
        return result


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


def _ops(plan: BulkPlan, first: int, with_changes: bool) -> tuple[list[Op], list[Change]]:
    """The batch's ops: deletes, then puts, then the change-log entries. (The keys differ, so
    the order does not matter to the result; grouped, a backend applies each group in one go
    and walks each key range once.)"""
    deletes: list[Op] = []
    puts: list[Op] = []
    log: list[Op] = []
    changes: list[Change] = []
    dumps = orjson.dumps
    scopes: dict[str, bytes] = {}
    seq = first - 1
    for ch in plan.changes:
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
        if with_changes:
            changes.append(_change(ch, seq))
    deletes.extend(puts)
    deletes.extend(log)
    return deletes, changes


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
