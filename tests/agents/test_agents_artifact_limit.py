"""A session that holds as many artifacts as its limit allows: the limit refuses what would
store one more (an artifact store, the collection of an answer), not the operations that
store none (an agent call, a state write), while the limits of amounts known only afterwards
(tokens) still refuse the operations that ask for them once reached. (An artifact store asks
for no tokens: its own admission checks its artifacts, bytes, operations and memory.)"""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.errors import ResourceLimitExceeded
from llmspell.events import capture_events
from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime


def _full_session(rt: Runtime) -> Any:
    session = rt.sessions.create("full", limits={"artifacts": 2})
    rt.artifacts.store(session, "one.txt", b"1")
    rt.artifacts.store(session, "two.txt", b"2")
    return session


def test_an_agent_call_runs_and_only_its_collection_is_refused(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    session = _full_session(rt)
    scripted.add_replies(["still answering"])
    agent = rt.agents.create("a", "scripted/demo")
    fired: list[Any] = []
    rt.hooks.register("resource:limit_exceeded", lambda ctx: fired.append(ctx.data))
    with capture_events(rt.events, "artifact.collect_failed") as failed, \
            rt.sessions.current(session):
        assert agent.invoke("hi").text == "still answering"
    assert [e.data["error_type"] for e in failed] == ["ResourceLimitExceeded"]
    assert [r["reason"] for f in fired for r in f["refusals"]] == [
        f"session {session.id} would exceed its limits: artifacts 2 + 1 = 3 > limit 2"]
    after = rt.sessions.get(session)
    assert after.counters.artifacts == 2 and after.counters.operations == 3  # 2 stores, 1 call
    assert sorted(a.name for a in rt.artifacts.list(session)) == ["one.txt", "two.txt"]


def test_a_store_is_refused_and_a_state_write_is_not(rt: Runtime) -> None:
    session = _full_session(rt)
    with pytest.raises(ResourceLimitExceeded, match=r"artifacts 2 \+ 1 = 3 > limit 2"):
        rt.artifacts.store(session, "three.txt", b"3")
    with rt.sessions.current(session):
        rt.state.save("global", "k", 1)  # journaled and counted in the session
    assert rt.state.load("global", "k") == 1
    assert rt.sessions.get(session).counters.operations == 3  # the two stores and the write
    assert rt.sessions.get(session).counters.artifacts == 2


def test_the_bytes_limit_refuses_only_stores_too(rt: Runtime) -> None:
    session = rt.sessions.create("bytes", limits={"artifact_bytes": 3})
    rt.artifacts.store(session, "abc.txt", b"abc")
    with pytest.raises(ResourceLimitExceeded, match="artifact_bytes 3 \\+ 1 = 4 > limit 3"):
        rt.artifacts.store(session, "d.txt", b"d")
    rt.sessions.admit(session, "agent.execute")  # stores nothing: admitted


def test_a_reached_token_limit_still_refuses_what_it_asks_for_as_zero(rt: Runtime) -> None:
    session = rt.sessions.create("tokens", limits={"tokens": 10})
    rt.sessions.add_usage(session, tokens=10)
    with pytest.raises(ResourceLimitExceeded, match="tokens 10 has reached limit 10"):
        rt.sessions.admit(session, "agent.execute")
    with rt.sessions.current(session), \
            pytest.raises(ResourceLimitExceeded, match="tokens 10 has reached limit 10"):
        rt.state.save("global", "k", 1)
