"""Admission and usage counting read the session from the manager's cache of its last write;
another process's change to the record must still decide (two runtimes on one sqlite file
stand for two processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import make_backend
from llmspell.errors import ResourceLimitExceeded, SessionError
from llmspell.runtime import Runtime


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    place = make_backend("sqlite", tmp_path)
    one, two = place.runtime(), place.runtime()
    yield one, two
    one.close()
    two.close()


def test_a_session_suspended_elsewhere_is_refused(pair: tuple[Runtime, Runtime]) -> None:
    one, two = pair
    session = one.sessions.create("s")
    one.sessions.admit(session.id, "agent.execute")
    two.sessions.suspend(session.id)
    with pytest.raises(SessionError):
        one.sessions.admit(session.id, "agent.execute")


def test_a_session_resumed_elsewhere_is_admitted(pair: tuple[Runtime, Runtime]) -> None:
    one, two = pair
    session = one.sessions.create("s")
    one.sessions.suspend(session.id)  # what `one` last wrote says suspended
    two.sessions.resume(session.id)
    found = one.sessions.admit(session.id, "agent.execute")
    assert found is not None and found.counters.operations == 1


def test_tokens_given_back_elsewhere_count(pair: tuple[Runtime, Runtime]) -> None:
    one, two = pair
    session = one.sessions.create("s", limits={"tokens": 100})
    one.sessions.admit(session.id, "agent.execute", tokens=90)  # reserved: 90 of 100
    two.sessions.settle(session.id, "agent.execute", reserved_tokens=90, tokens=10)
    found = one.sessions.admit(session.id, "agent.execute", tokens=50)  # 10 + 50 <= 100
    assert found is not None and found.counters.tokens == 60
    with pytest.raises(ResourceLimitExceeded):
        one.sessions.admit(session.id, "agent.execute", tokens=50)  # 60 + 50 > 100


def test_sessions_handed_out_never_share_the_managers_cached_record() -> None:
    from llmspell.journal import Draft

    with Runtime.memory() as rt:
        manager = rt.sessions
        made = manager.create("s", tags=["a"], metadata={"k": {"n": 1}})
        manager.settle(made.id, "agent.execute", tokens=5, operations=1)
        manager.append_entries(made.id, [Draft("note", {"x": 1})])
        settled = manager.settle(made.id, "agent.execute", tokens=1, operations=1)
        for handed in (settled, manager.get(made.id), manager.peek(made.id)):
            assert handed is not None
            handed.tags.append("changed")
            handed.metadata["k"]["n"] = 99
            handed.counters.tokens = -1
        again = manager.get(made.id)
        assert again.tags == ["a"] and again.metadata == {"k": {"n": 1}}
        assert again.counters.tokens == 6 and again.counters.operations == 2
