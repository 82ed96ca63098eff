"""``llmspell keys ...`` and ``llmspell models`` as a user runs them: no key is ever printed."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from llmspell.cli.main import cli

KEY = "sk-cli-PLANTED-0123456789abcdefgh"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run the CLI in an empty project whose keys file is under tmp_path."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("LLMSPELL_", "OPENAI_", "ANTHROPIC_", "OLLAMA_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LLMSPELL_KEYS_PATH", str(tmp_path / "home" / "keys.json"))

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)

    return invoke


def test_keys_set_prompts_hidden_and_stores_0600(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("keys", "set", "openai", stdin=KEY + "\n")
    assert result.exit_code == 0, result.output
    assert KEY not in result.output  # the prompt does not echo it
    path = tmp_path / "home" / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["openai"] == KEY
    listed = run("keys", "list")
    assert listed.output == "openai\n" and KEY not in listed.output
    assert run("keys", "path").output.strip() == str(path)


def test_keys_set_value_from_stdin_for_scripts(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("keys", "set", "anthropic", "--value", "-", stdin=KEY + "\n")
    assert result.exit_code == 0 and KEY not in result.output
    assert json.loads((tmp_path / "home" / "keys.json").read_text())["anthropic"] == KEY


def test_keys_set_refuses_an_empty_key_and_a_bad_name(run) -> None:  # type: ignore[no-untyped-def]
    empty = run("keys", "set", "openai", "--value", "-", stdin="\n")
    assert empty.exit_code == 2 and "no key given" in empty.output
    bad = run("keys", "set", "a/b", "--value", "x")
    assert bad.exit_code == 2 and "argument 'name'" in bad.output


def test_keys_remove(run) -> None:  # type: ignore[no-untyped-def]
    run("keys", "set", "openai", "--value", KEY)
    assert run("keys", "remove", "openai").exit_code == 0
    assert run("keys", "list").output == ""
    assert run("keys", "remove", "openai").exit_code == 2


def test_models_lists_providers_key_sources_and_models(run, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "llmspell.toml").write_text("""
[providers]
default = "local/llama3"

[providers.local]
base_url = "http://127.0.0.1:11434/v1"
default_model = "llama3"
models = ["qwen2"]

[providers.openai]
prices = { "gpt-4o-mini" = { input = 0.15, output = 0.6 } }
""")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    run("keys", "set", "anthropic", "--value", "sk-ant-file-0000000000000000")
    result = run("models", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = {row["provider"]: row for row in data["providers"]}
    assert data["default"] == "local/llama3"
    assert rows["local"]["models"] == ["llama3", "qwen2"]
    assert rows["local"]["key"] == "not needed"
    assert rows["openai"]["key"] == "env OPENAI_API_KEY"
    assert rows["openai"]["prices"] == {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}
    assert rows["anthropic"]["key"] == "keys file"
    table = run("models")
    assert "llama3 (default)" in table.output and "env OPENAI_API_KEY" in table.output
    for output in (result.output, table.output):
        assert KEY not in output and "sk-ant-file" not in output
