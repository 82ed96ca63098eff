"""The Python blocks of docs/providers.md run, in order, as written (offline: the scripted
provider and the loopback server), and its TOML example is a valid configuration."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from llmspell.config import load_config
from llmspell.providers.registry import ProviderRegistry

DOC = Path(__file__).resolve().parents[2] / "docs" / "providers.md"


def test_the_providers_doc_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LLMSPELL_KEYS_PATH", str(tmp_path / "keys.json"))
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert capsys.readouterr().out.splitlines() == [
        "Hello there! 4",
        "tool_calls {'a': 1, 'b': 2}",
        "Hello [2.0]",
        "got Hel",
        "dropped: ProviderStreamDropped",
        "3 True",
    ]


def test_the_providers_doc_toml_is_a_valid_configuration(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    toml = re.findall(r"```toml\n(.*?)```", DOC.read_text(), flags=re.S)[0]
    (tmp_path / "llmspell.toml").write_text(toml)
    for name in list(os.environ):
        if name.startswith("LLMSPELL_"):
            monkeypatch.delenv(name)
    registry = ProviderRegistry.from_config(load_config(cwd=tmp_path, env={}), env={})
    assert registry.split(None) == ("local", "llama3")
    assert registry.settings("groq").api_key_env == "GROQ_API_KEY"
    assert registry.settings("openai").prices["gpt-4o-mini"].output == 0.60
    assert registry.settings("demo").replies == tmp_path / "replies.json"
