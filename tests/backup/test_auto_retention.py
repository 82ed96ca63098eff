"""Automatic retention: the configured policy runs after every backup (Python, Lua, CLI, a
hook's backup) and reports what it removed; a restore's safety backup does not trigger it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_runner import Run
from llmspell import Runtime
from llmspell.events.capture import capture_events
from llmspell.lua import LuaEngine


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    with Runtime.memory(state__backup_dir=str(tmp_path / "backups"),
                        state__backup_keep_last=2) as runtime:
        yield runtime


def test_retention_runs_after_every_backup_and_reports(rt: Runtime) -> None:
    rt.state.save("global", "k", 1)
    with capture_events(rt.events, "backup.pruned") as pruned:
        ids = [rt.backups.backup(description=f"b{i}").id for i in range(4)]
    assert [b.id for b in rt.backups.list_backups()] == ids[2:]
    assert rt.backups.last_retention is not None
    assert rt.backups.last_retention["deleted"] == [ids[1]]
    assert rt.backups.last_retention["automatic"] is True
    deleted = [e.data["deleted"] for e in pruned]
    assert deleted == [[], [], [ids[0]], [ids[1]]]
    assert all(e.data["automatic"] for e in pruned)


def test_a_restore_safety_backup_does_not_prune(rt: Runtime) -> None:
    rt.state.save("global", "k", 1)
    first = rt.backups.backup().id
    second = rt.backups.backup().id
    rt.state.save("global", "k", 2)
    done = rt.backups.restore(first)
    assert done["safety_backup"] is not None
    # Two user backups and the safety one: the restore did not run retention.
    assert {b.id for b in rt.backups.list_backups()} == {first, second, done["safety_backup"]}
    third = rt.backups.backup().id  # the next backup applies keep_last = 2 to the user's own
    # (a safety backup never counts against them, nor is pushed out by them: issue 19)
    assert {b.id for b in rt.backups.list_backups()} == {second, third, done["safety_backup"]}


def test_no_policy_means_no_automatic_retention(tmp_path: Path) -> None:
    with Runtime.memory(state__backup_dir=str(tmp_path / "b")) as runtime:
        for _ in range(3):
            runtime.backups.backup()
        assert len(runtime.backups.list_backups()) == 3
        assert runtime.backups.last_retention is None


def test_retention_after_lua_and_hook_backups(rt: Runtime) -> None:
    lua = LuaEngine(rt, script_name="retain.lua")
    try:
        count, seen = lua.run_string("""
            State.save("global", "k", 1)
            local removed = {}
            Event.subscribe("backup.pruned", function(event)
                for _, id in ipairs(event.data.deleted) do removed[#removed + 1] = id end
            end)
            Hook.register("state:migration", function(ctx)
                State.backup({description = "before migrating"})
                return "continue"
            end)
            local first = State.backup({description = "one"})
            State.backup({description = "two"})
            State.migrate({from_version = 1, to_version = 2})   -- the hook backs up: a third
            return #State.list_backups(), removed[1] == first
        """)
    finally:
        lua.close()
    assert count == 2 and seen is True


def test_cli_create_reports_retention(run: Run, tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text("[state]\nbackup_keep_last = 1\n")
    run("state", "set", "global", "k", "1")
    first = json.loads(run("backup", "create", "--json").output)["id"]
    text = run("backup", "create").output
    assert "retention: kept 1, deleted 1" in text and f"deleted {first}" in text
    listed = json.loads(run("backup", "list", "--json").output)
    assert len(listed) == 1 and listed[0]["id"] != first
