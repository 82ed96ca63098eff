"""When an agent call's operation is counted: at admission (before the model is called) when
the session has a limit or a policy a count could matter to, else with the call's ``llm.call``
entry, in one write (``SessionManager.admit_call``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llmspell.errors import ResourceLimitExceeded
from llmspell.providers.base import ChatRequest, ChatResponse
from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime


class Probe(ScriptedProvider):
    """Notes the session's operation count while the model is being called."""

    def __init__(self, rt: Runtime) -> None:
        super().__init__("probe", ["one", "two", "three"])
        self.rt = rt
        self.seen: list[int] = []

    def complete(self, request: ChatRequest) -> ChatResponse:
        sid = self.rt.sessions.current_id()
        assert sid is not None
        self.seen.append(self.rt.sessions.get(sid).counters.operations)
        return super().complete(request)


@pytest.fixture
def rt() -> Iterator[Runtime]:
    with Runtime.memory() as runtime:
        yield runtime


def _call(rt: Runtime, session: Any) -> Probe:
    probe = Probe(rt)
    rt.providers.add("probe", probe)
    agent = rt.agents.create("a", "probe/demo")
    with rt.sessions.current(session):
        agent.invoke("hello")
    return probe


def test_without_limits_the_operation_is_counted_with_the_call_entry(
        rt: Runtime, batches: list[list[str]]) -> None:
    session = rt.sessions.create("free")
    batches.clear()  # the create's
    probe = _call(rt, session)
    assert probe.seen == [0]  # nothing written before the model call
    found = rt.sessions.get(session.id)
    assert found.counters.operations == 1 and found.counters.tokens > 0
    llm = rt.sessions.journal.read(session.id, kinds="llm")[-1]
    entry_key = f"journal/{session.id}/{llm.seq:012d}"
    together = next(keys for keys in batches if entry_key in keys)
    assert f"session/{session.id}" in together
    # the session record is written once per call: the counters with the llm.call entry
    # ride in the batch of the collected answer's artifact (llmspell.sessions.ride); no
    # admission write
    assert sum(f"session/{session.id}" in keys for keys in batches) == 1, batches
    assert any(key.startswith("art/") for key in together)


@pytest.mark.parametrize("limits", [{"operations": 5}, {"tokens": 10_000}, {"cost": 5.0}])
def test_with_a_limit_the_operation_is_counted_before_the_call(
        rt: Runtime, limits: dict[str, Any]) -> None:
    session = rt.sessions.create("limited", limits=limits)
    probe = _call(rt, session)
    assert probe.seen == [1]  # counted (with its estimated tokens) before the model call
    found = rt.sessions.get(session.id)
    assert found.counters.operations == 1


def test_a_policy_of_the_users_sees_the_count_before_the_call(rt: Runtime) -> None:
    calls: list[int] = []
    rt.sessions.policies.add(lambda s, usage: calls.append(1))
    session = rt.sessions.create("policed")
    probe = _call(rt, session)
    assert probe.seen == [1] and calls


def test_max_operations_still_refuses_before_the_call(rt: Runtime) -> None:
    session = rt.sessions.create("one", limits={"operations": 1})
    probe = _call(rt, session)
    agent = rt.agents.get("a")
    assert agent is not None
    with rt.sessions.current(session), pytest.raises(ResourceLimitExceeded,
                                                      match="operations"):
        agent.invoke("again")
    assert probe.seen == [1]  # the refused call never reached the model
    assert rt.sessions.get(session.id).counters.operations == 1


def test_a_failed_call_counts_its_operation_once(rt: Runtime) -> None:
    session = rt.sessions.create("failing")
    probe = Probe(rt)
    probe.add_replies([{"error": "unavailable", "message": "down"}])
    probe._next = probe._next + 3  # the three canned replies are not used
    rt.providers.add("probe", probe)
    agent = rt.agents.create("a", "probe/demo")
    with rt.sessions.current(session), pytest.raises(Exception, match="down"):
        agent.invoke("hello")
    found = rt.sessions.get(session.id)
    assert found.counters.operations == 1 and found.counters.tokens == 0
