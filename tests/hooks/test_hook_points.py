"""Hook point names, aliases, custom points and priorities, as a user registering sees them."""

from __future__ import annotations

import pytest

from llmspell.errors import ValidationError
from llmspell.hooks import CANONICAL, POINTS, HookRegistry

DESIGN_POINTS = [
    "system:startup", "system:shutdown",
    "agent:before_init", "agent:after_init", "agent:before_execution", "agent:after_execution",
    "agent:error", "agent:before_shutdown", "agent:after_shutdown",
    "tool:before_execution", "tool:after_execution", "tool:validation", "tool:error",
    "workflow:start", "workflow:before_step", "workflow:after_step", "workflow:complete",
    "workflow:error",
    "state:before_read", "state:after_read", "state:before_write", "state:after_write",
    "state:delete", "state:migration",
    "session:start", "session:end", "session:suspend", "session:resume", "session:save",
    "session:restore", "session:checkpoint",
    "artifact:before_store", "artifact:after_store", "artifact:delete",
    "event:before_emit", "event:after_emit",
    "resource:limit_exceeded", "security:violation",
]


def test_every_point_of_the_design_exists() -> None:
    assert set(DESIGN_POINTS) <= set(POINTS)


@pytest.mark.parametrize("point", sorted(POINTS))
def test_every_point_can_be_registered_and_fired(point: str) -> None:
    hooks = HookRegistry()
    seen = []
    hooks.register(point, lambda ctx: seen.append(ctx.point))
    hooks.fire(point, {})
    assert seen == [point]


@pytest.mark.parametrize(("alias", "point"), sorted((a, p) for a, p in CANONICAL.items() if a != p))
def test_an_alias_and_its_point_are_the_same_point(alias: str, point: str) -> None:
    hooks = HookRegistry()
    seen = []
    hooks.register(alias, lambda ctx: seen.append(ctx.point))
    hooks.fire(point)
    hooks.fire(alias)
    assert seen == [point, point]
    assert [h.point for h in hooks.list(alias)] == [point]


def test_rs_llmspell_names_map_where_a_user_expects() -> None:
    assert CANONICAL["BeforeAgentExecution"] == "agent:before_execution"
    assert CANONICAL["SessionStart"] == "session:start"
    assert CANONICAL["AfterWorkflowComplete"] == "workflow:complete"
    assert CANONICAL["BeforeWorkflowStage"] == "workflow:before_step"
    assert CANONICAL["BeforeStateWrite"] == "state:before_write"
    assert CANONICAL["ResourceLimitExceeded"] == "resource:limit_exceeded"


def test_custom_points_are_registered_and_fired_by_name() -> None:
    hooks = HookRegistry()
    hooks.register("custom:nightly_report", lambda ctx: {"action": "modified", "data": 2})
    assert hooks.fire("custom:nightly_report", 1).data == 2
    assert hooks.fire("custom:other", 1).data == 1  # nothing registered there


@pytest.mark.parametrize("point", ["agent:before_exection", "BeforeAgentExecute", "custom:",
                                   "custom:has space", "", "agent", 42, None])
def test_an_unknown_point_is_refused_with_what_is_allowed(point: object) -> None:
    hooks = HookRegistry()
    with pytest.raises(ValidationError) as caught:
        hooks.register(point, lambda ctx: None)  # type: ignore[arg-type]
    message = str(caught.value)
    assert repr(point) in message
    assert "custom:<name>" in message and "agent:before_execution" in message
    with pytest.raises(ValidationError):
        hooks.fire(point)  # type: ignore[arg-type]


def test_priorities_run_highest_first() -> None:
    hooks = HookRegistry()
    order = []
    for priority in ["low", "highest", "normal", "lowest", "high"]:
        hooks.register("custom:p", lambda ctx, p=priority: order.append(p), priority=priority)
    hooks.fire("custom:p")
    assert order == ["highest", "high", "normal", "low", "lowest"]


def test_integer_priorities_sit_between_the_names_and_ties_keep_registration_order() -> None:
    hooks = HookRegistry()
    order = []
    for label, priority in [("a", 0), ("b", 50), ("c", "normal"), ("d", 50), ("e", 1000),
                            ("f", "highest"), ("g", -1000)]:
        hooks.register("custom:p", lambda ctx, x=label: order.append(x), priority=priority)
    hooks.fire("custom:p")
    assert order == ["e", "f", "b", "d", "a", "c", "g"]
    assert [h.name for h in hooks.list("custom:p")] == ["<lambda>"] * 7
    assert [h.priority for h in hooks.list("custom:p")] == [1000, 1000, 50, 50, 0, 0, -1000]


@pytest.mark.parametrize("priority", ["urgent", 1001, -1001, 1.5, True, None])
def test_a_bad_priority_is_refused(priority: object) -> None:
    with pytest.raises(ValidationError, match="priority"):
        HookRegistry().register("custom:p", lambda ctx: None, priority=priority)  # type: ignore[arg-type]
