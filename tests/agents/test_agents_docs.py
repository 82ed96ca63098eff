"""docs/agents.md: its Lua script and its Python block run as written and print what it says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime

DOC = Path(__file__).resolve().parents[2] / "docs" / "agents.md"


def test_the_agents_doc_lua_script_runs(rt: Runtime, lua: Any, scripted: ScriptedProvider,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    script = re.findall(r"```lua\n(.*?)```", DOC.read_text(), flags=re.S)[0]
    scripted.add_replies([{"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]},
                          "The answer is 5", "Hi there!"])
    lua.run_string(script, "agents.md")
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["The answer is 5\t5\ttrue", "Hi there!", "Paused\t2", "2\ttrue"]
    said = re.search(r"It prints `(.*?)`, `(.*?)`, `(.*?)` and `(.*?)`\.", DOC.read_text())
    assert said is not None
    assert list(said.groups()) == printed


def test_the_agents_doc_python_block_runs(capsys: pytest.CaptureFixture[str]) -> None:
    block = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)[0]
    exec(compile(block, str(DOC), "exec"), {})
    assert capsys.readouterr().out.splitlines() == ["Hello!", "Streamed reply"]
