"""rs-llmspell's scope strings from Lua: a string that names no scope kind is a custom scope;
near misses of a kind are still refused, with a did-you-mean."""

from __future__ import annotations

import pytest

from llmspell.errors import ScriptError
from llmspell.lua import LuaEngine


@pytest.mark.parametrize("written", ["system", "cache", "agent_1", "session", "user",
                                     "tasks:today"])
def test_a_bare_word_names_a_custom_scope(engine: LuaEngine, written: str) -> None:
    engine.run_string(f'State.save("{written}", "colour", "teal")')
    assert engine.runtime.state.load(f"custom:{written}", "colour") == "teal"
    assert engine.run_string(f'return State.load("{written}", "colour")') == "teal"
    assert engine.run_string(f'return State.list_keys("{written}")') == ["colour"]
    assert engine.run_string(f'return State.exists("{written}", "colour")') is True
    assert engine.run_string(f'return State.delete("{written}", "colour")') is True
    assert engine.runtime.state.list_keys(f"custom:{written}") == []


def test_known_scopes_keep_their_meaning(engine: LuaEngine) -> None:
    engine.run_string('State.save("agent:a1", "k", 1) State.save("global", "k", 2)')
    assert engine.runtime.state.load("agent:a1", "k") == 1
    assert engine.runtime.state.load("global", "k") == 2
    assert engine.runtime.state.list_keys("custom:agent:a1") == []


@pytest.mark.parametrize(("written", "message"), [
    ("agnet:x", "unknown scope kind 'agnet' (did you mean 'agent'?)"),
    ("sesion:x", "unknown scope kind 'sesion' (did you mean 'session'?)"),
    ("globl", "unknown scope 'globl' (did you mean 'global'?)"),
    ("Global", "unknown scope 'Global' (scopes are lower-case)"),
    ("agent:", "the id after 'agent:' must not be empty"),
    ("", "unknown scope ''"),
    ("a/b", "a scope id must not contain '/'"),
])
def test_near_misses_are_refused_and_nothing_is_written(engine: LuaEngine, written: str,
                                                        message: str) -> None:
    ok, err = engine.run_string(f'return pcall(State.save, "{written}", "k", 1)')
    assert ok is False
    assert err.startswith("InvalidScope: argument 'scope': ") and message in err
    assert engine.runtime.state.scopes() == []


def test_a_scope_must_be_a_string(engine: LuaEngine) -> None:
    with pytest.raises(ScriptError, match="InvalidScope: argument 'scope': must be a scope "
                                          "string"):
        engine.run_string("State.save(5, 'k', 1)")
