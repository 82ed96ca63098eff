"""``JSON.parse`` reads null as nil, as rs-llmspell does; ``JSON.null`` is opt-in."""

from __future__ import annotations

import pytest

from llmspell.lua import LuaEngine


def test_null_is_nil_at_every_depth(engine: LuaEngine) -> None:
    got = engine.run_string("""
        local v = JSON.parse('{"a": null, "b": {"c": null, "d": 1}, "e": [1, null, 3]}')
        return {a = v.a == nil, c = v.b.c == nil, d = v.b.d, e1 = v.e[1], e2 = v.e[2] == nil,
                e3 = v.e[3], keys = JSON.stringify(v.b)}""")
    assert got == {"a": True, "c": True, "d": 1, "e1": 1, "e2": True, "e3": 3,
                   "keys": '{"d":1}'}


def test_keep_nulls_gives_the_sentinel(engine: LuaEngine) -> None:
    got = engine.run_string("""
        local text = '{"a": null, "e": [1, null]}'
        local v = JSON.parse(text, {keep_nulls = true})
        return {a = v.a == JSON.null, e = v.e[2] == JSON.null, back = JSON.stringify(v)}""")
    assert got == {"a": True, "e": True, "back": '{"a":null,"e":[1,null]}'}


def test_a_string_holding_null_is_left_alone(engine: LuaEngine) -> None:
    assert engine.run_string("""return JSON.parse('{"word": "null"}').word""") == "null"


@pytest.mark.parametrize(("code", "words"), [
    ("JSON.parse('{}', {keep_nulls = 1})", "argument 'options' at .keep_nulls: must be true "
                                            "or false"),
    ("JSON.parse('{}', {keep = true})", "argument 'options' at .keep: unknown option"),
    ("JSON.parse('{}', 'yes')", "argument 'options': must be a table"),
])
def test_bad_options(engine: LuaEngine, code: str, words: str) -> None:
    ok, err = engine.run_string(f"return pcall(function() return {code} end)")
    assert ok is False and words in err
