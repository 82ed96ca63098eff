"""Policies: idle timeout and max_duration (on a manual clock, no sleeps), resource limits,
rate limits (wait and fail), and the three compositions."""

from __future__ import annotations

import pytest

from llmspell.errors import (
    RateLimitExceeded,
    ResourceLimitExceeded,
    SessionError,
    SessionExpired,
    ValidationError,
)
from llmspell.events import EventBus
from llmspell.hooks import HookRegistry, HookResult
from llmspell.sessions import (
    ManualClock,
    PolicyChain,
    RateLimits,
    Refusal,
    Session,
    SessionManager,
    SessionSettings,
    Usage,
)
from llmspell.sessions.model import Limits
from llmspell.sessions.policies import ResourceLimits
from llmspell.sessions.ratelimit import parse_rule
from llmspell.storage import open_store


def make(clock: ManualClock, **settings: object) -> SessionManager:
    return SessionManager(open_store("memory://"), clock=clock,
                          settings=SessionSettings(**settings))  # type: ignore[arg-type]


# -- timeouts ---------------------------------------------------------------------------------


def test_idle_timeout_suspends_and_idle_time_is_not_active_time(clock: ManualClock) -> None:
    manager = make(clock)
    made = manager.create("x", max_idle_time=120)
    clock.advance(100)
    assert manager.get(made).status == "active"
    manager.admit(made)  # activity: the idle clock starts again
    clock.advance(100)
    assert manager.get(made).status == "active"
    clock.advance(1000)
    idle = manager.get(made)
    assert idle.status == "suspended"
    assert idle.reason is not None and idle.reason.startswith("idle timeout")
    assert idle.active_seconds == pytest.approx(100 + 120)  # up to when it went idle
    entry = manager.journal.read(made.id)[-1]
    assert entry.kind == "session.suspended"
    assert entry.data["by"] == "policy" and entry.data["policy"] == "max_idle_time"
    with pytest.raises(SessionError, match=r"is suspended .*idle timeout.*; resume it first"):
        manager.admit(made, "agent.execute")
    assert manager.resume(made).status == "active"


def test_activity_seen_in_this_process_keeps_a_session_awake(clock: ManualClock) -> None:
    manager = make(clock)
    made = manager.create("x", max_idle_time=60)
    clock.advance(50)
    manager.touch(made.id)  # what a journaled state write does
    clock.advance(50)
    assert manager.get(made).status == "active"


def test_max_duration_fails_and_suspended_time_does_not_count(clock: ManualClock) -> None:
    manager = make(clock)
    made = manager.create("x", max_duration=3600)
    clock.advance(3000)
    manager.suspend(made)
    clock.advance(86400)  # suspended today, resumed tomorrow
    manager.resume(made)
    clock.advance(500)
    assert manager.get(made).status == "active"
    clock.advance(200)
    failed = manager.get(made)
    assert failed.status == "failed"
    assert failed.reason == "max_duration exceeded: active for 3700 s, limit 3600 s"
    assert failed.ended_at == pytest.approx(clock.now() - 100)  # when the limit was reached
    with pytest.raises(SessionExpired, match="max_duration exceeded"):
        manager.admit(made)


def test_duration_wins_over_idleness(clock: ManualClock) -> None:
    manager = make(clock)
    made = manager.create("x", max_duration=100, max_idle_time=50)
    clock.advance(500)
    assert manager.get(made).status == "suspended"  # went idle at 50 s, before 100 s
    made2 = manager.create("y", max_duration=100, max_idle_time=150)
    clock.advance(500)
    assert manager.get(made2).status == "failed"


def test_sweep_applies_timeouts_to_every_active_session(clock: ManualClock) -> None:
    manager = make(clock)
    idle = manager.create("idle", max_idle_time=10)
    long = manager.create("long", max_duration=10)
    manager.create("fine")
    clock.advance(20)
    assert sorted(manager.sweep()) == sorted([(idle.id, "suspended"), (long.id, "failed")])
    assert manager.sweep() == []


def test_a_hook_can_keep_a_session_from_its_timeout(clock: ManualClock) -> None:
    manager = make(clock)
    hooks = HookRegistry()
    hooks.register("session:suspend", lambda ctx: HookResult.cancel("keep it"))
    manager.hooks = hooks
    made = manager.create("x", max_idle_time=10)
    clock.advance(20)
    assert manager.get(made).status == "active"


# -- resource limits --------------------------------------------------------------------------


def test_limits_refuse_fire_the_hook_and_publish(clock: ManualClock) -> None:
    manager = make(clock, max_tokens=1000)
    hooks, bus = HookRegistry(), EventBus()
    exceeded: list[dict] = []
    hooks.register("resource:limit_exceeded", lambda ctx: exceeded.append(ctx.data))
    events = bus.subscribe("session.limit_exceeded")
    manager.hooks, manager.events = hooks, bus
    made = manager.create("x", limits={"operations": 3})
    for _ in range(3):
        manager.admit(made, "agent.execute")
    with pytest.raises(ResourceLimitExceeded) as caught:
        manager.admit(made, "agent.execute")
    assert not isinstance(caught.value, RateLimitExceeded)
    assert "operation 'agent.execute' in session" in str(caught.value)
    assert "operations 3 + 1 = 4 > limit 3" in str(caught.value)
    assert exceeded[0]["session_id"] == made.id
    assert exceeded[0]["refusals"][0]["policy"] == "resource_limits"
    assert events.receive(timeout=0) is not None
    assert manager.get(made).counters.operations == 3  # the refused one was not counted


def test_tokens_cost_and_artifact_bytes(clock: ManualClock) -> None:
    manager = make(clock)
    made = manager.create("x", limits={"tokens": 100, "cost": 1.0, "artifact_bytes": 1000})
    manager.admit(made, "agent.execute")
    manager.add_usage(made, tokens=120, cost=0.25)  # measured after the call: never refused
    assert manager.get(made).counters.tokens == 120
    with pytest.raises(ResourceLimitExceeded, match="tokens 120 has reached limit 100"):
        manager.admit(made, "agent.execute")
    other = manager.create("y", limits={"cost": 1.0, "artifact_bytes": 1000})
    manager.admit(other, "artifact.store", artifacts=1, artifact_bytes=900)
    with pytest.raises(ResourceLimitExceeded, match=r"artifact_bytes 900 \+ 200 = 1100"):
        manager.admit(other, "artifact.store", artifacts=1, artifact_bytes=200)
    with pytest.raises(ResourceLimitExceeded, match=r"cost 0 \+ 1\.5 = 1\.5 > limit 1"):
        manager.admit(other, cost=1.5)
    counters = manager.get(other).counters
    assert (counters.artifacts, counters.artifact_bytes, counters.operations) == (1, 900, 1)


def test_admit_uses_the_current_session(clock: ManualClock) -> None:
    manager = make(clock)
    assert manager.admit(kind="tool.execute") is None  # no session: nothing to count
    made = manager.create("x")
    with manager.current(made):
        manager.admit(kind="tool.execute")
        manager.add_usage(tokens=5)
    assert manager.get(made).counters.operations == 1
    assert manager.get(made).counters.tokens == 5


# -- rate limits ------------------------------------------------------------------------------


def test_rate_limit_fail_mode(clock: ManualClock) -> None:
    manager = make(clock, rate_limits=("session=2/s",), rate_limit_mode="fail")
    a, b = manager.create("a"), manager.create("b")
    manager.admit(a)
    manager.admit(a)
    with pytest.raises(RateLimitExceeded) as caught:
        manager.admit(a)
    assert "rate limit of 2/s (burst 2) reached; retry in 0.5 s" in str(caught.value)
    assert caught.value.refusals[0].retry_after == pytest.approx(0.5)  # type: ignore[attr-defined]
    manager.admit(b)  # another session has its own bucket
    clock.advance(0.5)
    manager.admit(a)


def test_rate_limit_wait_mode_sleeps_on_the_clock(clock: ManualClock) -> None:
    manager = make(clock, rate_limits=("global=10/s burst 1", "agent.execute=1/min"),
                   rate_limit_max_wait_seconds=30)
    made = manager.create("x")
    manager.admit(made, "tool.run")
    manager.admit(made, "tool.run")
    assert clock.slept == [pytest.approx(0.1)]
    manager.admit(made, "agent.execute")
    with pytest.raises(RateLimitExceeded, match=r"operation agent\.execute rate limit.*"
                                                r"rate_limit_max_wait_seconds=30"):
        manager.admit(made, "agent.execute.stream")  # a sub-kind shares the bucket
    assert manager.get(made).counters.operations == 3


def test_global_rate_limit_applies_without_a_session(clock: ManualClock) -> None:
    manager = make(clock, rate_limits=("global=1/hour",), rate_limit_mode="fail")
    manager.admit(kind="x")
    with pytest.raises(RateLimitExceeded, match="global rate limit"):
        manager.admit(kind="x")


@pytest.mark.parametrize("rule", ["global", "global=0/s", "global=5/fortnight", "=3/s",
                                  "session=1/s burst", 7])
def test_bad_rate_rules_are_named(rule: object) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_rule(rule, 2)
    assert caught.value.argument == "rate_limits" and caught.value.path == "[2]"


def test_rate_rule_forms() -> None:
    assert parse_rule("agent.execute=5/s burst 10") == ("agent.execute", 5.0, 10.0)
    assert parse_rule(" session = 30 / min ") == ("session", 0.5, 30.0)
    assert parse_rule("global=1/hour") == ("global", 1 / 3600, 1.0)


# -- composition ------------------------------------------------------------------------------


def _policy(name: str, refuse: bool, calls: list[str]):  # type: ignore[no-untyped-def]
    def policy(session: Session | None, usage: Usage) -> Refusal | None:
        calls.append(name)
        return Refusal(name, f"{name} says no") if refuse else None
    return policy


def test_sequential_stops_at_the_first_refusal() -> None:
    calls: list[str] = []
    chain = PolicyChain([_policy("a", False, calls), _policy("b", True, calls),
                         _policy("c", True, calls)])
    verdict = chain.evaluate(None, Usage())
    assert not verdict.allowed and [r.policy for r in verdict.refusals] == ["b"]
    assert calls == ["a", "b"]


def test_parallel_reports_every_refusal() -> None:
    calls: list[str] = []
    chain = PolicyChain([_policy("a", True, calls), _policy("b", False, calls),
                         _policy("c", True, calls)], mode="parallel")
    verdict = chain.evaluate(None, Usage())
    assert not verdict.allowed and [r.policy for r in verdict.refusals] == ["a", "c"]
    assert calls == ["a", "b", "c"]


@pytest.mark.parametrize(("refusing", "allowed"), [
    ((True, True, False), False), ((True, False, False), True), ((True, False), True),
    ((False, False), True), ((True,), False)])
def test_voting_a_majority_decides_and_a_tie_allows(refusing: tuple[bool, ...],
                                                   allowed: bool) -> None:
    calls: list[str] = []
    chain = PolicyChain([_policy(str(i), r, calls) for i, r in enumerate(refusing)],
                        mode="voting")
    verdict = chain.evaluate(None, Usage())
    assert verdict.allowed is allowed
    assert len(verdict.refusals) == sum(refusing)  # reported either way


def test_a_refused_operation_gives_its_rate_tokens_back(clock: ManualClock) -> None:
    rates = RateLimits(["global=1/hour"], clock, mode="fail")
    calls: list[str] = []
    chain = PolicyChain([rates, _policy("no", True, calls)], mode="parallel")
    assert not chain.evaluate(None, Usage()).allowed
    assert PolicyChain([rates]).evaluate(None, Usage()).allowed  # the token was returned


def test_composition_from_settings_and_custom_policies(clock: ManualClock) -> None:
    manager = make(clock, policy_composition="parallel", max_operations=1)
    manager.policies.add(lambda session, usage: Refusal("office_hours", "closed")
                         if usage.kind == "agent.execute" else None)
    made = manager.create("x")
    manager.admit(made, "tool.run")
    with pytest.raises(ResourceLimitExceeded) as caught:
        manager.admit(made, "agent.execute")
    text = str(caught.value)
    assert "operations 1 + 1 = 2 > limit 1" in text and "closed" in text
    with pytest.raises(ValidationError, match="policy_composition"):
        PolicyChain(mode="majority")


def test_effective_limits_are_the_sessions_own_unless_defaults_fill_them_in() -> None:
    session = Session("s1", "", "active", 0.0, 0.0, limits=Limits(tokens=10))
    plain = ResourceLimits(Limits())
    assert plain.effective(session) == Limits(tokens=10)
    filled = ResourceLimits(Limits(tokens=99, cost=2.5))
    assert filled.effective(session) == Limits(tokens=10, cost=2.5)
    assert session.limits == Limits(tokens=10)  # never changed
