"""Built-in hooks: logging, metrics and cost/token tracking, each turned on by one call."""

from __future__ import annotations

import logging

import pytest

from llmspell.errors import HookCancelled, ValidationError
from llmspell.hooks import CostTracker, HookMetrics, HookRegistry


def test_the_logging_hook_logs_every_point_fired(caplog: pytest.LogCaptureFixture) -> None:
    hooks = HookRegistry()
    hooks.enable_builtin("logging", level=logging.INFO)
    hooks.register("tool:before_execution", lambda ctx: {"action": "skip"})
    with caplog.at_level(logging.INFO, logger="llmspell.hooks.fired"):
        hooks.fire("session:start", session_id="s1")  # nothing registered: logged all the same
        hooks.fire("tool:before_execution", component="calculator")
        hooks.fire("custom:report")
    messages = [r.getMessage() for r in caplog.records if r.name == "llmspell.hooks.fired"]
    assert len(messages) == 3
    assert "session:start: continue" in messages[0] and "session=s1" in messages[0]
    assert "tool:before_execution: skip" in messages[1] and "calculator" in messages[1]
    assert "custom:report" in messages[2]


def test_metrics_count_and_time_every_point() -> None:
    hooks = HookRegistry()
    metrics = hooks.enable_builtin("metrics")
    assert isinstance(metrics, HookMetrics) and hooks.builtin("metrics") is metrics
    hooks.register("state:before_write", lambda ctx: {"action": "cancel", "reason": "no"})
    for _ in range(3):
        hooks.fire("state:after_write")
    with pytest.raises(HookCancelled):
        hooks.fire("BeforeStateWrite")
    snapshot = metrics.snapshot()
    assert snapshot["state:after_write"]["count"] == 3
    assert snapshot["state:after_write"]["actions"] == {"continue": 3}
    assert snapshot["state:before_write"]["actions"] == {"cancel": 1}
    for entry in snapshot.values():
        assert 0 <= entry["mean_s"] <= entry["max_s"] <= entry["total_s"]
    metrics.reset()
    assert metrics.snapshot() == {}


def test_turning_a_builtin_off_stops_it_and_turning_it_on_twice_is_one_hook() -> None:
    hooks = HookRegistry()
    metrics = hooks.enable_builtin("metrics")
    assert hooks.enable_builtin("metrics") is metrics
    hooks.fire("custom:x")
    assert hooks.disable_builtin("metrics") is True and hooks.disable_builtin("metrics") is False
    hooks.fire("custom:x")
    assert metrics.snapshot()["custom:x"]["count"] == 1
    assert not hooks.has("custom:x") and not hooks.has("session:start")


def test_an_unknown_builtin_is_refused() -> None:
    with pytest.raises(ValidationError, match="cost, logging, metrics"):
        HookRegistry().enable_builtin("tracing")


def test_the_cost_tracker_sums_tokens_and_cost_per_session_and_in_total() -> None:
    hooks = HookRegistry()
    cost = hooks.enable_builtin("cost")
    assert isinstance(cost, CostTracker)
    hooks.fire("agent:after_execution", {"tokens": 120, "cost": 0.002}, session_id="s1")
    hooks.fire("AfterAgentExecution", {"usage": {"input_tokens": 10, "output_tokens": 5}},
               session_id="s1")
    hooks.fire("agent:after_execution", {"usage": {"total_tokens": 40, "cost": 0.01}},
               session_id="s2")
    hooks.fire("agent:after_execution", {"usage": {"prompt_tokens": 1, "completion_tokens": 2}})
    hooks.fire("agent:before_execution", {"tokens": 999}, session_id="s1")  # not watched
    hooks.fire("agent:after_execution", "no usage here", session_id="s1")
    assert cost.session("s1") == {"tokens": 135, "cost": 0.002, "calls": 2}
    assert cost.session("s2") == {"tokens": 40, "cost": 0.01, "calls": 1}
    assert cost.session("nobody") == {"tokens": 0, "cost": 0.0, "calls": 0}
    total = cost.totals()
    assert total["tokens"] == 178 and total["calls"] == 4
    assert total["cost"] == pytest.approx(0.012)
    assert set(cost.snapshot()["sessions"]) == {"s1", "s2"}


def test_the_cost_tracker_reads_the_data_after_hooks_changed_it_and_takes_direct_reports() -> None:
    hooks = HookRegistry()
    cost = hooks.enable_builtin("cost", points=["custom:llm_call"])
    hooks.register("custom:llm_call", lambda ctx: {"action": "modified", "data": {"tokens": 7}})
    hooks.fire("custom:llm_call", {"tokens": 1}, session_id="s1")
    cost.record(tokens=3, cost=0.5, session_id="s1")
    assert cost.session("s1") == {"tokens": 10, "cost": 0.5, "calls": 2}
