"""docs/replay.md's Lua and Python blocks run as written, and examples/replay.lua tells its
story."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cli_runner import Run
from llmspell.lua.engine import LuaEngine
from llmspell.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "replay.md"


def test_the_lua_blocks_run(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```lua\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 6
    with Runtime.memory() as runtime, LuaEngine(runtime, script_name="replay.md") as engine:
        for block in blocks:
            engine.run_string(block, "replay.md")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "true\tplanned\tcompleted"
    assert out[1] == "identical\t1\t3"
    assert out[2] == "true\ttrue"
    assert out[3] == "diverged\t9"
    assert out[4] == "$.arguments.input\texpected '6*7', got '6*8'"
    assert out[5] == "identical\t2\t3 script.start"
    assert out[6:9] == ["true\tnil", "added\tadded", "true"]
    assert out[9] == "true\ttrue"


def test_the_python_block_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOC), "exec"), {})
    assert capsys.readouterr().out.startswith("identical {'t': ")


def test_the_example_runs(run: Run) -> None:
    result = run("run", str(ROOT / "examples" / "replay.lua"))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "exact replay:\tidentical\tcalls served 4\n" in out
    assert "same answer:\ttrue\tsame id:\ttrue\n" in out
    assert "changed script:\tdiverged\tat seq" in out
    assert "$.arguments.input\texpected '6*7', got '6*8'\n" in out
    assert "fork:\twhat-if\tsomething else\toriginal keeps:\tThe answer is 42.\n" in out
    assert "comparator:\ttrue\t1.0\n" in out
