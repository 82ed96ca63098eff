"""Migrations, their rollback and restores tell hooks and subscribers about every key they
change: ``state:after_write`` per put, ``state.changed`` / ``state.deleted`` per key, each with
the ``operation`` (issue 17, item 4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell import Runtime
from llmspell.events.capture import capture_events
from llmspell.hooks import HookContext
from llmspell.lua import LuaEngine


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    with Runtime.memory(state__backup_dir=str(tmp_path / "backups")) as runtime:
        yield runtime


def test_a_migration_and_its_rollback_fire_per_key(rt: Runtime) -> None:
    rt.state.save("agent:a", "p", {"name": "Ann"})
    rt.state.save("agent:b", "p", {"name": "Bo"})
    rt.state.save("global", "g", 1)
    seen: list[dict[str, Any]] = []
    rt.hooks.register("state:after_write", lambda ctx: seen.append(dict(ctx.data)))
    with capture_events(rt.events, "state.*") as events:
        report = rt.migrations.apply({"from_version": 1, "to_version": 2, "scope": "agent:*",
                                      "transformations": [{"field": "name",
                                                           "transform": "rename",
                                                           "to": "full_name"}]})
    assert [(d["scope"], d["value"], d["schema_version"], d["operation"]) for d in seen] == [
        ("agent:a", {"full_name": "Ann"}, 2, "migration"),
        ("agent:b", {"full_name": "Bo"}, 2, "migration")]
    assert [d["seq"] for d in seen] == [report.seq_first, report.seq_last]
    assert [(e.type, e.data["scope"], e.data["operation"]) for e in events] == [
        ("state.changed", "agent:a", "migration"), ("state.changed", "agent:b", "migration")]
    seen.clear()
    rt.migrations.rollback()
    assert [(d["value"], d["schema_version"], d["operation"]) for d in seen] == [
        ({"name": "Ann"}, 1, "rollback"), ({"name": "Bo"}, 1, "rollback")]


def test_a_restore_fires_puts_and_deletes(rt: Runtime) -> None:
    rt.state.save("agent:a", "kept", 1)
    rt.state.save("agent:a", "changed", {"v": 1, "api_key": "sk-abcdefghijklmnopqrstuvwx"})
    backup_id = rt.backups.backup().id
    rt.state.save("agent:a", "changed", {"v": 2})
    rt.state.save("agent:a", "added", 3)
    seen: list[tuple[str, str, str]] = []

    def watch(ctx: HookContext) -> None:
        seen.append((ctx.data["key"], ctx.data["operation"], repr(ctx.data["value"])))

    rt.hooks.register("state:after_write", watch)
    with capture_events(rt.events, "state.*") as events:
        done = rt.backups.restore(backup_id, safety_backup=False)
    assert done["puts"] == 1 and done["deletes"] == 1
    assert [(k, op) for k, op, _ in seen] == [("changed", "restore")]
    by_type = {(e.type, e.data["key"]): e.data for e in events}
    assert set(by_type) == {("state.deleted", "added"), ("state.changed", "changed")}
    assert by_type[("state.deleted", "added")]["operation"] == "restore"
    # Events carry the value with its secrets redacted, as for any write.
    assert by_type[("state.changed", "changed")]["value"]["api_key"] == "[REDACTED]"


def test_nothing_is_built_when_nobody_listens(rt: Runtime) -> None:
    rt.state.save("agent:a", "p", {"name": "Ann"})
    report = rt.migrations.apply({"from_version": 1, "to_version": 2})
    assert report.applied and rt.state.load("agent:a", "p") == {"name": "Ann"}


def test_lua_hooks_and_events_see_a_migration_and_a_restore(rt: Runtime) -> None:
    lua = LuaEngine(rt, script_name="bulk.lua")
    try:
        out = lua.run_string("""
            State.save("agent:gpt-4", "settings", {old_field = 1})
            local id = State.backup({description = "before"})
            local hooked, changed = {}, {}
            Hook.register("state:after_write", function(ctx)
                hooked[#hooked + 1] = ctx.data.operation .. ":" .. ctx.data.key
            end)
            Event.subscribe("state.changed", function(event)
                changed[#changed + 1] = event.data.operation
            end)
            State.migrate({from_version = 1, to_version = 2, transformations = {
                {field = "old_field", transform = "copy", to = "new_field"}}})
            State.restore(id, {safety_backup = false})
            return table.concat(hooked, ","), table.concat(changed, ",")
        """)
    finally:
        lua.close()
    assert out == ("migration:settings,restore:settings", "migration,restore")
