"""Counters kept in the store and changed inside other writes' batches.

:class:`ActiveCounter`: the count of active sessions, kept in one store key and enforced
against ``max_active_sessions`` atomically: every batch that changes the count carries
``expect`` on its previous bytes, so two processes can never both take the last slot.

:class:`ArtifactCounters`: a session's ``counters.artifacts`` and ``counters.artifact_bytes``,
changed in the same batch as the artifacts they count. Every artifact write puts the owning
session's record back with its counters changed, under ``expect`` on the record's previous
bytes, and appends its journal entry under the journal's own ``expect``; so the counters, the
journal and the artifacts can never disagree, and a write racing another (in this process or
another) fails its batch and is retried on fresh reads. The counters hold what a session has
*now*: a delete gives its count and bytes back, so ``max_artifacts_per_session`` and
``max_artifact_bytes`` limit what a session holds at once. A store needs an active session
(a suspended one must be resumed first); timeouts are applied before a store, as
``SessionManager.get`` does. Artifacts use these ops and never build session keys.

Both cache the last value this process saw; a stale one only makes a batch fail, after which
the caller invalidates and retries. A refusal is only ever made on a value just read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llmspell.bounded import BoundedCache
from llmspell.codec import stored_int
from llmspell.errors import ResourceLimitExceeded, SessionNotFound
from llmspell.journal import Journal, Position
from llmspell.sessions.enforcement import not_active
from llmspell.sessions.index import ACTIVE_COUNT_KEY, index_ops, record_key
from llmspell.sessions.model import ACTIVE, Limits, Session
from llmspell.sessions.policies import ResourceLimits, Usage, exceeded, timeout_action
from llmspell.sessions.transitions import position_after
from llmspell.storage.base import Op, Store, new_put

_UNKNOWN: Any = object()


class ActiveCounter:
    """``limit`` is ``max_active_sessions``; ``refused(count, limit)`` runs before the error."""

    def __init__(self, store: Store, limit: int,
                 refused: Callable[[int, int], Any] | None = None) -> None:
        self.store = store
        self.limit = limit
        self.refused = refused
        self._raw: Any = _UNKNOWN
        self._count = 0  # _raw as a number (while _raw is known): parsed once, not per write

    def add(self, delta: int, ops: list[Op], expect: dict[str, bytes | None],
            refusing: str | Callable[[], str],
            make_put: Callable[[tuple[str, bytes]], Op] = new_put) -> bytes:
        """Add the count's update to a batch; returns the new bytes for :meth:`committed`.
        ``make_put``: how its Put is made (the store's ``Store.make_put`` for a
        batch_unchecked).

        Raises:
            ResourceLimitExceeded: ``delta > 0`` would pass the limit; ``refusing`` starts the
                message ("cannot create session 'x'"), or makes it (called only to refuse).
        """
        raw, count = self._raw, self._count
        if raw is _UNKNOWN or (delta > 0 and count + delta > self.limit):
            raw, count = self._admit(delta, refusing)  # else: cached, within the limit
        new = b"%d" % max(0, count + delta)
        ops.append(make_put((ACTIVE_COUNT_KEY, new)))
        expect[ACTIVE_COUNT_KEY] = raw
        return new

    def _admit(self, delta: int, refusing: str | Callable[[], str]) -> tuple[Any, int]:
        """The count's bytes and value to build on, read when unknown; refuses only on a
        value just read (a cached one over the limit is read again first)."""
        for fresh in (False, True):
            raw = self._raw
            read = raw is _UNKNOWN or fresh
            if read:
                raw = self.store.get(ACTIVE_COUNT_KEY)
                self._count = stored_int(raw, ACTIVE_COUNT_KEY)
                self._raw = raw
            count = self._count
            if delta <= 0 or count + delta <= self.limit:
                break
            if read:
                if self.refused is not None:
                    self.refused(count, self.limit)
                if callable(refusing):
                    refusing = refusing()
                raise ResourceLimitExceeded(
                    f"{refusing}: {count} sessions are active, the [session] "
                    f"max_active_sessions limit is {self.limit}; complete, fail or suspend "
                    "one first, or raise the limit")
        return raw, count

    def committed(self, new: bytes | None) -> None:
        """The batch holding :meth:`add`'s ops committed (None: it held none)."""
        if new is not None:
            self._raw = new
            self._count = int(new)  # digits this process wrote

    def invalidate(self) -> None:
        """A batch failed: read the count again next time."""
        self._raw = _UNKNOWN

    def count(self) -> int:
        """The number of active sessions, read now."""
        return stored_int(self.store.get(ACTIVE_COUNT_KEY), ACTIVE_COUNT_KEY)


_CACHE_SIZE = 1024


@dataclass(slots=True)
class SessionView:
    """A session as read for one write attempt: its record bytes, the record, and the
    journal position (newest entry) the write's entry follows. Read-only (views are cached
    and shared); not frozen: a frozen dataclass sets each field through
    ``object.__setattr__``, and a store builds two or three views."""

    raw: bytes
    session: Session
    position: Position

    def guard(self) -> dict[str, bytes | None]:
        """``expect`` that holds while the session's record is still the one read (so a
        batch carrying it fails once the session changed or was deleted)."""
        return {record_key(self.session.id): self.raw}


class ArtifactCounters:
    """Reads sessions for artifact writes and adds their counter updates to those writes'
    batches (see the module docstring). The SessionManager owns one
    (``manager.artifact_counters``).

    Args:
        store, journal: the manager's.
        limits: the ``[session]`` default limits (a session's own limits win).
        read: ``read(session_id)`` applies a session's timeouts (``SessionManager.get``).
        cached: ``cached(session_id)``: the record bytes and journal position the manager
            last wrote or read (newer than this cache when the manager wrote since), or None.
        remember: ``remember(session_id, raw, position, base=, session=)``: tell the manager
            what an artifact write committed (its entries built on ``base``; the record
            decoded), so its next write needs no read and its next read no decode.
        refused: ``refused(session_id, data, source)`` reports a refusal to hooks and events.
        policies: ``policies(session, size)`` runs the manager's other policies (rate
            limits) once per store, before its batch is planned; raises to refuse.
        footprint: ``footprint(session_id)``: the bytes of the session's state scope, for
            its memory limit.
        run_at: the manager's ``run_at(session_id, position)`` (see :meth:`unbroken`).
    """

    def __init__(self, store: Store, journal: Journal, limits: Limits, *,
                 read: Callable[[str], Any],
                 cached: Callable[[str], tuple[bytes, Position] | None],
                 remember: Callable[..., None],
                 refused: Callable[[str | None, dict[str, Any], str], None],
                 policies: Callable[[Session, int], None] | None = None,
                 footprint: Callable[[str], int] | None = None,
                 run_at: Callable[[str, Position], int | None] | None = None,
                 decode: Callable[[str, bytes], Session] | None = None) -> None:
        self.store = store
        #: ``decode(session_id, raw)``: the record as a Session of the caller's own; the
        #: manager's (``SessionManager.decode``) copies the decode it keeps of the same bytes
        #: (~40k instructions less per agent call: its settle rewrote the record just before).
        self._decode = decode or (lambda session_id, raw: Session.decode(
            raw, record_key(session_id)))
        #: The session manager's :meth:`~llmspell.sessions.manager.SessionManager.run_at`
        #: (None: no run is ever known).
        self.run_at: Callable[[str, Position], int | None] = (
            run_at or (lambda session_id, position: None))
        self.journal = journal
        self.limits = ResourceLimits(limits)
        self._read_session = read
        self._shared = cached
        self._remember = remember
        self._refused = refused
        self._policies = policies
        self._footprint = footprint
        self._cache: BoundedCache[str, SessionView] = BoundedCache(_CACHE_SIZE)
        self._lock = threading.Lock()

    def exists(self, session_id: str) -> bool:
        """Whether a session record with that id is stored (no checks, no timeouts)."""
        return self.store.get(record_key(session_id)) is not None

    def read(self, session_id: str, *, fresh: bool = False) -> SessionView:
        """The session's record and journal position (cached unless ``fresh``).

        Raises SessionNotFound.
        """
        if not fresh:
            cached = self._cache.get(session_id)
            hit = self._shared(session_id)
            if hit is not None and (cached is None or cached.raw != hit[0]
                                    or cached.position != hit[1]):
                # the manager wrote the record since (usage counters, journal entries): kept,
                # so reads until its next write decode nothing (:meth:`peek`, then a store)
                view = SessionView(hit[0], self._decode(session_id, hit[0]), hit[1])
                with self._lock:
                    self._cache.touch(session_id, view)
                return view
            if cached is not None:
                return cached
        raw = self.store.get(record_key(session_id))
        if raw is None:
            self.invalidate(session_id)
            raise SessionNotFound(f"no session has id {session_id!r}")
        return SessionView(raw, self._decode(session_id, raw),
                           self.journal.position(session_id))

    def peek(self, session_id: str) -> Session | None:
        """The session as the manager last wrote or read it (what ``SessionManager.peek``
        decodes, no store read), through :meth:`read`'s cache; None when the manager has
        not cached it or a timeout could apply to it (``SessionManager.peek`` applies it)."""
        if self._shared(session_id) is None:
            return None
        found = self.read(session_id).session
        if found.may_time_out():
            return None
        return found

    def admit_policies(self, session_id: str, size: int) -> SessionView | None:
        """Before a store of ``size`` bytes in ``session_id``: the manager's rate limits and
        added policies (once per store, not per attempt of its batch). Returns the view they
        were run on (None: no policies, nothing read), for the store's first attempt: a
        view gone stale since only makes its batch fail (~2k instructions per store)."""
        if self._policies is None:
            return None
        view = self.read(session_id)
        self._policies(view.session, size)
        return view

    def admit_store(self, view: SessionView, size: int, now: float,
                    what: str, *, operation: bool = True) -> SessionView:
        """Check that ``view``'s session may take one more artifact of ``size`` bytes.

        Returns the view to write with (fresh when a timeout moved the session).

        Raises:
            SessionError: the session is not active (SessionExpired when out of time).
            ResourceLimitExceeded: its artifacts or artifact_bytes limit would be passed; the
                ``resource:limit_exceeded`` hook has fired.
        """
        found = view.session
        if found.may_time_out() and (
                timeout_action(found, now, found.last_activity_at) is not None):
            self.invalidate(found.id)
            self._read_session(found.id)  # applies the timeout the way the manager does
            view = self.read(found.id, fresh=True)
            found = view.session
        if found.status != ACTIVE:
            raise not_active(found, "artifact.store")
        limits = self.limits.effective(found)
        memory = 0
        if limits.memory is not None:
            state = self._footprint(found.id) if self._footprint is not None else 0
            memory = state + found.counters.artifact_bytes + size
        # What the store adds, and nothing else: a store is not refused by a token or cost
        # limit the session has reached (the answer it collects may be what reached it).
        over = exceeded(limits, found.counters,
                        Usage("artifact.store", 1 if operation else 0, 0, 0.0, 1, size, memory),
                        asked_only=True)
        if over:
            self._refuse(found, what, over)
        return view

    def ops(self, view: SessionView, artifacts: int, size: int, now: float, *,
            operations: int = 0, tokens: int = 0, cost: float = 0.0,
            make_put: Callable[[tuple[str, bytes]], Op] = new_put,
            ) -> tuple[list[Op], dict[str, bytes | None], SessionView]:
        """The ops and ``expect`` that change the counters by ``artifacts``, ``size``,
        ``operations``, ``tokens`` and ``cost`` (a call's settlement riding with its artifact:
        :mod:`llmspell.sessions.ride`), with the move of the session's updated index entry
        (the rewrite moves ``updated_at``), and the view as it will be once they commit (its
        position is fixed by :meth:`committed`). ``make_put``: the store's
        ``Store.make_put``, for a batch applied unchecked."""
        current = view.session
        counters = current.counters.copy()
        counters.artifacts = max(0, counters.artifacts + artifacts)
        counters.artifact_bytes = max(0, counters.artifact_bytes + size)
        counters.operations += operations
        counters.tokens += tokens
        counters.cost += cost
        new = current.with_counters(counters, now)
        if current.status == ACTIVE and artifacts > 0:
            new.last_activity_at = now
        key = record_key(current.id)
        raw = new.encode()
        return ([*index_ops(current, new, make_put), make_put((key, raw))], {key: view.raw},
                SessionView(raw, new, view.position))

    def committed(self, view: SessionView, journal_ops: list[Op]) -> Position:
        """Remember the session as written (``journal_ops``: the entries appended with it);
        returns its journal position now."""
        position = position_after(view.position, journal_ops)
        sid = view.session.id
        cache = self._cache
        with self._lock:
            cache.touch(sid, SessionView(view.raw, view.session, position))
        # the manager's cache, brought up to date (the entries were built on view.position)
        self._remember(sid, view.raw, position, base=view.position, session=view.session)
        return position

    def unbroken(self, session_id: str, run: int | None, position: Position) -> bool:
        """Whether every entry appended to ``session_id``'s journal since ``run`` (a
        :meth:`run_at` id) began, up to ``position``, went through this process's session
        manager, one on another: that run is the one that reached ``position``."""
        return run is not None and self.run_at(session_id, position) == run

    def invalidate(self, session_id: str) -> None:
        """A batch failed (or the session changed elsewhere): read it again next time."""
        with self._lock:
            self._cache.pop(session_id, None)

    def _refuse(self, found: Session, what: str, over: list[str]) -> None:
        reason = f"session {found.id} would exceed its limits: " + "; ".join(over)
        data = {"session_id": found.id, "kind": "artifact.store",
                "refusals": [{"policy": "resource_limits", "reason": reason,
                              "rate_limited": False, "retry_after": None}],
                "composition": "artifacts"}
        self._refused(found.id, data, "artifacts")
        raise ResourceLimitExceeded(f"cannot store {what}: {reason} ([session] "
                                    "max_artifacts_per_session / max_artifact_bytes, or the "
                                    "session's own limits; delete artifacts to make room)")
