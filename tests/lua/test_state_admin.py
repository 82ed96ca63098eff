"""``State.migrate``/``State.backup``... from Lua: the seed's snippets unmodified, custom Lua
transforms, the backup hook, verification results and errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmspell import Runtime
from llmspell.errors import ScriptError
from llmspell.lua import LuaEngine

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    with Runtime.memory(state__backup_dir=str(tmp_path / "backups")) as runtime:
        yield runtime


@pytest.fixture
def engine(rt: Runtime) -> Iterator[LuaEngine]:
    lua = LuaEngine(rt, script_name="test.lua")
    yield lua
    lua.close()


def test_the_seed_migrate_snippet(engine: LuaEngine, rt: Runtime) -> None:
    rt.state.save("agent:gpt-4", "settings", {"old_field": 1, "deprecated": "x", "keep": True})
    rt.state.save("global", "plain", 5)
    engine.run_string("""
        State.migrate({
            from_version = 1,
            to_version = 2,
            transformations = {
                {field = "old_field", transform = "copy", to = "new_field"},
                {field = "deprecated", transform = "remove"}
            }
        })""")
    assert rt.state.load("agent:gpt-4", "settings") == {"old_field": 1, "new_field": 1,
                                                         "keep": True}
    assert rt.state.get_record("global", "plain").schema_version == 2  # type: ignore[union-attr]
    status = engine.run_string("return State.migration_status()")
    assert status["current"] == status["latest"] == 2 and status["pending"] == []


def test_the_seed_backup_snippet(engine: LuaEngine, rt: Runtime) -> None:
    rt.state.save("agent:gpt-4", "history", ["hi"])
    rt.state.save("workflow:w", "step", 1)
    rt.state.save("global", "other", 1)
    backup_id, count, first = engine.run_string("""
        -- Create backup
        local backup_id = State.backup({
            description = "Before major update",
            include_patterns = {"agent:*", "workflow:*"}
        })
        State.save("agent:gpt-4", "history", {})
        State.delete("workflow:w", "step")

        -- Restore from backup
        State.restore(backup_id)

        -- List available backups
        local backups = State.list_backups()
        return backup_id, #backups, backups[1]""")
    assert rt.state.load("agent:gpt-4", "history") == ["hi"]
    assert rt.state.load("workflow:w", "step") == 1
    assert count == 2  # the backup and the restore's safety backup
    assert first["id"] == backup_id and first["description"] == "Before major update"
    assert first["include"] == ["agent:*", "workflow:*"] and first["entries"] == 2


def test_the_seed_hook_backs_up_when_a_workflow_completes(engine: LuaEngine,
                                                         rt: Runtime) -> None:
    engine.run_file(EXAMPLES / "backup_hook.lua")  # registers, then runs a workflow
    (made,) = rt.backups.list_backups()
    # The completed run's record, its definition and its one step's result.
    assert made.description == "Workflow completed" and made.entries == 3
    # A workflow run from Python completes too: the Lua hook backs up again.
    flow = rt.workflows.sequential({"name": "py", "steps": [
        {"name": "one", "tool": "calculator", "input": {"input": "1 + 1"}}]})
    assert flow.execute()["success"]
    assert [b.description for b in rt.backups.list_backups()] == ["Workflow completed"] * 2


def test_custom_transforms_and_checks_in_lua(engine: LuaEngine, rt: Runtime) -> None:
    for i in range(5):
        rt.state.save("agent:a", f"k{i}", {"name": f"Ada {i}", "age": str(20 + i)})
    before = dict(rt.store.scan("state/"))
    ok, message = engine.run_string("""
        return pcall(State.migrate, {from_version = 1, to_version = 2, transformations = {
            {field = "age", transform = "custom", name = "bump", fn = function(age, ctx)
                if ctx.key == "k3" then error("k3 is special") end
                return tonumber(age) + 1
            end}}})""")
    assert ok is False
    assert message.startswith("MigrationError: migration ")
    assert "item agent:a/k3 (#4" in message and "#1 custom 'bump' 'age'" in message
    assert "k3 is special" in message
    assert dict(rt.store.scan("state/")) == before
    report = engine.run_string("""
        return State.migrate({from_version = 1, to_version = 2, dry_run = false,
            transformations = {
                {field = "age", transform = "convert", to = "int"},
                {field = "name", transform = "split", into = {"first", "last"}},
                {transform = "custom", fn = function(value, ctx)
                    value.migrated_by = "lua"; return value end}},
            validate_after = {required = {"first"},
                              check = function(v) return v.age >= 20 or "too young" end}})""")
    assert report["examined"] == 5 and report["changed"] == 5 and report["applied"]
    assert rt.state.load("agent:a", "k2") == {"age": 22, "first": "Ada", "last": "2",
                                              "migrated_by": "lua"}


def test_registered_migrations_versions_and_rollback(engine: LuaEngine, rt: Runtime) -> None:
    rt.state.save("global", "cfg", {"retries": "3"})
    result = engine.run_string("""
        State.register_migration({name = "m2", from_version = 1, to_version = 2,
            transformations = {{field = "retries", transform = "convert", to = "int"}}})
        State.register_migration({name = "m3", from_version = 2, to_version = 3,
            transformations = {{field = "timeout", transform = "default", value = 30}}})
        local before = State.migration_status()
        local reports = State.migrate_to_version(3)
        local after = State.migration_status()
        State.rollback_migration()
        return {before = before.pending[1].id, ran = #reports, current = after.current,
                again = State.migration_status().current}""")
    assert result == {"before": "m2", "ran": 2, "current": 3, "again": 2}
    assert rt.state.load("global", "cfg") == {"retries": 3}


def test_verify_delete_prune_and_the_aliases(engine: LuaEngine, rt: Runtime) -> None:
    rt.state.save("agent:a", "k", {"v": 1})
    first = engine.run_string('return State.create_backup({description = "one", format = '
                              '"binary", compression = "lz4"}).backup_id')
    info = rt.backups.get(first)
    assert (info.entry_format, info.compression) == ("binary", "lz4")
    rt.state.save("agent:a", "k", {"v": 2})
    second = engine.run_string("return State.backup({incremental = true})")
    assert rt.backups.get(second).parent == first
    check = engine.run_string(f'return State.validate_backup("{second}")')
    assert check["valid"] is True and check["chain"] == [first, second]
    original = info.path.read_bytes()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0xFF
    info.path.write_bytes(bytes(damaged))
    check = engine.run_string(f'return State.verify_backup("{second}")')
    assert check["valid"] is False and f"backup {first}: payload" in check["error"]
    info.path.write_bytes(original)
    assert engine.run_string(f'return State.restore_backup("{second}").puts') == 0
    report = engine.run_string("return State.prune_backups({keep_last = 1, dry_run = true})")
    assert report["dry_run"] and report["deleted"] == []  # the newest needs its parent
    deleted = engine.run_string(f'return State.delete_backup("{first}", {{cascade = true}})')
    assert deleted == [first, second]


@pytest.mark.parametrize(("code", "words"), [
    ('State.backup({format = "xml"})', "ValidationError: argument 'format'"),
    ("State.backup({descripton = 'x'})", "unknown option 'descripton'"),
    ('State.restore("20990101T000000000000Z-dead")', "BackupNotFound: no backup with id"),
    ("State.migrate({from_version = 1, to_version = 2, transformations = {{transform = "
     "'copy', field = 'a'}}})", "argument 'transformations[0].to'"),
    ("State.migrate()", "argument 'plan'"),
    ("State.rollback_migration()", "MigrationError: there is no applied migration"),
])
def test_errors_reach_lua_with_their_class(engine: LuaEngine, code: str, words: str) -> None:
    with pytest.raises(ScriptError, match=words.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        engine.run_string(code)


def test_with_state_disabled_the_functions_say_so(tmp_path: Path) -> None:
    with Runtime.memory(state__enabled=False) as rt, LuaEngine(rt) as engine:
        with pytest.raises(ScriptError, match="StateError: state is disabled"):
            engine.run_string("State.backup()")
        with pytest.raises(ScriptError, match="StateError: state is disabled"):
            engine.run_string("State.migration_status()")
