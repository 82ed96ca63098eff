"""What reaches a session's journal besides its lifecycle: state writes (in the same batch as
the write), hook executions and events; and the timeline in order across a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.codec import decode
from llmspell.errors import StorageError
from llmspell.events import EventBus
from llmspell.hooks import HookRegistry
from llmspell.sessions import SessionManager, SessionRecorder
from llmspell.sessions.recording import _encoded_bytes
from llmspell.state import StateManager
from llmspell.storage import open_store
from llmspell.testing import CountingStore


def wire(store: object) -> tuple[SessionManager, StateManager, HookRegistry, EventBus]:
    hooks, bus = HookRegistry(), EventBus()
    state = StateManager(store, hooks=hooks, events=bus)  # type: ignore[arg-type]
    manager = SessionManager(store, hooks=hooks, events=bus,  # type: ignore[arg-type]
                             clear_state=state.clear_scope)
    manager.recorder = SessionRecorder(manager)
    manager.recorder.attach(state=state, hooks=hooks, events=bus)
    return manager, state, hooks, bus


def test_state_writes_of_a_session_are_journaled() -> None:
    manager, state, _, _ = wire(open_store("memory://"))
    made, other = manager.create("x"), manager.create("y")
    state.save(f"session:{made.id}", "notes", {"text": "hello"})
    state.save(f"session:{made.id}", "notes", {"text": "hello again"})
    state.delete(f"session:{made.id}", "notes")
    state.save("global", "unrelated", 1)  # no session current: not journaled
    with manager.current(other):
        state.save("global", "counter", 1)  # any scope while a session is current
    writes = manager.journal.read(made.id, kinds="state")
    assert [(e.kind, e.data["key"], e.data["op"]) for e in writes] == [
        ("state.write", "notes", "put"), ("state.write", "notes", "put"),
        ("state.delete", "notes", "del")]
    assert writes[0].data["old"] is None and writes[1].data["old"] == writes[0].data["new"]
    assert writes[2].data["new"] is None
    assert [e.data["change_seq"] for e in writes] == [1, 2, 3]
    current = manager.journal.read(other.id, kinds="state")
    assert [(e.data["scope"], e.data["key"]) for e in current] == [("global", "counter")]


def test_a_failing_state_batch_leaves_neither_value_nor_entry() -> None:
    store = CountingStore(open_store("memory://"))
    manager, state, _, _ = wire(store)
    made = manager.create("x")
    store.fail_batches = True
    with pytest.raises(StorageError):
        state.save(f"session:{made.id}", "k", "v")
    store.fail_batches = False
    assert state.load(f"session:{made.id}", "k") is None
    assert manager.journal.read(made.id, kinds="state") == []


def test_state_of_a_missing_session_is_not_journaled() -> None:
    manager, state, _, _ = wire(open_store("memory://"))
    state.save("session:never-created", "k", 1)
    assert list(manager.store.keys("journal/")) == []


def test_hook_executions_in_a_session_are_journaled() -> None:
    manager, _, hooks, _ = wire(open_store("memory://"))
    made = manager.create("x")
    hooks.register("tool:before_execution", lambda ctx: None, name="audit")
    hooks.fire("tool:before_execution", {"tool": "calc", "api_key": "secret"},
               session_id=made.id, correlation_id="c1", component="calc")
    hooks.fire("tool:after_execution", {"x": 1}, session_id=made.id)  # nothing registered
    hooks.fire("tool:before_execution", {"tool": "calc"})  # not in a session
    entries = manager.journal.read(made.id, kinds="hook")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.correlation_id == "c1"
    assert entry.data["point"] == "tool:before_execution"
    assert entry.data["action"] == "continue" and entry.data["component"] == "calc"
    assert entry.data["data"] == {"tool": "calc", "api_key": "[REDACTED]"}


def test_hook_entries_name_the_hooks_registered_at_each_firing() -> None:
    manager, _, hooks, _ = wire(open_store("memory://"))
    made = manager.create("x")
    first = hooks.register("tool:before_execution", lambda ctx: None, name="audit")
    hooks.fire("tool:before_execution", {}, session_id=made.id)
    hooks.fire("tool:before_execution", {}, session_id=made.id)
    hooks.register("tool:before_execution", lambda ctx: None, name="later", priority="low")
    hooks.fire("tool:before_execution", {}, session_id=made.id)
    hooks.unregister(first)
    hooks.fire("tool:before_execution", {}, session_id=made.id)
    named = [e.data["hooks"] for e in manager.journal.read(made.id, kinds="hook")]
    assert named == [["audit"], ["audit"], ["audit", "later"], ["later"]]


def test_events_of_a_session_are_journaled() -> None:
    manager, state, _, bus = wire(open_store("memory://"))
    made = manager.create("x")
    bus.publish("agent.done", {"text": "ok"}, session_id=made.id, source="agent:a")
    with manager.current(made):
        bus.publish("custom.note", {"n": 1})
        state.save("global", "k", 1)  # its state.changed event is not journaled twice
    bus.publish("other.thing", {})  # no session
    events = manager.journal.read(made.id, kinds="event")
    assert [(e.data["type"], e.data["source"], e.data["data"]) for e in events] == [
        ("agent.done", "agent:a", {"text": "ok"}), ("custom.note", None, {"n": 1})]
    kinds = [e.kind for e in manager.journal.read(made.id)]
    assert kinds == ["session.created", "event", "event", "state.write"]


def test_detach_stops_recording() -> None:
    manager, state, _, bus = wire(open_store("memory://"))
    made = manager.create("x")
    manager.close()
    state.save(f"session:{made.id}", "k", 1)
    bus.publish("a.b", {}, session_id=made.id)
    assert [e.kind for e in manager.journal.read(made.id)] == ["session.created"]


def test_encoded_values_are_kept_in_the_codec_format() -> None:
    class Encoded:
        def __init__(self, data: bytes, binary: list | None) -> None:
            self.data, self.binary = data, binary

    assert decode(_encoded_bytes(Encoded(b'{"a":1}', None))) == {"a": 1}  # type: ignore[arg-type]
    raw = _encoded_bytes(Encoded(b'{"b":"AAE="}', [["b"]]))
    assert raw is not None and decode(raw) == {"b": b"\x00\x01"}
    assert _encoded_bytes(None) is None and _encoded_bytes(b'{"v":1}') == b'{"v":1}'


def test_timeline_keeps_its_order_across_restarts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    store = open_store(url)
    manager, state, _, _ = wire(store)
    made = manager.create("long job")
    state.save(f"session:{made.id}", "step", 1)
    manager.suspend(made)
    manager.close()
    store.close()

    store = open_store(url)  # the next day, another process
    manager, state, _, _ = wire(store)
    assert [s.id for s in manager.list(status="suspended")] == [made.id]
    manager.load(made.id)
    manager.resume(made.id)
    assert state.load(f"session:{made.id}", "step") == 1
    state.save(f"session:{made.id}", "step", 2)
    manager.complete(made.id)
    timeline = manager.journal.read(made.id)
    assert [e.seq for e in timeline] == list(range(1, 8))
    assert [e.kind for e in timeline] == [
        "session.created", "state.write", "session.suspended", "session.loaded",
        "session.resumed", "state.write", "session.completed"]
    store.close()


def _seqs_contiguous(manager: SessionManager, sid: str) -> list[str]:
    entries = manager.journal.read(sid)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    return [e.kind for e in entries]


def test_state_writes_in_a_session_read_the_journal_tail_once() -> None:
    # The recorder builds on the journal position the session manager keeps (the state
    # write's count in the same batch leaves the session record and position cached).
    store = CountingStore(open_store("memory://"))
    manager, state, _, _ = wire(store)
    made = manager.create("x")
    scope = f"session:{made.id}"
    with manager.current(made):
        state.save(scope, "k", 0)
        store.scans.clear()
        for i in range(1, 6):
            state.save(scope, "k", i)
        tail = [p for p in store.scans if p.startswith("journal/")]
        assert tail == [], f"a journaled state write read the journal's tail: {tail}"
    assert _seqs_contiguous(manager, made.id).count("state.write") == 6


def test_a_stale_journal_position_costs_an_attempt_not_an_entry() -> None:
    # Another writer appends behind the manager's back (journal.append does not tell it),
    # then a batch fails outright: the next state writes still number on from the tail.
    store = CountingStore(open_store("memory://"))
    manager, state, _, _ = wire(store)
    made = manager.create("x")
    scope = f"session:{made.id}"
    with manager.current(made):
        state.save(scope, "k", 1)
        manager.journal.append(made.id, "note", {"n": 1})
        state.save(scope, "k", 2)
        store.fail_batches = True
        with pytest.raises(StorageError):
            state.save(scope, "k", 3)
        store.fail_batches = False
        state.save(scope, "k", 4)
        manager.append_entries(made.id, [])
    kinds = _seqs_contiguous(manager, made.id)
    assert kinds.count("state.write") == 3 and kinds.count("note") == 1
    assert state.load(scope, "k") == 4


def test_a_state_key_that_looks_secret_is_redacted_in_the_journal() -> None:
    manager, state, _, _ = wire(open_store("memory://"))
    made = manager.create("x")
    secret = "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
    state.save(f"session:{made.id}", f"password={secret}", 1)
    state.save(f"session:{made.id}", "plain", 2)
    entries = manager.journal.read(made.id, kinds="state")
    assert secret not in entries[0].data["key"] and "[REDACTED]" in entries[0].data["key"]
    assert entries[1].data["key"] == "plain"
