"""Acceptance: an agent (scripted provider) answers a question by calling calculator and
file_operations in a session; both calls and the answer are journaled and stored as
artifacts, each call once."""

from __future__ import annotations

from pathlib import Path

from llmspell import Runtime
from llmspell.providers.scripted import ScriptedProvider


def test_an_agent_uses_registered_tools_in_a_session(rt: Runtime, root: Path) -> None:
    (root / "prices.txt").write_text("apples 3\n")
    provider = ScriptedProvider("scripted")
    rt.providers.add("scripted", provider)
    provider.add_replies([
        {"tool_calls": [
            {"id": "c1", "name": "file_operations",
             "arguments": {"operation": "read", "path": str(root / "prices.txt")}},
            {"id": "c2", "name": "calculator", "arguments": {"input": "3 * 4"}}]},
        "Four apples cost 12.",
    ])
    tools = [rt.tools.get(n).as_agent_tool() for n in ("calculator", "file_operations")]
    agent = rt.agents.create("shopper", "scripted/x", tools=tools, max_steps=3)
    session = rt.sessions.create("shopping")
    with rt.sessions.current(session):
        answer = agent.invoke("What do four apples cost?")
    assert answer.text == "Four apples cost 12."
    assert [c["result"]["output"] for c in answer.tool_calls] == [
        {"content": "apples 3\n", "path": str(root / "prices.txt")},
        {"result": 12, "expression": "3 * 4"}]
    sent = provider.requests[0].tools
    assert {t.name for t in sent} == {"calculator", "file_operations"}
    assert sent[0].parameters == dict(rt.tools.get(sent[0].name).parameters)
    calls = rt.sessions.journal.read(session.id, kinds="tool.call")
    assert [(c.data["agent"], c.data["tool"]) for c in calls] == [
        ("shopper", "file_operations"), ("shopper", "calculator")]
    kinds = [e.kind for e in rt.sessions.journal.read(session.id)]
    assert "llm.call" in kinds
    names = {a.name for a in rt.artifacts.list(session)}
    assert {"tool_result/calculator", "tool_result/file_operations",
            "agent_output/shopper"} <= names


def test_an_agent_tool_call_is_refused_like_any_other(rt: Runtime, tmp_path: Path) -> None:
    provider = ScriptedProvider("scripted")
    rt.providers.add("scripted", provider)
    provider.add_replies([
        {"tool_calls": [{"id": "c1", "name": "file_operations",
                         "arguments": {"operation": "read", "path": "/etc/passwd"}}]},
        "I may not read that.",
    ])
    agent = rt.agents.create("nosy", "scripted/x",
                             tools=[rt.tools.get("file_operations").as_agent_tool()])
    out = agent.invoke("read the passwords")
    result = out.tool_calls[0]["result"]
    assert result["success"] is False and "outside the allowed roots" in result["error"]


def test_an_agents_journal_hides_a_tools_secret_fields(rt: Runtime) -> None:
    # The call is refused (network off), but the arguments are journaled: the key is hidden.
    provider = ScriptedProvider("scripted")
    rt.providers.add("scripted", provider)
    secret = "k-agent-secret-value-123"
    provider.add_replies([
        {"tool_calls": [{"id": "c1", "name": "http_request", "arguments": {
            "input": "http://127.0.0.1/x",
            "auth": {"type": "api_key", "key": secret, "header_name": "X-Key"}}}]},
        "done",
    ])
    agent = rt.agents.create("caller", "scripted/x",
                             tools=[rt.tools.get("http_request").as_agent_tool()])
    session = rt.sessions.create("agent-secret")
    with rt.sessions.current(session):
        agent.invoke("call it")
    entry = rt.sessions.journal.read(session.id, kinds="tool.call")[0].data
    assert entry["arguments"]["auth"] == {"type": "api_key", "key": "[REDACTED]",
                                          "header_name": "X-Key"}
    assert secret not in str(entry)
