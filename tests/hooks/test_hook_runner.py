"""``HookRegistry.run``: how an operation honours skip, retry, modified and cancel."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.errors import HookCancelled, ValidationError
from llmspell.hooks import HookContext, HookRegistry

BEFORE, AFTER, ERROR = "tool:before_execution", "tool:after_execution", "tool:error"


class Tool:
    """An operation that records its calls and fails the first ``failures`` times."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[Any] = []
        self.failures = failures

    def __call__(self, data: Any) -> Any:
        self.calls.append(data)
        if len(self.calls) <= self.failures:
            raise ConnectionError(f"attempt {len(self.calls)} failed")
        return {"answer": data["x"] * 10}


def run(hooks: HookRegistry, tool: Tool, data: Any = None) -> Any:
    return hooks.run(BEFORE, data if data is not None else {"x": 1}, tool, after=AFTER,
                     error=ERROR, component="calc")


def test_with_no_hooks_the_operation_just_runs() -> None:
    tool = Tool()
    assert run(HookRegistry(), tool) == {"answer": 10} and tool.calls == [{"x": 1}]


def test_the_operation_receives_modified_data() -> None:
    hooks = HookRegistry()
    hooks.register(BEFORE, lambda ctx: {"action": "modified", "data": {"x": 7}})
    tool = Tool()
    assert run(hooks, tool) == {"answer": 70} and tool.calls == [{"x": 7}]


def test_skip_before_means_the_operation_does_not_run() -> None:
    hooks = HookRegistry()
    after = []
    hooks.register(BEFORE, lambda ctx: {"action": "skip", "result": {"answer": "cached"}})
    hooks.register(AFTER, lambda ctx: after.append(1))
    tool = Tool()
    assert run(hooks, tool) == {"answer": "cached"}
    assert tool.calls == [] and after == []


def test_cancel_before_fails_the_call_and_the_operation_does_not_run() -> None:
    hooks = HookRegistry()
    hooks.register(BEFORE, lambda ctx: {"action": "cancel", "reason": "quota used up"})
    tool = Tool()
    with pytest.raises(HookCancelled, match="quota used up"):
        run(hooks, tool)
    assert tool.calls == []


def test_retry_before_waits_and_asks_the_before_hooks_again() -> None:
    hooks = HookRegistry()
    answers = [{"action": "retry", "delay": 0, "attempts": 3}, None]
    hooks.register(BEFORE, lambda ctx: answers.pop(0))
    tool = Tool()
    assert run(hooks, tool) == {"answer": 10} and len(tool.calls) == 1


def test_a_before_hook_that_keeps_asking_to_retry_fails_the_call_after_its_attempts() -> None:
    hooks = HookRegistry()
    seen = []

    def busy(ctx: HookContext) -> dict[str, Any]:
        seen.append(ctx.metadata["attempt"])
        return {"action": "retry", "delay": 0, "attempts": 3}

    hooks.register(BEFORE, busy)
    tool = Tool()
    with pytest.raises(HookCancelled) as caught:
        run(hooks, tool)
    assert seen == [1, 2, 3] and tool.calls == []
    assert caught.value.point == BEFORE and "3 of 3 attempts" in caught.value.reason


def test_an_error_hook_can_retry_a_failing_operation() -> None:
    hooks = HookRegistry()
    errors = []

    def retry_connection_errors(ctx: HookContext) -> Any:
        errors.append((ctx.data["error_type"], ctx.data["error"], ctx.metadata["attempt"]))
        return {"action": "retry", "delay": 0, "attempts": 3}

    hooks.register(ERROR, retry_connection_errors)
    tool = Tool(failures=2)
    assert run(hooks, tool) == {"answer": 10} and len(tool.calls) == 3
    assert errors == [("ConnectionError", "attempt 1 failed", 1),
                      ("ConnectionError", "attempt 2 failed", 2)]


def test_when_error_retries_run_out_the_operations_own_error_is_raised() -> None:
    hooks = HookRegistry()
    hooks.register(ERROR, lambda ctx: {"action": "retry", "delay": 0, "attempts": 2})
    tool = Tool(failures=5)
    with pytest.raises(ConnectionError, match="attempt 2 failed"):
        run(hooks, tool)
    assert len(tool.calls) == 2


def test_an_error_hook_that_does_not_retry_lets_the_error_through() -> None:
    hooks = HookRegistry()
    seen = []
    hooks.register(ERROR, lambda ctx: seen.append(ctx.data["input"]))
    with pytest.raises(ConnectionError):
        run(hooks, Tool(failures=1))
    assert seen == [{"x": 1}]


def test_an_error_hook_can_turn_the_failure_into_a_cancel() -> None:
    hooks = HookRegistry()
    hooks.register(ERROR, lambda ctx: {"action": "cancel", "reason": "network is down"})
    with pytest.raises(HookCancelled, match="network is down") as caught:
        run(hooks, Tool(failures=1))
    assert isinstance(caught.value.__context__, ConnectionError)


def test_after_hooks_see_the_result_and_can_replace_it() -> None:
    hooks = HookRegistry()
    seen = []

    def round_up(ctx: HookContext) -> Any:
        seen.append((ctx.data, ctx.metadata["input"], ctx.metadata["attempt"], ctx.component))
        return {"action": "modified", "data": {"answer": ctx.data["answer"] + 1}}

    hooks.register(AFTER, round_up)
    assert run(hooks, Tool()) == {"answer": 11}
    assert seen == [({"answer": 10}, {"x": 1}, 1, "calc")]


def test_an_after_hook_can_reject_a_result_and_have_the_operation_run_again() -> None:
    hooks = HookRegistry()
    hooks.register(BEFORE, lambda ctx: {"action": "modified",
                                        "data": {"x": ctx.metadata["attempt"]}})
    hooks.register(AFTER, lambda ctx: {"action": "retry", "delay": 0, "attempts": 5}
                   if ctx.data["answer"] < 30 else None)
    tool = Tool()
    assert run(hooks, tool) == {"answer": 30} and tool.calls == [{"x": 1}, {"x": 2}, {"x": 3}]


def test_an_after_hook_rejecting_every_result_fails_the_call() -> None:
    hooks = HookRegistry()
    hooks.register(AFTER, lambda ctx: {"action": "retry", "delay": 0, "attempts": 2})
    tool = Tool()
    with pytest.raises(HookCancelled, match="2 of 2 attempts") as caught:
        run(hooks, tool)
    assert caught.value.point == AFTER and len(tool.calls) == 2


def test_metadata_is_shared_by_the_before_after_and_error_hooks_of_one_call() -> None:
    hooks = HookRegistry()
    hooks.register(BEFORE, lambda ctx: ctx.metadata.setdefault("started", "yes") and None)
    seen = []
    hooks.register(AFTER, lambda ctx: seen.append(ctx.metadata["started"]))
    hooks.run(BEFORE, {"x": 1}, Tool(), after=AFTER, metadata={"caller": "me"})
    assert seen == ["yes"]


def test_run_validates_point_names() -> None:
    with pytest.raises(ValidationError, match="point"):
        HookRegistry().run("tool:before", {"x": 1}, Tool())
