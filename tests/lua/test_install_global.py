"""engine.install_global, the bridge's Lua files (package data) and disabled subsystems."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

import llmspell
from llmspell.errors import ScriptError, StateError, ValidationError
from llmspell.lua import LuaEngine
from llmspell.lua.chunks import SHOWN_PREFIX, source
from llmspell.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = files("llmspell.lua").joinpath("scripts")
EXPECTED = {"prelude.lua", "limits.lua", "console.lua", "sandbox.lua", "exit.lua",
            "shutdown.lua", "state.lua", "session.lua", "artifact.lua", "hook.lua",
            "config.lua", "json.lua", "args.lua", "agent.lua", "streaming.lua", "tool.lua",
            "patterns.lua", "workflow.lua", "tape.lua", "replay.lua"}


def test_the_bridge_lua_code_is_in_lua_files_shipped_as_package_data() -> None:
    found = {p.name for p in SCRIPTS.iterdir() if p.name.endswith(".lua")}
    assert found == EXPECTED
    package = Path(llmspell.__file__).parent
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["llmspell"]
    for name in found:
        assert any(fnmatch(f"lua/scripts/{name}", glob) for glob in globs), name
    for module in (package / "lua").rglob("*.py"):
        assert 'rb"""' not in module.read_text(), f"Lua source left in {module}"


def test_each_file_is_read_once_per_process() -> None:
    with Runtime.memory() as rt:
        LuaEngine(rt).close()
        misses = source.cache_info().misses
        LuaEngine(rt).close()
    assert source.cache_info().misses == misses


def test_an_error_in_the_bridges_lua_names_its_file_and_line() -> None:
    lines = source("prelude.lua").decode().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "__concat" in text)
    where = f"{SHOWN_PREFIX}prelude.lua:{line}: attempt to concatenate a table value"
    with Runtime.memory() as rt, LuaEngine(rt, script_name="demo.lua") as engine:
        caught = engine.run_string(
            "local s = Session.create{name = 'x'}\n"
            "local ok, err = pcall(function() return s .. {} end)\nreturn err")
        assert caught.startswith(where)
        with pytest.raises(ScriptError) as info:
            engine.run_string("local s = Session.create{name = 'x'}\nreturn s .. {}")
    error = info.value
    assert (error.script, error.line) == ("demo.lua", 2)
    assert str(error).startswith(f"demo.lua:2: {where}")
    assert SHOWN_PREFIX not in error.lua_traceback  # type: ignore[attr-defined]


def test_install_global_names_each_function_after_the_global() -> None:
    with Runtime.memory() as rt, LuaEngine(rt) as engine:
        engine.install_global("Greeter", {"hello": lambda name: f"hello {name}"})
        assert engine.run_string("return Greeter.hello('lua')") == "hello lua"
        with pytest.raises(ScriptError, match=r"Greeter\.hello takes at most 1 argument"):
            engine.run_string("return Greeter.hello('a', 'b')")


def test_install_global_with_unavailable_makes_every_function_raise_it() -> None:
    with Runtime.memory() as rt, LuaEngine(rt) as engine:
        engine.install_global("Off", {"go": lambda: 1, "also": lambda x: x},
                              unavailable=StateError("off for this test"))
        assert engine.run_string("return {pcall(Off.go)}, {pcall(Off.also, 1, 2, 3)}") == (
            [False, "StateError: off for this test"], [False, "StateError: off for this test"])


#: (global, configuration, the reason every one of its functions gives, functions it has)
DISABLED = [
    ("State", {"state__enabled": False},
     "StateError: state is disabled ([state] enabled = false in the configuration)",
     {"save", "load", "transaction", "compare_and_set", "migrate", "backup", "create_backup",
      "list_backups", "migration_status"}),
    ("Session", {"session__enabled": False},
     "SessionError: sessions are disabled ([session] enabled = false)",
     {"create", "get", "list", "setCurrent", "getCurrent", "timeline", "delete"}),
    ("Artifact", {"session__enabled": False},
     "SessionError: artifacts belong to sessions, and sessions are disabled",
     {"store", "storeFile", "get", "list", "query", "grants", "setAutoCollect"}),
]

CALL_EVERY_FUNCTION = """
local out = {}
for key, f in pairs(%s) do
  if type(f) == "function" then
    for _, args in ipairs({{}, {"global", "k", 1}, {{bogus = true}}, {nil, 42}}) do
      local ok, err = pcall(f, table.unpack(args, 1, 3))
      out[#out + 1] = {key = key, ok = ok, err = tostring(err)}
    end
  end
end
return out
"""


@pytest.mark.parametrize(("name", "config", "reason", "some"), DISABLED,
                         ids=[d[0] for d in DISABLED])
def test_every_function_of_a_disabled_global_raises_the_reason(
        name: str, config: dict[str, Any], reason: str, some: set[str]) -> None:
    with Runtime.memory(**config) as rt, LuaEngine(rt) as engine:
        calls = engine.run_string(CALL_EVERY_FUNCTION % name)
        assert some <= {call["key"] for call in calls}
        wrong = [call for call in calls if call["ok"] or not call["err"].startswith(reason)]
        assert wrong == []
        # the other globals still work
        assert engine.run_string("return JSON.stringify({1}), Event.publish('a.b') ~= nil") == (
            "[1]", True)


def test_state_off_leaves_sessions_working_and_sessions_off_leaves_state_working() -> None:
    with Runtime.memory(state__enabled=False) as rt, LuaEngine(rt) as engine:
        assert engine.run_string("return Session.create{name = 'x'}.name") == "x"
    with Runtime.memory(session__enabled=False) as rt, LuaEngine(rt) as engine:
        assert engine.run_string("State.save('k', 1) return State.load('k')") == 1


def test_runtime_unavailable_names_an_unknown_subsystem() -> None:
    with Runtime.memory() as rt:
        assert rt.unavailable("state") is None and rt.unavailable("artifacts") is None
        with pytest.raises(ValidationError, match="argument 'subsystem'"):
            rt.unavailable("agents")
