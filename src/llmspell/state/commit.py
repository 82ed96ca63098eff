"""Committing state changes: every operation is one atomic batch that also advances the
store-wide change sequence.

A change (a put or a delete of one key) gets the next number of the sequence. One batch holds
the records (or deletes), one change-log entry per change (``chg/<seq>``), the new sequence
(``SEQ_KEY``, ``chg~seq``: next to the log's tail, see :mod:`.scopes`), and whatever the
registered contributors add (the sessions journal, say), so a change can never be separated
from its sequence number, its log entry or its journal entry. A change that changes nothing
(deleting an absent key) takes no number. Every writer of the sequence (commits here,
:mod:`.bulk`, backups) reads it through :func:`sequence_for` and :meth:`Sequence.reload` and
writes it under the condition ``{SEQ_KEY: sequence.raw}``; stores written before SEQ_KEY
existed keep the number in ``meta/state_seq`` (LEGACY_SEQ_KEY), read until their first commit
writes SEQ_KEY.

The sequence is allocated one of two ways (see :class:`Sequence`):

* stores several processes may share (``store.multi_process``: sqlite, lmdb, postgres):
  optimistically. The value of SEQ_KEY last seen is kept; the batch is applied only
  if the store still holds it (the store's ``expect``); if another process got there first the
  value is read again and the commit planned again.
* stores of one process (memory, rocksdb): a counter in memory, read once, shared under one
  lock by every manager of that store in the process. The batch needs no condition.

A record keeps its creation time, which needs the old record. The creation times of keys
committed through a :class:`Sequence` are remembered (``known``) while the sequence has not
moved underneath it: for a shared store that is exactly what the batch's condition on
SEQ_KEY proves, so a write of a key written before costs no read.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from llmspell.bounded import BoundedCache
from llmspell.errors import StateError, ValidationError
from llmspell.state.records import (
    Encoded,
    encode_record,
    encoded_hash,
    record_value_hash,
)
from llmspell.state.records import created_at as _created_at
from llmspell.state.scopes import CHANGE_PREFIX, LEGACY_SEQ_KEY, SEQ_KEY, change_key
from llmspell.state.versions import Version
from llmspell.storage.base import Delete, Op, Put, Store, check_key, check_ops, check_value
from llmspell.storage.retry import Planned, retry_batch

PUT = "put"
DELETE = "del"

#: How many keys' creation times a sequence remembers.
KNOWN_MAX = 16384


@dataclass(slots=True)
class Write:
    """One planned change. ``encoded`` None means delete. ``value`` is what hooks and events
    see. ``created_at``/``updated_at`` set explicitly (an import) are kept as given."""

    scope: str
    key: str
    skey: str
    encoded: Encoded | None
    value: Any = None
    schema_version: Version = 1
    created_at: float | None = None
    updated_at: float | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """What a batch contributor is told about one change of the batch.

    ``old_hash``/``new_hash``: :func:`~llmspell.state.records.value_hash` of the value before
    and after (None when absent). ``seq``: the change's sequence number. ``encoded``: the new
    value as stored (JSON bytes and bytes paths), None for a delete.
    """

    scope: str
    key: str
    op: str  # "put" or "del"
    old_hash: str | None
    new_hash: str | None
    seq: int
    encoded: Encoded | None = None


#: ``contributor(changes) -> (ops, expect) | None``: extra ops and conditions for the batch
#: that commits ``changes``. Called once per attempt (a lost race plans the commit again),
#: so it must only build ops, never act.
Contributor = Callable[[list[Change]], "tuple[list[Op], dict[str, bytes | None]] | None"]


class Admission(Protocol):
    """An operation's admission whose count rides in the operation's own batch (a state
    write while a session is current; the session check returns it)."""

    def ops(self) -> tuple[list[Op], dict[str, bytes | None]]:
        """Ops and conditions to add to one attempt of the batch; raises to refuse."""
        ...

    def finish(self, written: bool) -> None:
        """The operation is over; ``written``: its batch (with :meth:`ops`) committed."""
        ...

    def failed(self, error: BaseException) -> None:
        """The batch raised ``error``; may raise the error to give instead."""
        ...


def finish(admission: Admission | None, written: bool) -> None:
    """``admission.finish(written)`` when there is one."""
    if admission is not None:
        admission.finish(written)


@dataclass(slots=True)
class Committed:
    """A change that was committed: the write, its sequence number and the record's times."""

    write: Write
    seq: int
    created_at: float
    updated_at: float

    @property
    def op(self) -> str:
        return DELETE if self.write.encoded is None else PUT


class Sequence:
    """The change sequence of one store as this process sees it (see the module docstring)."""

    def __init__(self, store: Store, *, shared: bool) -> None:
        self.shared = shared
        self.lock = threading.RLock()
        #: the bytes of SEQ_KEY as last seen (None: absent), the condition of every commit
        self.raw: bytes | None = store.get(SEQ_KEY)
        #: the current sequence number
        self.value = _current(store, self.raw)
        #: store key -> creation time of its record, or None when it has none (absent)
        self.known: BoundedCache[str, float | None] = BoundedCache(KNOWN_MAX)

    def reload(self, store: Store) -> bool:
        """Read SEQ_KEY again; True (and forget ``known``) if it moved."""
        raw = store.get(SEQ_KEY)
        if raw == self.raw:
            return False
        self.raw, self.value = raw, _current(store, raw)
        self.known.clear()
        return True

    def remember(self, skey: str, created: float | None) -> None:
        self.known.keep(skey, created)


_BY_STORE: weakref.WeakKeyDictionary[Store, Sequence] = weakref.WeakKeyDictionary()
_BY_NAME: weakref.WeakValueDictionary[str, Sequence] = weakref.WeakValueDictionary()
_REGISTRY = threading.Lock()


def sequence_for(store: Store, *, shared: bool | None = None) -> Sequence:
    """The :class:`Sequence` of ``store``, shared by every manager of it in this process.

    Handles of a named memory store (``memory://NAME``) share contents, so they share one
    sequence too. ``shared`` forces a strategy (for benchmarks) and gives a private sequence.
    """
    if shared is not None:
        return Sequence(store, shared=shared)
    named = store.url if store.url.startswith("memory://") and store.url != "memory://" else ""
    with _REGISTRY:
        found = _BY_NAME.get(named) if named else _BY_STORE.get(store)
        if found is None:
            found = Sequence(store, shared=store.multi_process)
            if named:
                _BY_NAME[named] = found
            else:
                _BY_STORE[store] = found
        return found


Plan = Seq[Write] | Callable[[], Seq[Write]]


def commit(store: Store, sequence: Sequence, plan: Plan, *,
           expect: Mapping[str, bytes | None] | None = None,
           contributors: Seq[Contributor] = (),
           admission: Admission | None = None) -> list[Committed] | None:
    """Commit the writes of ``plan`` (a list, or a callable planning them afresh on every
    attempt) in one batch. Returns what was committed, in order, or None when ``expect`` (exact
    bytes per store key, None for absent) did not hold, in which case nothing was written.
    ``admission``: its ops join the batch when it changes something (then the result is not
    empty); when it raises, nothing is written and ``admission.failed`` is told.

    Raises:
        WriteContention: the commit kept losing races (see :func:`retry_batch`).
        StateError: the store refused a batch for no reason it could find.
        StorageError: the store failed.
    """
    with sequence.lock:
        def build(attempt: int) -> Planned[_Planned | None]:
            if attempt and not _plan_again(store, sequence, expect, contributors):
                return [], {}, None  # ``expect`` no longer holds
            writes = plan() if callable(plan) else plan
            return _plan(store, sequence, writes, expect, contributors, admission)

        # Unchecked: this module built and checked every op (contributors' in _add); the
        # checks of Store.batch would be a third of the cost of a write on the memory backend.
        try:
            planned = retry_batch(store, build, what=_WHAT, checked=False)
        except BaseException as exc:
            if admission is not None:
                admission.failed(exc)
            raise
        if planned is None:
            return None
        done, seq, raw = planned
        if done:
            sequence.value, sequence.raw = seq, raw
            for item in done:
                sequence.remember(item.write.skey,
                                  None if item.write.encoded is None else item.created_at)
        return done


def commit_put(store: Store, sequence: Sequence, write: Write) -> Committed:
    """:func:`commit` for the common case, one put with no conditions and no contributors,
    without the general case's lists and sets."""
    encoded = write.encoded
    assert encoded is not None
    seq, created, updated = put_one(store, sequence, write.skey, write.scope, write.key,
                                    encoded, write.schema_version, write.created_at,
                                    write.updated_at)
    return Committed(write, seq, created, updated)


def put_one(store: Store, sequence: Sequence, skey: str, scope: str, key: str,
            encoded: Encoded, schema_version: Version, created_at: float | None = None,
            updated_at: float | None = None) -> tuple[int, float, float]:
    """Commit one put with no conditions and no contributors (the hot path of ``save``):
    the record, its change-log entry and the new sequence in one batch. Returns ``(seq,
    created_at, updated_at)``."""
    known = sequence.known
    with sequence.lock:
        def build(attempt: int) -> Planned[tuple[int, bytes, float, float, bool]]:
            created = known.get(skey, _UNKNOWN)
            remembered = created is not _UNKNOWN
            if not remembered:
                before = store.get(skey)
                created = None if before is None else _created_at(before)
            now = time.time()
            if created_at is not None:
                created = created_at
            elif created is None:
                created = now
            updated = now if updated_at is None else updated_at
            seq = sequence.value + 1
            raw = b"%d" % seq
            entry = _PUT_ENTRIES.get(skey)
            if entry is None:
                entry = _put_entry(skey, scope, key)
            ops: list[Op] = [
                Put(skey, encode_record(encoded, schema_version, created, updated, seq)),
                Put(CHANGE_PREFIX + str(seq).zfill(20), entry),
                Put(SEQ_KEY, raw),
            ]
            return (ops, {SEQ_KEY: sequence.raw} if sequence.shared else {},
                    (seq, raw, created, updated, remembered))

        # Unchecked, as in commit; a lost race means another process moved the sequence.
        seq, raw, created, updated, remembered = retry_batch(
            store, build, what=_WHAT, checked=False, lost=lambda: sequence.reload(store))
        sequence.value, sequence.raw = seq, raw
        if remembered and skey in known:
            known[skey] = created
        else:
            sequence.remember(skey, created)
        return seq, created, updated


#: store key -> the change-log entry of a put of it (the same bytes every time).
_PUT_ENTRIES: BoundedCache[str, bytes] = BoundedCache(65536)


def _put_entry(skey: str, scope: str, key: str) -> bytes:
    # Formatted into fresh bytes, not kept as orjson.dumps(dict)'s result, which holds a 4 KB
    # allocation.
    entry = b'{"s":%b,"k":%b,"o":"put"}' % (orjson.dumps(scope), orjson.dumps(key))
    _PUT_ENTRIES.keep(skey, entry)
    return entry




_UNKNOWN: Any = object()
_WHAT = "commit a state change"

#: A planned commit: the changes, and the sequence number and its bytes once they commit.
_Planned = tuple[list[Committed], int, bytes]


def _plan(store: Store, sequence: Sequence, writes: Seq[Write],
          expect: Mapping[str, bytes | None] | None,
          contributors: Seq[Contributor],
          admission: Admission | None = None) -> Planned[_Planned | None]:
    """The batch committing ``writes``; no ops when they change nothing (then the result is
    None when ``expect`` does not hold)."""
    shared = sequence.shared
    known = sequence.known
    if contributors:
        wanted = [w.skey for w in writes]
    else:
        wanted = [w.skey for w in writes
                  if w.skey not in known or (w.encoded is None and shared)]
    old = (_read_one(store, wanted[0]) if len(wanted) == 1
           else store.get_many(wanted) if wanted else {})
    read = set(wanted)
    now = time.time()
    seq = sequence.value
    ops: list[Op] = []
    done: list[Committed] = []
    changes: list[Change] | None = [] if contributors else None
    for w in writes:
        skey = w.skey
        before = old.get(skey)
        if skey in read:
            created: float | None = None if before is None else _created_at(before)
        else:
            created = known[skey]
        if w.encoded is None:
            if created is None and before is None:
                continue  # deleting what is not there changes nothing
            seq += 1
            ops.append(Delete(skey))
            op, created, updated = DELETE, 0.0, now
        else:
            seq += 1
            if w.created_at is not None:
                created = w.created_at
            elif created is None:
                created = now
            updated = now if w.updated_at is None else w.updated_at
            ops.append(Put(skey, encode_record(w.encoded, w.schema_version, created, updated,
                                                seq)))
            op = PUT
        ops.append(Put(change_key(seq), orjson.dumps({"s": w.scope, "k": w.key, "o": op})))
        done.append(Committed(w, seq, created, updated))
        if changes is not None:
            changes.append(Change(
                w.scope, w.key, op, None if before is None else record_value_hash(before),
                None if w.encoded is None else encoded_hash(w.encoded), seq, w.encoded))
    if not done:
        if expect and not expect_holds(store, expect):
            return [], {}, None
        return [], {}, ([], seq, b"")
    raw = str(seq).encode()
    ops.append(Put(SEQ_KEY, raw))
    conditions: dict[str, bytes | None] = {SEQ_KEY: sequence.raw} if shared else {}
    if expect:
        conditions.update(expect)
    if changes is not None:
        for contributor in contributors:
            extra = contributor(changes)
            if extra:
                _add(ops, conditions, extra)
    if admission is not None:
        _add(ops, conditions, admission.ops())
    return ops, conditions, (done, seq, raw)


def _plan_again(store: Store, sequence: Sequence, expect: Mapping[str, bytes | None] | None,
                contributors: Seq[Contributor]) -> bool:
    """After a lost race: True to plan the commit again, False when ``expect`` no longer
    holds (the commit is refused)."""
    shared = sequence.shared
    if shared and sequence.reload(store):
        return True
    if expect and not expect_holds(store, expect):
        return False
    if contributors:
        return True  # a contributor's condition failed: let it look again
    if not shared:
        # The counter is stale: something else wrote SEQ_KEY. Read it again.
        sequence.reload(store)
        return True
    raise StateError("the store refused a state batch whose conditions all hold")


def _add(ops: list[Op], conditions: dict[str, bytes | None],
         extra: tuple[list[Op], dict[str, bytes | None]]) -> None:
    """Check a contributor's ops and conditions and add them to the batch."""
    try:
        more, wanted = extra
    except (TypeError, ValueError):
        raise ValidationError("contributor", "must return (ops, expect) or None",
                              got=extra) from None
    ops.extend(check_ops(more))
    for key, value in dict(wanted or {}).items():
        check_key(key, argument="expect")
        if value is not None:
            check_value(value, argument=f"expect[{key!r}]")
        conditions[key] = value


def _read_one(store: Store, skey: str) -> dict[str, bytes]:
    value = store.get(skey)
    return {} if value is None else {skey: value}


def expect_holds(store: Store, expect: Mapping[str, bytes | None]) -> bool:
    """Whether every key of ``expect`` holds exactly that value now (None: absent)."""
    found = store.get_many(list(expect))
    return all(found.get(key) == value for key, value in expect.items())


def _current(store: Store, raw: bytes | None) -> int:
    """The current sequence number given SEQ_KEY's bytes ``raw``: a store written before
    SEQ_KEY existed keeps it in LEGACY_SEQ_KEY until its first commit writes SEQ_KEY (that
    commit's condition is SEQ_KEY absent, so exactly one process moves it over)."""
    if raw is None:
        return _parse(store.get(LEGACY_SEQ_KEY), LEGACY_SEQ_KEY)
    return _parse(raw, SEQ_KEY)


def _parse(raw: bytes | None, key: str) -> int:
    if raw is None:
        return 0
    try:
        return int(raw)
    except ValueError:
        raise StateError(f"the store's {key} holds {raw[:40]!r}, expected a decimal "
                         "number; the store was changed outside llmspell") from None
