"""The README's Lua and Python examples run as written, in a fresh directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import Run

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_examples() -> None:
    assert blocks("lua") and blocks("python")


@pytest.mark.parametrize("code", blocks("lua"))
def test_lua_examples_run(run: Run, tmp_path: Path, code: str) -> None:
    script = tmp_path / "example.lua"
    script.write_text(code, encoding="utf-8")
    result = run("run", str(script))
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("code", blocks("python"))
def test_python_examples_run(tmp_path: Path, code: str) -> None:
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_readme_names_every_example_and_command_and_links_only_real_files() -> None:
    from llmspell.cli.main import cli

    text = README.read_text(encoding="utf-8")
    root = README.parent
    for example in sorted((root / "examples").glob("*.lua")):
        assert f"`{example.name}`" in text or f"examples/{example.name}" in text, example.name
    using = text.split("## Using it", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    named = set(re.findall(r"^llmspell (\w+)", using, re.M))
    assert named == set(cli.commands)
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" not in target:
            assert (root / target).exists(), target
