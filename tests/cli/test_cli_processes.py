"""One smoke test per command group as a user runs it: a real ``python -m llmspell`` process
(exit codes, stdout bytes, a store shared between runs). Everything else about the commands is
tested in-process (CliRunner) next to this file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import Process

pytestmark = pytest.mark.slow  # each test starts the real command in new processes (~1 s)

SCRIPT = """
local s = Session.create{name = "smoke", tags = {"smoke"}}
State.save("session:" .. s.id, "progress", {step = 3, of = 5})
Session.suspend(s)
print(s.id)
"""


def test_run_and_exec(process: Process, tmp_path: Path) -> None:
    (tmp_path / "args.lua").write_text("return {n = #ARGS, first = ARGS[1]}\n")
    ran = process("run", "--json", "args.lua", "x", "y")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"n": 2, "first": "x"}
    # -v: the Lua traceback on stderr (real process: -v configures logging for the process)
    failed = process("-v", "exec", "local function f() error('deep') end f()")
    assert failed.returncode == 1
    assert b"stack traceback" in failed.stderr and b"in local 'f'" in failed.stderr


def test_setup_commands(process: Process) -> None:
    assert process("init").returncode == 0
    doctor = process("doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert json.loads(doctor.stdout)["ok"] is True


def test_repl_reads_stdin(process: Process, tmp_path: Path) -> None:
    repl = process("repl", "--history", str(tmp_path / "hist"), stdin=b"x = 40\nx + 2\n")
    assert repl.returncode == 0, repl.stderr
    assert b"42" in repl.stdout


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


def test_artifact_cat_writes_raw_bytes(process: Process, tmp_path: Path) -> None:
    (tmp_path / "store.lua").write_text(
        'local s = Session.create{name = "a"}\n'
        'local bytes = {} for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end\n'
        'print(Artifact.store(s, "image.bin", string.rep(table.concat(bytes), 3)))\n')
    made = process("run", "store.lua")
    assert made.returncode == 0, made.stderr
    cat = process("artifact", "cat", made.stdout.decode().strip())
    assert cat.returncode == 0, cat.stderr
    assert cat.stdout == bytes(range(256)) * 3


def test_backup_create(process: Process) -> None:
    made = process("backup", "create", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["kind"] == "full"


def test_migrate_status(process: Process) -> None:
    status = process("migrate", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert "versions" in json.loads(status.stdout)
