"""The Lua and Python blocks of docs/sessions.md run, in order, as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmspell.lua.engine import LuaEngine
from llmspell.runtime import Runtime

DOC = Path(__file__).resolve().parents[2] / "docs" / "sessions.md"


def test_the_python_blocks_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 3
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    namespace["runtime"].close()  # type: ignore[attr-defined]


def test_the_lua_blocks_run(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```lua\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 4
    with Runtime.memory() as runtime:
        engine = LuaEngine(runtime, script_name="sessions.md")
        try:
            for block in blocks:
                engine.run_string(block, "sessions.md")
        finally:
            engine.close()
    out = capsys.readouterr().out
    assert "\tsuspended\n" in out
    assert "active\t3\n" in out
    assert "InvalidTransition: cannot archive session" in out
    assert "failed\tupstream API down" in out
    assert "session.created" in out and "state.write" in out
