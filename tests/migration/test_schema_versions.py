"""Semver schema versions, compatibility on load, and the version new saves take after a
migration (issue 17, items 1 and 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import Run
from llmspell import Runtime
from llmspell.errors import IncompatibleSchema, ScriptError, ValidationError
from llmspell.lua import LuaEngine
from llmspell.state.migration import MigrationPlan
from llmspell.state.versions import check_version, compatible, same

PLAN = {"from_version": "1.0.0", "to_version": "2.0.0", "scope": "agent:*",
        "transformations": [{"field": "name", "transform": "rename", "to": "full_name"}]}


def test_versions_are_ints_or_semver_strings() -> None:
    assert check_version(3) == 3 and check_version("1.2.0") == "1.2.0"
    assert check_version(2.0) == 2  # a Lua number
    for bad in (0, -1, True, "1.2", "01.2.0", "v1.0.0", "0.0.0", 1.5, None, "1.0.0-rc1"):
        with pytest.raises(ValidationError, match=r"schema_version.*MAJOR.MINOR.PATCH"):
            check_version(bad)
    assert same(2, "2.0.0") and not same(2, "2.1.0")
    assert compatible("1.0.0", "1.4.2") and compatible(1, "1.9.0")
    assert not compatible("1.9.0", "2.0.0") and not compatible(1, 2)
    with pytest.raises(ValidationError, match=r"'to_version'.*must differ"):
        MigrationPlan.from_spec({"from_version": 1, "to_version": "1.0.0"})


def test_a_semver_value_is_stored_and_read_back(rt: Runtime) -> None:
    rt.state.save("agent:a", "p", {"x": 1}, schema_version="1.3.0")
    rt.state.save("agent:a", "b", b"\x00bytes", schema_version="1.3.0")
    assert rt.state.get_record("agent:a", "p").schema_version == "1.3.0"  # type: ignore[union-attr]
    assert rt.state.get_record("agent:a", "b").value == b"\x00bytes"  # type: ignore[union-attr]
    assert rt.migrations.status()["versions"] == {"1.3.0": 2}
    with pytest.raises(ValidationError, match="schema_version"):
        rt.state.save("agent:a", "p", 1, schema_version="2")
    assert rt.state.load("agent:a", "p") == {"x": 1}  # the refused save changed nothing


def test_a_major_difference_is_refused_on_load_a_minor_one_loads(rt: Runtime) -> None:
    rt.state.save("agent:a", "old", {"name": "Ann"}, schema_version="1.0.0")
    rt.state.save("agent:a", "minor", {"name": "Bo"}, schema_version="2.3.1")
    rt.migrations.declare("agent:*", "2.0.0")
    assert rt.state.load("agent:a", "minor") == {"name": "Bo"}
    with pytest.raises(IncompatibleSchema) as caught:
        rt.state.load("agent:a", "old")
    text = str(caught.value)
    assert "agent:a/old is stored at schema version 1.0.0" in text
    assert 'from_version = "1.0.0", to_version = "2.0.0"' in text
    # Scopes no declaration or migration covers load whatever their label.
    rt.state.save("global", "g", 1, schema_version=7)
    assert rt.state.load("global", "g") == 1
    # Inside a transaction too.
    with pytest.raises(IncompatibleSchema), rt.state.transaction():
        rt.state.load("agent:a", "old")
    # Migrating moves it, and then it loads.
    rt.migrations.apply(PLAN)
    assert rt.state.load("agent:a", "old") == {"full_name": "Ann"}


def test_new_saves_take_the_migrated_version(rt: Runtime) -> None:
    rt.state.save("agent:a", "p", {"name": "Ann"})
    rt.state.save("global", "g", {"name": "kept"})
    report = rt.migrations.apply({**PLAN, "from_version": 1})
    assert report.examined == 1
    rt.state.save("agent:b", "p", {"full_name": "Cy"})      # a new scope the plan covers
    rt.state.save("global", "h", 1)                         # a scope it does not cover
    assert rt.state.get_record("agent:b", "p").schema_version == "2.0.0"  # type: ignore[union-attr]
    assert rt.state.get_record("global", "h").schema_version == 1  # type: ignore[union-attr]
    status = rt.migrations.status()
    assert status["versions"] == {"1": 2, "2.0.0": 2}
    assert status["scopes"]["agent:b"] == {"current": "2.0.0", "versions": {"2.0.0": 1}}
    assert status["scopes"]["global"] == {"current": 1, "versions": {"1": 2}}
    # A process started later (a new manager on the same store) labels the same way.
    fresh = type(rt.state)(rt.store)
    fresh.save("agent:c", "p", {})
    assert fresh.get_record("agent:c", "p").schema_version == "2.0.0"  # type: ignore[union-attr]
    # A rollback puts the labels back.
    rt.migrations.rollback(force=True)
    rt.state.save("agent:d", "p", {})
    assert rt.state.get_record("agent:d", "p").schema_version == 1  # type: ignore[union-attr]


def test_a_plan_with_a_key_glob_moves_only_those_keys(rt: Runtime) -> None:
    rt.migrations.apply({"from_version": 1, "to_version": 3, "scope": "agent:*",
                         "key": "profile*"})
    rt.state.save("agent:a", "profile_main", {})
    rt.state.save("agent:a", "history", [])
    assert rt.state.get_record("agent:a", "profile_main").schema_version == 3  # type: ignore[union-attr]
    assert rt.state.get_record("agent:a", "history").schema_version == 1  # type: ignore[union-attr]


def test_semver_migration_from_lua(rt: Runtime) -> None:
    rt.state.save("agent:gpt-4", "profile", {"name": "Ann"}, schema_version="1.0.0")
    lua = LuaEngine(rt, script_name="semver.lua")
    try:
        out = lua.run_string("""
            local report = State.migrate({
                from_version = "1.0.0", to_version = "2.0.0", scope = "agent:*",
                transformations = {{field = "name", transform = "rename", to = "full_name"}}
            })
            State.save("agent:gpt-4", "later", {full_name = "Bo"})
            local status = State.migration_status()
            return report.changed, State.load("agent:gpt-4", "profile").full_name,
                   status.scopes["agent:gpt-4"].versions["2.0.0"], status.latest
        """)
        assert out == (1, "Ann", 2, "2.0.0")
        with pytest.raises(ScriptError, match=r"to_version.*MAJOR.MINOR.PATCH"):
            lua.run_string('State.migrate({from_version = "1.0.0", to_version = "2.x"})')
        ok, message = lua.run_string("""
            return pcall(State.migrate, {from_version = "1.0.0", to_version = "1.0.0"})""")
        assert ok is False and "must differ" in message
    finally:
        lua.close()


def test_migrate_status_shows_versions_per_scope(run: Run, tmp_path: Path) -> None:
    run("state", "set", "agent:a", "profile", '{"name": "Ann"}')
    run("state", "set", "global", "g", "1")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({**PLAN, "from_version": 1, "name": "m2"}))
    assert run("migrate", "apply", str(plan)).exit_code == 0
    run("state", "set", "agent:a", "later", '{"full_name": "Bo"}')
    text = run("migrate", "status").output
    assert "values           3 (v1: 1, v2.0.0: 2)" in text
    assert "scope            agent:a: new values at v2.0.0 (v2.0.0: 2)" in text
    assert "scope            global: new values at v1 (v1: 1)" in text
    assert "pending          none" in text


def test_the_refusal_names_the_registered_migration(rt: Runtime) -> None:
    rt.state.save("agent:a", "old", {"name": "Ann"}, schema_version=1)
    rt.migrations.declare("agent:*", 2)
    rt.migrations.register({**PLAN, "name": "m2_names", "from_version": 1, "to_version": 2})
    with pytest.raises(IncompatibleSchema, match="apply the registered migration 'm2_names' "
                       r"\(v1 -> v2\)"):
        rt.state.load("agent:a", "old")
    rt.migrations.apply_pending()
    assert rt.state.load("agent:a", "old") == {"full_name": "Ann"}
