"""A session's artifact counters, changed in the same batch as the artifacts they count.

Every artifact write puts the owning session's record back with its ``counters.artifacts``
and ``counters.artifact_bytes`` changed, under ``expect`` on the record's previous bytes, and
appends its journal entry under the journal's own ``expect``. So the counters, the journal and
the artifacts can never disagree, and a write racing another (in this process or another)
fails its batch and is retried on fresh reads. The counters hold what a session has *now*:
a delete gives its count and bytes back, so ``max_artifacts_per_session`` and
``max_artifact_bytes`` limit what a session holds at once.

The record bytes and journal position of the sessions this process wrote last are cached; a
stale cache only makes one batch fail. A store needs an active session (a suspended one must
be resumed first); timeouts are applied before a store, as ``SessionManager.get`` does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

import orjson

from llmspell.errors import ResourceLimitExceeded, SessionNotFound
from llmspell.journal import Position
from llmspell.sessions import index
from llmspell.sessions.enforcement import not_active
from llmspell.sessions.model import ACTIVE, Limits, Session
from llmspell.sessions.policies import ResourceLimits, timeout_action
from llmspell.storage.base import Op, Put

_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session as read for one write attempt: its record bytes, the record, and the
    journal position (newest entry) the write's entry follows."""

    raw: bytes
    session: Session
    position: Position


class SessionCounters:
    """Reads sessions for artifact writes and adds their counter updates to batches.

    ``sessions`` is the SessionManager (its store, journal, settings, hooks and events).
    """

    def __init__(self, sessions: Any) -> None:
        self.sessions = sessions
        self.store = sessions.store
        self.journal = sessions.journal
        settings = getattr(sessions, "settings", None)
        self.limits = ResourceLimits(settings.default_limits() if settings else Limits())
        self._cache: dict[str, SessionView] = {}
        self._lock = threading.Lock()

    def read(self, session_id: str, *, fresh: bool = False) -> SessionView:
        """The session's record and journal position (cached unless ``fresh``).

        Raises SessionNotFound.
        """
        if not fresh:
            cached = self._cache.get(session_id)
            known = getattr(self.sessions, "cached", None)
            hit = None if known is None else known(session_id)
            if hit is not None and (cached is None or cached.raw != hit[0]
                                    or cached.position != hit[1]):
                # the manager wrote the record since (usage counters, journal entries)
                raw, position = hit
                return SessionView(raw, Session.from_record(orjson.loads(raw)), position)
            if cached is not None:
                return cached
        raw = self.store.get(index.record_key(session_id))
        if raw is None:
            self.invalidate(session_id)
            raise SessionNotFound(f"no session has id {session_id!r}")
        return SessionView(raw, Session.from_record(orjson.loads(raw)),
                           self.journal.position(session_id))

    def admit_store(self, view: SessionView, size: int, now: float,
                    what: str) -> SessionView:
        """Check that ``view``'s session may take one more artifact of ``size`` bytes.

        Returns the view to write with (fresh when a timeout moved the session).

        Raises:
            SessionError: the session is not active (SessionExpired when out of time).
            ResourceLimitExceeded: its artifacts or artifact_bytes limit would be passed; the
                ``resource:limit_exceeded`` hook has fired.
        """
        found = view.session
        if found.status == ACTIVE and (found.max_idle_time or found.max_duration) and (
                timeout_action(found, now, found.last_activity_at) is not None):
            self.invalidate(found.id)
            self.sessions.get(found.id)  # applies the timeout the way the manager does
            view = self.read(found.id, fresh=True)
            found = view.session
        if found.status != ACTIVE:
            raise not_active(found, "artifact.store")
        limits = self.limits.effective(found)
        used = found.counters
        over = []
        if limits.artifacts is not None and used.artifacts + 1 > limits.artifacts:
            over.append(f"artifacts {used.artifacts} + 1 > limit {limits.artifacts}")
        if limits.artifact_bytes is not None and used.artifact_bytes + size > limits.artifact_bytes:
            over.append(f"artifact_bytes {used.artifact_bytes:,} + {size:,} > limit "
                        f"{limits.artifact_bytes:,}")
        if over:
            self._refuse(found, what, over)
        return view

    def ops(self, view: SessionView, artifacts: int, size: int,
            now: float) -> tuple[list[Op], dict[str, bytes | None], SessionView]:
        """The ops and ``expect`` that change the counters by ``artifacts`` and ``size``, and
        the view as it will be once they commit (its position is fixed by :meth:`committed`)."""
        current = view.session
        counters = replace(current.counters)
        counters.artifacts = max(0, counters.artifacts + artifacts)
        counters.artifact_bytes = max(0, counters.artifact_bytes + size)
        new = replace(current, counters=counters, updated_at=now)
        if current.status == ACTIVE and artifacts > 0:
            new.last_activity_at = now
        key = index.record_key(current.id)
        raw = orjson.dumps(new.to_record())
        return [Put(key, raw)], {key: view.raw}, SessionView(raw, new, view.position)

    def committed(self, view: SessionView, journal_ops: list[Op]) -> None:
        """Remember the session as written (``journal_ops``: the entries appended with it)."""
        position = view.position
        if journal_ops:
            last = journal_ops[-1]
            assert isinstance(last, Put)
            position = (position[0] + len(journal_ops), last.value)
        sid = view.session.id
        cache = self._cache
        with self._lock:
            cache.pop(sid, None)
            cache[sid] = SessionView(view.raw, view.session, position)
            if len(cache) > _CACHE_SIZE:
                cache.pop(next(iter(cache)), None)
        remember = getattr(self.sessions, "remember", None)
        if remember is not None:  # the manager's own cache of this record, brought up to date
            remember(sid, view.raw, position)

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
        hooks = getattr(self.sessions, "hooks", None)
        if hooks is not None and hooks.has("resource:limit_exceeded"):
            hooks.after("resource:limit_exceeded", data, component="artifacts",
                        session_id=found.id)
        events = getattr(self.sessions, "events", None)
        if events is not None:
            events.publish("session.limit_exceeded", data, session_id=found.id,
                           source="artifacts")
        raise ResourceLimitExceeded(f"cannot store {what}: {reason} ([session] "
                                    "max_artifacts_per_session / max_artifact_bytes, or the "
                                    "session's own limits; delete artifacts to make room)")
