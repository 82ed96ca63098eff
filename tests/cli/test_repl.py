"""The REPL (issue 19 item 9): .help, Tab completion of globals and their functions, tables
printed as readable Lua values, and ``local`` variables that persist between inputs."""

from __future__ import annotations

import re
from pathlib import Path

from cli_runner import Run
from llmspell import Runtime
from llmspell.cli.repl import completions, keep_locals, show
from llmspell.lua.engine import LuaEngine


def test_locals_persist_and_tables_read_as_lua(run: Run, tmp_path: Path) -> None:
    lines = "\n".join([
        "local x = 40",
        "x + 2",
        "local function twice(n) return n * 2 end",
        "twice(x)",
        "local t <const> = {name = 'n', items = {1, 2}}",
        "t",
        "for i = 1, 1 do local inner = i end",
        "inner == nil",
        ".help",
        ".exit",
    ]) + "\n"
    result = run("repl", "--history", str(tmp_path / "hist"), stdin=lines)
    assert result.exit_code == 0, result.output
    out = [re.sub(r"^(>+ )+", "", line) for line in result.stdout.splitlines()]  # prompts
    assert out[:2] == ["42", "80"]
    assert out[2] in ('{name = "n", items = {1, 2}}', '{items = {1, 2}, name = "n"}')
    assert out[3] == "true"  # a local inside a block stays in the block
    assert out[4].startswith(".help") and any("Globals:" in line and "State" in line
                                               and "Session" in line for line in out)


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
