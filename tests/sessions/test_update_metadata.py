"""SessionManager.update_metadata: a journaled change of a session's metadata, checked, atomic,
published, on every backend; a change that changes nothing writes nothing."""

from __future__ import annotations

import pytest

from llmspell.errors import SessionNotFound, ValidationError, ValueTooLarge
from llmspell.events import EventBus, capture_events
from llmspell.sessions import ManualClock, SessionManager, SessionSettings
from llmspell.storage import open_store


def test_set_and_remove_keys(manager: SessionManager) -> None:
    s = manager.create("work", metadata={"a": 1, "b": 2})
    new = manager.update_metadata(s, {"c": [1, "x"], "a": 10}, remove=["b", "missing"])
    assert new.metadata == {"a": 10, "c": [1, "x"]}
    assert manager.get(s.id).metadata == new.metadata
    assert manager.load(s.id).metadata == new.metadata  # as another process reads it
    entry = manager.journal.read(s.id, kinds="session.metadata_changed")[-1]
    assert entry.data == {"changed": {"c": [1, "x"], "a": 10}, "removed": ["b"]}
    assert new.updated_at >= s.updated_at and new.status == s.status


def test_a_change_that_changes_nothing_writes_nothing(manager: SessionManager) -> None:
    s = manager.create("work", metadata={"flag": True})
    count = manager.journal.count(s.id)
    same = manager.update_metadata(s, {"flag": True}, remove=["absent"])
    assert same.metadata == {"flag": True} and manager.journal.count(s.id) == count
    manager.update_metadata(s, {"flag": 1})  # 1 is not true: a change
    assert manager.get(s).metadata == {"flag": 1}
    assert manager.journal.count(s.id) == count + 1


def test_any_status(manager: SessionManager) -> None:
    s = manager.create("work")
    manager.complete(s)
    assert manager.update_metadata(s, {"note": "done"}).metadata == {"note": "done"}
    assert manager.get(s).status == "completed"


def test_the_event(mem: SessionManager) -> None:
    bus = EventBus()
    manager = SessionManager(mem.store, settings=SessionSettings(), clock=ManualClock(),
                             events=bus)
    s = manager.create("work")
    with capture_events(bus, "session.*") as events:
        manager.update_metadata(s, {"k": "v"})
    assert events.types == ["session.metadata_changed"]
    assert events[0].data["session_id"] == s.id


@pytest.mark.parametrize(("changes", "remove", "argument", "rule"), [
    ("text", (), "changes", "must be a dict"),
    ({"k": b"\xff"}, (), "changes", "JSON values only"),
    ({}, "key", "remove", "must be a list of metadata keys"),
    ({}, ["ok", 3], "remove", "each item a string"),
])
def test_bad_input_is_named_and_changes_nothing(mem: SessionManager, changes: object,
                                                remove: object, argument: str,
                                                rule: str) -> None:
    s = mem.create("work", metadata={"keep": 1})
    count = mem.journal.count(s.id)
    with pytest.raises(ValidationError) as info:
        mem.update_metadata(s, changes, remove=remove)
    assert info.value.argument == argument and rule in str(info.value)
    assert mem.get(s).metadata == {"keep": 1} and mem.journal.count(s.id) == count


def test_remove_names_the_bad_item(mem: SessionManager) -> None:
    s = mem.create("work")
    with pytest.raises(ValidationError, match=r"\[1\]"):
        mem.update_metadata(s, remove=["ok", 3])


def test_too_large_is_refused_before_anything_is_written() -> None:
    store = open_store("memory://")
    manager = SessionManager(store, settings=SessionSettings(max_value_bytes=200))
    s = manager.create("work")
    with pytest.raises(ValueTooLarge):
        manager.update_metadata(s, {"big": "x" * 300})
    assert manager.get(s).metadata == {}


def test_no_such_session(mem: SessionManager) -> None:
    with pytest.raises(SessionNotFound):
        mem.update_metadata("01a23cd0-c2f7-7bef-bc72-a84b8c9b6798", {"k": 1})
