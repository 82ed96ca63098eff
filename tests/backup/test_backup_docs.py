"""The Python blocks of docs/backup-and-migration.md run, in order, as written; its Lua
snippets are the example scripts' (run by tests/cli/test_backup_cli.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "backup-and-migration.md"


def test_the_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)


def test_the_lua_snippets_are_in_the_examples() -> None:
    examples = "".join((ROOT / "examples" / name).read_text()
                       for name in ("backup.lua", "backup_hook.lua", "migration.lua"))
    squeeze = re.compile(r"\s+")
    for block in re.findall(r"```lua\n(.*?)```", DOC.read_text(), flags=re.S)[:3]:  # the seed
        assert squeeze.sub(" ", block.strip()) in squeeze.sub(" ", examples), block
