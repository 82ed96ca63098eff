"""Policy enforcement: admission, usage counters and timeouts, for one SessionManager.

The manager owns one :class:`PolicyEnforcer` and calls it; the enforcer reads, writes and
moves sessions only through the callables the manager hands it (``read``, ``update``,
``move``, ``refused``), so it never touches the manager's caches or keys. The rules
themselves are in :mod:`llmspell.sessions.policies`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from llmspell.errors import (
    HookCancelled,
    RateLimitExceeded,
    ResourceLimitExceeded,
    SessionError,
    SessionExpired,
)
from llmspell.journal import Draft
from llmspell.sessions.clock import Clock
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
from llmspell.sessions.ratelimit import RateLimits
from llmspell.sessions.transitions import Update
from llmspell.storage.base import Op

logger = logging.getLogger("llmspell.sessions")


class Move(Protocol):
    """``move(session, operation, reason=..., timeout=...)``: a lifecycle move."""

    def __call__(self, session: Session | str, operation: str, *, reason: str | None = None,
                 timeout: TimeoutAction | None = None) -> Session: ...


class PolicyEnforcer:
    """Admits operations, counts usage and applies timeouts (see the module docstring).

    Args:
        policies: the chain admission runs.
        clock: the manager's clock.
        read: ``read(session_id)`` -> the session (``SessionManager.get``).
        update: ``update(session_id, change)`` writes ``change(current, now)``'s Update in
            one batch, retrying on a lost race.
        move: a lifecycle move (a timeout suspends or fails a session through it).
        refused: ``refused(session_id | None, data)`` tells hooks and events that a limit
            refused an operation.
    """

    def __init__(self, policies: PolicyChain, clock: Clock, *,
                 read: Callable[[str], Session],
                 update: Callable[[str, Callable[[Session, float], Update]], Session],
                 move: Move, refused: Callable[[str | None, dict[str, Any]], None]) -> None:
        self.policies = policies
        self.clock = clock
        self.read = read
        self.update = update
        self.move = move
        self.refused = refused
        #: id -> the latest activity seen in this process (an idle timeout reads it).
        self.activity: dict[str, float] = {}

    def admit(self, found: Session | None, usage: Usage) -> Session | None:
        """Admit ``usage`` in ``found`` (None: no session, only global limits apply) and
        count it; see ``SessionManager.admit``."""
        self.evaluate(found, usage)
        if found is None:
            return None
        return self.count(found.id, usage, check=True)

    def admit_later(self, found: Session | None, usage: Usage) -> bool:
        """:meth:`admit` for an operation whose usage one later write counts (an LLM call:
        :meth:`settle` with ``operations``). When no count made now could change a decision
        (``found`` has no operations, tokens or cost limit, and the chain holds only resource
        and rate limits, which do not read counters), ``usage`` is only evaluated, and False
        returned: that later write counts it (one write per call instead of two). Else it is
        admitted and counted now, as :meth:`admit` does, and True returned."""
        if found is None or not self._reads_no_count(found):
            self.admit(found, usage)
            return found is not None
        self.evaluate(found, usage)
        return False

    def _reads_no_count(self, found: Session) -> bool:
        for policy in self.policies.policies:
            if isinstance(policy, ResourceLimits):
                limits = policy.effective(found)
                if limits.operations or limits.tokens or limits.cost:
                    return False
            elif not isinstance(policy, RateLimits):
                return False  # a policy of the user's may read the counters
        return True

    def evaluate(self, found: Session | None, usage: Usage) -> None:
        """The admission of :meth:`admit` without the count: refuse ``usage`` (reported,
        raised) when ``found`` is not active or the chain says no."""
        if found is not None and found.status != ACTIVE:
            found = self.read(found.id)  # it may be a cached record: refuse on the stored one
            if found.status != ACTIVE:
                raise not_active(found, usage.kind)
        verdict = self.policies.evaluate(found, usage)
        if not verdict.allowed and found is not None:
            found = self.read(found.id)  # likewise
            verdict = self.policies.evaluate(found, usage)
        if not verdict.allowed:
            self.refuse(found, usage, verdict)

    def settle(self, found: Session, kind: str, *, reserved_tokens: int, tokens: int,
               cost: float, drafts: list[Draft] | None = None,
               operations: int = 0) -> Session:
        """Replace the ``reserved_tokens`` an admission counted in ``found`` with the
        ``tokens`` and ``cost`` measured after the call, and count ``operations`` an
        :meth:`admit_later` left to it (``drafts``: journal entries written in the same
        batch); see ``SessionManager.settle``."""
        usage = Usage("usage", operations, tokens - reserved_tokens, cost, 0, 0)
        found = self.count(found.id, usage, check=False, drafts=drafts)
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
            self.refuse(found, Usage(kind, 0, tokens, cost, 0, 0), Verdict(False, tuple(over)))
        return found

    def count(self, sid: str, usage: Usage, *, check: bool,
              drafts: list[Draft] | None = None) -> Session:
        """Add ``usage`` to the session's counters; with ``check``, refuse it first when the
        session is no longer active or its resource limits would pass."""
        try:
            return self.update(sid, self.counting(usage, check=check, drafts=drafts))
        except Refused as refused:
            self.refuse(refused.session, usage, refused.verdict)
            raise  # refuse() raised; this line is never reached

    def counting(self, usage: Usage, *, check: bool, drafts: list[Draft] | None = None
                 ) -> Callable[[Session, float], Update]:
        """The change :meth:`count` writes: ``change(current, now)`` adds ``usage`` to the
        counters (with ``check``, raising Refused when ``current`` is not active or its
        resource limits would pass)."""
        limits = [p for p in self.policies.policies if isinstance(p, ResourceLimits)]

        def change(current: Session, now: float) -> Update:
            if check:
                if current.status != ACTIVE:
                    raise not_active(current, usage.kind)
                for policy in limits:  # the record may have moved since admit read it
                    refusal = policy(current, usage)
                    if refusal is not None:  # reported below, once the refusal is final
                        raise Refused(current, Verdict(False, (refusal,)))
            counters = current.counters.copy()
            counters.operations += usage.operations
            counters.tokens += usage.tokens
            counters.cost += usage.cost
            counters.artifacts += usage.artifacts
            counters.artifact_bytes += usage.artifact_bytes
            new = current.with_counters(counters, now)
            if current.status == ACTIVE:
                new.last_activity_at = now
            return Update(new, list(drafts or ()))

        return change

    def touch(self, session_id: str) -> None:
        """Note activity in ``session_id`` now (for the idle timeout), without a write."""
        self.activity[session_id] = self.clock.now()

    def apply_timeouts(self, found: Session) -> Session:
        """``found``, or the session a passed timeout moved it to (suspended or failed)."""
        now = self.clock.now()
        idle, duration = found.max_idle_time, found.max_duration
        if (idle is None or now - found.last_activity_at <= idle) and (
                duration is None or found.active_seconds + now - (found.resumed_at or now)
                <= duration):
            return found  # no timeout has passed even by the record's own account
        activity = max(found.last_activity_at, self.activity.get(found.id, 0.0))
        action = timeout_action(found, now, activity)
        if action is None:
            return found
        try:
            return self.move(found.id, action.operation, reason=action.reason,
                             timeout=action)
        except HookCancelled as exc:
            logger.warning("a hook kept session %s from its timeout (%s): %s", found.id,
                           action.reason, exc)
            return found
        except SessionError:
            return self.read(found.id)  # moved by someone else meanwhile

    def refuse(self, found: Session | None, usage: Usage, verdict: Verdict) -> None:
        """Report the refusal (``resource:limit_exceeded``, ``session.limit_exceeded``) and
        raise RateLimitExceeded (every refusal a rate limit) or ResourceLimitExceeded."""
        refusals = [r.to_dict() for r in verdict.refusals]
        sid = found.id if found is not None else None
        data = {"session_id": sid, "kind": usage.kind, "refusals": refusals,
                "composition": self.policies.mode}
        self.refused(sid, data)
        where = f" in session {sid}" if sid else ""
        text = "; ".join(r.reason for r in verdict.refusals)
        rated = all(r.rate_limited for r in verdict.refusals)
        exc = (RateLimitExceeded if rated else ResourceLimitExceeded)(
            f"operation {usage.kind!r}{where} refused: {text}")
        exc.refusals = verdict.refusals  # type: ignore[attr-defined]
        raise exc


@dataclass
class CountInBatch:
    """An admitted operation whose count is written in the operation's own batch (a state
    write made while a session is current): one commit, and the write and its count can
    never be separated. The owner of that batch (``StateManager``, through its session
    check) calls :meth:`ops` on every attempt of the batch, then :meth:`finish` once, or
    :meth:`failed` when the batch raised.

    Args:
        enforcer: reports a refusal and counts an operation that wrote nothing.
        session_id, usage: what is counted.
        plan: ``plan(attempt) -> (ops, expect, result)``: the record put with the counters
            changed, under ``expect`` on the record read (raises Refused when the record
            as read refuses the usage).
        committed: ``committed(result)``: the batch holding ``plan``'s ops was written.
    """

    enforcer: PolicyEnforcer
    session_id: str
    usage: Usage
    plan: Callable[[int], tuple[list[Op], dict[str, bytes | None], Any]]
    committed: Callable[[Any], None]
    _attempt: int = field(default=0, init=False)
    _result: Any = field(default=None, init=False)
    _over: bool = field(default=False, init=False)

    def ops(self) -> tuple[list[Op], dict[str, bytes | None]]:
        """The counter's ops and conditions for one attempt of the batch (planned afresh on
        each: a lost race reads the record again). Raises Refused."""
        ops, expect, self._result = self.plan(self._attempt)
        self._attempt += 1
        return ops, expect

    def finish(self, written: bool) -> None:
        """The operation is over. ``written``: its batch, holding the count, committed;
        else it wrote nothing (a delete of an absent key, a compare that did not match)
        and is counted in a batch of its own, as an admitted operation always is. Nothing
        after :meth:`failed`."""
        if self._over:
            return
        self._over = True
        if written:
            self.committed(self._result)
        else:
            self.enforcer.count(self.session_id, self.usage, check=True)

    def failed(self, error: BaseException) -> None:
        """The batch raised ``error``: a refusal of the counters (Refused) is reported and
        raised as ResourceLimitExceeded; anything else is the caller's to raise. Nothing is
        counted."""
        self._over = True
        if isinstance(error, Refused):
            self.enforcer.refuse(error.session, self.usage, error.verdict)


class Refused(Exception):
    """A change refused by the limits of ``session`` (as the change saw it), not yet
    reported: the manager may re-read a cached record first (see ``SessionManager._update``)."""

    def __init__(self, session: Session, verdict: Verdict) -> None:
        super().__init__(session.id)
        self.session = session
        self.verdict = verdict


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
