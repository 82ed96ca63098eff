"""The per-session journal: an append-only record of everything that happened in a session.

Each entry is ``(seq, timestamp, kind, correlation_id, data)``. Timeline, replay, fork, audit
and incremental backup are built on it (DESIGN.md section 11); ``docs/sessions.md`` documents
the format for readers.

Store layout (all keys under the session id, so deleting a session is a prefix delete)::

    journal/<session_id>/<seq, 12 digits>   the entry, JSON: {"seq", "ts", "kind", "cid", "data"}
    jval/<session_id>/<value hash>          an encoded state value the entries refer to

Sequence numbers are 1, 2, 3, ... with no gaps. There is no counter key: a writer reads the
newest entry ``n`` (its key and bytes, one reverse scan) and writes entry ``n + 1`` with
``expect={key(n): those bytes, key(n + 1): None}``. Entries are never removed one by one, so
two writers can never both get ``n + 1`` (the second batch fails its ``expect``), and entry
``n + 1`` can only be written once entry ``n`` is committed: **commit order is sequence
order**, across threads and processes alike.

Entries are written in the same atomic batch as the change they record: callers get the ops
from :meth:`Journal.entry_ops` and add them to their own batch.

    CALLERS MUST RETRY THEIR WHOLE BATCH WHEN ``store.batch`` RETURNS FALSE: another writer
    took that sequence number. Call ``entry_ops`` again (it reads the new last number) and
    rebuild the batch. :meth:`Journal.append` does this for entries that stand alone.

Secrets in ``data`` are redacted before they are stored (field names and value shapes, as in
:mod:`llmspell.redact`). State values are not in the entries: a state write records its scope,
key, operation and the hashes of the old and new value; the new value's encoded bytes are kept
once per distinct value under ``jval/`` (see :meth:`Journal.value_op`) so that replay and fork
can rebuild the state of a session at any sequence number. That doubles the bytes written per
journaled state write and keeps values that state has since overwritten; the alternative
(hashes only, values re-derived by re-running the script) is cheaper to write but cannot
rebuild writes made from outside a script. ``[session] journal_state_values = false``
chooses hashes only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from llmspell.codec import DECODE_ERRORS, damaged, unencodable
from llmspell.config_schema import default
from llmspell.errors import StorageError, ValidationError
from llmspell.redact import Redactor
from llmspell.storage.base import Delete, Op, Put, Store, new_put
from llmspell.storage.retry import Planned, retry_batch
from llmspell.validation import check_limit, check_texts

ENTRY_PREFIX = "journal/"
VALUE_PREFIX = "jval/"
#: The key ranges a whole-store backup copies for journals.
STORE_PREFIXES = (ENTRY_PREFIX, VALUE_PREFIX)
SEQ_WIDTH = 12
_SEQ_MAX = 10**SEQ_WIDTH - 1
_DELETE_PAGE = 1000

# Journal entry kinds written by llmspell itself. Kinds are dotted names; a filter ``state``
# matches ``state.write`` and ``state.delete``.
SESSION_KINDS = ("session.created", "session.suspended", "session.resumed",
                 "session.completed", "session.failed", "session.archived", "session.saved",
                 "session.loaded", "session.metadata_changed")
STATE_WRITE = "state.write"
STATE_DELETE = "state.delete"
HOOK = "hook"
EVENT = "event"



@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One entry of a session's journal."""

    session_id: str
    seq: int
    timestamp: float
    kind: str
    correlation_id: str | None
    data: Any

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain values (what ``--json`` prints and Lua receives)."""
        return {"session_id": self.session_id, "seq": self.seq, "timestamp": self.timestamp,
                "time": iso(self.timestamp), "kind": self.kind,
                "correlation_id": self.correlation_id, "data": self.data}


@dataclass(slots=True)
class Draft:
    """An entry to be numbered and written: what :meth:`Journal.entries_ops` takes. (Not
    frozen: a frozen dataclass sets each field through ``object.__setattr__``, and every
    journaled write builds one.)"""

    kind: str
    data: Any = None
    correlation_id: str | None = None
    #: Top-level fields of ``data`` (a dict) whose values were redacted already with the
    #: journal's rules: the journal's secret check skips them (see ``Journal.encode``).
    redacted: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Encoded:
    """The data of entries, encoded by :meth:`Journal.encode_data` (its secrets hidden): a
    Draft with this as ``data`` is written with these bytes as they are. For a writer that
    journals the same data again and again (every session created with one name and tags)
    and keeps what the journal made of it once."""

    json: orjson.Fragment


#: A journal's newest entry as ``(seq, stored bytes)``; START for an empty journal.
Position = tuple[int, bytes | None]
START: Position = (0, None)


def entry_key(session_id: str, seq: int) -> str:
    """The store key of entry ``seq`` of ``session_id``."""
    # zfill takes a quarter of the time of ``{seq:0{SEQ_WIDTH}d}``, whose nested format spec
    # is built on every call (the same digits for a seq >= 0); journaled writes make two keys.
    return f"{ENTRY_PREFIX}{session_id}/{str(seq).zfill(SEQ_WIDTH)}"


def iso(timestamp: float) -> str:
    """``timestamp`` (seconds since the epoch) as ISO 8601 in UTC, to the microsecond."""
    from datetime import UTC

    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def to_timestamp(value: float | int | str | datetime, *, argument: str) -> float:
    """Seconds since the epoch from a finite number, an aware ``datetime`` or an ISO 8601
    string."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int past any float
            seconds = math.inf
        if not math.isfinite(seconds):
            raise ValidationError(argument, "must be a finite number of seconds since the "
                                  "epoch", got=value)
        return seconds
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(argument, "must be a number of seconds since the epoch or "
                                  "an ISO 8601 time such as '2025-08-01T12:00:00Z'",
                                  got=value) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationError(argument, "a datetime must carry a time zone", got=value)
        return value.timestamp()
    raise ValidationError(argument, "must be a number, an ISO 8601 string or a datetime",
                          got=value)


def check_session_id(session_id: object, *, argument: str = "session_id") -> str:
    """Refuse an id that cannot name a session (see :data:`ID_RULE`)."""
    if isinstance(session_id, str) and ID_PATTERN.fullmatch(session_id):
        return session_id
    raise ValidationError(argument, ID_RULE, got=session_id)


ID_RULE = "must be a session id: 1-128 characters from A-Z a-z 0-9 . _ : -"
ID_PATTERN = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class Journal:
    """Reads and writes the journals of all sessions in one store.

    Args:
        store: where the entries live.
        clock: seconds since the epoch, for entry timestamps (inject one in tests).
        redact_patterns: extra regular expressions for secret values (``[state]
            redact_patterns``).
    """

    def __init__(self, store: Store, *, clock: Callable[[], float] | None = None,
                 redact_patterns: Iterable[str] = default("state.redact_patterns")) -> None:
        import time

        self.store = store
        self.clock = clock or time.time
        self.redactor = Redactor(redact_patterns)
        #: ``fence(session_id, fresh) -> expect``: the condition every write of a session
        #: carries on its lease (set by the session manager: sessions.lease.Leases.fence).
        self.fence: Callable[[str, bool], dict[str, bytes | None]] | None = None

    # -- writing ----------------------------------------------------------------------------

    def last_seq(self, session_id: str) -> int:
        """The sequence number of the newest entry of ``session_id``; 0 when there is none."""
        return self.position(session_id)[0]

    def position(self, session_id: str) -> Position:
        """The newest entry of ``session_id`` as ``(seq, stored bytes)``; ``(0, None)`` if none.

        Callers that cache it (the session manager does) pass it back as ``after=``.
        """
        check_session_id(session_id)
        for key, raw in self.store.scan(f"{ENTRY_PREFIX}{session_id}/", limit=1, reverse=True):
            return int(key[-SEQ_WIDTH:]), raw
        return START

    def entry_ops(self, session_id: str, kind: str, data: Any = None, *,
                  correlation_id: str | None = None, after: Position | None = None,
                  fresh: bool | None = None) -> tuple[list[Op], dict[str, bytes | None]]:
        """The ops and ``expect`` that append one entry as part of the caller's batch.

        Pass both to ``store.batch`` together with the change the entry records. When the
        batch returns False, **call this again and retry the whole batch**: another writer
        appended first. ``after`` (a :meth:`position` the caller kept) saves a read; a stale
        one just makes the batch fail. The new position is ``(seq, value)`` of the last Put.

        Raises:
            ValidationError: a bad session id or kind.
        """
        return self.entries_ops(session_id, (Draft(kind, data, correlation_id),), after=after,
                                fresh=fresh)

    def entries_ops(self, session_id: str, drafts: Sequence[Draft], *,
                    after: Position | None = None, guarded: bool = False,
                    checked: bool = False, fresh: bool | None = None,
                    fenced: bool = True,
                    make_put: Callable[[tuple[str, bytes]], Op] = new_put,
                    ) -> tuple[list[Op], dict[str, bytes | None]]:
        """Like :meth:`entry_ops` for several entries, numbered consecutively in order.

        ``guarded``: the caller's batch already proves the journal was not deleted since
        ``after`` was read (the session manager's batches hold ``expect`` on the session
        record, which a delete removes first). Entries only ever grow otherwise, so the
        absence of entry ``n + 1`` alone proves ``n`` is the newest; one condition fewer.
        ``checked``: the caller has validated ``session_id`` already (the session manager).
        ``fresh``: the caller is building again after a lost race (default: when ``after`` is
        None), so the session's fence (:attr:`fence`) reads its lease record again.
        ``fenced``: False for the batch that creates the session, which has no lease to
        fence (its id is new; ``Leases.new_session``). ``make_put``: how each entry's Put
        is made (the store's ``Store.make_put`` for a batch_unchecked).
        """
        if fresh is None:
            fresh = after is None
        if after is None:
            after = self.position(session_id)
        elif not checked:
            check_session_id(session_id)
        if not drafts:
            return [], {}
        seq, newest = after
        first = entry_key(session_id, seq + 1)
        expect: dict[str, bytes | None] = {first: None}
        if seq and not guarded:
            expect[entry_key(session_id, seq)] = newest
        fence = self.fence
        if fence is not None and fenced:
            lease = fence(session_id, fresh)
            if lease:
                expect.update(lease)
        now = self.clock()
        ops: list[Op] = []
        for draft in drafts:
            seq += 1
            if seq > _SEQ_MAX:
                raise StorageError(f"journal of session {session_id} is full ({_SEQ_MAX} "
                                   "entries)")
            key = entry_key(session_id, seq) if ops else first
            ops.append(make_put((key, self.encode(seq, now, draft))))
        # Entry n present and n + 1 absent prove the numbering continues the committed journal;
        # the later keys follow (they are only ever written together with n + 1).
        return ops, expect

    def append(self, session_id: str, kind: str, data: Any = None, *,
               correlation_id: str | None = None) -> JournalEntry:
        """Append one entry in a batch of its own and return it.

        Raises:
            ValidationError: a bad session id or kind.
            WriteContention: the journal stayed contended (see :func:`retry_batch`).
        """
        def build(attempt: int) -> Planned[Op]:
            ops, expect = self.entry_ops(session_id, kind, data, correlation_id=correlation_id)
            return ops, expect, ops[0]

        entry = retry_batch(self.store, build,
                            what=f"append to the journal of session {session_id}")
        return self.decode(session_id, entry.value)  # type: ignore[union-attr]

    def value_op(self, session_id: str, value_hash: str, encoded: bytes) -> Put:
        """The op that keeps a state value's encoded bytes under its hash (see module doc)."""
        return Put(f"{VALUE_PREFIX}{session_id}/{value_hash}", encoded)

    def value(self, session_id: str, value_hash: str) -> bytes | None:
        """The encoded state value kept under ``value_hash`` for ``session_id``, or None."""
        check_session_id(session_id)
        return self.store.get(f"{VALUE_PREFIX}{session_id}/{value_hash}")

    def encode(self, seq: int, timestamp: float, draft: Draft) -> bytes:
        """The stored bytes of an entry: JSON with its data redacted."""
        kind = draft.kind
        if kind.__class__ is not str or kind not in _KNOWN_KINDS:
            if not isinstance(kind, str) or not _KIND.fullmatch(kind):
                raise ValidationError("kind", "must be a dotted name such as 'state.write'",
                                      got=kind)
            if len(_KNOWN_KINDS) < 1024:
                _KNOWN_KINDS.add(kind)
        data, redacted = draft.data, draft.redacted
        if data.__class__ is Encoded:
            return orjson.dumps({"seq": seq, "ts": timestamp, "kind": kind,
                                 "cid": draft.correlation_id, "data": data.json})
        if redacted and data.__class__ is dict and redacted == tuple(data):
            # Every field checked already (_data_json's first shortcut): the entry in one
            # encoding, its data within, not encoded apart first (~3k instructions per entry).
            try:
                return orjson.dumps({"seq": seq, "ts": timestamp, "kind": kind,
                                     "cid": draft.correlation_id, "data": data})
            except TypeError:
                pass  # a value plain orjson refuses: the general encoding
        return orjson.dumps({"seq": seq, "ts": timestamp, "kind": kind,
                             "cid": draft.correlation_id,
                             "data": orjson.Fragment(self._data_json(data, redacted))})

    def encode_data(self, data: Any, redacted: tuple[str, ...] = ()) -> Encoded:
        """``data`` as entries hold it (``redacted`` as in :class:`Draft`), to be put in
        Drafts as often as it is journaled (:class:`Encoded`)."""
        return Encoded(orjson.Fragment(self._data_json(data, redacted)))

    def _data_json(self, data: Any, redacted: tuple[str, ...] = ()) -> bytes:
        """``data`` as JSON with its secrets hidden; the fields named in ``redacted`` (values
        already redacted with these rules) are left out of the check, not out of the text."""
        try:
            # Plain JSON (most data) gives the same bytes without the fallback and the option
            # for keys that are not strings, ~2.5k instructions sooner (an event entry); a
            # value orjson refuses so takes the general call.
            text = orjson.dumps(data)
        except TypeError:
            try:
                text = orjson.dumps(data, default=_fallback, option=orjson.OPT_NON_STR_KEYS)
            except TypeError:  # a lone surrogate, or a key no option encodes (a tuple)
                raise unencodable(data, "data") from None
        if len(text) <= 2:
            return text
        checked = text
        if redacted and isinstance(data, dict):
            # (The fields named in their order, as callers mostly do: half the set's cost.)
            if redacted == tuple(data) or not data.keys() - redacted:
                return text  # every field checked already (llm.call and event entries)
            checked = orjson.dumps({k: v for k, v in data.items() if k not in redacted},
                                   default=_fallback, option=orjson.OPT_NON_STR_KEYS)
        if self.redactor.might_hold_secret_json(checked.decode("utf-8")):
            # The whole value (redacting the redacted fields again changes nothing).
            text = orjson.dumps(self.redactor.redact(orjson.loads(text)))
        return text

    # -- reading ----------------------------------------------------------------------------

    def read(self, session_id: str, *, kinds: Iterable[str] | str | None = None,
             since: float | str | datetime | None = None,
             until: float | str | datetime | None = None,
             correlation_id: str | None = None, after_seq: int | None = None,
             before_seq: int | None = None, limit: int | None = None,
             reverse: bool = False) -> list[JournalEntry]:
        """Entries of ``session_id`` in sequence order (newest first if ``reverse``).

        Args:
            kinds: keep these kinds; ``state`` matches ``state.write`` and ``state.delete``.
            since, until: keep entries with ``since <= timestamp < until`` (seconds since the
                epoch, ISO 8601 strings or aware datetimes).
            correlation_id: keep the entries of one operation.
            after_seq, before_seq: keep ``after_seq < seq < before_seq``: the cursor for
                paging forward (pass the last seq you got) or backward with ``reverse``.
            limit: at most this many entries (0 or None: no limit).

        Raises:
            ValidationError: a bad argument.
        """
        return list(self.iter(session_id, kinds=kinds, since=since, until=until,
                              correlation_id=correlation_id, after_seq=after_seq,
                              before_seq=before_seq, limit=limit, reverse=reverse))

    def iter(self, session_id: str, *, kinds: Iterable[str] | str | None = None,
             since: float | str | datetime | None = None,
             until: float | str | datetime | None = None,
             correlation_id: str | None = None, after_seq: int | None = None,
             before_seq: int | None = None, limit: int | None = None,
             reverse: bool = False) -> Iterator[JournalEntry]:
        """Like :meth:`read`, lazily."""
        check_session_id(session_id)
        wanted = _kinds(kinds)
        low = None if since is None else to_timestamp(since, argument="since")
        high = None if until is None else to_timestamp(until, argument="until")
        first = _seq_arg(after_seq, "after_seq")
        last = _seq_arg(before_seq, "before_seq")
        limit = check_limit(limit)
        prefix = f"{ENTRY_PREFIX}{session_id}/"
        if reverse:
            start = entry_key(session_id, last) if last is not None else None
        else:
            start = entry_key(session_id, first) if first is not None else None
        found = 0
        for key, raw in self.store.scan(prefix, start_after=start, reverse=reverse):
            seq = int(key[-SEQ_WIDTH:])
            if (reverse and first is not None and seq <= first) or (
                    not reverse and last is not None and seq >= last):
                return
            entry = self.decode(session_id, raw, seq)
            if wanted and not _kind_matches(entry.kind, wanted):
                continue
            if correlation_id is not None and entry.correlation_id != correlation_id:
                continue
            if (low is not None and entry.timestamp < low) or (
                    high is not None and entry.timestamp >= high):
                continue
            yield entry
            found += 1
            if limit is not None and found >= limit:
                return

    def count(self, session_id: str) -> int:
        """How many entries ``session_id`` has."""
        check_session_id(session_id)
        return self.store.count(f"{ENTRY_PREFIX}{session_id}/")

    @staticmethod
    def decode(session_id: str, raw: bytes, seq: int | None = None) -> JournalEntry:
        """The entry stored as ``raw`` (entry ``seq`` of ``session_id``, when known).

        Raises:
            CorruptRecord: ``raw`` is not an entry (damaged), naming its key.
        """
        try:
            record = orjson.loads(raw)
            return JournalEntry(session_id, record["seq"], record["ts"], record["kind"],
                                record["cid"], record["data"])
        except DECODE_ERRORS as exc:
            where = (entry_key(session_id, seq) if seq is not None
                     else f"{ENTRY_PREFIX}{session_id}/...")
            raise damaged(where, exc) from None

    # -- removing ---------------------------------------------------------------------------

    def delete(self, session_id: str) -> int:
        """Remove every entry and kept value of ``session_id``; returns how many keys went.

        Deleted in batches of 1000 keys, so a very long journal never needs one huge
        transaction; a crash midway leaves a shorter journal that a second call removes.
        """
        check_session_id(session_id)
        removed = 0
        for prefix in (f"{ENTRY_PREFIX}{session_id}/", f"{VALUE_PREFIX}{session_id}/"):
            while True:
                keys = list(self.store.keys(prefix, limit=_DELETE_PAGE))
                if not keys:
                    break
                self.store.batch([Delete(k) for k in keys])
                removed += len(keys)
        return removed


_KIND = re.compile(r"[A-Za-z0-9_\-]+(?:[.:][A-Za-z0-9_\-]+)*")
_KNOWN_KINDS: set[str] = set()  # kinds already checked against _KIND


def _kinds(kinds: Iterable[str] | str | None) -> tuple[str, ...]:
    if kinds is None:
        return ()
    return tuple(check_texts(kinds, "kinds", "entry kinds such as 'state' or "
                             "'session.suspended'", non_empty=True, one=True))


def _kind_matches(kind: str, wanted: tuple[str, ...]) -> bool:
    return any(kind == w or kind.startswith(w + ".") for w in wanted)


def _seq_arg(value: object, argument: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _SEQ_MAX:
        raise ValidationError(argument, "must be a sequence number (an int >= 0) or None",
                              got=value)
    return value


def _fallback(value: Any) -> Any:
    """How values JSON has no form for appear in an entry."""
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."
