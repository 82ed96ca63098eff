"""Session policies: timeouts, resource limits, rate limits, and how they compose.

Timeouts are not refusals but moves, applied whenever a session is touched (get, list, load,
an operation) and by ``SessionManager.sweep()``:

- idle: an active session with no activity for ``max_idle_time`` seconds is suspended (reason
  ``idle timeout``); the time it sat idle does not count as active time.
- duration: a session whose *active* time passes ``max_duration`` fails (reason
  ``max_duration exceeded``). Suspended time does not count, so a session suspended today
  and resumed tomorrow keeps the time it had left.

Every other policy is a plain callable ``policy(session, usage) -> Refusal | None`` run when
an operation asks to be admitted (``SessionManager.admit``). A policy may also have
``refund(session, usage)``, called when it allowed an operation that the composition then
refused (a rate limit gives its tokens back). The built-in ones are :class:`ResourceLimits`
(operations, tokens, cost, artifacts, artifact bytes) and
:class:`~llmspell.sessions.ratelimit.RateLimits`. They run in a :class:`PolicyChain` in one of
three compositions:

- ``sequential`` (the default): in order; the first refusal stops the chain and is reported.
- ``parallel``: all run; if any refuses, the operation is refused and every refusal reported.
- ``voting``: all run; the operation is refused when more policies refuse than allow (a tie
  allows); the refusals are reported either way, on ``Verdict.refusals``.

:class:`SessionSettings` is ``[session]`` (declared in :mod:`llmspell.config_schema`) as one
typed object, so the manager can also be built without a Config.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from llmspell.config_schema import default
from llmspell.errors import ValidationError
from llmspell.sessions.model import ACTIVE, Limits, Session
from llmspell.settings import from_config, setting

COMPOSITIONS = ("sequential", "parallel", "voting")


class Usage(NamedTuple):
    """What an operation will use: one operation of ``kind`` plus the amounts given.
    Immutable. (A named tuple, not a frozen dataclass: one is built per admission, settlement
    and artifact store, and a frozen dataclass's ``__init__`` costs ~1.7 us, five times as
    much.)"""

    kind: str = "operation"
    operations: int = 1
    tokens: int = 0
    cost: float = 0.0
    artifacts: int = 0
    artifact_bytes: int = 0
    #: The session's stored footprint (bytes) once the operation is done; 0: not measured
    #: (measured only for a session with a memory limit, by the operation that changes it).
    memory: int = 0


@dataclass(frozen=True, slots=True)
class Refusal:
    """A policy's reason to refuse an operation."""

    policy: str
    reason: str
    rate_limited: bool = False
    retry_after: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "reason": self.reason,
                "rate_limited": self.rate_limited, "retry_after": self.retry_after}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a composition: allowed or not, and every refusal that was given."""

    allowed: bool
    refusals: tuple[Refusal, ...] = ()


Policy = Callable[[Session | None, Usage], Refusal | None]


class ResourceLimits:
    """Refuses an operation that would take a session past one of its limits.

    A session's own ``limits`` win; what they leave unset comes from ``defaults`` (the
    ``[session] max_*`` settings).
    """

    name = "resource_limits"

    def __init__(self, defaults: Limits) -> None:
        self.defaults = defaults
        # No [session] max_* set (the usual case): a session's own limits are its effective
        # ones, and effective() is asked several times per counted call.
        self._empty = defaults if defaults == Limits() else None

    def effective(self, session: Session) -> Limits:
        """The limits that apply to ``session`` (read them; they may be its own object)."""
        own, base = session.limits, self.defaults
        if base is self._empty:
            return own
        return Limits(
            operations=own.operations or base.operations,
            tokens=own.tokens or base.tokens,
            cost=own.cost or base.cost,
            artifacts=own.artifacts or base.artifacts,
            artifact_bytes=own.artifact_bytes or base.artifact_bytes,
            memory=own.memory or base.memory,
        )

    def __call__(self, session: Session | None, usage: Usage) -> Refusal | None:
        if session is None:
            return None
        over = exceeded(self.effective(session), session.counters, usage)
        if not over:
            return None
        return Refusal(self.name, f"session {session.id} would exceed its limits: "
                       + "; ".join(over))


#: Counters every operation that adds to them asks for in full (see :func:`exceeded`).
_ASKED_IN_FULL = frozenset({"artifacts", "artifact_bytes"})


def exceeded(limits: Limits, used: Any, usage: Usage, *, asked_only: bool = False) -> list[str]:
    """Why ``usage`` would take a session whose counters are ``used`` past ``limits``: one
    reason per limit it would pass (empty: none). The one statement of the rule, for the
    policy chain and for an artifact store's check inside its batch (``asked_only``: check
    only the amounts ``usage`` asks for, not the limits already reached).

    An amount an operation does not ask for (tokens and cost, known only afterwards, are
    asked for as 0) refuses it once the session has reached that limit. Artifacts are always
    asked for in full (a store knows its count and bytes), so an operation that stores none is not
    refused by a full artifact limit: an agent call in a session that holds max_artifacts
    still runs; only the collection of its answer is refused. ``usage.memory`` is the
    footprint the session would have (0: not measured)."""
    over = []
    for name, wanted, limit in (("operations", usage.operations, limits.operations),
                                ("tokens", usage.tokens, limits.tokens),
                                ("cost", usage.cost, limits.cost),
                                ("artifacts", usage.artifacts, limits.artifacts),
                                ("artifact_bytes", usage.artifact_bytes,
                                 limits.artifact_bytes)):
        if limit is None or (asked_only and not wanted):
            continue
        now = getattr(used, name)
        if now + wanted > limit or (not wanted and now >= limit
                                    and name not in _ASKED_IN_FULL):
            over.append(f"{name} {_fmt(now)} + {_fmt(wanted)} = {_fmt(now + wanted)} "
                        f"> limit {_fmt(limit)}" if wanted else
                        f"{name} {_fmt(now)} has reached limit {_fmt(limit)}")
    if limits.memory is not None and usage.memory > limits.memory:
        over.append(f"memory: its stored footprint would be {usage.memory:,} bytes > "
                    f"limit {limits.memory:,}")
    return over


def _fmt(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class PolicyChain:
    """An ordered list of policies and the composition that combines their answers.

    Thread-safe: ``add``/``remove`` replace the tuple that ``evaluate`` reads.
    """

    def __init__(self, policies: list[Policy] | None = None, *,
                 mode: str = default("session.policy_composition")) -> None:
        self.mode = check_mode(mode)
        self._policies: tuple[Policy, ...] = tuple(policies or ())
        self._lock = threading.Lock()
        #: (policies, kind, mode, chain) of the last :meth:`without`.
        self._without: tuple[Any, ...] | None = None

    @property
    def policies(self) -> tuple[Policy, ...]:
        return self._policies

    def add(self, policy: Policy, *, first: bool = False) -> Policy:
        """Add ``policy`` at the end (or the front); returns it, for :meth:`remove`."""
        if not callable(policy):
            raise ValidationError("policy", "must be callable as policy(session, usage)",
                                  got=policy)
        with self._lock:
            self._policies = (policy, *self._policies) if first else (*self._policies, policy)
        return policy

    def remove(self, policy: Policy) -> bool:
        with self._lock:
            if policy not in self._policies:
                return False
            self._policies = tuple(p for p in self._policies if p is not policy)
            return True

    def without(self, kind: type) -> PolicyChain | None:
        """This chain without its policies of class ``kind``, under the same composition
        (None: no other policy), kept until the chain or its composition changes (an
        artifact store asks on every store: ~4k instructions each time it is built)."""
        policies, mode, kept = self._policies, self.mode, self._without
        if kept is not None and kept[0] is policies and kept[1] is kind and kept[2] == mode:
            chain: PolicyChain | None = kept[3]
            return chain
        others = [p for p in policies if not isinstance(p, kind)]
        chain = PolicyChain(others, mode=mode) if others else None
        self._without = (policies, kind, mode, chain)
        return chain

    def evaluate(self, session: Session | None, usage: Usage) -> Verdict:
        """Run the policies under the chain's composition (see the module docstring)."""
        allowed: list[Policy] = []
        refusals: list[Refusal] = []
        for policy in self._policies:
            refusal = policy(session, usage)
            if refusal is None:
                allowed.append(policy)
                continue
            refusals.append(refusal)
            if self.mode == "sequential":
                break
        refused = len(refusals) > len(allowed) if self.mode == "voting" else bool(refusals)
        if refused:
            for policy in allowed:
                refund = getattr(policy, "refund", None)
                if refund is not None:
                    refund(session, usage)
        return Verdict(not refused, tuple(refusals))


def check_mode(mode: object) -> str:
    if mode not in COMPOSITIONS:
        raise ValidationError("policy_composition", "must be one of " + ", ".join(COMPOSITIONS),
                              got=mode)
    return mode


@dataclass(frozen=True, slots=True)
class TimeoutAction:
    """What a timeout does to a session: ``suspend`` or ``fail``, why, and as of when."""

    operation: str
    reason: str
    at: float
    details: dict[str, Any] = field(default_factory=dict)


def timeout_action(session: Session, now: float, last_activity: float) -> TimeoutAction | None:
    """The move a timeout makes on ``session`` at ``now``, or None.

    ``last_activity`` is the latest activity known (the record's, or newer in this process).
    Duration wins over idleness: a session that ran out of time fails even if also idle.
    """
    if session.status != ACTIVE:
        return None
    idle_at = None
    if session.max_idle_time is not None and now - last_activity > session.max_idle_time:
        idle_at = last_activity + session.max_idle_time
    end = now if idle_at is None else max(idle_at, session.resumed_at or idle_at)
    if session.max_duration is not None:
        active = session.active_time(end)
        if active > session.max_duration:
            at = (session.resumed_at or now) + session.max_duration - session.active_seconds
            return TimeoutAction(
                "fail", f"max_duration exceeded: active for {active:.0f} s, limit "
                f"{session.max_duration:g} s", at,
                {"policy": "max_duration", "active_seconds": active,
                 "max_duration": session.max_duration})
    if idle_at is not None:
        return TimeoutAction(
            "suspend", f"idle timeout: no activity for {now - last_activity:.0f} s, limit "
            f"{session.max_idle_time:g} s", idle_at,
            {"policy": "max_idle_time", "idle_seconds": now - last_activity,
             "max_idle_time": session.max_idle_time})
    return None


@dataclass(frozen=True)
class SessionSettings:
    """Session behaviour. Zero (or None) limits and timeouts mean none. Each field defaults
    to the schema default of the key it is read from (``SessionSettings()`` is what a
    runtime with no config file uses)."""

    enabled: bool = setting("session.enabled")
    max_active_sessions: int = setting("session.max_active_sessions")
    idle_timeout_seconds: float = setting("session.idle_timeout_seconds")
    max_duration_seconds: float = setting("session.max_duration_seconds")
    max_operations: int = setting("session.max_operations")
    max_tokens: int = setting("session.max_tokens")
    max_cost: float = setting("session.max_cost")
    max_artifacts: int = setting("session.max_artifacts_per_session")
    max_artifact_bytes: int = setting("session.max_artifact_bytes")
    rate_limits: tuple[str, ...] = setting("session.rate_limits")
    rate_limit_mode: str = setting("session.rate_limit_mode")
    rate_limit_max_wait_seconds: float = setting("session.rate_limit_max_wait_seconds")
    policy_composition: str = setting("session.policy_composition")
    lease_seconds: float = setting("session.lease_seconds")
    journal_state_values: bool = setting("session.journal_state_values")
    journal_hooks: bool = setting("session.journal_hooks")
    journal_events: bool = setting("session.journal_events")
    redact_patterns: tuple[str, ...] = setting("state.redact_patterns")
    #: The largest encoded metadata of a session: the limit of every stored value.
    max_value_bytes: int = setting("state.max_value_bytes")

    @classmethod
    def from_config(cls, config: Any) -> SessionSettings:
        """Read ``[session]`` (and ``[state] redact_patterns``) from a :class:`Config`."""
        return from_config(cls, config)

    def default_limits(self) -> Limits:
        """The limits a session gets for what its own ``limits`` leave unset."""
        return Limits(
            operations=self.max_operations or None,
            tokens=self.max_tokens or None,
            cost=self.max_cost or None,
            artifacts=self.max_artifacts or None,
            artifact_bytes=self.max_artifact_bytes or None,
        )


def default_chain(settings: SessionSettings, clock: Any) -> PolicyChain:
    """The built-in chain: resource limits, then rate limits (when any are configured)."""
    from llmspell.sessions.ratelimit import RateLimits

    chain = PolicyChain([ResourceLimits(settings.default_limits())],
                        mode=settings.policy_composition)
    rates = RateLimits(settings.rate_limits, clock, mode=settings.rate_limit_mode,
                       max_wait=settings.rate_limit_max_wait_seconds)
    if rates:
        chain.add(rates)
    return chain
