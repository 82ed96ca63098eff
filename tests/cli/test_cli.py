"""The `llmspell` command as a user runs it: a real process in a fresh directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def llmspell(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "llmspell", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=timeout, env=environment)


def test_exec_prints_json(tmp_path: Path) -> None:
    result = llmspell("exec", "print(JSON.stringify({a=1}))", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == '{"a":1}\n'


def test_quickstart_example_runs(tmp_path: Path) -> None:
    result = llmspell("run", str(ROOT / "examples" / "quickstart.lua"), "--", "hello", "world",
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "arguments:\t2\thello world" in out
    assert "project:\tllmspell" in out
    assert "sandbox:\tsafe" in out
    assert "os.execute refused:\ttrue" in out
    assert out.rstrip().endswith("done")


def test_run_passes_args_and_prints_return_value_as_json(tmp_path: Path) -> None:
    script = tmp_path / "args.lua"
    script.write_text("return {n = #ARGS, first = ARGS[1]}\n")
    result = llmspell("run", "--json", str(script), "x", "y", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"n": 2, "first": "x"}


def test_uncaught_error_exits_1_with_script_and_line(tmp_path: Path) -> None:
    script = tmp_path / "broken.lua"
    script.write_text("local x = 1\n\nerror('the sky fell')\n")
    result = llmspell("run", str(script), cwd=tmp_path)
    assert result.returncode == 1
    assert "broken.lua:3:" in result.stderr
    assert "the sky fell" in result.stderr


def test_infinite_loop_stops_at_the_limit(tmp_path: Path) -> None:
    result = llmspell("--set", "engines.lua.max_instructions=2000000", "exec",
                      "while true do end", cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert "instruction" in result.stderr.lower()
    assert "max_instructions" in result.stderr


def test_os_execute_is_refused_in_the_default_sandbox(tmp_path: Path) -> None:
    result = llmspell("exec", 'os.execute("true")', cwd=tmp_path)
    assert result.returncode == 1
    assert "os.execute" in result.stderr
    assert "sandbox" in result.stderr


def test_missing_script_is_a_usage_error(tmp_path: Path) -> None:
    result = llmspell("run", "nope.lua", cwd=tmp_path)
    assert result.returncode == 2
    assert "no such script: nope.lua" in result.stderr


def test_info_json_reports_defaults_and_extras(tmp_path: Path) -> None:
    result = llmspell("info", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["config_file"] is None
    assert info["storage"]["backend"] == "sqlite"
    assert info["storage"]["url"].endswith(".llmspell/llmspell.db")
    assert set(info["extras"]) == {"lmdb", "rocksdb", "postgres"}
    assert info["lua_engine"]["sandbox"] == "safe"


def test_info_shows_the_config_file_in_use(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text('[state]\nbackend = "sled"\n')
    result = llmspell("info", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
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
def test_bad_config_makes_info_fail_naming_file_table_key(tmp_path: Path, text: str,
                                                          words: list[str]) -> None:
    (tmp_path / "llmspell.toml").write_text(text)
    result = llmspell("info", cwd=tmp_path)
    assert result.returncode == 3
    assert "llmspell.toml" in result.stderr
    for word in words:
        assert word in result.stderr


def test_bad_env_variable_fails_with_exit_3(tmp_path: Path) -> None:
    result = llmspell("info", cwd=tmp_path, env={"LLMSPELL_STATE_BACKEND": "floppy"})
    assert result.returncode == 3
    assert "LLMSPELL_STATE_BACKEND" in result.stderr


def test_init_writes_a_config_that_loads_and_refuses_to_overwrite(tmp_path: Path) -> None:
    first = llmspell("init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "llmspell.toml").is_file()
    info = llmspell("info", "--json", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["config_file"].endswith("llmspell.toml")
    again = llmspell("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "--force" in again.stderr
    assert llmspell("init", "--force", cwd=tmp_path).returncode == 0


def test_doctor_passes_on_defaults(tmp_path: Path) -> None:
    result = llmspell("doctor", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    names = {check["name"] for check in report["checks"] if check["ok"]}
    assert {"config", "store", "lua", "backend sqlite", "backend memory"} <= names


def test_doctor_fails_when_the_store_cannot_open(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    result = llmspell("--set", f'storage.url="sqlite:///{blocker}/x/llmspell.db"', "doctor",
                      cwd=tmp_path)
    assert result.returncode == 5
    assert "FAIL" in result.stdout


def test_repl_runs_statements_expressions_and_multiline_input(tmp_path: Path) -> None:
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
        ".exit",
    ]) + "\n"
    result = llmspell("repl", "--history", str(tmp_path / "hist"), cwd=tmp_path, stdin=session)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "42" in out
    assert "line\t1" in out and "line\t2" in out
    assert "oops" in out
    assert "syntax error" in out
    assert '{"b":2}' in out


def test_python_dash_m_and_version(tmp_path: Path) -> None:
    result = llmspell("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert "llmspell" in result.stdout


def test_os_exit_sets_the_exit_code_and_verbose_shows_the_traceback(tmp_path: Path) -> None:
    assert llmspell("exec", "os.exit(3)", cwd=tmp_path).returncode == 3
    assert llmspell("exec", "os.exit(true)", cwd=tmp_path).returncode == 0
    result = llmspell("-v", "exec", "local function f() error('deep') end f()", cwd=tmp_path)
    assert result.returncode == 1
    assert "stack traceback" in result.stderr
    assert "in local 'f'" in result.stderr


def test_memory_limit_stops_a_script_with_the_key_to_raise(tmp_path: Path) -> None:
    result = llmspell("--set", "engines.lua.max_memory_bytes=20000000", "exec",
                      "local t = {} for i = 1, 1e8 do t[i] = string.rep('x', 100) .. i end",
                      cwd=tmp_path)
    assert result.returncode == 1
    assert "memory limit" in result.stderr
    assert "max_memory_bytes" in result.stderr
