"""Firing hooks: every result kind, failures, required hooks, the circuit breaker, handles."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from llmspell.errors import HookCancelled, HookError, ResourceLimitExceeded, ValidationError
from llmspell.events import EventBus, capture_events
from llmspell.hooks import BreakerPolicy, HookContext, HookRegistry, HookResult
from llmspell.sessions import ManualClock


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def hooks(bus: EventBus) -> HookRegistry:
    return HookRegistry(publish=bus.publish, breaker=BreakerPolicy(failure_threshold=3,
                                                                   cooldown=None))


# -- results --------------------------------------------------------------------------------


@pytest.mark.parametrize("result", [None, True, "continue", {"continue_execution": True},
                                    {"action": "continue"}, {"type": "continue"},
                                    HookResult.proceed()])
def test_continue_in_every_spelling_leaves_data_alone(hooks: HookRegistry, result: Any) -> None:
    hooks.register("state:before_write", lambda ctx: result)
    outcome = hooks.fire("state:before_write", {"value": 1})
    assert (outcome.action, outcome.data) == ("continue", {"value": 1})


@pytest.mark.parametrize("result", [{"action": "modified", "data": {"value": 2}},
                                    {"type": "modified", "data": {"value": 2}},
                                    HookResult.modified({"value": 2})])
def test_modified_replaces_the_data_for_later_hooks_and_the_caller(
    hooks: HookRegistry, result: Any
) -> None:
    seen = []
    hooks.register("state:before_write", lambda ctx: result, priority="high")
    hooks.register("state:before_write", lambda ctx: seen.append(ctx.data))
    outcome = hooks.fire("state:before_write", {"value": 1})
    assert seen == [{"value": 2}]
    assert (outcome.action, outcome.data) == ("modified", {"value": 2})


def test_assigning_ctx_data_is_a_modification_too(hooks: HookRegistry) -> None:
    def double(ctx: HookContext) -> None:
        ctx.data = ctx.data * 2

    hooks.register("custom:x", double)
    hooks.register("custom:x", double)
    assert hooks.fire("custom:x", 3).data == 12


@pytest.mark.parametrize(("result", "reason"), [
    ({"action": "cancel", "reason": "too big"}, "too big"),
    ({"continue_execution": False, "reason": "too big"}, "too big"),
    (HookResult.cancel("too big"), "too big"),
    (False, "hook returned false"),
    ("cancel", "no reason given"),
])
def test_cancel_reaches_the_caller_as_hook_cancelled_with_the_reason(
    hooks: HookRegistry, result: Any, reason: str
) -> None:
    later = []

    def guard(ctx: HookContext) -> Any:
        return result

    hooks.register("BeforeStateWrite", guard, priority="high")
    hooks.register("state:before_write", lambda ctx: later.append(1))
    with pytest.raises(HookCancelled) as caught:
        hooks.fire("state:before_write", {"value": 1})
    assert caught.value.reason == reason
    assert caught.value.point == "state:before_write"
    assert caught.value.hook == "guard"
    assert reason in str(caught.value) and "guard" in str(caught.value)
    assert later == []


def test_a_python_hook_may_raise_hook_cancelled_itself(hooks: HookRegistry) -> None:
    def refuse(ctx: HookContext) -> None:
        raise HookCancelled(ctx.point, "not today")

    hooks.register("tool:before_execution", refuse)
    with pytest.raises(HookCancelled, match="not today"):
        hooks.fire("tool:before_execution", {})
    assert hooks.list()[0].failures == 0  # a cancel is not a failure


@pytest.mark.parametrize(("result", "delay", "attempts"), [
    ({"action": "retry", "delay": 0.5, "attempts": 4}, 0.5, 4),
    ({"type": "retry", "delay_ms": 250, "max_attempts": 2}, 0.25, 2),
    ({"action": "retry"}, 1.0, 3),
    (HookResult.retry(0.0, 5), 0.0, 5),
])
def test_retry_stops_the_chain_and_tells_the_caller_how(
    hooks: HookRegistry, result: Any, delay: float, attempts: int
) -> None:
    later = []
    hooks.register("agent:error", lambda ctx: result, priority="high")
    hooks.register("agent:error", lambda ctx: later.append(1))
    outcome = hooks.fire("agent:error", {"error": "boom"})
    assert outcome.retry and (outcome.delay, outcome.attempts) == (delay, attempts)
    assert outcome.to_dict() == {"action": "retry", "data": {"error": "boom"}, "delay": delay,
                                 "attempts": attempts}
    assert later == []


@pytest.mark.parametrize("result", [{"action": "skip", "result": "cached"},
                                    {"type": "skipped", "result": "cached"},
                                    HookResult.skip("cached")])
def test_skip_stops_the_chain_and_carries_a_stand_in_result(
    hooks: HookRegistry, result: Any
) -> None:
    later = []
    hooks.register("tool:before_execution", lambda ctx: result, priority="high")
    hooks.register("tool:before_execution", lambda ctx: later.append(1))
    outcome = hooks.fire("tool:before_execution", {"input": 1})
    assert outcome.skipped and outcome.result == "cached" and outcome.data == {"input": 1}
    assert later == []


@pytest.mark.parametrize("result", [42, "explode", {"data": 1}, {"action": "redirect"},
                                    {"action": "modified"}, {"action": "retry", "delay": -1},
                                    {"action": "retry", "attempts": 0},
                                    {"action": "cancel", "reason": "x", "extra": 1}])
def test_an_unusable_result_is_reported_and_the_operation_goes_on(
    hooks: HookRegistry, bus: EventBus, result: Any
) -> None:
    hooks.register("custom:x", lambda ctx: result, name="odd")
    with capture_events(bus, "hook.*") as events:
        outcome = hooks.fire("custom:x", 1)
    assert outcome.data == 1
    assert events.types == ["hook.error"]
    assert events[0].data["error_type"] == "ValidationError"
    assert "a hook must return" in events[0].data["error"] or "result" in events[0].data["error"]


# -- failures ---------------------------------------------------------------------------------


def test_a_raising_hook_is_reported_and_does_not_break_the_operation(
    hooks: HookRegistry, bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(ctx: HookContext) -> None:
        raise KeyError("missing")

    later = []
    hooks.register("session:start", broken, priority="high")
    hooks.register("session:start", lambda ctx: later.append(ctx.data))
    with capture_events(bus, "hook.error") as events, caplog.at_level(logging.WARNING):
        outcome = hooks.fire("session:start", {"id": "s1"}, session_id="s1",
                             correlation_id="c1")
    assert outcome.data == {"id": "s1"} and later == [{"id": "s1"}]
    [event] = events
    assert event.data["point"] == "session:start" and event.data["hook"] == "broken"
    assert event.data["error_type"] == "KeyError" and event.data["failures"] == 1
    assert (event.session_id, event.correlation_id, event.source) == ("s1", "c1", "hooks")
    [record] = [r for r in caplog.records if r.name == "llmspell.hooks"]
    assert "broken" in record.getMessage() and "session:start" in record.getMessage()


def test_a_required_hook_that_raises_fails_the_operation_naming_point_and_hook(
    hooks: HookRegistry,
) -> None:
    def audit(ctx: HookContext) -> None:
        raise OSError("audit log unavailable")

    later = []
    hooks.register("state:before_write", audit, required=True, priority="high")
    hooks.register("state:before_write", lambda ctx: later.append(1))
    with pytest.raises(HookError) as caught:
        hooks.fire("state:before_write", {})
    assert caught.value.point == "state:before_write" and caught.value.hook == "audit"
    assert "audit log unavailable" in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)
    assert later == []


def test_a_failing_publisher_does_not_break_the_operation(caplog: pytest.LogCaptureFixture) -> None:
    def publish(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("bus down")

    hooks = HookRegistry(publish=publish)
    hooks.register("custom:x", lambda ctx: 1 / 0)
    with caplog.at_level(logging.ERROR):
        assert hooks.fire("custom:x", 5).data == 5
    assert any("could not publish 'hook.error'" in r.getMessage() for r in caplog.records)


# -- circuit breaker --------------------------------------------------------------------------


def _flaky(failures: list[bool]) -> Any:
    """A hook that fails while ``failures`` says so (True = fail)."""
    calls = []

    def hook(ctx: HookContext) -> None:
        calls.append(1)
        if failures and failures.pop(0):
            raise RuntimeError("flaky")

    hook.calls = calls  # type: ignore[attr-defined]
    return hook


def test_the_breaker_opens_after_consecutive_failures_and_says_so(
    hooks: HookRegistry, bus: EventBus
) -> None:
    hook = _flaky([True] * 10)
    handle = hooks.register("tool:after_execution", hook)
    others = []
    hooks.register("tool:after_execution", lambda ctx: others.append(1))
    with capture_events(bus, "hook.circuit_*") as events:
        for _ in range(5):
            hooks.fire("tool:after_execution", {})
    assert len(hook.calls) == 3 and handle.state == "open" and len(others) == 5
    [event] = events
    assert event.type == "hook.circuit_opened"
    assert event.data["hook_id"] == handle.id and "3 consecutive failures" in event.data["reason"]
    assert hooks.list(state="open") == [handle]


def test_a_hook_that_keeps_returning_nonsense_is_disabled_too(hooks: HookRegistry) -> None:
    handle = hooks.register("custom:x", lambda ctx: {"action": "explode"})
    for _ in range(4):
        assert hooks.fire("custom:x", 1).data == 1
    assert handle.state == "open" and handle.errors == 3


def test_a_clean_call_resets_the_failure_count(hooks: HookRegistry) -> None:
    hook = _flaky([True, True, False, True, True, False])
    handle = hooks.register("custom:x", hook)
    for _ in range(6):
        hooks.fire("custom:x")
    assert handle.state == "closed" and handle.errors == 4 and handle.failures == 0


def test_enable_closes_an_open_circuit(hooks: HookRegistry, bus: EventBus) -> None:
    hook = _flaky([True, True, True])
    handle = hooks.register("custom:x", hook)
    for _ in range(3):
        hooks.fire("custom:x")
    assert handle.state == "open"
    with capture_events(bus, "hook.circuit_*") as events:
        handle.enable()
        hooks.fire("custom:x")
    assert handle.state == "closed" and len(hook.calls) == 4
    assert events.types == ["hook.circuit_closed"]


def test_after_the_cooldown_one_probe_call_closes_or_reopens(bus: EventBus) -> None:
    clock = ManualClock()
    hooks = HookRegistry(publish=bus.publish, clock=clock.now,
                         breaker=BreakerPolicy(failure_threshold=2, cooldown=60))
    hook = _flaky([True, True, True, False])
    handle = hooks.register("custom:x", hook)
    with capture_events(bus, "hook.circuit_*") as events:
        hooks.fire("custom:x")
        hooks.fire("custom:x")
        assert handle.state == "open"
        clock.advance(59.9)
        hooks.fire("custom:x")  # still cooling down: not called
        assert len(hook.calls) == 2
        clock.advance(0.1)
        hooks.fire("custom:x")  # probe fails: open again
        assert handle.state == "open" and len(hook.calls) == 3
        clock.advance(59.9)
        hooks.fire("custom:x")  # a new cool-down, from the probe's failure
        assert len(hook.calls) == 3
        clock.advance(0.1)
        hooks.fire("custom:x")  # probe succeeds: closed
    assert handle.state == "closed" and len(hook.calls) == 4
    assert events.types == ["hook.circuit_opened", "hook.circuit_half_open",
                            "hook.circuit_opened", "hook.circuit_half_open",
                            "hook.circuit_closed"]


def test_overrunning_the_time_budget_counts_towards_the_breaker(bus: EventBus) -> None:
    clock = ManualClock()
    hooks = HookRegistry(publish=bus.publish, clock=clock.now,
                         breaker=BreakerPolicy(failure_threshold=3, cooldown=None))
    results = []

    def slow(ctx: HookContext) -> dict[str, Any]:
        clock.advance(float(ctx.metadata["takes"]))
        return {"action": "modified", "data": "slow answer"}

    handle = hooks.register("custom:x", slow, time_budget=1.0)
    with capture_events(bus, "hook.circuit_opened") as events:
        assert hooks.fire("custom:x", "input", metadata={"takes": 1.0}).data == "slow answer"
        assert handle.overruns == 0  # exactly the budget is within it
        for _ in range(4):
            results.append(hooks.fire("custom:x", "input", metadata={"takes": 1.5}).data)
    assert results == ["slow answer"] * 3 + ["input"]  # an overrun's result still counts
    assert handle.overruns == 3 and handle.state == "open"
    assert "overruns" in events[0].data["reason"]


def test_a_required_hook_is_never_disabled(hooks: HookRegistry) -> None:
    handle = hooks.register("custom:x", lambda ctx: 1 / 0, required=True)
    for _ in range(5):
        with pytest.raises(HookError):
            hooks.fire("custom:x")
    assert handle.state == "closed" and handle.errors == 5


# -- registry ---------------------------------------------------------------------------------


def test_unregister_by_handle_or_id(hooks: HookRegistry) -> None:
    calls = []
    first = hooks.register("custom:x", lambda ctx: calls.append("first"))
    second = hooks.register("custom:x", lambda ctx: calls.append("second"))
    assert first.unregister() is True and first.unregister() is False
    assert hooks.unregister(second.id) is True and hooks.unregister(second.id) is False
    hooks.fire("custom:x")
    assert calls == [] and hooks.list() == [] and first.state == "unregistered"
    assert not hooks.has("custom:x")


def test_list_all_by_point_and_by_filter(hooks: HookRegistry) -> None:
    def audit(ctx: HookContext) -> None: ...

    a = hooks.register("agent:before_execution", audit, priority="low")
    b = hooks.register("BeforeAgentExecution", lambda ctx: None, name="gate", priority="high")
    c = hooks.register("tool:error", audit)
    d = hooks.register("custom:x", audit, required=True)
    assert hooks.list() == [b, a, c, d]
    assert hooks.list("agent:before_execution") == [b, a]
    assert hooks.list(name="audit") == [a, c, d]
    assert hooks.list(where=lambda h: h.required) == [d]
    assert b.to_dict()["name"] == "gate" and b.to_dict()["point"] == "agent:before_execution"
    assert hooks.get(c.id) is c
    with pytest.raises(ValidationError, match="hook_id"):
        hooks.get("hook-999")


def test_disable_and_enable_by_hand(hooks: HookRegistry) -> None:
    calls = []
    handle = hooks.register("custom:x", lambda ctx: calls.append(1))
    hooks.disable(handle)
    hooks.fire("custom:x")
    assert calls == [] and not hooks.has("custom:x")
    hooks.enable(handle.id)
    hooks.fire("custom:x")
    assert calls == [1] and hooks.has("custom:x")


def test_has_tells_a_hot_path_whether_to_build_the_data() -> None:
    hooks = HookRegistry()
    assert not hooks.has("state:before_write") and not hooks.has("BeforeStateWrite")
    hooks.register("state:before_write", lambda ctx: None)
    assert hooks.has("state:before_write") and hooks.has("BeforeStateWrite")


def test_user_names_at_leaves_out_llmspells_own_hooks_and_follows_changes() -> None:
    hooks = HookRegistry()
    assert hooks.user_names_at("agent:after_execution") == ()
    hooks.register("agent:after_execution", lambda ctx: None, name="artifact-collector:agent")
    assert hooks.user_names_at("AfterAgentExecution") == ()
    mine = hooks.register("agent:after_execution", lambda ctx: None, name="audit",
                          priority="high")
    hooks.register("agent:after_execution", lambda ctx: None, name="late", priority="low")
    assert hooks.user_names_at("agent:after_execution") == ("audit", "late")
    hooks.disable(mine)  # registered still: listed whatever its state
    assert hooks.user_names_at("agent:after_execution") == ("audit", "late")
    mine.unregister()
    assert hooks.user_names_at("agent:after_execution") == ("late",)
    with pytest.raises(ValidationError, match="point"):
        hooks.user_names_at("agent:no_such_point")


def test_the_context_carries_what_the_caller_gave(hooks: HookRegistry) -> None:
    seen: list[dict[str, Any]] = []
    hooks.register("ToolError", lambda ctx: seen.append(ctx.to_dict()))
    hooks.fire("tool:error", {"e": 1}, component="calculator", correlation_id="c9",
               session_id="s2", metadata={"attempt": 2})
    assert seen == [{"point": "tool:error", "component": "calculator", "correlation_id": "c9",
                     "session_id": "s2", "data": {"e": 1}, "metadata": {"attempt": 2}}]


def test_bad_registrations_are_refused() -> None:
    hooks = HookRegistry(max_hooks=1)
    with pytest.raises(ValidationError, match="fn"):
        hooks.register("custom:x", "not callable")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="time_budget"):
        hooks.register("custom:x", lambda ctx: None, time_budget=-1)
    hooks.register("custom:x", lambda ctx: None)
    with pytest.raises(ResourceLimitExceeded, match="max_hooks"):
        hooks.register("custom:x", lambda ctx: None)


def test_registering_and_firing_from_many_threads(hooks: HookRegistry) -> None:
    counts = [0] * 8
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            def hook(ctx: HookContext) -> dict[str, Any]:
                with lock:
                    counts[i] += 1
                return {"action": "modified", "data": ctx.data + 1}

            for _ in range(50):
                handle = hooks.register("custom:shared", hook)
                assert hooks.fire("custom:shared", 0).data >= 1
                handle.unregister()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(c >= 50 for c in counts)
    assert hooks.list() == [] and hooks.fire("custom:shared", 0).data == 0



def test_executed_only_observers_see_only_firings_where_hooks_ran() -> None:
    registry = HookRegistry()
    seen: list[str] = []
    observer = registry.observe(lambda ctx, action, elapsed: seen.append(ctx.point),
                                executed_only=True)
    assert not registry.has("state:before_write")  # points with no hooks stay free
    registry.fire("state:before_write", {"x": 1})
    registry.register("tool:before_execution", lambda ctx: None)
    registry.fire("tool:before_execution", {})
    assert seen == ["tool:before_execution"]
    assert registry.unobserve(observer)
    registry.fire("tool:before_execution", {})
    assert seen == ["tool:before_execution"]
    assert not registry.unobserve(observer)
