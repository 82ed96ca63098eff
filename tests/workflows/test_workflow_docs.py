"""The code blocks of docs/workflows.md run as written: the Lua blocks in order in one engine,
then the Python blocks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmspell import Runtime
from llmspell.errors import ValidationError
from llmspell.lua import LuaEngine

DOC = Path(__file__).resolve().parents[2] / "docs" / "workflows.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_lua_blocks_run(mem: Runtime) -> None:
    lua = blocks("lua")
    assert len(lua) >= 6
    with LuaEngine(mem, script_name="workflows.md") as engine:
        for number, block in enumerate(lua, 1):
            engine.run_string(block, f"workflows.md block {number}")


def test_the_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for block in blocks("python"):
        exec(compile(block, str(DOC), "exec"), {})


def test_the_error_quoted_in_the_docs_is_the_real_one(mem: Runtime) -> None:
    quoted = re.search(r"raises `(ValidationError: [^`]*)`", DOC.read_text(), flags=re.S)
    assert quoted is not None
    with pytest.raises(ValidationError) as caught:
        mem.workflows.sequential({"name": "x", "steps": [{"name": "s", "type": "tol"}]})
    assert f"ValidationError: {caught.value}" == " ".join(quoted.group(1).split())
