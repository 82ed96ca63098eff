"""rs-llmspell's hook forms: ``handle:hook_point()``, ``Hook.list`` with nil, a point, or
``{hook_point, language, priority, tag}``, and ``component_id = {type, name}`` in contexts."""

from __future__ import annotations

import pytest

from llmspell.lua import LuaEngine

REGISTER = """
    local noop = function() end
    h1 = Hook.register("BeforeAgentExecution", noop, "high")
    h2 = Hook.register("BeforeAgentExecution", noop, "lowest")
    h3 = Hook.register("BeforeToolExecution", noop, "high")
"""


def _names(engine: LuaEngine, selector: str) -> list[tuple[str, int]]:
    found = engine.run_string(f"return Hook.list({selector})")
    return [(h["point"], h["priority"]) for h in found if h["name"].startswith("lua:")]


def test_a_handle_names_its_point(engine: LuaEngine) -> None:
    assert engine.run_string(REGISTER + "return h1:hook_point()") == "agent:before_execution"
    assert engine.run_string("return h3:hook_point()") == "tool:before_execution"


def test_list_selectors(engine: LuaEngine) -> None:
    engine.run_string(REGISTER)
    agent, tool = "agent:before_execution", "tool:before_execution"
    assert _names(engine, "") == [(agent, 100), (agent, -1000), (tool, 100)]
    assert _names(engine, '"BeforeToolExecution"') == [(tool, 100)]
    assert _names(engine, '{hook_point = "BeforeAgentExecution"}') == [(agent, 100),
                                                                       (agent, -1000)]
    assert _names(engine, '{priority = "high"}') == [(agent, 100), (tool, 100)]
    assert _names(engine, '{language = "lua", priority = "lowest"}') == [(agent, -1000)]
    assert _names(engine, '{language = "LUA", priority = 100}') == [(agent, 100), (tool, 100)]
    assert _names(engine, '{tag = "x"}') == []
    entry = engine.run_string("return Hook.list('BeforeToolExecution')[1]")
    assert entry["language"] == "lua" and entry["tags"] == []


def test_other_hooks_are_native(engine: LuaEngine) -> None:
    engine.runtime.hooks.register("tool:before_execution", lambda ctx: None, name="py-hook")
    found = engine.run_string('return Hook.list({language = "native"})')
    assert "py-hook" in [h["name"] for h in found]
    assert all(h["language"] == "native" for h in found)


@pytest.mark.parametrize(("selector", "words"), [
    ('{priority = "urgent"}', "argument 'filter' at .priority: priority must be one of"),
    ("{language = 5}", "argument 'filter.language': must be a string"),
    ('{point = "BeforeAgentExecution", hook_point = "BeforeAgentExecution"}', "not both"),
    ("{colour = 1}", "argument 'filter' at .colour: unknown field"),
])
def test_bad_filters(engine: LuaEngine, selector: str, words: str) -> None:
    ok, err = engine.run_string(f"return pcall(Hook.list, {selector})")
    assert ok is False and words in err


def test_contexts_carry_component_id(engine: LuaEngine) -> None:
    seen = engine.run_string("""
        local seen = {}
        Hook.register("BeforeAgentExecution", function(ctx) seen.agent = ctx.component_id end)
        Hook.register("custom:audit", function(ctx) seen.custom = ctx.component_id end)
        Hook.fire("BeforeAgentExecution", {x = 1})
        Hook.fire("custom:audit")
        return seen""")
    assert seen["agent"] == {"type": "Agent", "name": "lua:test.lua"}
    assert seen["custom"] == {"type": "System", "name": "lua:test.lua"}
