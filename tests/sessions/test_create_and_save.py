"""``create(save=True)``: a session created and checkpointed in one batch (one commit), as
``save`` right after ``create`` would leave it (issue 18: "sessions' create+save is one
write")."""

from __future__ import annotations

import pytest

from batch_log import record_batches
from llmspell import Runtime
from llmspell.errors import HookCancelled, ScriptError, ValidationError
from llmspell.events import EventBus
from llmspell.events.capture import capture_events
from llmspell.hooks import HookRegistry, HookResult
from llmspell.lua import LuaEngine
from llmspell.sessions import ManualClock, SessionManager, SessionSettings
from llmspell.storage import open_store
from llmspell.storage.base import Op


def _manager() -> tuple[SessionManager, HookRegistry, EventBus, list[list[Op]]]:
    store = open_store("memory://")
    seen = record_batches(store)
    events = EventBus()
    hooks = HookRegistry(publish=events.publish)
    events.hooks = hooks
    return (SessionManager(store, settings=SessionSettings(), hooks=hooks, events=events,
                           clock=ManualClock()), hooks, events, seen)


def test_create_with_save_is_one_batch_like_create_then_save() -> None:
    manager, hooks, events, seen = _manager()
    points: list[str] = []
    hooks.register("session:start", lambda ctx: points.append(ctx.point))
    hooks.register("session:save", lambda ctx: points.append(ctx.point))
    with capture_events(events, "session.*") as captured:
        made = manager.create("x", tags=["a"], save=True)
    assert len(seen) == 1
    assert points == ["session:start", "session:save"]
    assert captured.types == ["session.created", "session.saved"]
    entries = manager.journal.read(made.id)
    assert [e.kind for e in entries] == ["session.created", "session.saved"]
    assert entries[1].data == {"status": "active"}
    assert manager.get(made.id).to_dict() == made.to_dict()
    # The next change follows the checkpoint's entry (the journal position was remembered).
    manager.save(made.id)
    assert [e.kind for e in manager.journal.read(made.id)][-1] == "session.saved"
    assert len(manager.journal.read(made.id)) == 3


def test_a_skipped_save_creates_without_the_checkpoint() -> None:
    manager, hooks, events, _ = _manager()
    hooks.register("session:save", lambda ctx: HookResult.skip())
    with capture_events(events, "session.*") as captured:
        made = manager.create("x", save=True)
    assert captured.types == ["session.created"]
    assert [e.kind for e in manager.journal.read(made.id)] == ["session.created"]


def test_a_cancelled_save_creates_nothing() -> None:
    manager, hooks, _, seen = _manager()
    hooks.register("session:save", lambda ctx: HookResult.cancel("no"))
    with pytest.raises(HookCancelled):
        manager.create("x", save=True)
    assert seen == [] and manager.list() == []


def test_save_must_be_a_bool() -> None:
    manager, _, _, seen = _manager()
    with pytest.raises(ValidationError, match="save"):
        manager.create("x", save="yes")
    assert seen == []


def test_lua_create_with_save() -> None:
    with Runtime.memory() as rt:
        lua = LuaEngine(rt, script_name="save.lua")
        try:
            sid = lua.run_string('return Session.create({name = "s", save = true}).id')
            with pytest.raises(ScriptError, match="save"):
                lua.run_string('Session.create({name = "t", save = "yes"})')
            ok, err = lua.run_string(
                'return pcall(Session.create, {name = "t", save = 1})')
        finally:
            lua.close()
        assert ok is False and "save" in str(err)
        kinds = [e.kind for e in rt.sessions.journal.read(sid)]
        assert kinds == ["session.created", "session.saved"]
