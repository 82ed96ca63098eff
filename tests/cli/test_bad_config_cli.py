"""Issue 11 item 7: a bad llmspell.toml is a configuration error (exit 3) naming the key and
the rule, never a crash (exit 70) and never silently accepted or ignored; every error line
names the error's class."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from llmspell.cli.main import EXIT_CONFIG, EXIT_USAGE, main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("LLMSPELL_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "script.lua").write_text("print('ran')\n")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``llmspell ARGS`` through the real entry point (its exit codes, internal errors
    included): (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(("toml", "key", "rule"), [
    ("[engines.lua]\nmax_instructions = 99999999999999999999999\n", "max_instructions",
     "64-bit integer"),
    ("[engines.lua]\nmax_memory_bytes = 99999999999999999999999\n", "max_memory_bytes",
     "64-bit integer"),
    ("[runtime]\nscript_timeout_seconds = 1e400\n", "script_timeout_seconds", "finite"),
    ("[runtime]\nscript_timeout_seconds = nan\n", "script_timeout_seconds", "finite"),
    ("[engines.lua]\ntimeout_seconds = -inf\n", "timeout_seconds", "finite"),
    ("[agents]\nx = nan\n", "x", "finite"),
    ("[state]\nredact_patterns = ['(']\n", "redact_patterns",
     r"at \[0\]: must be valid regular expressions"),
    ("[state]\nredact_patterns = ['ok', '[a-']\n", "redact_patterns",
     r"at \[1\]: must be valid regular expressions"),
    ("[agents]\ndeep = " + "[" * 300 + "]" * 300 + "\n", "deep",
     "nested deeper than 200 levels"),
    ("[agents]\ndeep = " + "[" * 3000 + "]" * 3000 + "\n", "deep",
     "nested deeper than 200 levels"),
])
def test_a_bad_value_is_a_config_error_naming_key_and_rule(project: Path, capsys, toml: str,
                                                           key: str, rule: str) -> None:
    (project / "llmspell.toml").write_text(toml)
    code, out, err = run(capsys, "run", "script.lua")
    assert code == EXIT_CONFIG, err
    assert out == ""
    assert err.startswith("llmspell: configuration error: ")
    assert f"key '{key}'" in err
    assert re.search(rule, err), err


def test_bad_redact_patterns_never_reach_later_state_commands(project: Path, capsys) -> None:
    (project / "llmspell.toml").write_text("[state]\nredact_patterns = ['(']\n")
    for args in (("state", "set", "global", "k", "1"), ("state", "list")):
        code, _, err = run(capsys, *args)
        assert code == EXIT_CONFIG and "key 'redact_patterns'" in err


def test_a_byte_order_mark_is_accepted(project: Path, capsys) -> None:
    (project / "llmspell.toml").write_bytes(
        b"\xef\xbb\xbf[engines.lua]\nmax_instructions = 12345\n")
    code, out, err = run(capsys, "info", "--json")
    assert code == 0, err
    assert '"max_instructions": 12345' in out


def test_a_config_file_that_is_a_directory_is_an_error(project: Path, capsys) -> None:
    (project / "llmspell.toml").mkdir()
    code, out, err = run(capsys, "run", "script.lua")
    assert code == EXIT_CONFIG
    assert "llmspell.toml is not a file" in err and "ran" not in out


def test_a_named_config_that_is_a_directory_says_so(project: Path, capsys,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "conf").mkdir()
    monkeypatch.setenv("LLMSPELL_CONFIG", "conf")
    code, _, err = run(capsys, "run", "script.lua")
    assert code == EXIT_CONFIG and f"config file {project / 'conf'} is not a file" in err


def test_a_validation_error_line_names_its_class(project: Path, capsys) -> None:
    code, _, err = run(capsys, "state", "get", "global", "")
    assert code == EXIT_USAGE
    # (the first line is the notice that there is no store yet)
    assert err.splitlines()[-1].startswith("llmspell: InvalidKey: argument 'key'"), err


def test_a_deep_set_value_is_a_usage_error(project: Path, capsys) -> None:
    code, _, err = run(capsys, "--set", "runtime.log_level=" + "[" * 3000 + "]" * 3000,
                       "run", "script.lua")
    assert code == EXIT_USAGE and "runtime.log_level' at $[0][0][0]...[0][0][0]" in err, err
    assert "must not be nested deeper than 200 levels" in err
