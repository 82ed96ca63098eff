"""Event entries of a session's journal: the recorder's shortcuts store exactly what the
general path stores (the journal's check of the whole entry), and are not taken when a
secret may hide in what they skip."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.events import EventBus
from llmspell.events.event import Event
from llmspell.hooks import HookRegistry
from llmspell.redact import HINTS, REDACTED, Redactor
from llmspell.sessions import SessionManager, SessionRecorder
from llmspell.storage import open_store

KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3"
AWS_ID = "AKIA" + "ABCDEFGHIJKLMNOP"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def wire() -> tuple[SessionManager, SessionRecorder, EventBus]:
    hooks, bus = HookRegistry(), EventBus()
    manager = SessionManager(open_store("memory://"), hooks=hooks,  # type: ignore[arg-type]
                             events=bus)
    recorder = manager.recorder = SessionRecorder(manager)
    recorder.attach(hooks=hooks, events=bus)
    return manager, recorder, bus


def general(recorder: SessionRecorder) -> None:
    """Make the recorder take its general path: every entry checked whole by the journal."""
    recorder._names_plain = lambda event, redactor: False  # type: ignore[method-assign]


# (type, source, data): plain ones, and ones whose type or source holds a secret (or an AWS
# key id that makes a secret of the data's 40-character string).
CASES: list[tuple[str, str | None, Any]] = [
    ("agent.execution_completed", "agents",
     {"agent": "a", "usage": {"input_tokens": 3, "output_tokens": 2}, "latency_ms": 0.1}),
    ("custom.note", None, {"text": "hello", "n": [1, 2.5, None, True]}),
    ("custom.note", "tools", {"api_key": "hunter2hunter2", "text": f"use {KEY}"}),
    (f"leak.{KEY}", "agents", {"n": 1}),
    ("leak.note", KEY, {"n": 1}),
    ("leak.note", AWS_ID, {"blob": AWS_SECRET}),
    ("leak.note", "agents", {"blob": AWS_SECRET}),
    ("a.token_refreshed", "auth", {"token": "abc123def456"}),
    ("empty.data", "agents", {}),
]


def stored(redact: bool, take_general: bool) -> list[dict[str, Any]]:
    manager, recorder, bus = wire()
    if take_general:
        general(recorder)
    made = manager.create("x")
    ids = []
    for type_, source, data in CASES:
        event = bus.publish(type_, data, session_id=made.id, source=source, redact=redact)
        assert event is not None
        ids.append(event.id)
    entries = [e.data for e in manager.journal.read(made.id, kinds="event")]
    assert [e.pop("event_id") for e in entries] == ids
    return entries


@pytest.mark.parametrize("redact", [True, False])
def test_event_entries_are_stored_as_the_general_path_stores_them(redact: bool) -> None:
    assert stored(redact, take_general=False) == stored(redact, take_general=True)


def test_secrets_in_an_event_type_or_source_are_hidden() -> None:
    entries = stored(redact=True, take_general=False)
    text = repr(entries)
    assert KEY not in text and "hunter2hunter2" not in text
    assert entries[3]["type"] == f"leak.{REDACTED}" and entries[4]["source"] == REDACTED
    # Next to an AWS key id, the AWS secret in the data goes too; alone it stays.
    assert entries[5]["data"] == {"blob": REDACTED}
    assert entries[6]["data"] == {"blob": AWS_SECRET}
    assert entries[0]["data"] == CASES[0][2]


def test_names_are_judged_plain_only_without_a_hint() -> None:
    _, recorder, _ = wire()
    redactor = recorder.journal.redactor

    def plain(type_: str, source: str | None, bus_id: str = "0123456789ab") -> bool:
        return recorder._names_plain(Event(type_, None, 0.0, 7, source=source, bus_id=bus_id),
                                     redactor)

    assert plain("agent.execution_completed", "agents") and plain("a.b", None)
    assert not plain(f"leak.{KEY}", "agents") and not plain("a.b", KEY)
    assert not plain("a.b", AWS_ID) and not plain("agent.token_refreshed", "agents")
    # The id is the bus id, "-" and digits: a bus id ending in "sk" makes "sk-".
    assert not plain("a.b", None, bus_id="0123456789sk")
    # No hint holds a digit, so the sequence number cannot complete one.
    assert not any(ch.isdigit() for hint in HINTS for ch in hint)


def test_new_journal_rules_are_judged_afresh() -> None:
    manager, recorder, bus = wire()
    made = manager.create("x")
    bus.publish("a.b", {"n": 1}, session_id=made.id, source="agents", redact=True)
    assert recorder._plain
    recorder.journal.redactor = Redactor(["agents"])  # its rules now differ from the bus's
    bus.publish("a.b", {"n": 1}, session_id=made.id, source="agents", redact=True)
    entries = [e.data for e in manager.journal.read(made.id, kinds="event")]
    assert [e["source"] for e in entries] == ["agents", REDACTED]
    bus.redactor = recorder.journal.redactor  # the same rules again: judged for these rules
    bus.publish("a.b", {"n": 1}, session_id=made.id, source="agents", redact=True)
    assert recorder._plain == {("a.b", "agents", bus._id): False}
    assert manager.journal.read(made.id, kinds="event")[-1].data["source"] == REDACTED
