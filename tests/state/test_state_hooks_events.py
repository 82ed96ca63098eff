"""State hooks, events, redaction and batch contributors, as a user of them sees them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llmspell.errors import HookCancelled, ValidationError
from llmspell.events import EventBus, capture_events
from llmspell.hooks import HookContext, HookRegistry, HookResult
from llmspell.redact import Redactor
from llmspell.state import Change, StateManager, value_hash
from llmspell.storage import Put, open_store

SECRET = "sk-abcdefghijklmnopqrstuvwxyz012345"


@pytest.fixture
def hooks() -> HookRegistry:
    return HookRegistry()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def state(hooks: HookRegistry, bus: EventBus) -> Iterator[StateManager]:
    store = open_store("memory://")
    yield StateManager(store, hooks=hooks, events=bus)
    store.close()


def test_before_write_can_modify_the_value(state: StateManager, hooks: HookRegistry) -> None:
    def stamp(ctx: HookContext) -> HookResult:
        return HookResult.modified({**ctx.data, "value": {**ctx.data["value"], "checked": True}})

    hooks.register("state:before_write", stamp)
    state.save("agent:a", "profile", {"name": "x"})
    assert state.load("agent:a", "profile") == {"name": "x", "checked": True}


def test_before_write_can_change_the_data_in_place(state: StateManager,
                                                   hooks: HookRegistry) -> None:
    def double(ctx: HookContext) -> None:
        ctx.data["value"] *= 2

    hooks.register("state:before_write", double)
    state.save("global", "n", 21)
    assert state.load("global", "n") == 42


def test_a_cancel_reaches_the_caller_and_nothing_is_written(state: StateManager,
                                                            hooks: HookRegistry,
                                                            bus: EventBus) -> None:
    hooks.register("state:before_write", lambda ctx: HookResult.cancel("read-only scope"),
                   name="guard")
    with capture_events(bus, "state.*") as events, pytest.raises(HookCancelled) as info:
        state.save("global", "k", 1)
    assert info.value.reason == "read-only scope"
    assert info.value.hook == "guard"
    assert "read-only scope" in str(info.value)
    assert list(state.store.scan()) == []
    assert events == []


def test_a_hook_may_not_move_the_write(state: StateManager, hooks: HookRegistry) -> None:
    hooks.register("state:before_write",
                   lambda ctx: HookResult.modified({**ctx.data, "key": "elsewhere"}))
    with pytest.raises(ValidationError, match="value only"):
        state.save("global", "k", 1)
    hooks.unregister(hooks.list("state:before_write")[0])
    hooks.register("state:before_write", lambda ctx: HookResult.modified(5))
    with pytest.raises(ValidationError, match="'value'"):
        state.save("global", "k", 1)
    assert list(state.store.scan()) == []


def test_a_skip_skips_the_write(state: StateManager, hooks: HookRegistry) -> None:
    hooks.register("state:before_write", lambda ctx: "skip")
    assert state.save("global", "k", 1) is None
    assert not state.exists("global", "k")


def test_a_modified_value_is_checked_like_any_other(state: StateManager,
                                                   hooks: HookRegistry) -> None:
    hooks.register("state:before_write",
                   lambda ctx: HookResult.modified({**ctx.data, "value": float("inf")}))
    with pytest.raises(ValueError, match="finite"):
        state.save("global", "k", 1)


def test_after_write_sees_the_value_and_its_sequence(state: StateManager,
                                                     hooks: HookRegistry) -> None:
    seen: list[dict[str, Any]] = []
    hooks.register("state:after_write", lambda ctx: seen.append(dict(ctx.data)))
    seq = state.save("agent:a", "k", {"x": 1})
    with state.transaction():
        state.save("global", "t", [1])
        assert len(seen) == 1  # after-write hooks run after the commit
    assert seen == [
        {"scope": "agent:a", "key": "k", "value": {"x": 1}, "seq": seq, "schema_version": 1},
        {"scope": "global", "key": "t", "value": [1], "seq": seq + 1, "schema_version": 1},
    ]


def test_read_hooks(state: StateManager, hooks: HookRegistry) -> None:
    calls: list[str] = []
    hooks.register("state:before_read", lambda ctx: calls.append(ctx.data["key"]))
    hooks.register("state:after_read",
                   lambda ctx: HookResult.modified({**ctx.data, "value": [ctx.data["value"],
                                                                          ctx.data["found"]]}))
    state.save("global", "k", 1)
    assert state.load("global", "k") == [1, True]
    assert state.load("global", "missing", "d") == ["d", False]
    assert calls == ["k", "missing"]


def test_before_read_can_answer_instead_of_the_store(state: StateManager,
                                                     hooks: HookRegistry) -> None:
    hooks.register("state:before_read", lambda ctx: HookResult.skip(result="cached"))
    assert state.load("global", "k") == "cached"


def test_the_delete_hook_can_refuse(state: StateManager, hooks: HookRegistry) -> None:
    state.save("global", "keep", 1)
    state.save("global", "drop", 1)
    hooks.register("state:delete",
                   lambda ctx: HookResult.cancel("protected") if ctx.data["key"] == "keep"
                   else None)
    with pytest.raises(HookCancelled, match="protected"):
        state.delete("global", "keep")
    assert state.delete("global", "drop") is True
    with pytest.raises(HookCancelled):
        state.clear_scope("global")
    assert state.list_keys("global") == ["keep"]


def test_events_carry_the_change_with_secrets_redacted(state: StateManager,
                                                       bus: EventBus) -> None:
    with capture_events(bus, "state.*") as events:
        seq = state.save("agent:a", "creds", {"api_key": SECRET, "note": f"use {SECRET}",
                                              "n": 1})
        state.delete("agent:a", "creds")
        state.delete("agent:a", "creds")  # nothing deleted: no event
    assert events.types == ["state.changed", "state.deleted"]
    changed, deleted = events
    assert changed.data == {"scope": "agent:a", "key": "creds", "seq": seq,
                            "schema_version": 1,
                            "value": {"api_key": "[REDACTED]", "note": "use [REDACTED]",
                                      "n": 1}}
    assert deleted.data == {"scope": "agent:a", "key": "creds", "seq": seq + 1}
    assert changed.source == "state"
    assert SECRET not in repr(events)


def test_state_keeps_secrets_unless_redact_on_write(state: StateManager) -> None:
    state.save("global", "creds", {"password": "hunter2", "token": SECRET})
    assert state.load("global", "creds") == {"password": "hunter2", "token": SECRET}
    redacting = StateManager(state.store, redact_on_write=True,
                             redactor=Redactor([r"\bACME-[0-9]{6}\b"]))
    redacting.save("global", "creds", {"password": "hunter2", "note": "id ACME-123456",
                                       "text": f"key={SECRET}"})
    assert state.load("global", "creds") == {"password": "[REDACTED]",
                                             "note": "id [REDACTED]",
                                             "text": "key=[REDACTED]"}


def test_a_debug_log_never_shows_a_value(state: StateManager,
                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG", logger="llmspell.state"):
        state.save("global", "creds", {"password": "hunter2"})
        state.save("global", SECRET, 1)
    assert "saved global/creds" in caplog.text
    assert "hunter2" not in caplog.text and SECRET not in caplog.text


# -- batch contributors ----------------------------------------------------------------------


def test_a_contributor_writes_in_the_same_batch(state: StateManager) -> None:
    seen: list[list[Change]] = []

    def journal(changes: list[Change]) -> tuple[list[Put], dict[str, bytes | None]]:
        seen.append(changes)
        return [Put(f"journal/{c.seq}", f"{c.op} {c.key}".encode()) for c in changes], {}

    state.add_contributor(journal)
    state.save("global", "a", {"x": 1})
    state.save("global", "a", {"x": 2})
    state.delete("global", "a")
    assert [(c.op, c.seq) for batch in seen for c in batch] == [
        ("put", 1), ("put", 2), ("del", 3)]
    first, second, third = (batch[0] for batch in seen)
    assert first.old_hash is None and first.new_hash == value_hash({"x": 1})
    assert second.old_hash == value_hash({"x": 1}) and second.new_hash == value_hash({"x": 2})
    assert third.old_hash == value_hash({"x": 2}) and third.new_hash is None
    assert [v for _, v in state.store.scan("journal/")] == [b"put a", b"put a", b"del a"]
    assert state.remove_contributor(journal) is True
    assert state.remove_contributor(journal) is False


def test_a_failing_contributor_means_nothing_is_written(state: StateManager) -> None:
    def broken(changes: list[Change]) -> None:
        raise RuntimeError("journal full")

    state.add_contributor(broken)
    with pytest.raises(RuntimeError, match="journal full"):
        state.save("global", "a", 1)
    assert list(state.store.scan()) == []


def test_a_contributor_condition_is_retried_until_it_holds(state: StateManager) -> None:
    state.store.put("journal/head", b"0")
    calls = {"n": 0}

    def journal(changes: list[Change]) -> tuple[list[Put], dict[str, bytes | None]]:
        calls["n"] += 1
        head = state.store.get("journal/head")
        if calls["n"] == 1:
            state.store.put("journal/head", b"moved")  # someone appends first
        return [Put("journal/head", b"%d" % changes[0].seq)], {"journal/head": head}

    state.add_contributor(journal)
    state.save("global", "a", 1)
    assert calls["n"] == 2
    assert state.store.get("journal/head") == b"1"


def test_value_hash_ignores_dict_order() -> None:
    assert value_hash({"a": 1, "b": [b"x"]}) == value_hash({"b": [b"x"], "a": 1})
    assert value_hash(b"YQ==") != value_hash("YQ==")


def test_a_retry_fires_the_hook_again(state: StateManager, hooks: HookRegistry) -> None:
    attempts: list[int] = []

    def flaky(ctx: HookContext) -> HookResult | None:
        attempts.append(ctx.metadata.get("attempt", 1))
        return HookResult.retry(delay=0, attempts=3) if len(attempts) < 2 else None

    hooks.register("state:before_write", flaky)
    state.save("global", "k", 1)
    assert attempts == [1, 2]
    assert state.load("global", "k") == 1
    hooks.unregister(hooks.list("state:before_write")[0])
    hooks.register("state:before_write", lambda ctx: HookResult.retry(delay=0, attempts=2))
    with pytest.raises(HookCancelled, match="after 2 of 2 attempts"):
        state.save("global", "k", 2)
    assert state.load("global", "k") == 1
