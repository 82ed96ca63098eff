"""Session.with_counters (the hot path of every counted operation) gives what
dataclasses.replace gives: every field kept but the counters and updated_at."""

from __future__ import annotations

from dataclasses import fields, replace

from llmspell.sessions.model import Counters, Limits, Session


def test_with_counters_is_replace() -> None:
    session = Session("s1", "n", "suspended", 1.0, 2.0, "d", ["t"], {"k": 1}, "p0", 3.0, 4.0,
                      5.0, 6.0, Limits(1, 2, 3.0, 4, 5), Counters(1, 2, 3, 4.0, 5), 7.0, 8.0,
                      9.0, "why")
    counters = Counters(10, 20, 30, 40.0, 50)
    got = session.with_counters(counters, 99.0)
    want = replace(session, counters=counters, updated_at=99.0)
    for f in fields(Session):
        assert getattr(got, f.name) == getattr(want, f.name), f.name
    copied = session.counters.copy()
    assert copied == session.counters and copied is not session.counters
