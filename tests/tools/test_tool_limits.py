"""Tool calls are admitted by the session manager like agents' model calls: they count toward
``max_operations`` and rate limits of kind ``tool.invoke`` apply; a refused call never runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llmspell import Runtime
from llmspell.errors import RateLimitExceeded, ResourceLimitExceeded
from llmspell.lua import LuaEngine
from llmspell.tools import Tool, tool
from llmspell.tools.service import KIND

MakeRuntime = Callable[..., Runtime]


def counting_tool(ran: list[int]) -> Tool:
    @tool(name="tick")
    def tick(n: int) -> int:
        """Record that it ran."""
        ran.append(n)
        return n

    return tick


def test_the_kind_is_tool_invoke() -> None:
    assert KIND == "tool.invoke"


def test_max_operations_refuses_the_call_and_the_tool_does_not_run(rt: Runtime) -> None:
    ran: list[int] = []
    rt.tools.register(counting_tool(ran))
    exceeded: list[Any] = []
    rt.hooks.register("resource:limit_exceeded", lambda ctx: exceeded.append(ctx.data))
    session = rt.sessions.create("ops", limits={"operations": 2})
    assert rt.tools.invoke("tick", {"n": 1}, session_id=session.id).result == 1
    assert rt.tools.invoke("tick", {"n": 2}, session_id=session.id).result == 2
    with pytest.raises(ResourceLimitExceeded, match="operations") as caught:
        rt.tools.invoke("tick", {"n": 3}, session_id=session.id)
    assert not isinstance(caught.value, RateLimitExceeded)
    assert ran == [1, 2]
    assert exceeded, "resource:limit_exceeded did not fire"
    assert rt.sessions.get(session.id).counters.operations == 2


def test_the_current_session_counts_tool_calls(rt: Runtime) -> None:
    ran: list[int] = []
    rt.tools.register(counting_tool(ran))
    session = rt.sessions.create("ops", limits={"operations": 1})
    with rt.sessions.current(session):
        rt.tools.invoke("tick", {"n": 1})
        with pytest.raises(ResourceLimitExceeded):
            rt.tools.invoke("tick", {"n": 2})
    assert ran == [1]


def test_a_tool_invoke_rate_limit_in_fail_mode_refuses(make_rt: MakeRuntime) -> None:
    rt = make_rt(session__rate_limits=["tool.invoke=2/h"], session__rate_limit_mode="fail")
    ran: list[int] = []
    rt.tools.register(counting_tool(ran))
    session = rt.sessions.create("rated")
    rt.tools.invoke("tick", {"n": 1}, session_id=session.id)
    rt.tools.invoke("tick", {"n": 2}, session_id=session.id)
    with pytest.raises(RateLimitExceeded, match=r"tool\.invoke"):
        rt.tools.invoke("tick", {"n": 3}, session_id=session.id)
    assert ran == [1, 2]
    calls = rt.sessions.journal.read(session.id, kinds="tool.call")
    assert [c.data["error_type"] for c in calls if not c.data["result"]["success"]] == [
        "RateLimitExceeded"]


def test_other_kinds_do_not_limit_tool_calls(make_rt: MakeRuntime) -> None:
    rt = make_rt(session__rate_limits=["agent.execute=1/h"], session__rate_limit_mode="fail")
    for n in range(3):
        assert rt.tools.invoke("calculator", {"input": f"{n} + 1"}).result["result"] == n + 1


def test_no_session_only_global_limits_apply(make_rt: MakeRuntime) -> None:
    rt = make_rt(session__rate_limits=["global=2/h"], session__rate_limit_mode="fail",
                 session__max_operations=1)
    ran: list[int] = []
    rt.tools.register(counting_tool(ran))
    assert rt.sessions.current_id() is None
    rt.tools.invoke("tick", {"n": 1})
    rt.tools.invoke("tick", {"n": 2})  # max_operations is a session limit: not applied here
    with pytest.raises(RateLimitExceeded, match="global"):
        rt.tools.invoke("tick", {"n": 3})
    assert ran == [1, 2]


def test_refusals_reach_lua_through_pcall(make_rt: MakeRuntime) -> None:
    rt = make_rt(session__rate_limits=["tool.invoke=1/h"], session__rate_limit_mode="fail")
    with LuaEngine(rt) as engine:
        out = engine.run_string('''
            local first = Tool.invoke("calculator", {input = "1 + 1"}).result.result
            local ok, err = pcall(Tool.invoke, "calculator", {input = "2 + 2"})
            return {first, ok, err}
        ''')
    assert out[0] == 2 and out[1] is False  # type: ignore[index]
    assert out[2].startswith("RateLimitExceeded:") and "tool.invoke" in out[2]  # type: ignore[index]
    rt = make_rt()
    with LuaEngine(rt) as engine:
        out = engine.run_string('''
            Session.setCurrent(Session.create{name = "ops", limits = {operations = 1}})
            Tool.invoke("calculator", {input = "1 + 1"})
            local ok, err = pcall(Tool.calculator, {input = "2 + 2"})
            return {ok, err}
        ''')
    assert out[0] is False and out[1].startswith("ResourceLimitExceeded:")  # type: ignore[index]
    assert "operations" in out[1]  # type: ignore[index]
