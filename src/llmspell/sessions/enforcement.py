"""Policy enforcement for the SessionManager: admission, usage counters, timeouts, sweeps.

A mixin of :class:`~llmspell.sessions.manager.SessionManager`, kept apart so each module
stays one concept: the manager moves sessions, this decides when policies move or refuse
them. The rules themselves are in :mod:`llmspell.sessions.policies`.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from llmspell.errors import (
    HookCancelled,
    RateLimitExceeded,
    ResourceLimitExceeded,
    SessionError,
    SessionExpired,
    SessionNotFound,
)
from llmspell.sessions import index
from llmspell.sessions.changes import Update
from llmspell.sessions.model import ACTIVE, FAILED, SUSPENDED, Session
from llmspell.sessions.policies import (
    PolicyChain,
    Refusal,
    ResourceLimits,
    TimeoutAction,
    Usage,
    Verdict,
    timeout_action,
)

if TYPE_CHECKING:
    from llmspell.sessions.clock import Clock
    from llmspell.storage.base import Store

logger = logging.getLogger("llmspell.sessions")

SessionRef = Session | str


class PolicyEnforcement:
    """Admission, usage and timeouts; see the module docstring."""

    store: Store
    clock: Clock
    policies: PolicyChain
    events: Any
    _activity: dict[str, float]

    if TYPE_CHECKING:
        def get(self, session: SessionRef) -> Session: ...
        def current_id(self) -> str | None: ...
        def _update(self, sid: str, change: Callable[[Session, float], Update]) -> Session: ...
        def _transition(self, session: SessionRef, operation: str, *,
                        reason: str | None = None,
                        timeout: TimeoutAction | None = None) -> Session: ...
        def _purge(self, sid: str) -> None: ...
        def _fire(self, point: str, sid: str | None, cid: str | None,
                  data: Callable[[], Any]) -> None: ...

    def admit(self, session: SessionRef | None = None, kind: str = "operation", *,
              tokens: int = 0, cost: float = 0.0, artifacts: int = 0,
              artifact_bytes: int = 0) -> Session | None:
        """Let one operation of ``kind`` run in ``session`` (default: the current one), or
        refuse it; count it when admitted.

        Amounts known only afterwards (an LLM call's tokens) go to :meth:`add_usage`.
        With no session (none given, none current) only global and per-kind rate limits apply.

        Raises:
            SessionError: the session is not active (SessionExpired when it ran out of time).
            ResourceLimitExceeded / RateLimitExceeded: the policies refused; the
                ``resource:limit_exceeded`` hook has fired. ``exc.refusals`` lists why.
        """
        usage = Usage(kind, 1, tokens, cost, artifacts, artifact_bytes)
        found = self._session_or_current(session)
        if found is not None and found.status != ACTIVE:
            raise not_active(found, kind)
        verdict = self.policies.evaluate(found, usage)
        if not verdict.allowed:
            self._refuse(found, usage, verdict)
        if found is None:
            return None
        return self._count(found.id, usage, check=True)

    def add_usage(self, session: SessionRef | None = None, *, operations: int = 0,
                  tokens: int = 0, cost: float = 0.0, artifacts: int = 0,
                  artifact_bytes: int = 0) -> Session | None:
        """Add usage measured after the fact (tokens, cost). Never refuses: the next
        :meth:`admit` does once a limit is reached."""
        found = self._session_or_current(session)
        if found is None:
            return None
        usage = Usage("usage", operations, tokens, cost, artifacts, artifact_bytes)
        return self._count(found.id, usage, check=False)

    def settle(self, session: SessionRef | None = None, kind: str = "operation", *,
               reserved_tokens: int = 0, tokens: int = 0,
               cost: float = 0.0) -> Session | None:
        """Replace the ``reserved_tokens`` an :meth:`admit` counted (an estimate made before an
        LLM call) with the ``tokens`` and ``cost`` measured after it; then refuse, with the
        amounts counted, when they took the session strictly past its token or cost limit.

        Raises:
            ResourceLimitExceeded: the measured amounts exceed a limit; the
                ``resource:limit_exceeded`` hook has fired. ``exc.refusals`` lists why.
        """
        found = self.add_usage(session, tokens=tokens - reserved_tokens, cost=cost)
        if found is None:
            return None
        over = []
        for policy in self.policies.policies:
            if not isinstance(policy, ResourceLimits):
                continue
            limits = policy.effective(found)
            for name, used in (("tokens", found.counters.tokens),
                               ("cost", found.counters.cost)):
                limit = getattr(limits, name)
                if limit is not None and used > limit:
                    over.append(Refusal(policy.name, f"{name} {used:g} > limit {limit:g} "
                                        f"after the call (it used {tokens} tokens, "
                                        f"cost {cost:g})"))
        if over:
            self._refuse(found, Usage(kind, 0, tokens, cost, 0, 0), Verdict(False, tuple(over)))
        return found

    def touch(self, session_id: str) -> None:
        """Note activity in ``session_id`` now (for the idle timeout), without a write."""
        self._activity[session_id] = self.clock.now()

    def sweep(self) -> builtins.list[tuple[str, str]]:
        """Apply timeouts to every active session and finish interrupted deletes.

        Returns ``(session_id, new status)`` for each session a timeout moved.
        """
        moved: builtins.list[tuple[str, str]] = []
        for key in builtins.list(self.store.keys(index.TOMBSTONE_PREFIX)):
            self._purge(key[len(index.TOMBSTONE_PREFIX):])
        drive = index.Drive((index.status_prefix(ACTIVE),), None, None)
        for sid in builtins.list(index.walk(self.store, drive)):
            try:
                found = self.get(sid)
            except SessionNotFound:
                continue
            if found.status != ACTIVE:
                moved.append((sid, found.status))
        return moved

    # -- internals ------------------------------------------------------------------------

    def _count(self, sid: str, usage: Usage, *, check: bool) -> Session:
        limits = [p for p in self.policies.policies if isinstance(p, ResourceLimits)]

        def change(current: Session, now: float) -> Update:
            if check:
                if current.status != ACTIVE:
                    raise not_active(current, usage.kind)
                for policy in limits:  # the record may have moved since admit read it
                    refusal = policy(current, usage)
                    if refusal is not None:
                        self._refuse(current, usage, Verdict(False, (refusal,)))
            counters = replace(current.counters)
            counters.operations += usage.operations
            counters.tokens += usage.tokens
            counters.cost += usage.cost
            counters.artifacts += usage.artifacts
            counters.artifact_bytes += usage.artifact_bytes
            new = replace(current, counters=counters, updated_at=now)
            if current.status == ACTIVE:
                new.last_activity_at = now
            return Update(new, [])

        return self._update(sid, change)

    def _apply_timeouts(self, found: Session) -> Session:
        now = self.clock.now()
        idle, duration = found.max_idle_time, found.max_duration
        if (idle is None or now - found.last_activity_at <= idle) and (
                duration is None or found.active_seconds + now - (found.resumed_at or now)
                <= duration):
            return found  # no timeout has passed even by the record's own account
        activity = max(found.last_activity_at, self._activity.get(found.id, 0.0))
        action = timeout_action(found, now, activity)
        if action is None:
            return found
        try:
            return self._transition(found.id, action.operation, reason=action.reason,
                                    timeout=action)
        except HookCancelled as exc:
            logger.warning("a hook kept session %s from its timeout (%s): %s", found.id,
                           action.reason, exc)
            return found
        except SessionError:
            return self.get(found.id)  # moved by someone else meanwhile

    def _session_or_current(self, session: SessionRef | None) -> Session | None:
        if session is not None:
            return self.get(session)
        sid = self.current_id()
        return None if sid is None else self.get(sid)

    def _refuse(self, found: Session | None, usage: Usage, verdict: Verdict) -> None:
        refusals = [r.to_dict() for r in verdict.refusals]
        sid = found.id if found is not None else None
        data = {"session_id": sid, "kind": usage.kind, "refusals": refusals,
                "composition": self.policies.mode}
        self._fire("resource:limit_exceeded", sid, None, lambda: data)
        if self.events is not None:
            self.events.publish("session.limit_exceeded", data, session_id=sid,
                                source="sessions")
        where = f" in session {sid}" if sid else ""
        text = "; ".join(r.reason for r in verdict.refusals)
        rated = all(r.rate_limited for r in verdict.refusals)
        exc = (RateLimitExceeded if rated else ResourceLimitExceeded)(
            f"operation {usage.kind!r}{where} refused: {text}")
        exc.refusals = verdict.refusals  # type: ignore[attr-defined]
        raise exc


def not_active(found: Session, kind: str) -> SessionError:
    """The error for an operation in a session that is not active."""
    why = f" ({found.reason})" if found.reason else ""
    text = (f"operation {kind!r} needs an active session, and session {found.id} is "
            f"{found.status}{why}")
    if found.status == SUSPENDED:
        return SessionError(text + "; resume it first")
    if found.status == FAILED and found.reason and "max_duration" in found.reason:
        return SessionExpired(text)
    return SessionError(text)
