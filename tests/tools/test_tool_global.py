"""The Lua ``Tool`` global: rs-llmspell's names and return shapes, user tools in Lua."""

from __future__ import annotations

import pytest

from llmspell import Runtime
from llmspell.errors import ScriptError
from llmspell.lua import LuaEngine


def run(rt: Runtime, script: str) -> object:
    with LuaEngine(rt) as engine:
        return engine.run_string(script)


def test_invoke_returns_text_and_metadata(rt: Runtime) -> None:
    text, tool, value, success = run(rt, """
    local r = Tool.invoke("calculator", {input = "2 + 3 * 4"})
    return r.text, r.metadata.tool, r.result.result, r.success""")  # type: ignore[misc]
    assert (text, tool, value, success) == ('{"result":14,"expression":"2 + 3 * 4"}',
                                            "calculator", 14, True)


def test_tool_by_name_through_the_metatable(rt: Runtime) -> None:
    assert run(rt, """
    local a = Tool.calculator({input = "2 * 3"}).result.result
    local b = Tool.calculator:execute({input = "3 * 3"}).result.result
    local schema = Tool.calculator.getSchema()
    return a, b, schema.name, Tool.no_such_tool == nil""") == (6, 9, "calculator", True)


def test_list_get_exists_categories_discover(rt: Runtime) -> None:
    names, has, missing, cats, found, level = run(rt, """
    local names = {}
    for _, t in ipairs(Tool.list()) do names[#names + 1] = t.name end
    local found = {}
    for _, t in ipairs(Tool.discover({category = "utility", security_level = "safe"})) do
      found[#found + 1] = t.name
    end
    return table.concat(names, ","), Tool.exists("calculator"), Tool.get("nope") == nil,
      table.concat(Tool.categories(), ","), table.concat(found, ","),
      Tool.get("hash_calculator").security_level""")  # type: ignore[misc]
    assert "calculator" in names.split(",") and has is True and missing is True
    assert "utility" in cats.split(",")
    assert "calculator" in found.split(",") and "hash_calculator" not in found.split(",")
    assert level == "restricted"


def test_a_lua_tool_is_validated_journaled_and_removed_with_its_script(rt: Runtime) -> None:
    session = rt.sessions.create("lua tools")
    rt.sessions.set_current(session)
    out = run(rt, """
    Tool.register{name = "greet", description = "says hello",
                  schema = {type = "object", properties = {who = {type = "string"}},
                            required = {"who"}},
                  fn = function(p) return "hello " .. p.who end}
    local ok, err = pcall(Tool.invoke, "greet", {who = 3})
    return Tool.greet({who = "ann"}).text, err""")
    assert out[0] == "hello ann"  # type: ignore[index]
    assert "argument 'params' at $.who" in out[1] and "is not of type 'string'" in out[1]  # type: ignore[index]
    calls = rt.sessions.journal.read(session.id, kinds="tool.call")
    assert [(c.data["tool"], c.data["result"]["success"]) for c in calls] == [
        ("greet", False), ("greet", True)]
    assert not rt.tools.exists("greet")


def test_rs_style_parameter_lists_are_accepted(rt: Runtime) -> None:
    assert run(rt, """
    Tool.register{name = "twice", description = "doubles",
                  parameters = {{name = "n", type = "number", required = true}},
                  fn = function(p) return p.n * 2 end}
    local ok, err = pcall(Tool.twice, {})
    return Tool.twice({n = 4}).result, err""") == (8, (
        "ValidationError: argument 'params' at $: tool 'twice': 'n' is a required property"))


def test_register_refusals_name_the_field(rt: Runtime) -> None:
    with pytest.raises(ScriptError, match=r"argument 'spec' at \$.fn: must be a function"):
        run(rt, 'Tool.register{name = "x", description = "y"}')
    with pytest.raises(ScriptError, match="unknown field 'colour'"):
        run(rt, 'Tool.register{name = "x", fn = function() end, colour = "red"}')
    with pytest.raises(ScriptError, match=r"no tool named 'calculatr'.*did you mean"):
        run(rt, 'Tool.invoke("calculatr", {})')
