"""Automatic collection: tool results and agent outputs become artifacts of the current
session, switchable per session and in config, and never break the tool call."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import Backend
from llmspell.events import capture_events
from llmspell.runtime import Runtime
from llmspell.sessions import Session
from read_only import immutable


def test_a_tool_result_is_collected_into_the_current_session(rt: Runtime,
                                                             session: Session) -> None:
    rt.sessions.set_current(session)
    out = rt.hooks.run("tool:before_execution", {"expression": "6*7"},
                       lambda args: {"value": 42}, after="tool:after_execution",
                       component="calculator", correlation_id="c-1")
    assert out == {"value": 42}  # the tool's result is untouched
    found = rt.artifacts.list(session, artifact_type="tool_result")
    assert [(a.name, a.mime_type, a.created_by) for a in found] == [
        ("tool_result/calculator", "application/json", "tool:calculator")]
    assert rt.artifacts.value(found[0]) == {"value": 42}
    assert found[0].custom == {"correlation_id": "c-1"}
    rt.hooks.fire("tool:after_execution", "second call", component="calculator")
    history = rt.artifacts.versions(session, "tool_result/calculator")
    assert [a.version for a in history] == [1, 2]
    assert rt.artifacts.read(history[1]) == b"second call"


def test_an_agent_output_is_collected_with_its_usage(rt: Runtime, session: Session) -> None:
    rt.hooks.fire("agent:after_execution", {"output": "The answer is 42.",
                                            "usage": {"input_tokens": 9, "output_tokens": 5}},
                  component="writer", session_id=session.id)
    [a] = rt.artifacts.list(session, artifact_type="AgentOutput")
    assert a.name == "agent_output/writer" and rt.artifacts.read(a) == b"The answer is 42."
    assert a.custom["usage"] == {"input_tokens": 9, "output_tokens": 5}
    assert a.created_by == "agent:writer"


def test_no_session_no_collection(rt: Runtime, session: Session) -> None:
    rt.hooks.fire("tool:after_execution", {"value": 1}, component="calculator")
    assert rt.artifacts.query() == []


def test_switched_off_per_session(rt: Runtime) -> None:
    quiet = rt.sessions.create("quiet", metadata={"auto_collect_artifacts": False})
    loud = rt.sessions.create("loud")
    for s in (quiet, loud):
        rt.hooks.fire("tool:after_execution", "x", component="t", session_id=s.id)
    assert rt.artifacts.list(quiet) == [] and len(rt.artifacts.list(loud)) == 1
    rt.artifacts.set_auto_collect(loud, False)
    rt.artifacts.set_auto_collect(quiet, True)
    assert rt.artifacts.auto_collect(quiet) and not rt.artifacts.auto_collect(loud)
    for s in (quiet, loud):
        rt.hooks.fire("tool:after_execution", "y", component="t", session_id=s.id)
    assert len(rt.artifacts.list(quiet)) == 1 and len(rt.artifacts.list(loud)) == 1


def test_switched_off_in_config(make_runtime: object) -> None:
    rt: Runtime = make_runtime(session__artifact_auto_collect=False)  # type: ignore[operator]
    s = rt.sessions.create()
    assert rt.collector is None and rt.hooks.list("tool:after_execution") == []
    rt.hooks.fire("tool:after_execution", "x", component="t", session_id=s.id)
    assert rt.artifacts.list(s) == [] and not rt.artifacts.auto_collect(s)


def test_the_collectors_are_visible_hooks(rt: Runtime) -> None:
    names = [h.name for h in rt.hooks.list()]
    assert "artifact-collector:tool" in names and "artifact-collector:agent" in names


def test_a_failed_collection_never_fails_the_tool(rt: Runtime, session: Session,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    rt.sessions.suspend(session)
    with capture_events(rt.events, "artifact.*") as events:
        outcome = rt.hooks.fire("tool:after_execution", "x", component="t",
                                session_id=session.id)
    assert outcome.data == "x"
    assert events.types == ["artifact.collect_failed"]
    assert events[0].data["error_type"] == "SessionError"
    assert "could not collect the tool_result of t" in caplog.text
    rt.sessions.resume(session)
    assert rt.artifacts.list(session) == []


def test_the_per_session_switch_is_the_sessions_metadata(rt: Runtime) -> None:
    # One place for one setting: set_auto_collect is a journaled metadata change, seen by
    # the session's record, its journal and its event, and no key of its own.
    s = rt.sessions.create("s", metadata={"owner": "me"})
    with capture_events(rt.events, "session.*") as events:
        rt.artifacts.set_auto_collect(s, False)
    assert rt.sessions.get(s).metadata == {"owner": "me", "auto_collect_artifacts": False}
    assert not rt.artifacts.auto_collect(s.id) and not rt.artifacts.auto_collect(s)
    entry = rt.sessions.journal.read(s.id, kinds="session.metadata_changed")[-1]
    assert entry.data == {"changed": {"auto_collect_artifacts": False}, "removed": []}
    assert events.types == ["session.metadata_changed"]
    assert list(rt.store.keys("artcfg/")) == []
    rt.hooks.fire("tool:after_execution", "x", component="t", session_id=s.id)
    assert rt.artifacts.list(s) == []
    rt.artifacts.set_auto_collect(s.id, True)
    rt.hooks.fire("tool:after_execution", "x", component="t", session_id=s.id)
    assert len(rt.artifacts.list(s)) == 1


def test_an_older_stores_settings_move_into_their_sessions(rt: Runtime) -> None:
    from llmspell.artifacts import ArtifactManager

    off, on = rt.sessions.create("off"), rt.sessions.create("on")
    gone = rt.sessions.create("gone")
    rt.sessions.delete(gone)
    for s, value in ((off, b'{"auto_collect": false}'), (on, b'{"auto_collect": true}'),
                     (gone, b'{"auto_collect": false}')):
        rt.store.put(f"artcfg/{s.id}", value)
    manager = ArtifactManager.from_runtime(rt)
    assert list(rt.store.keys("artcfg/")) == []
    assert rt.sessions.get(off).metadata == {"auto_collect_artifacts": False}
    assert rt.sessions.get(on).metadata == {"auto_collect_artifacts": True}
    assert not manager.auto_collect(off) and manager.auto_collect(on)
    assert [e.kind for e in rt.sessions.journal.read(off.id)][-1] == "session.metadata_changed"
    ArtifactManager.from_runtime(rt)  # nothing left to move: nothing changes
    assert [e.kind for e in rt.sessions.journal.read(off.id)].count(
        "session.metadata_changed") == 1


def test_a_switch_changed_by_another_process_applies_to_the_next_collection(
        backend: Backend) -> None:
    # This process decides from the session record it last saw (no read per collection);
    # the collection's batch holds expect on that record, so another process's change makes
    # it fail, and the retry decides again on the record it reads.
    if not backend.multi_process:
        pytest.skip("two runtimes on one store need a multi-process backend")
    one, two = backend.runtime(), backend.runtime()
    s = one.sessions.create("shared")
    one.hooks.fire("tool:after_execution", "first", component="t", session_id=s.id)
    two.artifacts.set_auto_collect(s.id, False)
    one.hooks.fire("tool:after_execution", "second", component="t", session_id=s.id)
    assert [one.artifacts.read(a) for a in one.artifacts.list(s)] == [b"first"]
    two.artifacts.set_auto_collect(s.id, True)
    one.hooks.fire("tool:after_execution", "third", component="t", session_id=s.id)
    assert [one.artifacts.read(a) for a in one.artifacts.list(s)] == [b"first", b"third"]


def test_an_older_read_only_store_with_settings_still_opens(tmp_path: Path) -> None:
    # Its artcfg/ keys cannot move (nor a gone session's be dropped): the store opens, its
    # sessions' metadata decides, and the keys stay as they were.
    from llmspell.config import Config

    url = f"sqlite:///{tmp_path}/old.db"
    config = Config.defaults(base_dir=tmp_path, storage__url=url,
                             runtime__data_dir=str(tmp_path / "data"))
    with Runtime(config) as rt:
        gone, kept = rt.sessions.create("gone"), rt.sessions.create("kept")  # in key order
        rt.sessions.delete(gone)
        for s in (kept, gone):
            rt.store.put(f"artcfg/{s.id}", b'{"auto_collect": false}')
    with immutable(tmp_path / "old.db", tmp_path), Runtime(config) as rt:
        assert rt.artifacts.auto_collect(kept)
        assert len(list(rt.store.keys("artcfg/"))) == 2
