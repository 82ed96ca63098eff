"""Sessions created alike share what create made once (sessions.manager._made_alike): a new
record from its template is ``Session.encode``'s bytes, and the ``session.created`` entry
from the journal's encoded data is the entry the journal writes from the data itself. What
is kept is found by the arguments as given, so sessions that differ in any of them (or carry
metadata, limits or a hook's change) get their own bytes, and an argument that only equals
a good one (True and 1) is still checked."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.errors import SessionNotFound, ValidationError
from llmspell.hooks import HookRegistry, HookResult
from llmspell.journal import Draft, Journal
from llmspell.sessions import ManualClock, SessionManager, SessionSettings
from llmspell.sessions.model import Session, fill_new_record, new_record_template
from llmspell.sessions.transitions import created_entry
from llmspell.storage import open_store
from strategies import examples

_texts = st.text(max_size=6)
_seconds = st.one_of(st.none(), st.floats(0.001, 1e9), st.integers(1, 10**6).map(float))


@settings(max_examples=examples(300))
@given(name=_texts, description=_texts, tags=st.lists(_texts, max_size=3),
       parent=st.one_of(st.none(), st.just("0190a1b2-c3d4-7e5f-8a9b-000000000001")),
       duration=_seconds, idle=_seconds, now=st.floats(0, 4e9))
def test_a_record_from_its_template_is_the_encoded_record(
        name: str, description: str, tags: list[str], parent: str | None,
        duration: float | None, idle: float | None, now: float) -> None:
    session = Session("01a23ac7-526c-7ec9-8233-b6be148150cc", name, "active", now, now,
                      description, tags, {}, parent, now, None, duration, idle,
                      last_activity_at=now, resumed_at=now)
    template = new_record_template(session)
    assert template is not None
    assert fill_new_record(template, session.id, now) == session.encode()


def test_encoded_data_is_written_as_the_data_itself() -> None:
    journal = Journal(open_store("memory://"), redact_patterns=["hunter[0-9]"])
    for data in ({"name": "x", "tags": ["a"]}, {"name": "password=hunter2"},
                 {"name": "hunter7"}, {}):
        draft = Draft("session.created", data, "c")
        encoded = Draft("session.created", journal.encode_data(data), "c")
        assert journal.encode(3, 1.5, encoded) == journal.encode(3, 1.5, draft)


def _records(manager: SessionManager, **kwargs: Any) -> tuple[bytes, bytes]:
    session = manager.create(**kwargs)
    raw = manager.store.get(f"session/{session.id}")
    entry = manager.store.get(f"journal/{session.id}/000000000001")
    assert raw is not None and entry is not None
    assert raw == session.encode()
    return raw, entry


def test_sessions_created_alike_differ_where_they_differ() -> None:
    clock = ManualClock(1_754_000_000.5)
    manager = SessionManager(open_store("memory://"), settings=SessionSettings(), clock=clock)
    asks: list[dict[str, Any]] = [
        {"name": "a", "tags": ["x", "y"]}, {"name": "a", "tags": ["x", "y"]},
        {"name": "a", "tags": ["x"]}, {"name": "a", "tags": ["x", "y"], "max_duration": 5},
        {"name": "a", "tags": ["x", "y"], "max_idle_time": 5}, {"name": "b", "tags": ["x"]},
        {"name": "a", "description": "d", "tags": ["x"]},
        {"name": "a", "tags": ["x"], "metadata": {"k": 1}},
        {"name": "a", "tags": ["x"], "limits": {"tokens": 3}},
        {"name": "token=sk-abcdefghijklmnopqrstuvwxyz012345"},
        {"name": "token=sk-abcdefghijklmnopqrstuvwxyz012345"},
    ]
    parent = manager.create("p")
    asks.append({"name": "a", "tags": ["x"], "parent_session_id": parent.id})
    for ask in asks * 3:  # a kind's template is made the second time it comes
        clock.advance(0.125)
        raw, entry = _records(manager, **ask)
        session = Session.decode(raw, "k")
        data = orjson.loads(entry)["data"]
        expected = manager.journal.redactor.redact(created_entry(session))
        assert data == expected
        assert (session.name, session.tags, session.description) == (
            ask["name"], ask.get("tags", []), ask.get("description", ""))


def test_a_hook_that_changes_the_session_gets_its_own_record() -> None:
    """A session a ``session:start`` hook renamed is not written from the template of the
    session it was asked as (made before the hook came)."""
    hooks = HookRegistry()
    manager = SessionManager(open_store("memory://"), settings=SessionSettings(), hooks=hooks)
    for _ in range(3):  # the template is made and used
        assert _records(manager, name="a", tags=["x"])[0].count(b'"name":"a"') == 1
    hooks.register("session:start", lambda ctx: HookResult.modified(
        {**ctx.data, "session": {**ctx.data["session"], "name": "renamed"}}))
    raw, entry = _records(manager, name="a", tags=["x"])
    assert b'"name":"renamed"' in raw and b'"name":"renamed"' in entry


@pytest.mark.parametrize("bad", [
    {"max_duration": True}, {"max_idle_time": True}, {"max_duration": Decimal(5)},
    {"max_duration": Fraction(5)}, {"tags": "xy"}, {"tags": ["x", ["y"]]},
    {"tags": ["x", 1]}, {"name": 5}, {"description": None},
    {"parent_session_id": "0190a1b2-c3d4-7e5f-8a9b-00000000beef"},
])
def test_arguments_like_ones_created_before_are_still_checked(bad: dict[str, Any]) -> None:
    """Arguments equal to ones a create checked (True == 1, Decimal(5) == 5, the letters
    of a string) are refused as on a fresh manager, however often good ones came first."""
    manager = SessionManager(open_store("memory://"), settings=SessionSettings())
    good: dict[str, Any] = {"name": "a", "tags": ["x", "y"], "max_duration": 5,
                            "max_idle_time": 1}
    for _ in range(2):
        manager.create(**good)
    with pytest.raises((ValidationError, SessionNotFound)):
        manager.create(**{**good, **bad})


def test_arguments_alike_give_their_own_checked_values() -> None:
    """Equal arguments of other forms (5 and 5.0, 0 and 0.0, a repeated tag, no tags and
    []) create what a fresh manager creates from them; the tags are each session's own."""
    manager = SessionManager(open_store("memory://"), settings=SessionSettings(
        max_duration_seconds=60))
    fresh = SessionManager(open_store("memory://"), settings=SessionSettings(
        max_duration_seconds=60))
    asks: list[dict[str, Any]] = [
        {"name": "a", "max_duration": 5}, {"name": "a", "max_duration": 5.0},
        {"name": "a", "max_duration": 0}, {"name": "a", "max_duration": 0.0},
        {"name": "a", "max_duration": None}, {"name": "a", "tags": ["x", "x"]},
        {"name": "a", "tags": ["x"]}, {"name": "a", "tags": []}, {"name": "a"},
    ]
    for ask in asks + asks:
        got = manager.create(**ask)
        want = SessionManager(fresh.store, settings=fresh.settings).create(**ask)
        assert (got.name, got.tags, got.max_duration, got.max_idle_time) == (
            want.name, want.tags, want.max_duration, want.max_idle_time)
        got.tags.append("mine")
    assert all(s.tags != ["x", "mine"] for s in manager.list())


def test_a_kind_seen_once_gets_no_template() -> None:
    """Making a template costs more than a create saves: sessions of distinct names (the
    common case) never pay it, a kind that comes again does."""
    manager = SessionManager(open_store("memory://"), settings=SessionSettings())
    for i in range(5):
        manager.create(f"job {i}", tags=["x"])
    assert manager._created_alike == {}
    manager.create("job 1", tags=["x"])
    assert len(manager._created_alike) == 1


def test_entries_made_under_replaced_redaction_rules_are_made_again() -> None:
    """The entry's data kept for a kind was redacted under the journal's rules of the time:
    rules replaced since apply to the next create."""
    from llmspell.redact import Redactor

    manager = SessionManager(open_store("memory://"), settings=SessionSettings())
    for _ in range(3):
        _, entry = _records(manager, name="alpha-7", tags=["x"])
        assert orjson.loads(entry)["data"]["name"] == "alpha-7"
    manager.journal.redactor = Redactor(["alpha-[0-9]"])
    _, entry = _records(manager, name="alpha-7", tags=["x"])
    assert orjson.loads(entry)["data"]["name"] != "alpha-7"
