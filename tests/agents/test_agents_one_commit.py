"""An agent or tool call in a session on SQLite: what it writes after the answer (settlement,
collected artifact, event entry) shares ONE commit, never held across the provider's request,
the tool's execution or a hook of the user's; everything replay needs is still journaled and
limits still apply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell.errors import ResourceLimitExceeded
from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime
from llmspell.storage.sqlite import SqliteStore


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    with Runtime.memory(storage__url=f"sqlite:///{tmp_path}/s.db") as runtime:
        runtime.providers.add("scripted", ScriptedProvider("scripted", ["hello"] * 20))
        yield runtime


class Commits:
    """The statements the store's connection runs, and the commits among them."""

    def __init__(self, store: Any) -> None:
        assert isinstance(store, SqliteStore)
        self.seen: list[str] = []
        store._db.set_trace_callback(self.seen.append)

    def commits(self) -> int:
        return sum(1 for s in self.seen if s.startswith("COMMIT")
                   or (s.startswith("INSERT") and not self._in_transaction(s)))

    def _in_transaction(self, statement: str) -> bool:
        depth = 0  # whether an explicit transaction is open at that statement
        for s in self.seen:
            if s is statement:
                return depth > 0
            if s.startswith("BEGIN"):
                depth = 1
            elif s.startswith(("COMMIT", "ROLLBACK")) and not s.startswith("ROLLBACK TO"):
                depth = 0
        return False

    def clear(self) -> None:
        self.seen.clear()


def test_an_agent_call_in_a_session_commits_once(rt: Runtime) -> None:
    agent = rt.agents.create("a", "scripted/demo")
    session = rt.sessions.create("s")
    with rt.sessions.current(session):
        agent.invoke("warm up")
        watch = Commits(rt.store)
        result = agent.invoke("hi")
    assert watch.commits() == 1
    kinds = [e.kind for e in rt.sessions.journal.read(session.id)]
    # what replay serves the call from, the collected output, the event's entry
    assert kinds[-3:] == ["llm.call", "artifact.stored", "event"]
    call = rt.sessions.journal.read(session.id, kinds="llm.call")[-1]
    assert call.data["response"]["text"] == result.text == "hello"
    assert rt.sessions.get(session.id).counters.operations == 2
    assert len(rt.artifacts.versions(session.id, "agent_output/a")) == 2


def test_a_hook_of_the_users_runs_outside_any_group(rt: Runtime) -> None:
    agent = rt.agents.create("a", "scripted/demo")
    session = rt.sessions.create("s")
    store = rt.store
    assert isinstance(store, SqliteStore)
    held: list[bool] = []
    rt.hooks.register("agent:after_execution", lambda ctx: held.append(store._grouped))
    with rt.sessions.current(session):
        agent.invoke("warm up")
        watch = Commits(store)
        agent.invoke("hi")
    assert held == [False, False]
    assert watch.commits() > 1  # each batch commits itself, as without groups


def test_the_group_is_not_held_across_the_model_call(rt: Runtime) -> None:
    store = rt.store
    assert isinstance(store, SqliteStore)
    held: list[bool] = []

    class Watching(ScriptedProvider):
        def complete(self, request: Any) -> Any:
            held.append(store._grouped)
            return super().complete(request)

    rt.providers.add("watching", Watching("watching", ["one", "two"]))
    agent = rt.agents.create("w", "watching/demo")
    with rt.sessions.current(rt.sessions.create("s")):
        agent.invoke("a")
        agent.invoke("b")
    assert held == [False, False]


def test_a_limit_passed_by_the_answer_still_refuses_and_keeps_the_record(
        rt: Runtime, tmp_path: Path) -> None:
    rt.providers.add("costly", ScriptedProvider("costly", [
        {"text": "long", "usage": {"input_tokens": 50, "output_tokens": 50}}]))
    agent = rt.agents.create("a", "costly/demo")
    session = rt.sessions.create("s", limits={"max_tokens": 20})
    with rt.sessions.current(session), pytest.raises(ResourceLimitExceeded):
        agent.invoke("hi")  # estimated 1 token: admitted; the answer's 100 pass 20
    with Runtime.memory(storage__url=f"sqlite:///{tmp_path}/s.db") as other:
        kinds = [e.kind for e in other.sessions.journal.read(session.id)]
        assert "llm.call" in kinds
        assert other.sessions.get(session.id).counters.tokens == 100


def test_a_stream_commits_its_settlement_and_artifact_together(rt: Runtime) -> None:
    agent = rt.agents.create("a", "scripted/demo")
    session = rt.sessions.create("s")
    with rt.sessions.current(session):
        list(agent.stream("warm up"))
        watch = Commits(rt.store)
        chunks = list(agent.stream("hi"))
    assert chunks[-1].kind == "done"
    assert watch.commits() == 2  # settlement + artifact; the event's entry after the last chunk
    assert [e.kind for e in rt.sessions.journal.read(session.id)][-3:] == [
        "llm.call", "artifact.stored", "event"]


def test_a_tool_call_in_a_session_commits_once_after_the_tool_ran(rt: Runtime) -> None:
    session = rt.sessions.create("s")
    rt.tools.invoke("calculator", {"input": "1 + 1"}, session_id=session.id)
    watch = Commits(rt.store)
    out = rt.tools.invoke("calculator", {"input": "6 * 7"}, session_id=session.id)
    assert out.result["result"] == 42
    # tool.started's entry (before the tool ran), then one for everything after it
    assert watch.commits() == 2
    kinds = [e.kind for e in rt.sessions.journal.read(session.id)]
    assert kinds[-4:] == ["event", "artifact.stored", "tool.call", "event"]
    assert rt.sessions.get(session.id).counters.operations == 2


def test_a_tool_call_under_an_operations_limit_is_counted_before_it_runs(
        rt: Runtime) -> None:
    session = rt.sessions.create("s", limits={"max_operations": 1})
    rt.tools.invoke("calculator", {"input": "1 + 1"}, session_id=session.id)
    with pytest.raises(ResourceLimitExceeded):
        rt.tools.invoke("calculator", {"input": "2 + 2"}, session_id=session.id)
    assert rt.sessions.get(session.id).counters.operations == 1
    calls = rt.sessions.journal.read(session.id, kinds="tool.call")
    assert [c.data.get("error_type") for c in calls] == [None, "ResourceLimitExceeded"]


def test_a_failed_tool_call_is_counted_and_journaled(rt: Runtime) -> None:
    session = rt.sessions.create("s")
    with pytest.raises(Exception):  # noqa: B017 (the calculator's own error)
        rt.tools.invoke("calculator", {"input": "6 *"}, session_id=session.id)
    calls = rt.sessions.journal.read(session.id, kinds="tool.call")
    assert [c.data["result"]["success"] for c in calls] == [False]
    assert rt.sessions.get(session.id).counters.operations == 1


def test_a_limit_hook_of_the_users_runs_outside_any_group(rt: Runtime) -> None:
    store = rt.store
    assert isinstance(store, SqliteStore)
    held: list[bool] = []
    rt.hooks.register("resource:limit_exceeded", lambda ctx: held.append(store._grouped))
    rt.providers.add("costly", ScriptedProvider("costly", [
        {"text": "long", "usage": {"input_tokens": 50, "output_tokens": 50}}]))
    agent = rt.agents.create("a", "costly/demo")
    session = rt.sessions.create("s", limits={"max_tokens": 20})
    with rt.sessions.current(session), pytest.raises(ResourceLimitExceeded):
        agent.invoke("hi")
    assert held == [False]
