"""A call's settlement rides in the batch of the artifact that collects its answer, and the
collection waits for the journal entry of the call's event (llmspell.sessions.ride): one
batch per call instead of three, and the same journal, counts and artifacts as when each is
written on its own (a hook of the user's at ``artifact:after_store`` turns the ride off,
which gives the reference)."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime


def _two_calls(rt: Runtime, scripted: ScriptedProvider, name: str, **create: Any) -> Any:
    session = rt.sessions.create(name, **create)
    scripted.add_replies(["first answer", "second answer"])
    agent = rt.agents.create(f"agent-{name}", "scripted/demo")
    with rt.sessions.current(session):
        agent.invoke("one")
        agent.invoke("two")
    return session


def _journal(rt: Runtime, session: Any) -> list[tuple[str, Any]]:
    """Each entry's kind with what it says that does not depend on time or ids."""
    out: list[tuple[str, Any]] = []
    for entry in rt.sessions.journal.read(session.id):
        data = entry.data
        if entry.kind == "llm.call":
            out.append((entry.kind, (data["response"]["text"], data["usage"])))
        elif entry.kind == "artifact.stored":
            kind_of_name = data["name"].split("/")[0]  # agent_output (its agent's name apart)
            out.append((entry.kind, (kind_of_name, data["version"], data["size"])))
        elif entry.kind == "event":
            out.append((data["type"], None))
        else:
            out.append((entry.kind, None))
    return out


def _counts(rt: Runtime, session: Any) -> tuple[int, int, float, int, int]:
    c = rt.sessions.get(session).counters
    return c.operations, c.tokens, c.cost, c.artifacts, c.artifact_bytes


def test_the_settlement_is_written_with_the_artifact(
        rt: Runtime, scripted: ScriptedProvider, batches: list[list[str]]) -> None:
    session = _two_calls(rt, scripted, "riding")
    record = f"session/{session.id}"
    created = f"journal/{session.id}/{1:012d}"
    rewrites = [keys for keys in batches if record in keys and created not in keys]
    assert len(rewrites) == 2  # one per call (before: two per call)
    for keys in rewrites:
        assert any(k.startswith("art/") for k in keys)  # the artifact's batch
        # the settlement's entry, the artifact's and the event's
        assert sum(k.startswith(f"journal/{session.id}/") for k in keys) == 3
    journaled = [keys for keys in batches if any(k.startswith(f"journal/{session.id}/")
                                                 for k in keys)]
    assert journaled == [batches[0], *rewrites]  # the create's, then one batch per call
    kinds = [kind for kind, _ in _journal(rt, session)]
    assert kinds[-6:] == ["llm.call", "artifact.stored", "agent.execution_completed"] * 2


def test_the_same_journal_and_counts_as_without_the_ride(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    riding = _two_calls(rt, scripted, "riding")
    rt.hooks.register("artifact:after_store", lambda ctx: None, name="mine")
    alone = _two_calls(rt, scripted, "alone")
    hooks = ("hook",)  # the user's hook is journaled where it fires: left out here
    assert [e for e in _journal(rt, alone) if e[0] not in hooks] == _journal(rt, riding)
    assert _counts(rt, alone) == _counts(rt, riding)
    assert _counts(rt, riding)[0] == 2 and _counts(rt, riding)[3] == 2
    assert [a.version for a in rt.artifacts.versions(riding, "agent_output/agent-riding")] \
        == [1, 2]


def test_without_collection_the_settlement_is_written_with_the_events_entry(
        rt: Runtime, scripted: ScriptedProvider, batches: list[list[str]]) -> None:
    session = _two_calls(rt, scripted, "quiet",
                         metadata={"auto_collect_artifacts": False})
    assert [kind for kind, _ in _journal(rt, session)][-4:] == [
        "llm.call", "agent.execution_completed"] * 2
    journaled = [sum(k.startswith(f"journal/{session.id}/") for k in keys)
                 for keys in batches]
    assert [n for n in journaled if n] == [1, 2, 2]  # the create's; then one batch per call
    operations, tokens, _, artifacts, _ = _counts(rt, session)
    assert operations == 2 and tokens > 0 and artifacts == 0


def test_a_refused_collection_leaves_the_settlement_written(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    session = rt.sessions.create("full", limits={"artifacts": 1})
    rt.artifacts.store(session, "one.txt", b"1")
    scripted.add_replies(["answer"])
    agent = rt.agents.create("a", "scripted/demo")
    with rt.sessions.current(session):
        assert agent.invoke("hi").text == "answer"
    kinds = [kind for kind, _ in _journal(rt, session)]
    assert kinds[kinds.index("llm.call"):] == ["llm.call", "agent.execution_completed"]
    operations, tokens, _, artifacts, _ = _counts(rt, session)
    assert operations == 2 and tokens > 0 and artifacts == 1  # the store and the call


def test_a_session_with_a_token_limit_settles_on_its_own(
        rt: Runtime, scripted: ScriptedProvider, batches: list[list[str]]) -> None:
    session = _two_calls(rt, scripted, "limited", limits={"tokens": 100_000})
    record = f"session/{session.id}"
    settled = [keys for keys in batches if record in keys
               and not any(k.startswith("art/") for k in keys)]
    assert settled  # the admission's count and the settlement, each its own write
    assert _counts(rt, session)[0] == 2


def test_on_sqlite_the_ride_is_kept_after_a_reopen(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    with Runtime.memory(storage__url=url) as first:
        scripted = ScriptedProvider("scripted")
        first.providers.add("scripted", scripted)
        riding = _two_calls(first, scripted, "riding")
        first.hooks.register("artifact:after_store", lambda ctx: None, name="mine")
        alone = _two_calls(first, scripted, "alone")
        expected = _journal(first, riding), _counts(first, riding)
    with Runtime.memory(storage__url=url) as second:
        assert (_journal(second, riding), _counts(second, riding)) == expected
        assert [e for e in _journal(second, alone) if e[0] != "hook"] == expected[0]
        assert _counts(second, alone) == expected[1]


def test_a_call_made_while_a_settlement_waits_writes_it_first(rt: Runtime) -> None:
    from llmspell.sessions.ride import offered, waiting

    session = rt.sessions.create("nested")
    written: list[str] = []
    with offered(session.id) as outer:
        outer.wait(1, 5, 0.0, [], lambda held: written.append("outer"))
        assert waiting(session.id) is outer
        with offered(session.id) as inner:  # a call made meanwhile (by a subscriber, say)
            assert written == ["outer"] and waiting(session.id) is None
            inner.wait(1, 5, 0.0, [], lambda held: written.append("inner"))
        assert written == ["outer", "inner"]
    assert written == ["outer", "inner"]  # each written once


def _watch(rt: Runtime, name: str) -> list[tuple[list[int], str]]:
    """What a subscriber of ``agent.execution_completed`` sees when it runs: the versions of
    the collected answer, and the journal's last entry."""
    seen: list[tuple[list[int], str]] = []

    def look(event: Any) -> None:
        versions = [a.version for a in rt.artifacts.versions(event.session_id,
                                                             f"agent_output/agent-{name}")]
        last = list(rt.sessions.journal.read(event.session_id))[-1]
        seen.append((versions, last.kind + ":" + str(last.data.get("type"))))

    rt.events.subscribe("agent.execution_completed", look)
    return seen


def test_a_subscriber_after_the_recorder_sees_the_artifact_and_the_entry(
        rt: Runtime, scripted: ScriptedProvider, batches: list[list[str]]) -> None:
    assert rt.sessions.recorder is not None  # attached (and subscribed) first
    seen = _watch(rt, "after")
    session = _two_calls(rt, scripted, "after")
    event = "event:agent.execution_completed"
    assert seen == [([1], event), ([1, 2], event)]
    record = f"session/{session.id}"
    assert len([keys for keys in batches if record in keys]) == 3  # the create, 2 calls


def test_a_subscriber_before_the_recorder_sees_the_artifact_stored(
        rt: Runtime, scripted: ScriptedProvider, batches: list[list[str]]) -> None:
    seen = _watch(rt, "before")  # before the runtime's sessions (and recorder) exist
    session = _two_calls(rt, scripted, "before")
    stored = "artifact.stored:None"  # the event's entry is not written yet: it sees first
    assert seen == [([1], stored), ([1, 2], stored)]
    record = f"session/{session.id}"
    assert len([keys for keys in batches if record in keys]) == 3
    assert [kind for kind, _ in _journal(rt, session)][-3:] == [
        "llm.call", "artifact.stored", "agent.execution_completed"]


def test_a_hook_that_sees_the_event_first_sees_the_artifact_stored(
        rt: Runtime, scripted: ScriptedProvider) -> None:
    seen: list[list[int]] = []

    def before_emit(ctx: Any) -> None:
        if ctx.metadata.get("type") == "agent.execution_completed":
            seen.append([a.version for a in rt.artifacts.versions(
                ctx.session_id, "agent_output/agent-hooked")])

    rt.hooks.register("event:before_emit", before_emit, name="look")
    _two_calls(rt, scripted, "hooked")
    assert seen == [[1], [1, 2]]


def test_a_deferred_collection_that_fails_leaves_the_rest_written(
        rt: Runtime, caplog: Any) -> None:
    from llmspell.journal import Draft
    from llmspell.sessions.ride import collect_later, offered, write_waiting

    session = rt.sessions.create("broken")
    written: list[str] = []

    def broken() -> None:
        raise RuntimeError("disk on fire")

    with offered(session.id, later=True) as ride:
        assert collect_later(session.id) is None  # no settlement waits: the store runs now
        ride.wait(1, 5, 0.0, [], lambda held: written.append(f"settled with {held.trailing}"))
        assert collect_later(session.id) is ride
        ride.defer(broken)
        assert collect_later(session.id) is None  # one collection per call
        entry = Draft("note", {"n": 1}, None)
        assert write_waiting(session.id, (entry,)) is True  # written with the settlement
        assert written == [f"settled with {(entry,)}"] and not ride.waiting
    assert len(written) == 1
    assert "disk on fire" in caplog.text and session.id in caplog.text


def test_another_write_of_the_session_runs_a_deferred_collection_first(rt: Runtime) -> None:
    from llmspell.sessions.ride import offered

    session = rt.sessions.create("between")
    written: list[str] = []
    with offered(session.id, later=True) as ride:
        ride.wait(1, 5, 0.0, [], lambda held: written.append("settled"))
        ride.defer(lambda: written.append("collected"))
        rt.sessions.save(session)  # a record update: what waits goes first
        assert written == ["collected", "settled"]
    assert written == ["collected", "settled"]


def test_a_collection_switched_off_elsewhere_leaves_the_call_whole(backend: Any) -> None:
    # Another process turns collection off after this one last read the session: the
    # collection riding with the call's event entry finds it on its retry and stores
    # nothing, and the call's settlement and entries are written all the same.
    if not backend.multi_process:
        pytest.skip("two runtimes on one store need a multi-process backend")
    one, two = backend.runtime(), backend.runtime()
    provider = ScriptedProvider("scripted", ["first answer", "second answer"])
    one.providers.add("scripted", provider)
    session = one.sessions.create("shared")
    agent = one.agents.create("switched", "scripted/demo")
    with one.sessions.current(session):
        agent.invoke("one")
        two.artifacts.set_auto_collect(session.id, False)
        assert agent.invoke("two").text == "second answer"
    assert [a.version for a in one.artifacts.list(session)] == [1]
    kinds = [k for k, _ in _journal(one, session)]
    assert kinds.count("llm.call") == 2 and kinds.count("artifact.stored") == 1
    assert kinds.count("agent.execution_completed") == 2
    operations, tokens, _, artifacts, _ = _counts(one, session)
    assert (operations, artifacts) == (2, 1) and tokens > 0
