"""The fast paths for an agent's input: ``parse_input`` of a lone ``{"text": str}`` dict, and
``agent:invoke{text = "..."}`` sent from Lua as its string (``invokeText``). Each must give
what the general path gives: the same text sent, the same error."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from llmspell.agents.model import parse_input
from llmspell.errors import ValidationError
from llmspell.lua.bridge import error_text
from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime


class Text(str):
    pass


@pytest.mark.parametrize("value", [
    {"text": "hi"}, {"text": ""}, {"text": "é \ud800"}, {"text": Text("sub")}, {"text": 5},
    {"text": None}, {"text": b"\xff"}, {"prompt": "p"}, {"message": "m"}, {"input": "i"},
    {"parameters": {"a": 1}}, {"other": "x"}, {}, {"text": "a", "parameters": {"k": 1}},
    {"text": "a", "other": 1}, {1: "x"},
])
def test_parse_input_of_a_dict_matches_the_mapping_path(value: dict[Any, Any]) -> None:
    # A MappingProxyType is a Mapping but not a dict: it always takes the general path.
    general = MappingProxyType(value)
    try:
        expected: Any = parse_input(general)
    except ValidationError as exc:
        with pytest.raises(ValidationError) as caught:
            parse_input(value)
        assert str(caught.value) == str(exc)
    else:
        assert parse_input(value) == expected


INPUTS = [
    '{text = "hi"}', '{text = ""}', '{text = "\\xff\\xfe"}', '{text = "caf\\u{e9}"}',
    '{text = 5}', '{text = {"a"}}', '{prompt = "p"}', '{text = "a", parameters = {k = 1}}',
    '{text = "a", extra = 1}', '{}', '{[1] = "x"}', 'setmetatable({text = "meta"}, {})',
    '(function() local t = JSON.array() t.text = "arr" return t end)()', '"plain"', 'nil',
]


@pytest.mark.parametrize("source", INPUTS)
@pytest.mark.parametrize("method", ["invoke", "execute"])
def test_lua_invoke_input_matches_the_converted_input(rt: Runtime, scripted: ScriptedProvider,
                                                      lua: Any, source: str,
                                                      method: str) -> None:
    scripted.add_replies(["r1", "r2"])
    agent = rt.agents.create("bot", "scripted/demo")
    lua.run_string('bot = Agent.get("bot")')
    ok, got = lua.run_string(f'local ok, r = pcall(bot.{method}, bot, {source}) '
                             'return ok, ok and r.text or r')
    # The general path: the converter's value of the same table, given to the agent.
    sent = len(scripted.requests)
    try:
        converted = lua.to_python(lua.lua.eval(source.encode()), "input")
        expected: Any = agent.invoke(converted).text
    except Exception as exc:  # any error: the Lua call must raise the same one
        assert (ok, got) == (False, error_text(exc))
        assert len(scripted.requests) == sent
        return
    assert (ok, got) == (True, "r1") and expected == "r2"
    assert scripted.requests[0].messages[-1] == scripted.requests[1].messages[-1]


def test_lua_invoke_with_an_extra_argument_is_refused_as_before(rt: Runtime,
                                                                scripted: ScriptedProvider,
                                                                lua: Any) -> None:
    rt.agents.create("bot", "scripted/demo")
    ok, message = lua.run_string('local a = Agent.get("bot") '
                                 'return pcall(a.invoke, a, {text = "hi"}, 2)')
    assert ok is False
    assert message == "ValidationError: argument '#3': Agent.invoke takes at most 2 " \
                      "arguments (got 3)"
