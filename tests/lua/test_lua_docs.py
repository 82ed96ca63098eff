"""The code blocks of docs/lua.md run as written: Python blocks, then the Lua blocks in order in
one engine (script name docs.lua, arguments as in the ARGS section)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmspell import Runtime
from llmspell.lua import LuaEngine

DOC = Path(__file__).resolve().parents[2] / "docs" / "lua.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for block in blocks("python"):
        exec(compile(block, str(DOC), "exec"), {})


def test_the_lua_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    lua = blocks("lua")
    assert len(lua) >= 7
    with Runtime.memory() as runtime, LuaEngine(
            runtime, args=["input.txt", "--topic=rust", "--dry-run"],
            script_name="docs.lua") as engine:
        for number, block in enumerate(lua, 1):
            engine.run_string(block, f"docs.lua block {number}")
