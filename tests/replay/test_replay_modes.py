"""Live mode, step mode and breakpoints, modifications, the input tape, state-at and the
error paths of the Python API (memory store: these are about replay's own logic)."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.errors import ReplayDivergence, SessionError, StateError, ValidationError
from llmspell.journal import Draft
from llmspell.providers.scripted import ScriptedProvider
from llmspell.replay import (
    find_runs,
    record_run,
    replay_metadata,
    replay_session,
    replayable_sessions,
)
from llmspell.replay.tape import BATCH, InputTape
from llmspell.runtime import Runtime
from llmspell.tools import tool

SCRIPT = """
local scope = "session:" .. Session.getCurrent().id
State.save(scope, "a", math.random(1, 100))
local out = Tool.invoke("echo", {text = "hi"})
State.save(scope, "b", out.text)
State.save(scope, "c", os.time())
"""


@pytest.fixture
def echo_calls(mem: Runtime) -> list[str]:
    calls: list[str] = []

    @tool
    def echo(text: str) -> str:
        """Echo text."""
        calls.append(text)
        return f"echo {text} #{len(calls)}"

    mem.tools.register(echo)
    return calls


def test_live_replay_makes_the_calls_and_reports_different_results(
        mem: Runtime, echo_calls: list[str]) -> None:
    done = record_run(mem, SCRIPT, name="echo.lua")
    report = replay_session(mem, done.session.id, mode="live")
    assert echo_calls == ["hi", "hi"]
    assert report.calls_made == 1 and report.calls_served == 0
    assert report.status == "different"
    result = report.differences[0]
    assert result["kind"] == "result" and result["seq"] is not None
    assert result["differences"][0]["expected"] == "echo hi #1"
    assert result["differences"][0]["actual"] == "echo hi #2"


def test_a_live_replay_can_be_replayed_exactly(mem: Runtime, echo_calls: list[str]) -> None:
    done = record_run(mem, SCRIPT, name="echo.lua")
    live = replay_session(mem, done.session.id, mode="live")
    exact = replay_session(mem, live.session_id)  # its tool result artifact comes back too
    assert exact.identical, exact.to_dict()
    assert echo_calls == ["hi", "hi"]


def test_live_replay_can_stop_at_the_first_difference(mem: Runtime,
                                                      echo_calls: list[str]) -> None:
    done = record_run(mem, SCRIPT, name="echo.lua")
    report = replay_session(mem, done.session.id, mode="live", stop_on_error=True)
    assert report.status == "diverged" and "live replay differed" in report.divergence["message"]
    report = replay_session(mem, done.session.id, mode="live", compare_results=False)
    assert report.status == "different"  # same calls; the state differs ("echo hi #3")


def test_step_mode_pauses_at_breakpoints_with_the_state(mem: Runtime,
                                                        echo_calls: list[str]) -> None:
    done = record_run(mem, SCRIPT, name="echo.lua")
    seen: list[tuple[int, str, dict[str, Any]]] = []

    def pause(entry: dict[str, Any], state: dict[str, Any]) -> None:
        seen.append((entry["seq"], entry["kind"], dict(state)))

    report = replay_session(mem, done.session.id, breakpoints=["state"], on_break=pause)
    assert report.identical and report.breaks == 3
    assert [kind for _, kind, _ in seen] == ["state.write"] * 3
    assert "a" in seen[0][2]  # the replay's state when it got there
    call = mem.sessions.journal.read(done.session.id, kinds="tool.call")[0].seq
    stops: list[int] = []
    report = replay_session(mem, done.session.id, breakpoints=[call],
                            on_break=lambda e, s: stops.append(e["seq"]) or "stop")
    assert report.status == "stopped" and stops == [call]
    assert echo_calls == ["hi"]  # nothing was called on the way


def test_modifications_change_a_served_result(mem: Runtime, echo_calls: list[str]) -> None:
    done = record_run(mem, SCRIPT, name="echo.lua")
    call = mem.sessions.journal.read(done.session.id, kinds="tool.call")[0].seq
    report = replay_session(mem, done.session.id,
                            modifications={call: {"result.output": "what if"}})
    assert report.status == "different"
    assert mem.sessions.state_at(report.session_id).state["b"] == "what if"
    with pytest.raises(ValidationError, match="modifications"):
        replay_session(mem, done.session.id, modifications={0: {"x": 1}})


def test_modifications_that_could_not_act_are_refused_up_front(mem: Runtime,
                                                                echo_calls: list[str]) -> None:
    done = record_run(mem, SCRIPT, name="echo.lua")
    call = mem.sessions.journal.read(done.session.id, kinds="tool.call")[0].seq
    write = mem.sessions.journal.read(done.session.id, kinds="state.write")[0].seq
    before = len(mem.sessions.list())
    for kwargs, message in (
            ({"modifications": {call: {"nope.deeper": 1}}}, "does not exist in the recorded"),
            ({"modifications": {write: {"data.value": 1}}}, "not a recorded model or tool call"),
            ({"modifications": {call + 500: {"result.output": 1}}}, "not a recorded model"),
            ({"modifications": {call: {"result.output": 1}}, "mode": "live"},
             "a live replay makes its calls")):
        with pytest.raises(ValidationError, match="modifications") as caught:
            replay_session(mem, done.session.id, **kwargs)
        assert message in str(caught.value)
    assert len(mem.sessions.list()) == before  # nothing created
    assert echo_calls == ["hi"]  # the recording's call only


def test_a_script_error_replays_as_the_same_error(mem: Runtime) -> None:
    done = record_run(mem, 'State.save("global", "x", os.time())\nerror("boom")',
                      name="bad.lua")
    assert done.error is not None and done.session.status == "failed"
    report = replay_session(mem, done.session.id)
    assert report.identical


def test_os_exit_zero_is_a_success_and_replays(mem: Runtime) -> None:
    done = record_run(mem, 'State.save("global", "t", os.time())\nos.exit(0)\nerror("no")',
                      name="exit.lua")
    assert done.session.status == "completed"
    assert replay_session(mem, done.session.id).identical
    failed = record_run(mem, "os.exit(3)", name="exit3.lua")
    assert failed.session.status == "failed" and "os.exit(3)" in (failed.session.reason or "")
    assert replay_session(mem, failed.session.id).identical


def test_the_tape_batches_inputs(mem: Runtime) -> None:
    done = record_run(mem, "local t = 0\nfor i = 1, 1000 do t = t + os.time() end\nreturn t",
                      name="clock.lua")
    batches = mem.sessions.journal.read(done.session.id, kinds="script.inputs")
    assert sum(len(b.data["inputs"]) for b in batches) == 1001  # and the seed
    assert len(batches) == -(-1001 // BATCH)
    assert replay_session(mem, done.session.id).identical


def test_environment_reads_are_served_per_variable(mem: Runtime,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLAY_DEMO", "recorded")
    script = 'State.save("session:" .. Session.getCurrent().id, "v", os.getenv("REPLAY_DEMO"))'
    done = record_run(mem, script, name="env.lua")
    monkeypatch.setenv("REPLAY_DEMO", "changed since")
    report = replay_session(mem, done.session.id)
    assert report.identical
    assert mem.sessions.state_at(report.session_id).state["v"] == "recorded"
    other = replay_session(mem, done.session.id, script=script.replace("REPLAY_DEMO", "HOME"))
    assert other.status == "diverged" and "os.getenv:HOME" in other.divergence["message"]


def test_a_replay_that_reads_more_inputs_diverges(mem: Runtime) -> None:
    done = record_run(mem, "return os.time()", name="t.lua")
    report = replay_session(mem, done.session.id, script="return os.time() + os.time()")
    assert report.status == "diverged"
    assert "no recorded os.time value left" in report.divergence["message"]
    tape = InputTape(lambda batch: None, recorded=iter(()))
    with pytest.raises(ReplayDivergence):
        tape.take("os.clock", 1.0)


def test_fewer_calls_than_recorded_is_a_divergence(mem: Runtime,
                                                   echo_calls: list[str]) -> None:
    done = record_run(mem, SCRIPT, name="echo.lua")
    report = replay_session(mem, done.session.id, script="return 1")
    assert report.status == "diverged"
    assert report.divergence["expected"]["tool"] == "echo"
    assert "ended without making" in report.divergence["message"]


def test_a_replay_can_be_replayed_and_is_listed(mem: Runtime, echo_calls: list[str]) -> None:
    done = record_run(mem, SCRIPT, name="echo.lua")
    first = replay_session(mem, done.session.id)
    second = replay_session(mem, first.session_id)
    assert second.identical
    listed = replayable_sessions(mem)
    assert {done.session.id, first.session_id, second.session_id} <= set(listed)
    meta = replay_metadata(mem, first.session_id)
    assert meta["can_replay"] and meta["replay_of"] == done.session.id
    assert meta["tool_calls"] == 1 and len(meta["runs"]) == 1
    simulated = replay_session(mem, done.session.id, keep=False)
    assert simulated.identical and not mem.sessions.exists(simulated.session_id)


def test_replay_refuses_what_it_cannot_do(mem: Runtime) -> None:
    plain = mem.sessions.create("plain")
    with pytest.raises(SessionError, match="no recorded script run"):
        replay_session(mem, plain.id)
    assert not replay_metadata(mem, plain.id)["can_replay"]
    done = record_run(mem, "return 1", name="one.lua")
    for kwargs, argument in (({"mode": "fast"}, "mode"), ({"breakpoints": [0]}, "breakpoints"),
                             ({"breakpoints": "x"}, "breakpoints"),
                             ({"timeout": -1}, "timeout"), ({"script": 5}, "script"),
                             ({"modifications": [1]}, "modifications")):
        with pytest.raises(ValidationError, match=argument):
            replay_session(mem, done.session.id, **kwargs)
    before = len(mem.sessions.list())
    with pytest.raises(ValidationError):
        replay_session(mem, done.session.id, mode="fast")
    assert len(mem.sessions.list()) == before  # nothing created
    with pytest.raises(ValidationError, match="name"):
        record_run(mem, "return 1", name="")
    with pytest.raises(ValidationError, match="args"):
        record_run(mem, "return 1", name="x.lua", args="a")
    mem.sessions.complete(plain.id)
    with pytest.raises(SessionError, match="only an active session"):
        record_run(mem, "return 1", name="x.lua", session=plain.id)


def test_two_runs_in_one_session_replay_in_order(mem: Runtime) -> None:
    first = record_run(mem, 'State.save("session:" .. Session.getCurrent().id, "n", 1)',
                       name="one.lua")
    fork = mem.sessions.create("two runs")
    record_run(mem, 'State.save("session:" .. Session.getCurrent().id, "n", os.time())',
               name="a.lua", session=fork.id)
    record_run(mem, 'State.save("session:" .. Session.getCurrent().id, "m", Utils.uuid())',
               name="b.lua", session=fork.id)
    assert len(find_runs(mem.sessions.journal, fork.id)) == 2
    report = replay_session(mem, fork.id)
    assert report.identical and report.runs == 2
    with pytest.raises(ValidationError, match="one run"):
        replay_session(mem, fork.id, script="return 1")
    assert first.error is None


def test_state_at_and_diff(mem: Runtime) -> None:
    s = mem.sessions.create("h")
    scope = f"session:{s.id}"
    with mem.sessions.current(s):
        mem.state.save(scope, "k", {"v": [1, b"\x00"]})
        mem.state.save("global", "g", 1)
        mem.state.delete(scope, "k")
    assert mem.sessions.state_at(s, 2).state == {"k": {"v": [1, b"\x00"]}}
    assert mem.sessions.state_at(s).state == {}
    assert mem.sessions.state_at(s).scopes == {"global": {"g": 1}}
    changes = mem.sessions.diff(s, 2, 4)
    assert changes["state"]["k"]["op"] == "removed"
    assert changes["scopes"]["global"]["g"] == {"op": "added", "old": None, "new": 1}
    for bad in (-1, 99, "2", True):
        with pytest.raises(ValidationError, match="seq"):
            mem.sessions.state_at(s, bad)
    with pytest.raises(ValidationError, match="to_seq"):
        mem.sessions.diff(s, 1, 99)


def test_state_at_needs_the_values(tmp_path: Any) -> None:
    with Runtime.memory(session__journal_state_values=False) as rt:
        s = rt.sessions.create("hashes only")
        rt.state.save(f"session:{s.id}", "k", 1)
        assert rt.sessions.state_at(s, 1).state == {}
        with pytest.raises(StateError, match="journal_state_values = false"):
            rt.sessions.state_at(s)


def test_failed_recorded_calls_replay_as_the_same_error(mem: Runtime) -> None:
    provider = ScriptedProvider("scripted")
    mem.providers.add("scripted", provider)
    provider.add_replies([{"error": "rate_limited", "message": "slow down"}])
    script = """
    local a = Agent.create{name = "x", model = "scripted/m"}
    local ok, err = pcall(function() return a:invoke{text = "hi"} end)
    State.save("session:" .. Session.getCurrent().id, "err", tostring(err):match("slow down"))
    """
    done = record_run(mem, script, name="fail.lua")
    assert done.error is None
    report = replay_session(mem, done.session.id)
    assert report.identical, report.to_dict()
    assert len(provider.requests) == 1


def test_the_journal_entry_kinds(mem: Runtime) -> None:
    done = record_run(mem, "return 1", name="k.lua", args=["--x=1"])
    start = mem.sessions.journal.read(done.session.id, kinds="script.start")[0].data
    assert start["path"] == "k.lua" and start["args"] == ["--x=1"]
    assert len(start["hash"]) == 64 and len(start["config_digest"]) == 64
    assert mem.artifacts.read(start["artifact_id"], as_session=None) == b"return 1"
    end = mem.sessions.journal.read(done.session.id, kinds="script.end")[0].data
    assert end == {"ok": True, "result": 1}
    fn = record_run(mem, "return function() end", name="f.lua")
    assert mem.sessions.journal.read(fn.session.id, kinds="script.end")[0].data == {
        "ok": True, "result_kept": False}
    mem.sessions.append_entries(done.session.id, [Draft("note", {})])  # others may follow
    assert replay_session(mem, done.session.id).identical


def test_progress_is_reported_to_the_end(mem: Runtime, echo_calls: list[str]) -> None:
    done = record_run(mem, SCRIPT, name="echo.lua")
    seen: list[tuple[str, int, int]] = []
    report = replay_session(mem, done.session.id, progress=lambda *a: seen.append(a))
    assert report.identical and seen[-1][1] == seen[-1][2] == report.entries
    assert all(phase == "replay" for phase, _, _ in seen)


def test_an_interrupted_replay_fails_its_session(mem: Runtime, echo_calls: list[str]) -> None:
    done = record_run(mem, SCRIPT, name="echo.lua")

    def interrupt(entry: dict[str, Any], state: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replay_session(mem, done.session.id, on_break=interrupt)
    replicas = mem.sessions.list(parent=done.session.id)
    assert [r.status for r in replicas] == ["failed"]
    assert "interrupted" in (replicas[0].reason or "")


def test_a_changed_script_is_not_reported_as_a_changed_artifact(mem: Runtime) -> None:
    done = record_run(mem, "return os.time()", name="t.lua")
    report = replay_session(mem, done.session.id, script="return os.time() -- same inputs")
    assert report.identical
    other = replay_session(mem, done.session.id, script="return os.time() + 1")
    assert other.status == "different"
    assert other.differences[0]["kind"] == "end"


def test_a_recorded_run_keeps_streaming_and_replays(mem: Runtime, echo_calls: list[str]) -> None:
    provider = ScriptedProvider("scripted")
    mem.providers.add("scripted", provider)
    provider.add_replies(["one two three four"])
    script = """
    local a = Agent.create{name = "s", model = "scripted/m"}
    local chunks = 0
    local r = a:invokeStream({text = "go"}, function(chunk) chunks = chunks + 1 end)
    local scope = "session:" .. Session.getCurrent().id
    State.save(scope, "text", r.text)
    State.save(scope, "echo", Tool.invoke("echo", {text = "after"}).text)
    return chunks
    """
    done = record_run(mem, script, name="stream.lua")
    assert done.error is None and done.value == 4  # chunk by chunk while recording
    report = replay_session(mem, done.session.id)
    assert report.calls_served == 2 and len(provider.requests) == 1
    # The replay served the answer as one chunk: the same text and state, another count.
    assert report.status == "different" and not report.divergence
    assert [d["kind"] for d in report.differences] == ["end"]
    assert report.differences[0]["expected"]["result"] == 4
    assert report.differences[0]["actual"]["result"] == 1


@pytest.mark.parametrize(("changes", "path"), [
    ([1], "context_changes"),
    ({"inputs": {}}, "inputs"),
    ({"data": [1]}, "$.data"),
    ({"metadata": {"note": 3}}, "$.metadata.note"),
])
def test_context_changes_are_checked(mem: Runtime, changes: Any, path: str) -> None:
    from llmspell.replay import replay_session

    with pytest.raises(ValidationError, match="context_changes") as caught:
        replay_session(mem, "any", context_changes=changes)
    assert path in str(caught.value)


def test_breakpoints_that_can_never_pause_are_refused(mem: Runtime,
                                                      echo_calls: list[str]) -> None:
    done = record_run(mem, SCRIPT, name="echo.lua")
    last = mem.sessions.journal.last_seq(done.session.id)
    before = len(mem.sessions.list())

    def pause(entry: Any, state: Any) -> None:
        return None

    for points, on_break, message in (
            (["tool_call"], pause, "no recorded entry of the replayed runs has this kind"),
            ([last + 50], pause, "not a seq of the replayed runs"),
            (["state"], None, "on_break")):
        with pytest.raises(ValidationError, match="breakpoints") as caught:
            replay_session(mem, done.session.id, breakpoints=points, on_break=on_break)
        assert message in str(caught.value)
    assert len(mem.sessions.list()) == before  # nothing created
    assert replay_session(mem, done.session.id, breakpoints=["tool"], on_break=pause).breaks == 1


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"keep": "no"}, "keep"), ({"compare_results": "no"}, "compare_results"),
    ({"stop_on_error": 1}, "stop_on_error"), ({"on_break": 5}, "on_break"),
    ({"progress": 5}, "progress"),
])
def test_replay_options_of_the_wrong_type_are_refused(mem: Runtime, kwargs: dict[str, Any],
                                                      argument: str) -> None:
    done = record_run(mem, "return 1", name="one.lua")
    before = len(mem.sessions.list())
    with pytest.raises(ValidationError, match=f"argument '{argument}'"):
        replay_session(mem, done.session.id, **kwargs)
    assert len(mem.sessions.list()) == before
