"""The Python API of agents: calls, the tool loop, lifecycle, hooks, journal, artifacts,
limits, streaming and the async forms, against the scripted provider."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llmspell.agents import AgentResult
from llmspell.errors import (
    AgentError,
    HookCancelled,
    ProviderRateLimited,
    RateLimitExceeded,
    ResourceLimitExceeded,
    ValidationError,
)
from llmspell.hooks import HookResult
from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime


def test_invoke_returns_text_metadata_usage_and_keeps_the_conversation(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    scripted.add_replies(["Hello there", {"text": "Again", "usage": {"input_tokens": 7,
                                                                      "output_tokens": 1}}])
    agent = rt.agents.create("bot", "scripted/demo", system_prompt="Be brief.")
    first = agent.invoke("hi")
    assert isinstance(first, AgentResult)
    assert first.text == first.output == "Hello there"
    assert first.metadata["model"] == "demo" and first.metadata["provider"] == "scripted"
    assert first.metadata["agent"] == "bot" and first.metadata["finish_reason"] == "stop"
    second = agent.invoke({"prompt": "more"})
    assert second.usage == {"input_tokens": 7, "output_tokens": 1, "total": 8, "cost": 0.0}
    sent = scripted.requests[1].messages
    assert [(m.role, m.content) for m in sent] == [
        ("system", "Be brief."), ("user", "hi"), ("assistant", "Hello there"),
        ("user", "more")]
    assert rt.agents.list() == ["bot"] and rt.agents.get("bot") is agent


def test_tool_loop_runs_tools_and_stops_at_the_step_limit(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    seen: list[dict[str, Any]] = []

    def add(args: dict[str, Any]) -> int:
        seen.append(args)
        return args["a"] + args["b"]

    call = {"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}, "id": "c1"}]}
    scripted.add_replies([call, "The sum is 5"])
    agent = rt.agents.create("calc", "scripted/x", max_steps=2, tools=[
        {"name": "add", "description": "add two numbers",
         "parameters": {"type": "object", "properties": {"a": {"type": "number"}}},
         "fn": add}])
    result = agent.invoke("2+3?")
    assert result.text == "The sum is 5" and seen == [{"a": 2, "b": 3}]
    assert result.tool_calls[0]["result"] == {"success": True, "output": 5, "error": None}
    assert result.tool_calls[0]["tool_name"] == "add"
    tool_turn = scripted.requests[1].messages[-1]
    assert tool_turn.role == "tool" and tool_turn.content == "5"
    assert scripted.requests[0].tools[0].name == "add"
    scripted.add_replies([call, call])
    with pytest.raises(AgentError, match="max_steps = 2"):
        agent.invoke("loop forever")
    assert len(agent.conversation) == 4  # the failed call left no turns behind


def test_a_failing_or_unknown_tool_is_an_error_result_the_model_sees(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    def boom(args: dict[str, Any]) -> None:
        raise RuntimeError("disk full")

    scripted.add_replies([{"tool_calls": [{"name": "boom", "id": "a"},
                                          {"name": "ghost", "id": "b"}]}, "sorry"])
    agent = rt.agents.create("t", "scripted/x", tools=[{"name": "boom", "fn": boom}])
    result = agent.invoke("go")
    assert [c["result"]["success"] for c in result.tool_calls] == [False, False]
    contents = [m.content for m in scripted.requests[1].messages if m.role == "tool"]
    assert contents[0] == "error: RuntimeError: disk full"
    assert "no tool named 'ghost'" in contents[1]


def test_conversation_is_bounded(rt: Runtime, scripted: ScriptedProvider) -> None:
    scripted.add_replies(["a", "b", "c"])
    agent = rt.agents.create("short", "scripted/x", max_conversation_length=2)
    for text in ("one", "two", "three"):
        agent.invoke(text)
    assert [m.content for m in agent.conversation] == ["three", "c"]


def test_bad_arguments_name_the_argument(rt: Runtime, scripted: ScriptedProvider) -> None:
    with pytest.raises(ValidationError, match=r"argument 'model'.*unknown provider 'nope'"):
        rt.agents.create("a", "nope/model")
    with pytest.raises(ValidationError, match="argument 'temperature'"):
        rt.agents.create("a", "scripted/x", temperature=7)
    with pytest.raises(ValidationError, match="argument 'name'"):
        rt.agents.create("bad name!", "scripted/x")
    with pytest.raises(ValidationError, match=r"argument 'tools' at \[1\]\.fn"):
        rt.agents.create("a", "scripted/x", tools=[{"name": "t"}])
    agent = rt.agents.create("a", "scripted/x")
    with pytest.raises(ValidationError, match=r"argument 'name'.*exists"):
        rt.agents.create("a", "scripted/x")
    with pytest.raises(ValidationError, match=r"argument 'input'.*unknown field"):
        agent.invoke({"txt": "typo"})


def test_lifecycle_moves_records_history_and_refuses_calls(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    agent = rt.agents.create("life", "scripted/x")
    assert agent.state == "ready"
    agent.start()
    agent.pause()
    with pytest.raises(AgentError, match=r"paused and takes no calls; resume it first"):
        agent.invoke("hi")
    with pytest.raises(AgentError, match=r"cannot recover while paused"):
        agent.recover()
    agent.resume()
    agent.set_error("provider down")
    agent.recover()
    history = agent.lifecycle.history
    assert [(h["from"], h["to"]) for h in history] == [
        ("uninitialized", "ready"), ("ready", "running"), ("running", "paused"),
        ("paused", "running"), ("running", "error"), ("error", "ready")]
    assert history[4]["reason"] == "provider down"
    assert all(set(h) == {"from", "to", "timestamp", "elapsed", "reason"} for h in history)
    assert agent.lifecycle.recovery_attempts == 1
    assert rt.agents.remove("life") and agent.state == "terminated"
    assert rt.agents.get("life") is None


def test_pause_and_stop_save_state_and_load_restores_it(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    scripted.add_replies(["remembered"])
    agent = rt.agents.create("mem", "scripted/x", system_prompt="S",
                             api_key="sk-planted-1234567890")
    agent.invoke("keep this")
    agent.pause()
    saved = rt.state.load("agent:mem", "state")
    assert saved["lifecycle"]["state"] == "paused"
    assert [m["content"] for m in saved["conversation"]] == ["keep this", "remembered"]
    assert "sk-planted" not in repr(saved)
    rt.agents.remove("mem")
    again = rt.agents.restore("mem")
    assert again.state == "paused" and again.config.system_prompt == "S"
    assert [m.content for m in again.conversation] == ["keep this", "remembered"]
    assert again.delete_state() and not again.load_state()


def test_hooks_modify_the_prompt_skip_cancel_and_retry(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    agent = rt.agents.create("h", "scripted/x")
    scripted.add_replies(["ok"])
    handle = rt.hooks.register("BeforeAgentExecution", lambda ctx: HookResult.modified(
        {**ctx.data, "text": ctx.data["text"].upper()}))
    agent.invoke("quiet")
    assert scripted.requests[-1].messages[-1].content == "QUIET"
    handle.unregister()

    handle = rt.hooks.register("agent:before_execution",
                               lambda ctx: HookResult.skip(result="cached answer"))
    sent = len(scripted.requests)
    skipped = agent.invoke("x")
    assert skipped.text == "cached answer" and skipped.metadata["skipped"] is True
    assert len(scripted.requests) == sent
    handle.unregister()

    handle = rt.hooks.register("agent:before_execution",
                               lambda ctx: HookResult.cancel("not today"))
    with pytest.raises(HookCancelled, match="not today"):
        agent.invoke("x")
    handle.unregister()

    scripted.add_replies(["bad answer", "good answer"])
    handle = rt.hooks.register("agent:after_execution", lambda ctx: HookResult.retry(
        delay=0, attempts=3) if ctx.data["text"] == "bad answer" else None)
    assert agent.invoke("try").text == "good answer"
    handle.unregister()
    assert [m.content for m in agent.conversation][-2:] == ["try", "good answer"]

    scripted.add_replies([{"error": "rate_limited"}, "recovered"])
    handle = rt.hooks.register("AgentError", lambda ctx: HookResult.retry(delay=0,
                                                                          attempts=2))
    assert agent.invoke("flaky").text == "recovered"
    handle.unregister()
    scripted.add_replies([{"error": "rate_limited"}])
    with pytest.raises(ProviderRateLimited):
        agent.invoke("flaky")


def test_calls_are_journaled_with_fingerprints_and_outputs_collected(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    session = rt.sessions.create("work")
    rt.sessions.set_current(session)
    scripted.add_replies([{"tool_calls": [{"name": "echo", "arguments": {"v": 1}}]}, "done",
                          "done", {"error": "unavailable", "message": "down"}])
    agent = rt.agents.create("j", "scripted/x",
                             tools=[{"name": "echo", "fn": lambda a: a["v"]}])
    result = agent.invoke("start")
    agent.clear_conversation()
    scripted.add_replies([])
    entries = rt.sessions.journal.read(session.id, kinds="llm")
    assert len(entries) == 2 and all(e.correlation_id == result.metadata["correlation_id"]
                                     for e in entries)
    first = entries[0].data
    assert first["request"]["messages"] == [{"role": "user", "content": "start"}]
    assert first["usage"]["total"] > 0 and first["provider"] == "scripted"
    assert len(first["fingerprint"]) == 64 and "latency_ms" in first
    tools = rt.sessions.journal.read(session.id, kinds="tool")
    assert tools[0].data["tool"] == "echo" and tools[0].data["result"]["output"] == 1
    # the same request gives the same fingerprint; a different one another
    agent.invoke("start")
    again = rt.sessions.journal.read(session.id, kinds="llm")[-1].data
    assert again["fingerprint"] == first["fingerprint"]
    with pytest.raises(Exception, match="down"):
        agent.invoke("fails")
    failed = rt.sessions.journal.read(session.id, kinds="llm")[-1].data
    assert failed["error_type"] == "ProviderUnavailable" and "response" not in failed
    stored = rt.artifacts.versions(session.id, "agent_output/j")
    assert [a.artifact_type for a in stored] == ["agent_output", "agent_output"]
    assert rt.artifacts.read(stored[-1]) == b"done"
    counters = rt.sessions.get(session.id).counters
    assert counters.tokens == sum(e.data.get("usage", {}).get("total", 0)
                                  for e in rt.sessions.journal.read(session.id, kinds="llm"))


def test_session_limits_refuse_before_and_after_the_call(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    fired: list[Any] = []
    rt.hooks.register("resource:limit_exceeded", lambda ctx: fired.append(ctx.data))
    session = rt.sessions.create("capped", limits={"tokens": 100})
    rt.sessions.set_current(session)
    agent = rt.agents.create("cap", "scripted/x")
    # before: the estimate (400 characters = 100 tokens, plus what is there) is too much
    with pytest.raises(ResourceLimitExceeded, match="tokens"):
        agent.invoke("x" * 404)
    assert scripted.requests == [] and fired
    # after: the estimate passes, the measured usage does not
    scripted.add_replies([{"text": "big", "usage": {"input_tokens": 5, "output_tokens": 150}}])
    with pytest.raises(ResourceLimitExceeded, match="after the call"):
        agent.invoke("small")
    assert len(scripted.requests) == 1 and agent.conversation == []
    assert rt.sessions.get(session.id).counters.tokens == 155


def test_rate_limits_and_max_operations_apply_to_agent_calls(scripted_rt: Any) -> None:
    rt, scripted = scripted_rt
    scripted.add_replies(["1", "2", "3"])
    agent = rt.agents.create("r", "scripted/x")
    agent.invoke("a")
    with pytest.raises(RateLimitExceeded, match=r"agent\.execute"):
        agent.invoke("b")


@pytest.fixture
def scripted_rt() -> Any:
    runtime = Runtime.memory(session__rate_limits=["agent.execute=1/h"])
    provider = ScriptedProvider("scripted")
    runtime.providers.add("scripted", provider)
    yield runtime, provider
    runtime.close()


def test_stream_yields_chunks_in_order_and_a_done_result(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    scripted.add_replies([{"tool_calls": [{"name": "n", "id": "c"}]}, "one two three"])
    agent = rt.agents.create("s", "scripted/x", tools=[{"name": "n", "fn": lambda a: "N"}])
    chunks = list(agent.stream("go"))
    assert [c.kind for c in chunks] == ["tool_call", "tool_result", "text", "text", "text",
                                        "done"]
    assert [c.index for c in chunks] == list(range(6))
    assert "".join(c.text for c in chunks) == "one two three"
    done = chunks[-1].result
    assert done is not None and done.text == "one two three" and done.tool_calls
    assert [m.content for m in agent.conversation][-1] == "one two three"


def test_async_forms(rt: Runtime, scripted: ScriptedProvider) -> None:
    scripted.add_replies(["async answer", "streamed async answer"])
    agent = rt.agents.create("aio", "scripted/x")

    async def main() -> tuple[str, list[str]]:
        result = await agent.ainvoke("hi")
        pieces = [c.text async for c in agent.astream("more") if c.kind == "text"]
        return result.text, pieces

    text, pieces = asyncio.run(main())
    assert text == "async answer" and "".join(pieces) == "streamed async answer"


def test_events_tell_what_agents_did(rt: Runtime, scripted: ScriptedProvider) -> None:
    sub = rt.events.subscribe("agent.*")
    scripted.add_replies(["x"])
    agent = rt.agents.create("ev", "scripted/x")
    agent.invoke("hi")
    agent.pause()
    kinds = [rt.events.receive(sub.id, timeout=0).type for _ in range(4)]
    assert kinds == ["agent.state_changed", "agent.created", "agent.execution_completed",
                     "agent.state_changed"]


def test_an_abandoned_stream_is_journaled_as_failed_and_leaves_no_turns(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    session = rt.sessions.create("abandon")
    rt.sessions.set_current(session)
    scripted.add_replies(["many words in this answer"])
    agent = rt.agents.create("quit", "scripted/x")
    chunks = agent.stream("go")
    assert next(chunks).text == "many "
    chunks.close()
    last = rt.sessions.journal.read(session.id, kinds="llm")[-1].data
    assert last["error_type"] == "GeneratorExit" and agent.conversation == []
    assert agent.metrics()["requests_active"] == 0
    assert agent.metrics()["requests_failed"] == 1


def test_tool_arguments_are_checked_against_the_schema(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    ran: list[Any] = []
    schema = {"type": "object", "required": ["city"],
              "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}
    scripted.add_replies([{"tool_calls": [{"name": "weather", "arguments": {"days": 2}},
                                          {"name": "weather",
                                           "arguments": {"city": "Oslo", "days": "two"}},
                                          {"name": "weather",
                                           "arguments": {"city": "Oslo", "days": 2}}]},
                          "done"])
    agent = rt.agents.create("w", "scripted/x", tools=[
        {"name": "weather", "parameters": schema, "fn": lambda a: ran.append(a) or "sunny"}])
    result = agent.invoke("weather?")
    errors = [c["result"]["error"] for c in result.tool_calls]
    assert errors[0] == "invalid arguments for 'weather': required field 'city' is missing"
    assert errors[1].startswith("invalid arguments for 'weather': field 'days' must be integer")
    assert errors[2] is None and ran == [{"city": "Oslo", "days": 2}]


def test_each_call_has_its_own_correlation_id_of_32_hex_digits(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    scripted.add_replies(["one", "two"])
    agent = rt.agents.create("ids", "scripted/demo")
    ids = [agent.invoke("hi").metadata["correlation_id"] for _ in range(2)]
    assert ids[0] != ids[1]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3"


@pytest.mark.parametrize("where", ["system", "input", "answer", "tool_args", "agent_name"])
def test_llm_call_entries_hide_secrets_wherever_the_user_or_provider_put_them(
        rt: Runtime, scripted: ScriptedProvider, where: str) -> None:
    session = rt.sessions.create("keys")
    rt.sessions.set_current(session)
    answer: Any = f"the key is {KEY}" if where == "answer" else "fine"
    if where == "tool_args":
        answer = {"tool_calls": [{"name": "echo", "arguments": {"api_key": "hunter2hunter2"}}]}
        scripted.add_replies([answer, "done"])
    else:
        scripted.add_replies([answer])
    name = "sk-" + "Zq9Xw8Vu7Ts6Rq5Po4Nm3Lk2" if where == "agent_name" else "keys"
    agent = rt.agents.create(name, "scripted/demo",
                             system_prompt=f"use {KEY}" if where == "system" else "Be brief.",
                             tools=[{"name": "echo", "fn": lambda a: "ok"}])
    agent.invoke(f"here: {KEY}" if where == "input" else "hi")
    stored = [e.data for e in rt.sessions.journal.read(session.id, kinds="llm")]
    text = repr(stored)
    assert KEY not in text and "hunter2hunter2" not in text and "Zq9Xw8Vu7Ts6" not in text
    assert "[REDACTED]" in text


def test_a_clean_llm_call_entry_is_stored_as_built(rt: Runtime,
                                                   scripted: ScriptedProvider) -> None:
    session = rt.sessions.create("clean")
    rt.sessions.set_current(session)
    scripted.add_replies([{"text": "Hello there", "usage": {"input_tokens": 3,
                                                            "output_tokens": 2}}])
    rt.agents.create("clean", "scripted/demo", system_prompt="Be brief.",
                     max_tokens=50).invoke("hi")
    entry = rt.sessions.journal.read(session.id, kinds="llm")[0].data
    assert entry["request"]["messages"] == [{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": "hi"}]
    assert entry["request"]["max_tokens"] == 50 and entry["response"]["text"] == "Hello there"
    assert entry["usage"] == {"input_tokens": 3, "output_tokens": 2, "total": 5}
