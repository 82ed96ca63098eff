"""The `llmspell` command's scripts and setup commands (run, exec, info, init, doctor, repl),
in-process through CliRunner; real processes are in test_cli_processes.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import Run

ROOT = Path(__file__).resolve().parents[2]


def test_exec_prints_json(run: Run, tmp_path: Path) -> None:
    result = run("exec", "print(JSON.stringify({a=1}))")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == '{"a":1}\n'


def test_quickstart_example_runs(run: Run, tmp_path: Path) -> None:
    result = run("run", str(ROOT / "examples" / "quickstart.lua"), "--", "hello", "world")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "run number 1" in out
    assert "agent:\tYou said: hello world. This is run 1." in out
    assert out.rstrip().endswith("completed")


def test_run_passes_args_and_prints_return_value_as_json(run: Run, tmp_path: Path) -> None:
    script = tmp_path / "args.lua"
    script.write_text("return {n = #ARGS, first = ARGS[1]}\n")
    result = run("run", "--json", str(script), "x", "y")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"n": 2, "first": "x"}


def test_uncaught_error_exits_1_with_script_and_line(run: Run, tmp_path: Path) -> None:
    script = tmp_path / "broken.lua"
    script.write_text("local x = 1\n\nerror('the sky fell')\n")
    result = run("run", str(script))
    assert result.exit_code == 1
    assert "broken.lua:3:" in result.stderr
    assert "the sky fell" in result.stderr


def test_infinite_loop_stops_at_the_limit(run: Run, tmp_path: Path) -> None:
    result = run("--set", "engines.lua.max_instructions=2000000", "exec",
                      "while true do end")
    assert result.exit_code == 1
    assert "instruction" in result.stderr.lower()
    assert "max_instructions" in result.stderr


def test_os_execute_is_refused_in_the_default_sandbox(run: Run, tmp_path: Path) -> None:
    result = run("exec", 'os.execute("true")')
    assert result.exit_code == 1
    assert "os.execute" in result.stderr
    assert "sandbox" in result.stderr


def test_missing_script_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    result = run("run", "nope.lua")
    assert result.exit_code == 2
    assert "no such script: nope.lua" in result.stderr


def test_info_json_reports_defaults_and_extras(run: Run, tmp_path: Path) -> None:
    result = run("info", "--json")
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["config_file"] is None
    assert info["storage"]["backend"] == "sqlite"
    assert info["storage"]["url"].endswith(".llmspell/llmspell.db")
    assert set(info["extras"]) == {"lmdb", "rocksdb", "postgres"}
    assert info["lua_engine"]["sandbox"] == "safe"


def test_info_shows_the_config_file_in_use(run: Run, tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text('[state]\nbackend = "sled"\n')
    result = run("info")
    assert result.exit_code == 0, result.stderr
    assert "llmspell.toml" in result.stdout
    assert "sled" in result.stdout  # the notice about the mapping


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[state]\nbakend = "sqlite"\n', ["table [state]", "key 'bakend'", "backend"]),
        ('[engines.lua]\nmax_instructions = "many"\n',
         ["table [engines.lua]", "key 'max_instructions'", "must be an integer"]),
    ],
)
def test_bad_config_makes_info_fail_naming_file_table_key(run: Run, tmp_path: Path, text: str,
                                                          words: list[str]) -> None:
    (tmp_path / "llmspell.toml").write_text(text)
    result = run("info")
    assert result.exit_code == 3
    assert "llmspell.toml" in result.stderr
    for word in words:
        assert word in result.stderr


def test_bad_env_variable_fails_with_exit_3(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSPELL_STATE_BACKEND", "floppy")
    result = run("info")
    assert result.exit_code == 3
    assert "LLMSPELL_STATE_BACKEND" in result.stderr


def test_init_writes_a_config_that_loads_and_refuses_to_overwrite(run: Run, tmp_path: Path) -> None:
    first = run("init")
    assert first.exit_code == 0, first.stderr
    assert (tmp_path / "llmspell.toml").is_file()
    info = run("info", "--json")
    assert info.exit_code == 0, info.stderr
    assert json.loads(info.stdout)["config_file"].endswith("llmspell.toml")
    again = run("init")
    assert again.exit_code == 2
    assert "--force" in again.stderr
    assert run("init", "--force").exit_code == 0


def test_doctor_passes_on_defaults(run: Run, tmp_path: Path) -> None:
    result = run("doctor", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    names = {check["name"] for check in report["checks"] if check["ok"]}
    assert {"config", "store", "lua", "backend sqlite", "backend memory"} <= names


def test_doctor_fails_when_the_store_cannot_open(run: Run, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    result = run("--set", f'storage.url="sqlite:///{blocker}/x/llmspell.db"', "doctor")
    assert result.exit_code == 5
    assert "FAIL" in result.stdout


def test_repl_runs_statements_expressions_and_multiline_input(run: Run, tmp_path: Path) -> None:
    session = "\n".join([
        "x = 40",
        "x + 2",
        "for i = 1, 2 do",
        "  print('line', i)",
        "end",
        "error('oops')",
        "x ==",
        "= 1",
        "JSON.stringify({b = 2})",
        "local y = 40",                       # issue 19: locals persist between inputs
        "local function twice(n) return n * 2 end",
        "twice(y)",
        "local t <const> = {name = 'n', items = {1, 2}}",
        "t",                                  # a table reads as Lua
        "for i = 1, 1 do local inner = i end",
        "inner == nil",                       # a local inside a block stays there
        ".help",
        ".exit",
    ]) + "\n"
    result = run("repl", "--history", str(tmp_path / "hist"), stdin=session)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "42" in out
    assert "line\t1" in out and "line\t2" in out
    assert "oops" in out
    assert "syntax error" in out
    assert '{"b":2}' in out
    assert "80\n" in out
    assert '{name = "n", items = {1, 2}}' in out or '{items = {1, 2}, name = "n"}' in out
    assert "true\n" in out
    assert "Globals: " in out and "Session" in out and "State" in out


def test_version(run: Run) -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert "llmspell" in result.stdout


def test_os_exit_sets_the_exit_code(run: Run) -> None:
    assert run("exec", "os.exit(3)").exit_code == 3
    assert run("exec", "os.exit(true)").exit_code == 0


def test_memory_limit_stops_a_script_with_the_key_to_raise(run: Run, tmp_path: Path) -> None:
    result = run("--set", "engines.lua.max_memory_bytes=20000000", "exec",
                      "local t = {} for i = 1, 1e8 do t[i] = string.rep('x', 100) .. i end")
    assert result.exit_code == 1
    assert "memory limit" in result.stderr
    assert "max_memory_bytes" in result.stderr


def test_doctor_prints_config_errors_as_text_not_markup(run: Run, tmp_path: Path) -> None:
    # rich read "[state]" in the detail as a style tag and dropped it: "table , key ..."
    (tmp_path / "llmspell.toml").write_text('[state]\nbakend = "sqlite"\n')
    result = run("doctor")
    assert result.exit_code == 5
    assert "table [state], key 'bakend'" in result.stdout
