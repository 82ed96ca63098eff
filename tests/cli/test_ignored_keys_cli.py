"""Keys accepted but ignored are noticed on every command; `[runtime] log_level` acts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmspell.cli.main import cli

TOML = "[runtime]\nenable_streaming = false\n[runtime.hooks]\nenabled = true\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("LLMSPELL_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "llmspell.toml").write_text(TOML)
    return tmp_path


def notices(stderr: str) -> list[str]:
    """The configuration's notices (not the one saying a read-only command found no store)."""
    return [line for line in stderr.splitlines() if line.startswith("llmspell: notice: ")
            and "no store yet" not in line]


@pytest.mark.parametrize("args", [
    ["exec", "print('hi')"],
    ["run", "script.lua"],
    ["info", "--json"],
    ["state", "list"],
])
def test_every_command_notices_each_ignored_key_once(project: Path, args: list[str]) -> None:
    (project / "script.lua").write_text("print('hi')\n")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    source = project.resolve() / "llmspell.toml"
    assert notices(result.stderr) == [
        f"llmspell: notice: {source}, table [runtime], key 'enable_streaming': accepted but "
        "ignored (scripts have no streaming switch)",
        f"llmspell: notice: {source}, table [runtime.hooks], key 'enabled': accepted but "
        "ignored (hooks are always available)"]
    assert "llmspell: notice" not in result.stdout  # stdout (JSON, script output) stays clean


def test_environment_and_set_are_noticed_too(project: Path) -> None:
    (project / "llmspell.toml").write_text("")
    result = CliRunner().invoke(
        cli, ["--set", "engines.javascript.jsx=true", "exec", "print(1)"],
        env={"LLMSPELL_RUNTIME_MAX_CONCURRENT_SCRIPTS": "3"})
    assert result.exit_code == 0, result.output
    assert notices(result.stderr) == [
        "llmspell: notice: LLMSPELL_RUNTIME_MAX_CONCURRENT_SCRIPTS, table [runtime], key "
        "'max_concurrent_scripts': accepted but ignored (each command runs one script)",
        "llmspell: notice: overrides, table [engines.javascript], key 'jsx': accepted but "
        "ignored (llmspell runs Lua scripts only)"]
    assert result.stdout == "1\n"


def test_info_lists_the_notices(project: Path) -> None:
    import json

    result = CliRunner().invoke(cli, ["info", "--json"])
    assert [n for n in json.loads(result.stdout)["notices"] if "enable_streaming" in n]


def test_a_config_without_ignored_keys_gives_no_notice(project: Path) -> None:
    (project / "llmspell.toml").write_text("[runtime]\nscript_timeout_seconds = 5\n")
    result = CliRunner().invoke(cli, ["exec", "print(1)"])
    assert result.exit_code == 0 and result.stderr == ""


def test_log_level_info_shows_script_info_records(project: Path) -> None:
    (project / "llmspell.toml").write_text('[runtime]\nlog_level = "info"\n')
    result = CliRunner().invoke(cli, ["exec", "Logger.info('step one'); Logger.debug('x')"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "llmspell: info: step one\n"


def test_log_level_error_hides_warnings(tmp_path: Path) -> None:
    # A real process: without a handler, Python's last-resort handler printed warnings.
    (tmp_path / "llmspell.toml").write_text('[runtime]\nlog_level = "error"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    code = "Logger.warn('careful'); Logger.error('broken')"
    done = subprocess.run([sys.executable, "-m", "llmspell", "exec", code], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "llmspell: error: broken\n"


@pytest.mark.parametrize("args", [
    ["session", "list"], ["backup", "list"], ["migrate", "status"], ["artifact", "list"],
    ["tool", "list"], ["models"], ["doctor"], ["exec", "print(1)"], ["state", "list"],
])
def test_a_mapped_backend_is_noticed_on_every_command(project: Path, args: list[str]) -> None:
    # `sled` (rs-llmspell's default engine) maps to sqlite: said on every command that reads
    # the configuration, not only `info`. (`keys` and `init` do not read it.)
    (project / "llmspell.toml").write_text('[state]\nbackend = "sled"\n')
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert notices(result.stderr) == [
        "llmspell: notice: backend 'sled' is a Rust-only engine; using the embedded default "
        "'sqlite' instead"]
