"""rs-llmspell's backup calls from Lua (create_backup(bool), list_backups, validate_backup,
restore_backup, get_storage_usage, cleanup_backups) in rs-llmspell's shapes, failures as
``{success = false, error}``; ``State.backup{...}`` keeps ours."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmspell import Runtime
from llmspell.errors import ScriptError
from llmspell.lua import LuaEngine


def _engine(tmp_path: Path, **overrides: object) -> Iterator[tuple[Runtime, LuaEngine]]:
    with Runtime.memory(state__backup_dir=str(tmp_path / "kept"), **overrides) as runtime:
        lua = LuaEngine(runtime, script_name="rs.lua")
        yield runtime, lua
        lua.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Runtime, LuaEngine]]:
    yield from _engine(tmp_path, state__backup_keep_last=1)


def test_full_then_incremental_in_rs_shapes(pair: tuple[Runtime, LuaEngine]) -> None:
    rt, lua = pair
    result = lua.run_string("""
        State.save("custom:inventory", "pens", 12)
        local full = State.create_backup(false)
        State.save("custom:inventory", "pens", 11)
        local inc = State.create_backup(true)
        local listed = State.list_backups()
        return {full = full, inc = inc, first = listed[1], second = listed[2],
                when = os.date("!%Y", listed[1].created_at),
                parent_label = full.parent_id or "none"}""")
    full, inc = result["full"], result["inc"]
    assert full["success"] is True and full["incremental"] is False
    assert full["entry_count"] == 1 and full["size_bytes"] > 0
    assert result["parent_label"] == "none"
    assert inc["success"] is True and inc["incremental"] is True
    assert inc["parent_id"] == full["backup_id"]
    assert rt.backups.get(inc["backup_id"]).parent == full["backup_id"]
    first, second = result["first"], result["second"]
    assert (first["id"], first["is_incremental"]) == (full["backup_id"], False)
    assert "parent_id" not in first
    assert (second["is_incremental"], second["parent_id"]) == (True, full["backup_id"])
    assert first["size_bytes"] == rt.backups.get(first["id"]).file_bytes
    assert result["when"].isdigit() and isinstance(first["created_at"], int)


def test_validate_and_restore(pair: tuple[Runtime, LuaEngine]) -> None:
    rt, lua = pair
    lua.run_string('State.save("global", "mode", "calm") '
                   'backup = State.create_backup(false).backup_id '
                   'State.save("global", "mode", "storm")')
    check = lua.run_string("return State.validate_backup(backup)")
    assert (check["is_valid"], check["checksum_valid"], check["integrity_valid"]) == (
        True, True, True)
    assert check["backup_id"] == check["id"]
    restored = lua.run_string("return State.restore_backup(backup)")
    assert restored["success"] is True and restored["puts"] == 1
    assert rt.state.load("global", "mode") == "calm"
    info = rt.backups.get(check["backup_id"])
    damaged = bytearray(info.path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    info.path.write_bytes(bytes(damaged))
    bad = lua.run_string("return State.validate_backup(backup)")
    assert bad["is_valid"] is False and bad["checksum_valid"] is False and "payload" in bad[
        "error"]
    rt.state.save("global", "mode", "storm")
    failed = lua.run_string("return State.restore_backup(backup)")
    assert failed["success"] is False and "payload" in failed["error"]
    assert rt.state.load("global", "mode") == "storm"  # a failed restore changed nothing


def test_missing_backups_are_failures_not_errors(pair: tuple[Runtime, LuaEngine]) -> None:
    _, lua = pair
    missing = lua.run_string('return State.validate_backup("20200101T000000000000Z-0000")')
    assert missing["is_valid"] is False and "no backup with id" in missing["error"]
    missing = lua.run_string('return State.restore_backup("20200101T000000000000Z-0000")')
    assert missing["success"] is False and "no backup with id" in missing["error"]
    made_up = lua.run_string('return State.restore_backup("day2 backup")')
    assert made_up["success"] is False and "must be a backup id" in made_up["error"]
    assert made_up["backup_id"] == "day2 backup"
    made_up = lua.run_string('return State.validate_backup("day2 backup")')
    assert made_up["is_valid"] is False and "must be a backup id" in made_up["error"]


def test_storage_usage_and_cleanup_with_the_configured_retention(tmp_path: Path) -> None:
    # Backups made with no retention rule, then cleaned up by a runtime that has one (the
    # rule also runs by itself after each backup: see the next test).
    for rt, lua in _engine(tmp_path):
        usage = lua.run_string("return State.get_storage_usage()")
        assert usage["total_backups"] == 0 and usage["total_size"] == 0
        assert "oldest_backup" not in usage
        ids = lua.run_string("""
            local a = State.create_backup(false).backup_id
            State.save("global", "n", 1)
            local b = State.create_backup(false).backup_id
            return {a, b}""")
        usage = lua.run_string("return State.get_storage_usage()")
        assert (usage["total_backups"], usage["full_backups"],
                usage["incremental_backups"]) == (2, 2, 0)
        assert (usage["oldest_backup"], usage["newest_backup"]) == tuple(ids)
        assert usage["total_size"] == sum(b.file_bytes for b in rt.backups.list_backups())
    for rt, lua in _engine(tmp_path, state__backup_keep_last=1):
        preview = lua.run_string("return State.cleanup_backups(true)")
        assert preview["success"] is True and preview["dry_run"] is True
        assert (preview["deleted_count"], preview["retained_count"]) == (1, 1)
        assert len(rt.backups.list_backups()) == 2
        done = lua.run_string("return State.cleanup_backups(false)")
        assert done["deleted_count"] == 1 and done["space_freed"] > 0
        assert [b.id for b in rt.backups.list_backups()] == [ids[1]]


def test_the_configured_retention_runs_after_each_backup(
        pair: tuple[Runtime, LuaEngine]) -> None:
    rt, lua = pair
    newest = lua.run_string("""
        State.create_backup(false)
        State.save("global", "n", 1)
        return State.create_backup(false).backup_id""")
    assert [b.id for b in rt.backups.list_backups()] == [newest]
    preview = lua.run_string("return State.cleanup_backups(true)")
    assert preview["success"] is True and preview["deleted_count"] == 0


def test_cleanup_without_a_configured_rule_says_so(tmp_path: Path) -> None:
    for _, lua in _engine(tmp_path):
        result = lua.run_string("return State.cleanup_backups(true)")
        assert result["success"] is False and "names no rule" in result["error"]
        assert result["deleted_count"] == 0


def test_disabled_backups_come_back_as_failures(tmp_path: Path) -> None:
    for rt, lua in _engine(tmp_path, state__backup_enabled=False):
        result = lua.run_string("return State.create_backup(false)")
        assert result["success"] is False and "backups are disabled" in result["error"]
        assert result["incremental"] is False
        assert rt.backups.list_backups() == []
        with pytest.raises(ScriptError, match="BackupError: cannot back up"):
            lua.run_string("State.backup()")  # ours still raises


@pytest.mark.parametrize(("code", "words"), [
    ('State.create_backup("yes")', "ValidationError: argument 'options': must be true"),
    ("State.create_backup({bogus = 1})", "ValidationError: argument 'options' at .bogus"),
    ("State.validate_backup(5)", "ValidationError: argument 'id': must be a string"),
    ('State.restore_backup("")', "ValidationError: argument 'id': must not be empty"),
    ('State.restore_backup("x", {bogus = 1})', "ValidationError: argument 'options' at .bogus"),
    ('State.cleanup_backups("no")', "ValidationError: argument 'dry_run': must be true or false"),
])
def test_bad_arguments_are_lua_errors(pair: tuple[Runtime, LuaEngine], code: str,
                                      words: str) -> None:
    _, lua = pair
    ok, err = lua.run_string(f"return pcall(function() {code} end)")
    assert ok is False and words in err
