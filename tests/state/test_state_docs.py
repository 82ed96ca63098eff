"""The Python blocks of docs/state.md run, in order, as written; its Lua snippet is the
seed's and is part of examples/state.lua (run by tests/lua/test_state_global.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "state.md"


def test_the_state_doc_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("LLMSPELL_"):
            monkeypatch.delenv(name)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "1 1"
    assert out[1].startswith("hook 'read_only_config' at 'state:before_write' cancelled")
    assert (tmp_path / ".llmspell" / "llmspell.db").is_file()


def test_the_seed_snippet_in_the_doc_is_the_one_in_the_example() -> None:
    lua = re.findall(r"```lua\n(.*?)```", DOC.read_text(), flags=re.S)[0]
    assert lua in (ROOT / "examples" / "state.lua").read_text()


def test_the_transaction_snippet_in_the_doc_is_in_the_example() -> None:
    example = (ROOT / "examples" / "state_transactions.lua").read_text()
    snippet = re.findall(r"```lua\n(.*?)```", DOC.read_text(), flags=re.S)[1]
    for line in snippet.splitlines():
        if line.strip() and not line.startswith("--"):
            assert line in example
