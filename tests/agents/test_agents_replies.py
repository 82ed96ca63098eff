"""``Agent.create{model = "scripted/...", replies = {...}}``: an agent with canned replies of its
own (the offline quickstart), from Python and Lua; refused for other providers."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.errors import ProviderScriptExhausted, ValidationError
from llmspell.runtime import Runtime


def test_an_agent_answers_with_its_own_replies_in_order(rt: Runtime) -> None:
    first = rt.agents.create("one", "scripted/demo", replies=["a1", {"text": "a2"}])
    second = rt.agents.create("two", "scripted/demo", replies=["b1"])
    assert first.invoke("q").text == "a1"
    assert second.invoke("q").text == "b1"  # not the other agent's queue
    assert first.invoke("q").text == "a2"
    with pytest.raises(ProviderScriptExhausted):
        second.invoke("q")


def test_replies_are_refused_for_a_real_provider(rt: Runtime) -> None:
    with pytest.raises(ValidationError) as caught:
        rt.agents.create("real", "openai/gpt-4o-mini", api_key="k", replies=["x"])
    assert caught.value.argument == "replies"
    assert rt.agents.get("real") is None


@pytest.mark.parametrize("replies, path", [("just text", None), ([{"txt": "typo"}], "[0]"),
                                           ([42], "[0]")])
def test_bad_replies_name_the_argument_and_path(rt: Runtime, replies: Any,
                                                path: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        rt.agents.create("bad", "scripted/demo", replies=replies)
    assert caught.value.argument == "replies"
    if path is not None:
        assert path in str(caught.value)


def test_replies_from_lua_and_the_call_in_the_session(rt: Runtime, lua: Any) -> None:
    text, tokens, kinds = lua.run_string("""
        local s = Session.create{name = "demo"}
        Session.setCurrent(s)
        local agent = Agent.create{name = "a", model = "scripted/demo",
                                   replies = {"canned " .. 1 + 1}}
        local r = agent:invoke{text = "hello there"}
        local kinds = {}
        for _, e in ipairs(Session.timeline(s, {kind = "llm.call"})) do
          kinds[#kinds + 1] = e.kind
        end
        return r.text, r.usage.total, table.concat(kinds, ",")
    """, "t.lua")
    assert (text, kinds) == ("canned 2", "llm.call")
    assert tokens > 0


def test_replies_refused_from_lua_name_the_argument(lua: Any) -> None:
    with pytest.raises(Exception, match="replies"):
        lua.run_string('Agent.create{model = "openai/gpt-4o-mini", api_key = "k", '
                       'replies = {"x"}}', "t.lua")
