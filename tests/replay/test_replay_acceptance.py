"""Issue 15's acceptance: exact replay spends no calls and ends the same; a changed tool
argument stops it with a diff; fork at the middle seq; on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.errors import ValidationError
from llmspell.providers.scripted import ScriptedProvider
from llmspell.replay import fork_session, record_run, replay_session
from llmspell.runtime import Runtime
from llmspell.tools import tool

# An agent whose two tool calls reach a Python tool (through Tool.invoke), five state writes,
# and every kind of recorded input.
SCRIPT = """
local scope = "session:" .. Session.getCurrent().id
State.save(scope, "started", os.time())
State.save(scope, "roll", math.random(1, 1000000))
local agent = Agent.create{name = "forecaster", model = "scripted/demo", tools = {
  {name = "weather", description = "the weather in a city",
   parameters = {type = "object", properties = {city = {type = "string"}}},
   fn = function(args) return Tool.invoke("weather", {city = args.city}).result end}}}
local answer = agent:invoke{text = "weather in Paris and Oslo?"}
State.save(scope, "answer", answer.text)
State.save(scope, "id", Utils.uuid())
State.save(scope, "clock", {now = Utils.now(), cpu = os.clock() >= 0})
Artifact.store(Session.getCurrent(), "report.txt", "report: " .. answer.text)
return {time = os.time(), random = math.random()}
"""

REPLIES = [
    {"tool_calls": [{"name": "weather", "arguments": {"city": "Paris"}, "id": "c1"}]},
    {"tool_calls": [{"name": "weather", "arguments": {"city": "Oslo"}, "id": "c2"}]},
    "Paris: sunny. Oslo: snow.",
]


class Counted:
    """A scripted provider and a weather tool that count their calls."""

    def __init__(self, rt: Runtime) -> None:
        self.provider = ScriptedProvider("scripted")
        rt.providers.add("scripted", self.provider)
        self.tool_calls: list[str] = []

        @tool
        def weather(city: str) -> str:
            """The weather in a city."""
            self.tool_calls.append(city)
            return {"Paris": "sunny", "Oslo": "snow"}.get(city, "fog")

        rt.tools.register(weather)

    def calls(self) -> tuple[int, int]:
        return len(self.provider.requests), len(self.tool_calls)


@pytest.fixture
def counted(rt: Runtime) -> Counted:
    return Counted(rt)


def _record(rt: Runtime, counted: Counted, script: str = SCRIPT) -> Any:
    counted.provider.add_replies(REPLIES)
    done = record_run(rt, script, name="forecast.lua")
    assert done.error is None, done.error
    return done


def test_exact_replay_makes_no_calls_and_ends_identical(rt: Runtime, counted: Counted) -> None:
    done = _record(rt, counted)
    assert counted.calls() == (3, 2)
    original = done.session.id
    report = replay_session(rt, original)
    assert report.status == "identical", report.to_dict()
    assert counted.calls() == (3, 2)  # zero provider and tool calls in the replay
    assert report.calls_served == 5  # three model calls, two tool calls of the agent
    want, got = rt.sessions.state_at(original), rt.sessions.state_at(report.session_id)
    assert got.state == want.state and len(want.state) == 5
    assert [(a["name"], a["content_hash"]) for a in got.artifacts] == [
        (a["name"], a["content_hash"]) for a in want.artifacts]
    replica = rt.sessions.get(report.session_id)
    assert replica.parent_session_id == original and replica.status == "completed"
    assert replica.metadata["replay_of"] == original


def test_recorded_inputs_are_served(rt: Runtime, counted: Counted) -> None:
    done = _record(rt, counted)
    report = replay_session(rt, done.session.id)
    # os.time() and math.random() returned the recorded values: the replayed run returned
    # exactly what the original did (script.end keeps the return value; the replay compares).
    ends = [e.data for e in rt.sessions.journal.iter(report.session_id, kinds="script.end")]
    assert ends == [{"ok": True, "result": done.value}]
    assert set(done.value) == {"time", "random"} and 0 <= done.value["random"] < 1
    # And the replay's journal recorded the inputs it was served: the recorded ones.
    replica_inputs = [e.data["inputs"] for e in rt.sessions.journal.iter(
        report.session_id, kinds="script.inputs")]
    original_inputs = [e.data["inputs"] for e in rt.sessions.journal.iter(
        done.session.id, kinds="script.inputs")]
    flat = [p for batch in original_inputs for p in batch if not p[0].startswith("call.")]
    assert [p for b in replica_inputs for p in b if not p[0].startswith("call.")] == flat
    kinds = {k for k, _ in flat}
    assert {"os.time", "math.randomseed", "Utils.uuid", "Utils.now", "os.clock"} <= kinds
    assert rt.sessions.state_at(report.session_id).state["started"] == next(
        v for k, v in flat if k == "os.time")


def test_changed_tool_argument_stops_exact_replay_with_a_diff(rt: Runtime,
                                                             counted: Counted) -> None:
    script = SCRIPT.replace('return {time', 'Tool.invoke("weather", {city = "Rome"})\nreturn {time')
    done = _record(rt, counted, script)
    before = counted.calls()
    report = replay_session(rt, done.session.id, script=script.replace('"Rome"', '"Milan"'))
    assert report.status == "diverged"
    divergence = report.divergence
    assert divergence is not None
    assert divergence["expected"]["arguments"] == {"city": "Rome"}
    assert divergence["actual"]["arguments"] == {"city": "Milan"}
    assert divergence["differences"][0]["path"] == "$.arguments.city"
    recorded = rt.sessions.journal.read(done.session.id, kinds="tool.call")
    rome = [e for e in recorded if e.data["arguments"] == {"city": "Rome"}]
    assert divergence["seq"] == rome[0].seq
    assert f"seq {rome[0].seq}" in divergence["message"]
    assert counted.calls() == before  # the changed call was not made
    assert rt.sessions.get(report.session_id).status == "failed"


def test_fork_at_the_middle_seq(rt: Runtime, counted: Counted) -> None:
    done = _record(rt, counted)
    sid = done.session.id
    writes = rt.sessions.journal.read(sid, kinds="state.write")
    middle = writes[2].seq  # after started, roll, answer
    stats = rt.artifacts.stats()
    fork = fork_session(rt, sid, middle)
    snapshot = rt.sessions.state_at(sid, middle)
    assert rt.state.load(f"session:{fork.id}", "answer") == snapshot.state["answer"]
    assert rt.state.load(f"session:{fork.id}", "id") is None  # written after that seq
    assert fork.parent_session_id == sid and fork.metadata["forked_at"] == middle
    assert {a["name"] for a in rt.sessions.state_at(fork.id).artifacts} == {
        a["name"] for a in snapshot.artifacts}
    after = rt.artifacts.stats()
    assert after.stored_bytes == stats.stored_bytes  # bytes shared, not copied
    assert after.references > stats.references
    # Later writes in either session do not reach the other.
    rt.state.save(f"session:{fork.id}", "answer", "changed in the fork")
    rt.state.save(f"session:{sid}", "late", 1)
    assert rt.state.load(f"session:{sid}", "answer") == snapshot.state["answer"]
    assert rt.state.load(f"session:{fork.id}", "late") is None


def test_fork_checks_its_arguments_and_leaves_nothing(rt: Runtime, counted: Counted) -> None:
    done = _record(rt, counted)
    count = len(rt.sessions.list())
    with pytest.raises(ValidationError, match="argument 'seq'"):
        fork_session(rt, done.session.id, 10_000)
    with pytest.raises(ValidationError, match="seq"):
        fork_session(rt, done.session.id, -1)
    assert len(rt.sessions.list()) == count
