"""Agents over real HTTP against the loopback OpenAI-compatible server: answers, streaming
order, a dropped stream journaled as a failed call, and a planted API key that never shows up
in the journal, events, logs, the store or errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from llmspell.errors import ProviderStreamDropped
from llmspell.runtime import Runtime
from llmspell.testing import FakeOpenAIServer

PLANTED = "sk-plantedKEY0123456789abcdefXYZ"


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def test_agent_over_http_streams_in_order_and_never_shows_the_key(
        rt: Runtime, server: FakeOpenAIServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sub = rt.events.subscribe("**")
    session = rt.sessions.create("http")
    rt.sessions.set_current(session)
    agent = rt.agents.create("web", "openai/gpt-4o-mini", base_url=server.base_url,
                             api_key=PLANTED, system_prompt="Be brief.")
    server.reply("Hello there", usage=(5, 2))
    result = agent.invoke("hi")
    assert result.text == "Hello there"
    assert result.usage["input_tokens"] == 5 and result.usage["output_tokens"] == 2
    assert server.requests[0].headers["authorization"] == f"Bearer {PLANTED}"
    assert server.requests[0].json["model"] == "gpt-4o-mini"

    server.reply("alpha beta gamma delta", usage=(9, 4))
    chunks = list(agent.stream("stream please"))
    texts = [c.text for c in chunks if c.kind == "text"]
    assert "".join(texts) == "alpha beta gamma delta" and len(texts) > 1
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[-1].kind == "done" and chunks[-1].result.usage["total"] == 13

    server.drop_stream(after_text="Hel")
    with pytest.raises(ProviderStreamDropped) as caught:
        list(agent.stream("drop it"))
    assert PLANTED not in str(caught.value)
    calls = rt.sessions.journal.read(session.id, kinds="llm")
    assert [c.data.get("error_type") for c in calls] == [None, None, "ProviderStreamDropped"]
    assert calls[1].data["stream"] is True and calls[2].data["request"]["messages"][-1] == {
        "role": "user", "content": "drop it"}

    # planted key: nowhere in the journal, events, logs or the store
    entries = rt.sessions.journal.read(session.id)
    assert PLANTED not in repr([e.to_dict() for e in entries])
    events = []
    while (event := rt.events.receive(sub.id, timeout=0)) is not None:
        events.append(event)
    assert events and PLANTED not in repr([(e.type, e.data) for e in events])
    assert PLANTED not in caplog.text
    agent.pause()  # saves the agent's state
    stored = b"".join(k.encode() + v for k, v in rt.store.scan(""))
    assert b"agent:web" in stored or b"agent%3Aweb" in stored or b"web" in stored
    assert PLANTED.encode() not in stored
    assert PLANTED not in repr(agent.snapshot()) and PLANTED not in repr(agent.config)


def test_an_anthropic_agent_over_http(rt: Runtime, server: FakeOpenAIServer) -> None:
    agent = rt.agents.create("claude", "anthropic/claude-3-5-haiku-latest",
                             base_url=server.base_url.removesuffix("/v1"), api_key=PLANTED,
                             system_prompt="Be brief.", max_tokens=64)
    server.reply("Bonjour", usage=(4, 1))
    result = agent.invoke("hi")
    assert result.text == "Bonjour" and result.metadata["provider"] == "anthropic"
    sent = server.requests[0]
    assert sent.path.endswith("/messages") and sent.json["system"] == "Be brief."
    assert sent.json["max_tokens"] == 64


def test_a_missing_key_is_an_auth_error_naming_the_variable_from_lua(
        monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from llmspell.lua.engine import LuaEngine

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("LLMSPELL_KEYS_PATH", f"{tmp_path}/keys.json")
    with Runtime.memory() as rt, LuaEngine(rt) as engine:
        ok, err = engine.run_string(
            'return pcall(Agent.create, {name = "x", model = "gpt-4o-mini"})')
    assert ok is False and err.startswith("ProviderAuthError:") and "OPENAI_API_KEY" in err
