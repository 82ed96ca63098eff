"""Issue 11 item 7: values nested far too deep, NaN in events, and bad config values are
typed errors naming the argument (or key), the path and the rule, never a RecursionError, a
crash, or data silently changed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell import Runtime
from llmspell.codec import MAX_DEPTH, check_nesting, encode
from llmspell.config import load_config
from llmspell.errors import ConfigError, InvalidValue, ScriptError
from llmspell.events import capture_events
from llmspell.lua import LuaEngine

DEPTH_RULE = f"must not be nested deeper than {MAX_DEPTH} levels"


def nested(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


@pytest.fixture
def engine() -> Iterator[LuaEngine]:
    """A Lua engine on a memory runtime (``engine.runtime``)."""
    with Runtime.memory() as rt:
        lua = LuaEngine(rt, script_name="bad.lua")
        yield lua
        lua.close()


@pytest.fixture
def runtime(engine: LuaEngine) -> Runtime:
    return engine.runtime


# -- the one depth limit ----------------------------------------------------------------------


def test_the_limit_itself() -> None:
    encode(nested(MAX_DEPTH))  # exactly the limit is fine
    with pytest.raises(InvalidValue, match=DEPTH_RULE) as caught:
        encode({"a": nested(MAX_DEPTH)})
    assert caught.value.argument == "value"
    assert caught.value.path.startswith("$.a[0][0]") and f"({MAX_DEPTH} levels)" in \
        caught.value.path
    check_nesting(nested(MAX_DEPTH))
    with pytest.raises(InvalidValue, match=DEPTH_RULE):
        check_nesting({"a": {nested(5)[0][0][0][0][0]}, "b": nested(MAX_DEPTH + 1)})


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 1000, 5000])
def test_python_api_refuses_deep_values(runtime: Runtime, levels: int) -> None:
    deep = nested(levels)
    with pytest.raises(InvalidValue, match=DEPTH_RULE) as caught:
        runtime.state.save("global", "k", deep)
    assert caught.value.argument == "value"
    assert runtime.state.load("global", "k") is None
    with pytest.raises(InvalidValue, match=rf"argument 'metadata' at \$\.m\[0\].*{DEPTH_RULE}"):
        runtime.sessions.create("s", metadata={"m": deep})
    with pytest.raises(InvalidValue, match=rf"argument 'data' at \$\.x\[0\].*{DEPTH_RULE}"):
        runtime.events.publish("bad.deep", {"x": deep})


def test_a_deep_event_for_a_recorded_session_is_refused_not_lost(runtime: Runtime) -> None:
    session = runtime.sessions.create("recorded")
    before = len(runtime.sessions.journal.read(session.id))
    with pytest.raises(InvalidValue, match=DEPTH_RULE):
        runtime.events.publish("bad.deep", {"x": nested(1000)}, session_id=session.id)
    runtime.events.publish("good.shallow", {"x": nested(10)}, session_id=session.id)
    entries = runtime.sessions.journal.read(session.id)
    assert len(entries) == before + 1


LUA_DEEP = "local t = {} local c = t for i = 1, 1000 do c[1] = {} c = c[1] end "


@pytest.mark.parametrize("code", [
    LUA_DEEP + "State.save('global', 'k', t)",
    LUA_DEEP + "return JSON.stringify(t)",
    LUA_DEEP + "Event.publish('bad.deep', t)",
    "return JSON.parse(string.rep('[', 1000) .. string.rep(']', 1000))",
])
def test_lua_refuses_deep_values_by_the_same_limit(engine: LuaEngine, code: str) -> None:
    with pytest.raises(ScriptError, match=f"InvalidValue: .*nested deeper than {MAX_DEPTH} "
                                          "levels"):
        engine.run_string(code)


# -- NaN in events: refused like everywhere else in the codec ---------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_events_refuse_non_finite_floats(runtime: Runtime, bad: float) -> None:
    refused = pytest.raises(InvalidValue, match=r"argument 'data' at \$\.r\[1\]: floats must "
                            "be finite")
    with capture_events(runtime.events) as seen, refused:
        runtime.events.publish("bad.nan", {"r": [1.0, bad]})
    with capture_events(runtime.events) as seen, pytest.raises(
            InvalidValue, match=r"argument 'data' at \$\.c\.x: floats must be finite"):
        runtime.events.publish("bad.nan", {"n": 1, "c": {"ok": 1.5, "x": bad}})
    with capture_events(runtime.events) as seen, pytest.raises(
            InvalidValue, match=r"argument 'data' at \$\.c\.u\[0\]\.x: floats must be finite"):
        runtime.events.publish("bad.nan", {"c": {"u": ({"x": bad},)}})
    assert not any(event.type == "bad.nan" for event in seen)


def test_lua_event_with_nan_is_refused_not_stored_as_null(runtime: Runtime,
                                                          engine: LuaEngine) -> None:
    session = runtime.sessions.create("nan")
    with pytest.raises(ScriptError, match=r"InvalidValue: argument 'data' at \$\.x: floats "
                                          "must be finite"):
        engine.run_string(f"Event.publish('bad.nan', {{x = 0/0}}, {{session_id = "
                          f"'{session.id}'}})")
    assert all(entry.kind != "bad.nan" for entry in runtime.sessions.journal.read(session.id))


# -- config through the Python API ----------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("LLMSPELL_")]:
        monkeypatch.delenv(name)
    return tmp_path


@pytest.mark.parametrize(("toml", "key", "rule"), [
    ("[session]\nmax_active_sessions = 99999999999999999999999\n", "max_active_sessions",
     "64-bit integer"),
    ("[state]\nmax_value_bytes = -99999999999999999999999\n", "max_value_bytes",
     "64-bit integer"),
    ("[runtime]\nscript_timeout_seconds = nan\n", "script_timeout_seconds",
     "must be a finite number"),
    ("[agents]\nx = " + "{a = " * 250 + "1" + "}" * 250 + "\n", "x", DEPTH_RULE),
    ("[state]\nredact_patterns = ['(']\n", "redact_patterns", "valid regular expressions"),
])
def test_load_config_refuses_naming_the_key(project: Path, toml: str, key: str,
                                            rule: str) -> None:
    (project / "llmspell.toml").write_text(toml)
    with pytest.raises(ConfigError, match=rule) as caught:
        load_config(cwd=project)
    assert caught.value.key == key


def test_load_config_accepts_a_bom_and_refuses_a_directory(project: Path) -> None:
    config_file = project / "llmspell.toml"
    config_file.write_bytes(b"\xef\xbb\xbf[session]\nmax_active_sessions = 7\n")
    assert load_config(cwd=project).session.max_active_sessions == 7
    config_file.unlink()
    config_file.mkdir()
    with pytest.raises(ConfigError, match="is not a file"):
        load_config(cwd=project)


@pytest.mark.parametrize("price", ["nan", "99999999999999999999999", "-1"])
def test_provider_prices_follow_the_number_rules(project: Path, price: str) -> None:
    (project / "llmspell.toml").write_text(
        f'[providers.local]\nkind = "openai"\nprices = {{ m = {{ input = {price}, '
        'output = 1 }}\n')
    with pytest.raises(ConfigError, match=r"must be (a finite number|at most|a number >= 0)") as \
            caught:
        load_config(cwd=project)
    assert caught.value.key == "prices.m.input"
