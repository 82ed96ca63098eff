"""The REPL (issue 19 item 9): .help, Tab completion of globals and their functions, tables
printed as readable Lua values, and ``local`` variables that persist between inputs."""

from __future__ import annotations

from pathlib import Path

from llmspell import Runtime
from llmspell.cli.repl import completions, keep_locals, show
from llmspell.lua.engine import LuaEngine


def test_keep_locals_rewrites_only_a_leading_declaration() -> None:
    assert keep_locals("local a, b <const> = 1, 2") == "a, b = 1, 2"
    assert keep_locals("local function f() end") == "function f() end"
    assert keep_locals("local y") == "y = nil"
    assert keep_locals("local c <close> = nil") == "local c <close> = nil"
    assert keep_locals("print(1) local z = 2") == "print(1) local z = 2"
    assert keep_locals("localname = 1") == "localname = 1"


def test_tab_completes_globals_and_their_functions(tmp_path: Path) -> None:
    with Runtime.memory(base_dir=tmp_path) as rt:
        engine = LuaEngine(rt)
        try:
            assert "State" in completions(engine, "Sta")
            assert "State.save" in completions(engine, "State.sa")
            assert "Session:create" in completions(engine, "Session:cr")
            assert completions(engine, "nosuch.x") == []
            assert completions(engine, "a.b.c") == []
        finally:
            engine.close()


def test_show_prints_tables_as_lua() -> None:
    assert show({"a": 1, "b": [1, 2, {"c": 'x"y'}], "long key": True}) == \
        '{a = 1, b = {1, 2, {c = "x\\"y"}}, ["long key"] = true}'
    assert show([]) == "{}" and show(None) == "nil" and show(False) == "false"
    wide = show([{"name": "n" * 30, "value": i} for i in range(3)])
    assert wide.splitlines()[0] == "{" and wide.splitlines()[1].startswith("  {name = ")
