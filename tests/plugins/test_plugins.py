"""Plugins: the example package in examples/plugin/ gives a provider and a tool through entry
points, `llmspell plugins` lists them, and a broken plugin is reported, never silent.

In-process tests put the example's source and a dist-info (its entry points) on sys.path, as
an installed package has; one slow test installs the package with pip for real."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from llmspell import Runtime
from llmspell.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plugin"


def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry_points: str,
              name: str = "llmspell_echo") -> None:
    """Make a package with these entry points look installed (a dist-info on sys.path)."""
    info = tmp_path / "site" / f"{name}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


def example_entry_points() -> str:
    text = (EXAMPLE / "pyproject.toml").read_text()
    providers = text.split('[project.entry-points."llmspell.providers"]')[1].split("[")[0]
    tools = text.split('[project.entry-points."llmspell.tools"]')[1].split("[")[0]
    text = f"[llmspell.providers]\n{providers.strip()}\n\n[llmspell.tools]\n{tools.strip()}\n"
    return text.replace('"', "")  # TOML strings; entry_points.txt is INI


def test_the_example_plugin_adds_a_provider_and_a_tool(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       run) -> None:  # type: ignore[no-untyped-def]
    installed(tmp_path, monkeypatch, example_entry_points())
    listed = run("plugins", "--json")
    assert listed.exit_code == 0, listed.output
    rows = {(r["group"], r["name"]): r for r in json.loads(listed.output)}
    assert rows[("llmspell.providers", "echo")]["status"] == "ok"
    assert rows[("llmspell.tools", "word_count")]["gives"] == ["word_count"]
    assert rows[("llmspell.tools", "word_count")]["package"] == "llmspell_echo"

    with Runtime.memory() as rt:
        assert "echo" in rt.providers.names()
        agent = rt.agents.create("parrot", "echo/any-model")
        assert agent.invoke("hello plugins").text == "HELLO PLUGINS"
        assert rt.tools.invoke("word_count", {"text": "one two three"}).text == "3"
        assert rt.tools.get("word_count").category == "utility"


def test_a_broken_plugin_is_reported_and_the_rest_works(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture,
                                                        run) -> None:  # type: ignore[no-untyped-def]
    installed(tmp_path, monkeypatch, "[llmspell.providers]\nghost = no_such_module:make\n\n"
              "[llmspell.tools]\nbroken = no_such_module:tool\n"
              "notatool = llmspell_echo:EchoProvider\n")
    listed = json.loads(run("plugins", "--json").output)
    status = {r["name"]: r["status"] for r in listed}
    assert "No module named 'no_such_module'" in status["ghost"]
    assert status["broken"].startswith("error:") and "not llmspell Tools" in status["notatool"]
    with caplog.at_level(logging.WARNING, logger="llmspell.plugins"), Runtime.memory() as rt:
        assert rt.tools.exists("calculator") and not rt.tools.exists("broken")
        with pytest.raises(ConfigError, match=r"plugin 'ghost'.*cannot be loaded"):
            rt.providers.provider("ghost")
    assert "tool plugin 'broken' is not loaded" in caplog.text
    assert "tool plugin 'notatool' is not loaded" in caplog.text


@pytest.mark.slow
def test_the_example_plugin_installs_with_pip(tmp_path: Path) -> None:
    import shutil

    target = tmp_path / "site"
    source = tmp_path / "plugin"  # a copy: building writes build/ and *.egg-info beside it
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                   "__pycache__"))
    # Built in pip's isolated environment (it fetches setuptools from the package index).
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--target", str(target), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    listed = subprocess.run([sys.executable, "-m", "llmspell", "plugins"], cwd=tmp_path,
                            env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "provider echo" in listed.stdout and "gives word_count" in listed.stdout
    assert "llmspell-echo 0.1.0" in listed.stdout.replace("llmspell_echo", "llmspell-echo")
