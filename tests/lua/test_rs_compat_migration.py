"""rs-llmspell's migration calls from Lua: ``State.migrate("2")`` (to a version),
``migration_status()`` with rs-llmspell's fields, ``schema_versions()`` and the aliases
``get_migration_status`` / ``list_schema_versions``; ``State.migrate{plan}`` keeps ours."""

from __future__ import annotations

from llmspell import Runtime
from llmspell.lua import LuaEngine

REGISTER = """
    State.register_migration({name = "tidy", from_version = 1, to_version = 2,
        transformations = {{field = "size", transform = "convert", to = "int"}}})
"""


def test_status_and_versions_in_rs_shapes(engine: LuaEngine) -> None:
    engine.runtime.state.save("custom:shelf", "box", {"size": "4"})
    result = engine.run_string(REGISTER + """
        local s = State.migration_status()
        return {s = s, versions = State.schema_versions(),
                same = State.get_migration_status().current_version,
                listed = State.list_schema_versions()}""")
    status = result["s"]
    assert status["current_version"] == "1" and status["latest_version"] == "2"
    assert status["is_latest"] is False and status["migration_available"] is True
    assert status["migration_targets"] == ["2"] and status["total_schemas"] == 2
    assert status["current"] == 1 and status["pending"][0]["id"] == "tidy"  # ours, still
    assert result["versions"] == ["1", "2"] == result["listed"]
    assert result["same"] == "1"


def test_migrate_to_a_version_string(engine: LuaEngine) -> None:
    rt = engine.runtime
    rt.state.save("custom:shelf", "box", {"size": "4"})
    result = engine.run_string(REGISTER + 'return State.migrate("2")')
    assert result["success"] is True and result["status"] == "completed"
    assert (result["from_version"], result["to_version"]) == ("1", "2")
    assert result["items_migrated"] == 1 and result["duration_ms"] >= 0
    assert rt.state.load("custom:shelf", "box") == {"size": 4}
    again = engine.run_string('return State.migrate("2")')
    assert again == {"success": True, "status": "already_current", "current_version": "2",
                     "target_version": "2"}
    status = engine.run_string("return State.migration_status()")
    assert status["is_latest"] is True and status["migration_targets"] == []


def test_a_migration_that_cannot_run_is_a_failure_table(engine: LuaEngine) -> None:
    engine.runtime.state.save("global", "k", 1)
    result = engine.run_string('return State.migrate("5")')
    assert result["success"] is False
    assert "no registered migration leads to version 5" in result["error"]
    assert (result["from_version"], result["target_version"]) == ("1", "5")
    assert engine.runtime.state.load("global", "k") == 1


def test_migrations_off_are_reported(make_engine) -> None:  # type: ignore[no-untyped-def]
    lua = make_engine(state__migration_enabled=False)
    lua.runtime.state.save("global", "k", {"size": "1"})
    status = lua.run_string("return State.migration_status()")
    assert status["migration_available"] is False and "migrations are disabled" in status[
        "error"]
    result = lua.run_string(REGISTER + 'return State.migrate("2")')
    assert result["success"] is False and "migrations are disabled" in result["error"]


def test_the_plan_form_is_still_ours(engine: LuaEngine) -> None:
    rt: Runtime = engine.runtime
    rt.state.save("global", "k", {"a": 1})
    report = engine.run_string("""return State.migrate({from_version = 1, to_version = 2,
        transformations = {{field = "a", transform = "rename", to = "b"}}})""")
    assert report["applied"] is True and rt.state.load("global", "k") == {"b": 1}


def test_a_version_may_be_a_number_and_must_be_text_or_a_number(engine: LuaEngine) -> None:
    engine.runtime.state.save("global", "k", 1)
    assert engine.run_string("return State.migrate(1).status") == "already_current"
    ok, err = engine.run_string("return pcall(State.migrate, true)")
    assert ok is False and "argument 'plan'" in err
