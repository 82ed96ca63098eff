"""One owner for hook outcomes: every subsystem fires through ``HookRegistry.before/after``,
honours what ``hooks.points.TABLE`` says, and reports the rest (``hook.outcome_ignored``).

Each test named after a subsystem was a disagreement on main: the outcome was dropped
silently, or honoured by one subsystem and not another.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell.errors import HookCancelled, SecurityViolation, ValidationError
from llmspell.events import EventBus
from llmspell.events.capture import capture_events
from llmspell.hooks import FIRED, HONOURS, POINTS, TABLE, HookRegistry, HookResult, Skipped
from llmspell.hooks.points import CHOICE, NOTICE
from llmspell.lua import LuaEngine
from llmspell.runtime import Runtime

SEED = {"from_version": 1, "to_version": 2, "transformations": [
    {"field": "old", "transform": "copy", "to": "new"}]}


@pytest.fixture
def rt() -> Iterator[Runtime]:
    with Runtime.memory() as runtime:
        yield runtime


def retry_once(calls: list[Any]) -> Any:
    """A hook that asks for one retry (no delay), then lets the operation go on."""
    def hook(ctx: Any) -> Any:
        calls.append(ctx.metadata.get("attempt"))
        if len(calls) == 1:
            return HookResult.retry(delay=0, attempts=3)
        return None
    return hook


def ignored(events: Any) -> list[tuple[str, str]]:
    return [(e.data["point"], e.data["action"]) for e in events.of_type("hook.outcome_ignored")]


# -- the table ------------------------------------------------------------------------------

def test_the_table_lists_every_point_once_with_outcomes_it_knows() -> None:
    names = [row[0] for row in TABLE]
    assert len(names) == len(set(names)) == len(POINTS) == 49
    for point, aliases, honours, _ in TABLE:
        assert honours <= {"modified", "skip", "retry"}
        for spelling in (point, *aliases):
            assert HONOURS[spelling] is honours


def test_before_with_nothing_registered_returns_the_same_data() -> None:
    hooks = HookRegistry()
    data = {"x": 1}
    assert hooks.before("state:before_write", data) is data
    assert hooks.after("state:after_write", data) is data
    assert hooks.decide("state:after_write", data).data is data


def test_before_returns_a_skipped_with_the_hooks_result() -> None:
    hooks = HookRegistry()
    hooks.register("state:before_read", lambda ctx: HookResult.skip("cached", reason="hit"))
    out = hooks.before("state:before_read", {"scope": "global", "key": "k"})
    assert out.__class__ is Skipped is HookRegistry.Skipped
    assert (out.result, out.reason) == ("cached", "hit")


def test_decide_returns_a_retry_at_an_after_point_for_the_owner_to_rerun() -> None:
    hooks = HookRegistry()
    calls: list[int] = []
    hooks.register("AfterToolExecution", lambda ctx: calls.append(1) or HookResult.retry(0, 2),
                   expect_unfired=True)
    outcome = hooks.decide("tool:after_execution", {"value": 1})
    assert (outcome.action, outcome.attempts, calls) == ("retry", 2, [1])


def test_a_retry_with_no_attempts_left_cancels_naming_the_point() -> None:
    hooks = HookRegistry()
    hooks.register("state:delete", lambda ctx: HookResult.retry(delay=0, attempts=2))
    with pytest.raises(HookCancelled, match="after 2 of 2 attempts") as caught:
        hooks.before("StateDelete", {"scope": "global", "key": "k"})
    assert caught.value.point == "state:delete"


def test_an_ignored_outcome_is_an_event_and_a_warning_once(
        caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    hooks = HookRegistry(publish=bus.publish)

    def change(ctx: Any) -> Any:
        return HookResult.modified({"other": True})

    hooks.register("state:after_write", change)
    data = {"scope": "global", "key": "k", "value": 1}
    with capture_events(bus, "hook.*") as events, caplog.at_level(logging.WARNING,
                                                                  "llmspell.hooks"):
        assert hooks.after("state:after_write", data, session_id="s-1") is data
        assert hooks.after("state:after_write", data) is data
    assert ignored(events) == [("state:after_write", "modified")] * 2
    first = events.of_type("hook.outcome_ignored")[0]
    assert first.data["hook"] == "change" and first.data["honours"] == ["cancel"]
    assert first.session_id == "s-1" and first.source == "hooks"
    warned = [r for r in caplog.records if "does not honour" in r.getMessage()]
    assert len(warned) == 1 and "'state:after_write'" in warned[0].getMessage()


def test_custom_points_honour_everything() -> None:
    hooks = HookRegistry()
    hooks.register("custom:x", lambda ctx: HookResult.skip(7))
    assert hooks.before("custom:x", {}).result == 7


def test_run_reports_a_skip_at_an_after_point_instead_of_dropping_it() -> None:
    bus = EventBus()
    hooks = HookRegistry(publish=bus.publish)
    hooks.register("tool:after_execution", lambda ctx: "skip", expect_unfired=True)
    with capture_events(bus, "hook.*") as events:
        assert hooks.run("tool:before_execution", 2, lambda x: x * 10,
                         after="tool:after_execution") == 20
    assert ignored(events) == [("tool:after_execution", "skip")]


# -- state ----------------------------------------------------------------------------------

def test_state_before_read_retry_fires_again(rt: Runtime) -> None:
    rt.state.save("global", "k", 1)
    calls: list[Any] = []
    rt.hooks.register("state:before_read", retry_once(calls))
    assert rt.state.load("global", "k") == 1
    assert calls == [1, 2]  # on main the retry was dropped: one call, the read went on


def test_state_after_read_skip_and_retry_are_reported(rt: Runtime) -> None:
    rt.state.save("global", "k", 1)
    rt.hooks.register("state:after_read", lambda ctx: HookResult.retry(delay=0))
    with capture_events(rt.events, "hook.*") as events:
        assert rt.state.load("global", "k") == 1
    assert ignored(events) == [("state:after_read", "retry")]


def test_state_after_write_and_delete_report_modified(rt: Runtime) -> None:
    def change(ctx: Any) -> Any:
        return HookResult.modified({**ctx.data, "value": "changed"})

    rt.hooks.register("state:after_write", change)
    rt.hooks.register("state:delete", lambda ctx: HookResult.modified({"scope": "x"}))
    with capture_events(rt.events, "hook.*") as events:
        rt.state.save("global", "k", 1)
        assert rt.state.delete("global", "k") is True
    assert ignored(events) == [("state:after_write", "modified"), ("state:delete", "modified")]


def test_state_migration_retry_fires_again(rt: Runtime) -> None:
    rt.state.save("agent:a", "k", {"old": 1})
    calls: list[Any] = []
    rt.hooks.register("state:migration", retry_once(calls))
    assert rt.migrations.apply(SEED).applied
    assert calls == [1, 2]  # main honoured skip only


def test_state_migration_retry_past_its_attempts_refuses_the_migration(rt: Runtime) -> None:
    rt.state.save("agent:a", "k", {"old": 1})
    rt.hooks.register("state:migration", lambda ctx: HookResult.retry(delay=0, attempts=2))
    with pytest.raises(HookCancelled, match="state:migration"):
        rt.migrations.apply(SEED)
    assert rt.state.load("agent:a", "k") == {"old": 1}


def test_state_migration_modified_is_reported(rt: Runtime) -> None:
    rt.state.save("agent:a", "k", {"old": 1})
    rt.hooks.register("state:migration", lambda ctx: HookResult.modified({"id": "other"}))
    with capture_events(rt.events, "hook.*") as events:
        assert rt.migrations.apply(SEED).applied
    assert ignored(events) == [("state:migration", "modified")]


# -- artifacts ------------------------------------------------------------------------------

def test_artifact_after_store_and_delete_report_modified(rt: Runtime) -> None:
    sid = rt.sessions.create("s").id
    rt.hooks.register("artifact:after_store", lambda ctx: HookResult.modified({}))
    rt.hooks.register("artifact:delete", lambda ctx: HookResult.modified({"name": "x"}))
    with capture_events(rt.events, "hook.*") as events:
        stored = rt.artifacts.store(sid, "a.txt", "hello")
        assert rt.artifacts.delete(stored.id) is not None
    assert ignored(events) == [("artifact:after_store", "modified"),
                               ("artifact:delete", "modified")]


def test_artifact_delete_retry_fires_again(rt: Runtime) -> None:
    sid = rt.sessions.create("s").id
    stored = rt.artifacts.store(sid, "a.txt", "hello")
    calls: list[Any] = []
    rt.hooks.register("artifact:delete", retry_once(calls))
    assert rt.artifacts.delete(stored.id) is not None
    assert calls == [1, 2]


def test_security_violation_reports_a_skip(rt: Runtime) -> None:
    owner = rt.sessions.create("owner").id
    other = rt.sessions.create("other").id
    rt.hooks.register("security:violation", lambda ctx: "skip")
    with capture_events(rt.events, "hook.*") as events, pytest.raises(SecurityViolation):
        rt.artifacts.store(owner, "a.txt", "x", as_session=other)
    assert ignored(events) == [("security:violation", "skip")]


# -- events ---------------------------------------------------------------------------------

def test_event_before_emit_retry_fires_again() -> None:
    bus = EventBus()
    hooks = HookRegistry(publish=bus.publish)
    bus.hooks = hooks
    calls: list[Any] = []
    hooks.register("event:before_emit", retry_once(calls))
    assert bus.publish("job.done", 1) is not None
    assert calls == [1, 2]  # main published at once, dropping the retry


def test_event_after_emit_retry_is_reported_not_dropped() -> None:
    bus = EventBus()
    hooks = HookRegistry(publish=bus.publish)
    bus.hooks = hooks
    hooks.register("event:after_emit", lambda ctx: HookResult.retry(delay=0))
    seen: list[Any] = []
    bus.subscribe("hook.outcome_ignored", seen.append)
    bus.publish("job.done", 1)
    assert [(e.data["point"], e.data["action"]) for e in seen] == [("event:after_emit",
                                                                    "retry")]


# -- Lua ------------------------------------------------------------------------------------

def test_lua_hook_fire_applies_the_table(rt: Runtime) -> None:
    script = """
    local calls = 0
    Hook.register("state:before_write", function(ctx)
      calls = calls + 1
      if calls == 1 then return {action = "retry", delay = 0, attempts = 2} end
    end)
    Hook.register("state:after_write", function(ctx) return {action = "skip"} end)
    Hook.register("tool:after_execution", function(ctx)
      return {action = "retry", delay = 0, attempts = 2}
    end)
    local before = Hook.fire("state:before_write", {scope = "global", key = "k", value = 1})
    local after = Hook.fire("state:after_write", {})
    local rerun = Hook.fire("tool:after_execution", {})   -- the script runs its tool again
    return calls, before.action, after.action, rerun.action, rerun.attempts
    """
    with capture_events(rt.events, "hook.*") as events, LuaEngine(rt) as engine:
        assert engine.run_string(script) == (2, "continue", "continue", "retry", 2)
    assert ignored(events) == [("state:after_write", "skip")]


# -- points fired today (item 8) ------------------------------------------------------------

def exercise_every_subsystem(rt: Runtime) -> None:
    """Do one of everything the core can do that fires a hook point."""
    state = rt.state
    state.save("agent:a", "k", {"old": 1})
    state.load("agent:a", "k")
    state.delete("agent:a", "k")
    state.save("agent:a", "k", {"old": 1})
    rt.migrations.apply(SEED)
    sessions = rt.sessions
    one = sessions.create("one")
    sessions.suspend(one)
    sessions.resume(one)
    sessions.save(one)
    sessions.load(one)
    sessions.complete(one)
    other = sessions.create("other")
    stored = rt.artifacts.store(other, "a.txt", "hello")
    rt.artifacts.delete(stored.id)
    with pytest.raises(SecurityViolation):
        rt.artifacts.store(other, "b.txt", "x", as_session=sessions.create("third"))
    rt.events.publish("custom.thing", {})
    from llmspell.providers.scripted import ScriptedProvider

    rt.providers.add("scripted", ScriptedProvider("scripted", ["hi", {"error": "timeout"}]))
    agent = rt.agents.create("fired", "scripted/x")
    agent.invoke("hello")
    with pytest.raises(Exception, match="timeout"):
        agent.invoke("again")
    rt.agents.remove("fired")
    rt.tools.invoke("calculator", {"input": "6 * 7"})
    with pytest.raises(ValidationError):
        rt.tools.invoke("calculator", {"input": "6 *"})  # fires tool:error
    rt.tools.discover({"category": "utility"})
    flow = rt.workflows.sequential({"name": "fired", "steps": [
        {"name": "add", "tool": "calculator", "input": {"input": "1 + 1"}}]})
    assert flow.execute()["success"]  # start, before_step, after_step, complete
    broken = rt.workflows.sequential({"name": "broken", "steps": [
        {"name": "bad", "tool": "calculator", "input": {"input": "1 +"}}]})
    assert not broken.execute()["success"]  # workflow:error


def test_the_fired_flag_matches_what_the_code_fires() -> None:
    with Runtime.memory(session__max_active_sessions=2) as rt:
        fired: set[str] = set()
        rt.hooks.observe(lambda ctx, action, elapsed: fired.add(ctx.point))
        exercise_every_subsystem(rt)
        with pytest.raises(Exception, match="max_active_sessions"):
            rt.sessions.create("over the limit")
    assert fired == set(FIRED)


def test_registering_at_a_point_nothing_fires_is_reported(
        caplog: pytest.LogCaptureFixture) -> None:
    hooks = HookRegistry()
    with caplog.at_level(logging.WARNING, "llmspell.hooks"):
        handle = hooks.register("workflow:stage_transition", lambda ctx: None, name="backup")
        fired = hooks.register("state:before_write", lambda ctx: None)
        quiet = hooks.register("workflow:rollback", lambda ctx: None, expect_unfired=True)
    assert handle.notice is not None
    assert "'workflow:stage_transition' is not fired yet" in handle.notice
    assert "will" not in handle.notice  # it promises nothing: no planned code fires it
    assert handle.to_dict()["notice"] == handle.notice
    assert fired.notice is None and quiet.notice is not None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "hook 'backup'" in messages[0]
    assert "workflow:stage_transition" in messages[0]


def test_lua_hook_register_at_an_unfired_point_says_so(
        rt: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    script = """
    Hook.register("WorkflowStageTransition", function(ctx) end)
    Hook.register("state:before_write", function(ctx) end)
    return tostring(Hook.list("workflow:stage_transition")[1].notice) .. "|"
        .. tostring(Hook.list("state:before_write")[1].notice)
    """
    with caplog.at_level(logging.WARNING, "llmspell.hooks"), LuaEngine(rt) as engine:
        notes = engine.run_string(script).split("|")
    assert "'workflow:stage_transition' is not fired yet" in notes[0]
    assert "not fired" not in notes[1]
    assert any("workflow:stage_transition" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("point", sorted(p for p in POINTS if p not in FIRED))
def test_unfired_points_are_refused_nothing_only_reported(point: str) -> None:
    hooks = HookRegistry()
    assert hooks.register(point, lambda ctx: None, expect_unfired=True).notice


def test_choice_and_notice_rows_are_what_the_subsystems_honour() -> None:
    assert HONOURS["state:delete"] is CHOICE and HONOURS["session:suspend"] is CHOICE
    assert HONOURS["state:after_write"] is NOTICE and HONOURS["event:after_emit"] is NOTICE


def test_the_docs_table_is_the_points_table() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "hooks-and-events.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and ":" in cells[0]:
            rows[cells[0].strip("`")] = cells[1:]
    order = ("modified", "skip", "retry")
    assert rows == {
        point: [", ".join(aliases), ", ".join(o for o in order if o in honours) or "-",
                "yes" if fired else "no"]
        for point, aliases, honours, fired in TABLE
    }
