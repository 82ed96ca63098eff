"""Sessions honour hook outcomes as the points table says (``hooks.points.TABLE``).

On main sessions fired their points with ``fire`` and ignored everything but cancel: a
``session:start`` hook's modified data, a transition's skip and every retry were dropped
silently. Each test here failed there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llmspell.errors import HookCancelled, ValidationError
from llmspell.events import EventBus
from llmspell.events.capture import capture_events
from llmspell.hooks import HookRegistry, HookResult
from llmspell.sessions import ManualClock, SessionManager, SessionSettings
from llmspell.storage import open_store


class Setup:
    def __init__(self) -> None:
        self.store = open_store("memory://")
        self.events = EventBus()
        self.hooks = HookRegistry(publish=self.events.publish)
        self.events.hooks = self.hooks
        self.manager = SessionManager(self.store, settings=SessionSettings(), hooks=self.hooks,
                                      events=self.events, clock=ManualClock())


@pytest.fixture
def setup() -> Iterator[Setup]:
    s = Setup()
    yield s
    s.store.close()


def rename(ctx: Any) -> Any:
    session = {**ctx.data["session"], "name": "renamed", "tags": ["from-hook"],
               "metadata": {"owner": "hook"}, "max_idle_time": 60}
    return HookResult.modified({**ctx.data, "session": session})


def test_start_modified_changes_the_created_session(setup: Setup) -> None:
    setup.hooks.register("session:start", rename)
    created = setup.manager.create("given", tags=["a"])
    assert (created.name, created.tags, created.metadata) == ("renamed", ["from-hook"],
                                                              {"owner": "hook"})
    assert created.max_idle_time == 60
    stored = setup.manager.get(created.id)
    assert (stored.name, stored.tags, stored.max_idle_time) == ("renamed", ["from-hook"], 60)
    assert [s.id for s in setup.manager.list(tags=["from-hook"])] == [created.id]


@pytest.mark.parametrize(("field", "value", "path"), [
    ("id", "other", "$.session.id"),
    ("status", "archived", "$.session.status"),
    ("surprise", 1, "$.session.surprise"),
])
def test_start_may_not_change_what_the_manager_owns(setup: Setup, field: str, value: Any,
                                                   path: str) -> None:
    def change(ctx: Any) -> Any:
        return HookResult.modified({**ctx.data, "session": {**ctx.data["session"],
                                                            field: value}})

    setup.hooks.register("session:start", change)
    with pytest.raises(ValidationError, match="may change only") as caught:
        setup.manager.create("x")
    assert caught.value.path == path
    assert setup.manager.list() == []


def test_start_modified_values_are_checked_as_create_checks_them(setup: Setup) -> None:
    def bad_tags(ctx: Any) -> Any:
        return HookResult.modified({**ctx.data, "session": {**ctx.data["session"],
                                                            "tags": "not a list"}})

    setup.hooks.register("session:start", bad_tags)
    with pytest.raises(ValidationError, match="tags"):
        setup.manager.create("x")
    assert setup.manager.list() == []


def test_start_modified_without_a_session_table_is_refused(setup: Setup) -> None:
    setup.hooks.register("session:start", lambda ctx: HookResult.modified("nope"))
    with pytest.raises(ValidationError, match="'session' table"):
        setup.manager.create("x")


def test_start_retry_fires_again(setup: Setup) -> None:
    calls: list[int] = []

    def once(ctx: Any) -> Any:
        calls.append(ctx.metadata["attempt"])
        return HookResult.retry(delay=0, attempts=3) if len(calls) == 1 else None

    setup.hooks.register("session:start", once)
    setup.manager.create("x")
    assert calls == [1, 2]


def test_start_skip_is_reported_and_the_session_created(setup: Setup) -> None:
    setup.hooks.register("session:start", lambda ctx: "skip")
    with capture_events(setup.events, "hook.outcome_ignored") as events:
        created = setup.manager.create("x")
    assert setup.manager.get(created.id).name == "x"
    assert [(e.data["point"], e.data["action"]) for e in events] == [("session:start", "skip")]


def test_suspend_skip_leaves_the_session_active(setup: Setup) -> None:
    created = setup.manager.create("x")
    setup.hooks.register("session:suspend", lambda ctx: HookResult.skip())
    with capture_events(setup.events, "session.*") as events:
        back = setup.manager.suspend(created.id)
    assert back.status == "active" and setup.manager.get(created.id).status == "active"
    assert events.types == []
    kinds = [e.kind for e in setup.manager.journal.read(created.id)]
    assert "session.suspended" not in kinds


def test_save_skip_journals_no_checkpoint(setup: Setup) -> None:
    created = setup.manager.create("x")
    setup.hooks.register("session:save", lambda ctx: "skip")
    setup.manager.save(created.id)
    kinds = [e.kind for e in setup.manager.journal.read(created.id)]
    assert "session.saved" not in kinds


def test_end_retry_past_its_attempts_cancels_and_changes_nothing(setup: Setup) -> None:
    created = setup.manager.create("x")
    setup.hooks.register("session:end", lambda ctx: HookResult.retry(delay=0, attempts=2))
    with pytest.raises(HookCancelled, match="session:end"):
        setup.manager.complete(created.id)
    assert setup.manager.get(created.id).status == "active"


def test_resume_modified_is_reported_not_dropped(setup: Setup) -> None:
    created = setup.manager.create("x")
    setup.manager.suspend(created.id)
    setup.hooks.register("session:resume", lambda ctx: HookResult.modified({"to": "failed"}))
    with capture_events(setup.events, "hook.outcome_ignored") as events:
        assert setup.manager.resume(created.id).status == "active"
    assert [(e.data["point"], e.data["action"]) for e in events] == [("session:resume",
                                                                      "modified")]
