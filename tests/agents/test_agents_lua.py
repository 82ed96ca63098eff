"""The Lua ``Agent`` and ``Streaming`` globals: rs-llmspell shapes, limits from Lua, hooks from
Lua, streaming order, errors catchable with pcall."""

from __future__ import annotations

from typing import Any

from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime


def test_create_invoke_execute_and_plain_string(lua: Any, scripted: ScriptedProvider) -> None:
    scripted.add_replies(["one", "two", "three"])
    out = lua.run_string('''
        local a = Agent.create{name = "bot", model = "scripted/demo", system_prompt = "S",
                               temperature = 0.2, max_tokens = 50}
        local r1 = a:invoke{text = "hi"}
        local r2 = a:execute{prompt = "again"}
        local r3 = a:invoke("plain")
        return {r1.text, r1.output, r1.metadata.model, r1.metadata.provider, r2.text, r3.text,
                r1.usage.total > 0, a:getState(), a:getConfig().max_tokens,
                Agent.get("bot") == a, Agent.list()[1].name, Agent.get("none") == nil}
    ''')
    assert out == ["one", "one", "demo", "scripted", "two", "three", True, "Ready", 50, True,
                   "bot", True]
    assert scripted.requests[0].temperature == 0.2


def test_lua_tools_run_in_the_tool_loop(lua: Any, scripted: ScriptedProvider) -> None:
    scripted.add_replies([{"tool_calls": [{"name": "add", "arguments": {"a": 4, "b": 5}}]},
                          "nine"])
    out = lua.run_string('''
        local a = Agent.create{name = "calc", model = "scripted/x", tools = {
          {name = "add", description = "adds", parameters = {type = "object"},
           fn = function(args) return args.a + args.b end}}}
        local r = a:invoke{text = "4+5"}
        return {r.text, r.tool_calls[1].result.output, a:hasTool("add"),
                a:discoverTools()[1], a:invokeTool("add", {a = 1, b = 1}),
                a:getMetrics().tool_invocations}
    ''')
    assert out == ["nine", 9, True, "add", 2, 2]


def test_invoke_stream_calls_back_in_order(lua: Any, scripted: ScriptedProvider) -> None:
    scripted.add_replies(["alpha beta gamma", "one two"])
    out = lua.run_string('''
        local a = Agent.create{name = "s", model = "scripted/x"}
        local seen = {}
        local r = a:invokeStream({text = "go"}, function(chunk)
          seen[#seen + 1] = chunk.index .. ":" .. chunk.text
        end)
        local st = a:stream("more")
        local pieces = st:collect()
        return {table.concat(seen, ","), r.success, r.chunks_received, r.text,
                table.concat(pieces), st:isDone()}
    ''')
    assert out == ["0:alpha ,1:beta ,2:gamma", True, 3, "alpha beta gamma", "one two", True]


def test_streaming_global(lua: Any) -> None:
    out = lua.run_string('''
        local s = Streaming.create(function()
          for i = 1, 3 do Streaming.yield(i * 10) end
        end)
        local first = s:next()
        local rest = s:collect()
        local ok, err = pcall(Streaming.yield, 1)
        return {first, rest[1], rest[2], #rest, s:isDone(), ok, err}
    ''')
    assert out[:6] == [10, 20, 30, 2, True, False]
    assert out[6].startswith("ValidationError: Streaming.yield")


def test_errors_are_lua_errors_naming_the_argument(lua: Any, scripted: ScriptedProvider) -> None:
    out = lua.run_string('''
        local results = {}
        for _, opts in ipairs({{name = "a", model = "nope/x"}, {name = "a"},
                               {name = "a", model = "scripted/x", temprature = 1}}) do
          local ok, err = pcall(Agent.create, opts)
          results[#results + 1] = err
        end
        local a = Agent.create{name = "ok", model = "scripted/x"}
        local _, e4 = pcall(a.invoke, a, {txt = "typo"})
        local _, e5 = pcall(a.invoke, a, {text = "hi"})
        a:pause()
        local _, e6 = pcall(a.invoke, a, "hi")
        return {results[1], results[2], results[3], e4, e5, e6}
    ''')
    assert out[0].startswith("ValidationError: argument 'model': unknown provider 'nope'")
    assert out[1].startswith("ValidationError: argument 'model': is required")
    assert "temprature" in out[2] and out[2].startswith("ValidationError")
    assert out[3].startswith("ValidationError: argument 'input'")
    assert out[4].startswith("ProviderScriptExhausted")
    assert out[5].startswith("AgentError: agent 'ok' is paused")


def test_session_max_tokens_100_stops_the_call_from_lua(
        rt: Runtime, lua: Any, scripted: ScriptedProvider) -> None:
    scripted.add_replies([{"text": "long answer", "usage": {"input_tokens": 10,
                                                             "output_tokens": 80}},
                          {"text": "too much", "usage": {"input_tokens": 30,
                                                          "output_tokens": 20}}])
    out = lua.run_string('''
        local fired = {}
        Hook.register("resource:limit_exceeded", function(ctx)
          fired[#fired + 1] = ctx.data.kind
        end)
        local s = Session.create{name = "capped", limits = {tokens = 100}}
        Session.setCurrent(s)
        local a = Agent.create{name = "capped", model = "scripted/x"}
        local first = a:invoke("hello")
        local ok, err = pcall(a.invoke, a, "and more")      -- 90 + 50 > 100, after the call
        local ok3, err3 = pcall(a.invoke, a, "again")       -- refused before the call
        return {first.text, ok, err, ok3, err3, #fired, fired[1],
                Session.get(s).counters.tokens}
    ''')
    assert out[0] == "long answer" and out[1] is False and out[3] is False
    assert out[2].startswith("ResourceLimitExceeded:") and "after the call" in out[2]
    assert out[4].startswith("ResourceLimitExceeded:") and "tokens" in out[4]
    assert out[5] == 2 and out[6] == "agent.execute" and out[7] == 140
    assert len(scripted.requests) == 2  # the third call never reached the provider


def test_hooks_from_lua_change_the_prompt(lua: Any, scripted: ScriptedProvider) -> None:
    scripted.add_replies(["fine"])
    lua.run_string('''
        Hook.register("BeforeAgentExecution", function(ctx)
          return {action = "modified", data = {text = "[checked] " .. ctx.data.text}}
        end)
        local a = Agent.create{name = "hooked", model = "scripted/x"}
        a:invoke("hi")
    ''')
    assert scripted.requests[0].messages[-1].content == "[checked] hi"


def test_lifecycle_and_state_methods(lua: Any, scripted: ScriptedProvider) -> None:
    scripted.add_replies(["kept"])
    out = lua.run_string('''
        local a = Agent.create{name = "life", model = "scripted/x"}
        a:invoke("remember me")
        a:start(); a:pause()
        local saved = State.load("agent:life", "state")
        a:resume(); a:setError("boom")
        local healthy = a:isHealthy()
        a:recover()
        local h = a:getStateHistory()
        local last = h[#h]
        local last_error = a:getLastError()
        a:clearConversation()
        local loaded = a:loadState()       -- back to the saved (paused) agent
        local state_now = a:getState()
        local conv = a:getConversation()
        local deleted = a:deleteState()
        local destroyed = a:destroy()
        return {saved.lifecycle.state, healthy, state_now, last.from, last.to, type(last.elapsed),
                loaded, #conv, conv[1].content, last_error, deleted, destroyed,
                Agent.get("life") == nil}
    ''')
    assert out == ["paused", False, "Paused", "error", "ready", "number", True, 2,
                   "remember me", "boom", True, True, True]


def test_rate_limits_and_max_operations_apply_from_lua() -> None:
    from llmspell.lua.engine import LuaEngine
    from llmspell.providers.scripted import ScriptedProvider

    with Runtime.memory(session__rate_limits=["agent.execute=2/h"]) as rt:
        rt.providers.add("scripted", ScriptedProvider("scripted", ["a", "b", "c", "d"]))
        with LuaEngine(rt) as engine:
            out = engine.run_string('''
                local a = Agent.create{model = "scripted/x"}
                a:invoke("1"); a:invoke("2")
                local ok, err = pcall(a.invoke, a, "3")
                local s = Session.create{name = "ops", limits = {operations = 1}}
                return {ok, err, a.name:sub(1, 6)}
            ''')
    assert out[0] is False and out[1].startswith("RateLimitExceeded:")
    assert "agent.execute" in out[1] and out[2] == "agent_"
    with Runtime.memory() as rt:
        rt.providers.add("scripted", ScriptedProvider("scripted", ["a", "b"]))
        with LuaEngine(rt) as engine:
            out = engine.run_string('''
                Session.setCurrent(Session.create{name = "ops", limits = {operations = 1}})
                local a = Agent.create{name = "ops", model = "scripted/x"}
                a:invoke("1")
                local ok, err = pcall(a.invoke, a, "2")
                return {ok, err}
            ''')
    assert out[0] is False and out[1].startswith("ResourceLimitExceeded:")
    assert "operations" in out[1]


def test_agents_a_script_created_go_when_its_engine_closes(rt: Runtime,
                                                          scripted: ScriptedProvider) -> None:
    from llmspell.lua.engine import LuaEngine

    rt.agents.create("from_python", "scripted/x")
    with LuaEngine(rt) as engine:
        engine.run_string('Agent.create{name = "from_lua", model = "scripted/x"}')
        assert rt.agents.list() == ["from_python", "from_lua"]
    assert rt.agents.list() == ["from_python"]


def test_session_max_tokens_from_the_configuration_applies_from_lua() -> None:
    from llmspell.lua.engine import LuaEngine
    from llmspell.providers.scripted import ScriptedProvider

    with Runtime.memory(session__max_tokens=100) as rt:
        rt.providers.add("scripted", ScriptedProvider("scripted", [
            {"text": "x", "usage": {"input_tokens": 60, "output_tokens": 50}}]))
        with LuaEngine(rt) as engine:
            ok, err = engine.run_string('''
                Session.setCurrent(Session.create{name = "configured"})
                local a = Agent.create{name = "c", model = "scripted/x"}
                return pcall(a.invoke, a, "hello")
            ''')
    assert ok is False and err.startswith("ResourceLimitExceeded:")
    assert "tokens 110 > limit 100" in err


def test_execute_with_context_journals_in_the_given_session(
        rt: Runtime, lua: Any, scripted: ScriptedProvider) -> None:
    scripted.add_replies(["in context", "a b c"])
    sid, err = lua.run_string('''
        local s = Session.create{name = "ctx"}
        local a = Agent.create{name = "ctx", model = "scripted/x"}
        local r = a:executeWithContext({text = "hi"}, {session_id = s.id})
        local ok, err = pcall(a.invokeStream, a, "go", function(chunk) error("stop here") end)
        return s.id, err
    ''')
    entries = rt.sessions.journal.read(sid, kinds="llm")
    assert [e.data["response"]["text"] for e in entries] == ["in context"]
    assert rt.sessions.current_id() is None
    assert "stop here" in err
    assert rt.agents.get("ctx").metrics()["requests_active"] == 0
