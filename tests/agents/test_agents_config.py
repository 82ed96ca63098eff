"""Agents with configured providers (prices, max_cost, a replies file), hooks that change the
config or the answer, and runtimes with sessions or state turned off."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from llmspell.errors import ResourceLimitExceeded, StateError
from llmspell.hooks import HookResult
from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime

TOML = """
[storage]
url = "memory://"

[providers.demo]
kind = "scripted"
replies = "replies.json"
prices = { "priced" = { input = 1000.0, output = 2000.0 } }
"""


def test_cost_from_the_price_table_counts_and_max_cost_stops(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text(TOML)
    (tmp_path / "replies.json").write_bytes(orjson.dumps([
        {"text": "cheap", "usage": {"input_tokens": 1, "output_tokens": 1}},
        {"text": "dear", "usage": {"input_tokens": 10, "output_tokens": 10}}]))
    with Runtime.from_config(tmp_path / "llmspell.toml") as rt:
        session = rt.sessions.create("budget", limits={"cost": 0.01})
        rt.sessions.set_current(session)
        agent = rt.agents.create("spender", "demo/priced")
        first = agent.invoke("hi")
        assert first.usage["cost"] == pytest.approx(0.003)  # 1 * 1000/1M + 1 * 2000/1M
        with pytest.raises(ResourceLimitExceeded, match="cost"):
            agent.invoke("more")  # 0.003 + 0.03 > 0.01, measured after the call
        assert rt.sessions.get(session.id).counters.cost == pytest.approx(0.033)
        entries = rt.sessions.journal.read(session.id, kinds="llm")
        assert [e.data["cost"] for e in entries] == pytest.approx([0.003, 0.03])


def test_a_before_init_hook_changes_the_config_and_after_hooks_the_answer(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    rt.hooks.register("BeforeAgentInit", lambda ctx: HookResult.modified(
        {**ctx.data, "system_prompt": "Policy: be polite.", "model": "ignored/x"}))
    agent = rt.agents.create("shaped", "scripted/x", system_prompt="Anything.")
    assert agent.config.system_prompt == "Policy: be polite."
    assert agent.config.model == "scripted/x"  # the model is not the hook's to change
    rt.hooks.register("agent:after_execution",
                      lambda ctx: HookResult.modified(ctx.data["text"] + " [reviewed]"))
    scripted.add_replies(["Sure."])
    result = agent.invoke("help")
    assert result.text == "Sure. [reviewed]" and result.metadata["model"] == "x"
    assert agent.conversation[-1].content == "Sure. [reviewed]"
    assert scripted.requests[0].messages[0].content == "Policy: be polite."


def test_agents_work_with_sessions_and_state_off() -> None:
    with Runtime.memory(session__enabled=False, state__enabled=False) as rt:
        rt.providers.add("scripted", ScriptedProvider("scripted", ["plain"]))
        agent = rt.agents.create("bare", "scripted/x")
        assert agent.invoke("hi").text == "plain"
        agent.pause()  # nothing to save to: no error
        assert agent.state == "paused"
        with pytest.raises(StateError, match="state is disabled"):
            agent.save_state()
