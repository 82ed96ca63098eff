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


#: The 34 names rs-llmspell v0.6.0 registers (llmspell-bridge/src/tools.rs).
RS_TOOLS = (
    "base64_encoder", "calculator", "data_validation", "date_time_handler", "diff_calculator",
    "hash_calculator", "template_engine", "text_manipulator", "uuid_generator", "csv_analyzer",
    "json_processor", "graphql_query", "http_request", "archive_handler", "file_converter",
    "file_operations", "file_search", "file_watcher", "environment_reader", "process_executor",
    "service_checker", "system_monitor", "audio_processor", "image_processor",
    "video_processor", "web_search", "url-analyzer", "web-scraper", "api-tester",
    "webhook-caller", "webpage-monitor", "sitemap-crawler", "email-sender",
    "database-connector")


def test_every_rs_llmspell_tool_exists_and_list_marks_the_unavailable(rt: Runtime) -> None:
    assert len(set(RS_TOOLS)) == 34 and set(RS_TOOLS) <= set(rt.tools.registry.names())
    unavailable = run(rt, """
    local out = {}
    for _, t in ipairs(Tool.list()) do
      if not t.available then out[t.name] = t.unavailable_reason end
    end
    return out""")
    found = dict(unavailable.items())  # type: ignore[attr-defined]
    assert "[tools.web_search]" in found["web_search"]
    assert "smtp_host" in found["email-sender"]
    assert "calculator" not in found
