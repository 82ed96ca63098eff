"""The ``Hook`` and ``Event`` globals: every result kind from Lua, globs, queues, cleanup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cli_runner import Run
from llmspell import Runtime
from llmspell.errors import ScriptError
from llmspell.hooks.points import POINTS
from llmspell.lua import LuaEngine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rt() -> Any:
    with Runtime.memory() as runtime:
        yield runtime


@pytest.fixture
def lua(rt: Runtime) -> Any:
    engine = LuaEngine(rt, script_name="test.lua")
    yield engine
    engine.close()


def test_example_script_runs(run: Run) -> None:
    result = run("run", str(ROOT / "examples" / "hooks_events.lua"))
    assert result.exit_code == 0, result.stderr
    assert "modified by the hook:\thello, stamped" in result.stdout
    assert "write refused:\ttrue\tHookCancelled" in result.stdout
    assert "that key is reserved" in result.stdout
    assert "errors seen by the callback:\tagent.error, tool.error" in result.stdout
    assert "received:\treport.ready\tpages =\t3" in result.stdout


def test_continue_modified_cancel_skip(lua: LuaEngine) -> None:
    assert lua.run_string("""
        Hook.register("custom:a", function(ctx) return {continue_execution = true} end)
        return Hook.fire("custom:a", {n = 1}).action
    """) == "continue"
    assert lua.run_string("""
        Hook.register("custom:b", function(ctx) return {action = "modified",
                                                        data = {n = ctx.data.n + 1}} end)
        return Hook.fire("custom:b", {n = 1}).data.n
    """) == 2
    message = lua.run_string("""
        Hook.register("custom:c", function(ctx) return {action = "cancel", reason = "no"} end)
        local ok, err = pcall(Hook.fire, "custom:c", {})
        return err
    """)
    assert message.startswith("HookCancelled:")
    assert "no" in message
    assert lua.run_string("""
        Hook.register("custom:d", function(ctx) return {action = "skip"} end)
        return Hook.fire("custom:d", {}).action
    """) == "skip"


def test_priority_orders_lua_hooks(lua: LuaEngine) -> None:
    assert lua.run_string("""
        local order = {}
        Hook.register("custom:p", function() order[#order + 1] = "low" end, "low")
        Hook.register("custom:p", function() order[#order + 1] = "highest" end, "highest")
        Hook.register("custom:p", function() order[#order + 1] = "n1" end)
        Hook.register("custom:p", function() order[#order + 1] = "n2" end, 0)
        Hook.fire("custom:p")
        return table.concat(order, ",")
    """) == "highest,n1,n2,low"


def test_a_raising_lua_hook_does_not_break_the_operation(lua: LuaEngine, rt: Runtime) -> None:
    assert lua.run_string("""
        Hook.register("state:before_write", function(ctx) error("hook bug") end)
        State.save("global", "k", 5)
        return State.load("global", "k")
    """) == 5
    errors = [h for h in rt.hooks.list("state:before_write") if h.errors]
    assert errors and errors[0].errors == 1


def test_required_hook_failure_fails_the_operation(lua: LuaEngine) -> None:
    message = lua.run_string("""
        Hook.register("state:before_write", function(ctx) error("must not write") end,
                      {required = true, name = "strict"})
        local ok, err = pcall(State.save, "global", "k", 1)
        return err
    """)
    assert message.startswith("HookError:")
    assert "strict" in message


def test_handles_list_and_unregister(lua: LuaEngine, rt: Runtime) -> None:
    result = lua.run_string("""
        local h = Hook.register("BeforeAgentExecution", function() end, {name = "mine"})
        local listed = Hook.list({name = "mine"})
        local id = h:id()
        local removed = h:unregister()
        return listed[1].point, id == listed[1].id, removed, Hook.unregister(id),
               #Hook.list({name = "mine"}), h.name
    """)
    assert result == ("agent:before_execution", True, True, False, 0, "mine")


def test_every_point_is_registrable_from_lua(lua: LuaEngine, rt: Runtime) -> None:
    for point in POINTS:
        lua.run_string(f'Hook.register("{point}", function() end)')
    names = {h.point for h in rt.hooks.list() if h.name.startswith("lua:")}
    assert names == set(POINTS)


def test_bad_arguments_are_lua_errors(lua: LuaEngine) -> None:
    cases = {
        'Hook.register("nope:point", function() end)': "nope:point",
        'Hook.register("custom:x", 42)': "argument 'fn'",
        'Hook.register("custom:x", function() end, {colour = 1})': "colour",
        'Hook.register("custom:x", function() end, "urgent")': "priority",
        "Hook.list(42)": "filter",
        'Event.publish("bad..type", {})': "type",
        'Event.receive("sub-nope", 10)': "not a subscription",
        'Event.publish("a.b", {}, {colour = 1})': "colour",
    }
    for code, words in cases.items():
        message = lua.run_string(f"local ok, err = pcall(function() {code} end) return err")
        assert isinstance(message, str) and words in message, (code, message)


def test_hooks_and_subscriptions_end_with_the_engine(rt: Runtime) -> None:
    engine = LuaEngine(rt, script_name="short.lua")
    engine.run_string("""
        Hook.register("custom:gone", function() end)
        Event.subscribe("**", function() end)
        Event.subscribe("x.*")
    """)
    subscriptions = rt.events.stats()["subscriptions"]
    assert rt.hooks.list("custom:gone")
    engine.close()
    assert not rt.hooks.list("custom:gone")
    assert rt.events.stats()["subscriptions"] == subscriptions - 2
    rt.hooks.fire("custom:gone")
    rt.events.publish("x.y", {})


@pytest.mark.parametrize(
    ("pattern", "matching", "other"),
    [
        ("*.error", ["agent.error", "tool.error"], ["agent.x.error", "error"]),
        ("session.*", ["session.created"], ["session.a.b", "sessions.created"]),
        ("agent.*.done", ["agent.a1.done"], ["agent.done", "agent.a.b.done"]),
        ("**", ["a", "a.b.c"], []),
    ],
)
def test_glob_forms_from_lua(lua: LuaEngine, pattern: str, matching: list[str],
                             other: list[str]) -> None:
    types = lua.run_string(f"""
        local got = {{}}
        local id = Event.subscribe("{pattern}")
        for _, t in ipairs(...) do Event.publish(t, {{}}) end
        while true do
          local e = Event.receive(id, 0)
          if e == nil then break end
          got[#got + 1] = e.type
        end
        return JSON.array(got)
    """.replace("...", "JSON.parse('" + __import__("json").dumps(matching + other) + "')"))
    assert types == matching


def test_receive_times_out_with_nil(lua: LuaEngine) -> None:
    assert lua.run_string("""
        local id = Event.subscribe("quiet.*")
        return Event.receive(id, 20) == nil
    """) is True


@pytest.mark.slow  # waits the default timeout: 5 s
def test_receive_with_no_timeout_waits_the_default_then_gives_nil(lua: LuaEngine) -> None:
    assert lua.run_string("""
        local id = Event.subscribe("quiet.*")
        return Event.receive(id) == nil
    """) is True


def test_event_fields_and_options(lua: LuaEngine) -> None:
    event = lua.run_string("""
        local id = Event.subscribe("job.done")
        local eid = Event.emit("job.done", {n = 1}, {correlation_id = "c1", session_id = "s1"})
        local e = Event.receive(id, 100)
        return {eid = eid, e = e, subs = #Event.list_subscriptions()}
    """)
    e = event["e"]
    assert event["eid"] == e["id"]
    assert e["type"] == "job.done" and e["data"] == {"n": 1}
    assert e["correlation_id"] == "c1" and e["session_id"] == "s1"
    assert e["source"] == "lua:test.lua"
    assert event["subs"] >= 1


def test_uncaught_hook_cancel_reaches_the_script_as_an_error(lua: LuaEngine) -> None:
    with pytest.raises(ScriptError, match="HookCancelled"):
        lua.run_string("""
            Hook.register("custom:stop", function() return {action = "cancel", reason = "r"} end)
            Hook.fire("custom:stop")
        """)
