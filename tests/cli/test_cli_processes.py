"""One smoke test per command group as a user runs it: a real ``python -m llmspell`` process
(exit codes, stdout bytes, a store shared between runs). Everything else about the commands is
tested in-process (CliRunner) next to this file."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import Process

SCRIPT = """
local s = Session.create{name = "smoke", tags = {"smoke"}}
State.save("session:" .. s.id, "progress", {step = 3, of = 5})
Session.suspend(s)
print(s.id)
"""


def test_run_exec_and_python_dash_m(process: Process, tmp_path: Path) -> None:
    (tmp_path / "args.lua").write_text("return {n = #ARGS, first = ARGS[1]}\n")
    ran = process("run", "--json", "args.lua", "x", "y")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"n": 2, "first": "x"}
    assert process("exec", "os.exit(3)").returncode == 3
    # -v: the Lua traceback on stderr (in a real process: logging is configured globally)
    failed = process("-v", "exec", "local function f() error('deep') end f()")
    assert failed.returncode == 1
    assert b"stack traceback" in failed.stderr and b"in local 'f'" in failed.stderr
    assert b"llmspell" in process("--version").stdout


def test_setup_commands(process: Process, tmp_path: Path) -> None:
    assert process("init").returncode == 0
    info = process("info", "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["config_file"].endswith("llmspell.toml")
    repl = process("repl", "--history", str(tmp_path / "hist"), stdin=b"x = 40\nx + 2\n")
    assert repl.returncode == 0, repl.stderr
    assert b"42" in repl.stdout
    (tmp_path / "llmspell.toml").write_text('[state]\nbakend = "sqlite"\n')
    bad = process("doctor")
    assert bad.returncode == 5 and b"FAIL" in bad.stdout


def test_state_commands_share_the_store_between_processes(process: Process,
                                                          tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text('[state]\nbackend = "lmdb"\npath = "./data"\n')
    assert process("state", "set", "global", "k", '{"a": 1}').returncode == 0
    result = process("state", "get", "global", "k")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"a": 1}
    assert (tmp_path / "data").is_dir()


def test_a_session_suspended_in_one_process_is_seen_by_the_next(process: Process,
                                                                tmp_path: Path) -> None:
    (tmp_path / "create.lua").write_text(SCRIPT)
    made = process("run", "create.lua")
    assert made.returncode == 0, made.stderr
    session_id = made.stdout.decode().strip()
    shown = process("session", "show", session_id[:8], "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["status"] == "suspended"
    missing = process("session", "show", "nope")
    assert missing.returncode == 1 and b"SessionNotFound" in missing.stderr


def test_artifact_cat_writes_raw_bytes(process: Process, tmp_path: Path) -> None:
    binary = bytes(range(256)) * 3
    (tmp_path / "create.lua").write_text('print(Session.create{name = "a"}.id)')
    session_id = process("run", "create.lua").stdout.decode().strip()
    stored = process("artifact", "store", session_id, "-", "--name", "image.bin", "--json",
                     stdin=binary)
    assert stored.returncode == 0, stored.stderr
    cat = process("artifact", "cat", json.loads(stored.stdout)["id"])
    assert cat.returncode == 0 and cat.stdout == binary


def test_backup_create_and_verify(process: Process) -> None:
    assert process("state", "set", "global", "g", "1").returncode == 0
    made = process("backup", "create", "--json")
    assert made.returncode == 0, made.stderr
    verified = process("backup", "verify", json.loads(made.stdout)["id"])
    assert verified.returncode == 0 and b"ok (1 entries" in verified.stdout


def test_migrate_status(process: Process) -> None:
    assert process("state", "set", "global", "g", "1").returncode == 0
    status = process("migrate", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert "versions" in json.loads(status.stdout)
