"""The Python and Lua blocks of docs/tools.md run, in order, as written."""

from __future__ import annotations

import re
from pathlib import Path

from llmspell import Runtime
from llmspell.lua import LuaEngine
from llmspell.tools.builtins import BUILTINS

DOC = Path(__file__).resolve().parents[2] / "docs" / "tools.md"


def test_the_python_blocks_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 4
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})


def test_the_lua_blocks_run() -> None:
    blocks = re.findall(r"```lua\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 3
    with Runtime.memory() as rt, LuaEngine(rt) as engine:
        for block in blocks:
            engine.run_string(block)


def test_the_built_in_table_lists_exactly_the_built_ins() -> None:
    rows = re.findall(r"^\| `([a-z0-9_\-]+)` \| (\w+) \| (\w+) \|", DOC.read_text(), flags=re.M)
    assert sorted(rows) == sorted((cls.name, cls.category, cls.security_level)
                                  for cls in BUILTINS)
