"""LLMSpellSaver beyond the conformance suite: a graph killed mid-run resumes from its last
checkpoint, threads are llmspell sessions, backups round-trip them, bad input is refused."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("langgraph.graph")

from lg_graph import build, runtime_at

from backends import Backend
from llmspell.errors import ValidationError
from llmspell.integrations.langgraph import LLMSpellSaver

HERE = Path(__file__).resolve().parent


def _steps(directory: Path) -> list[str]:
    log = directory / "steps.log"
    return log.read_text().split() if log.exists() else []


@pytest.mark.slow
def test_a_graph_killed_mid_run_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "hang").touch()
    child = subprocess.Popen([sys.executable, str(HERE / "lg_graph.py"), str(tmp_path), "t1"])
    try:
        deadline = time.monotonic() + 60
        while "two" not in _steps(tmp_path):
            assert child.poll() is None, "the graph ended before step two"
            assert time.monotonic() < deadline, "step two never started"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert _steps(tmp_path) == ["one", "two"]
    (tmp_path / "hang").unlink()
    config = {"configurable": {"thread_id": "t1"}}
    with runtime_at(tmp_path) as rt:
        graph = build(tmp_path, rt)
        assert graph.get_state(config).next == ("two",)  # the last checkpoint: after one
        result = graph.invoke(None, config)
    assert result == {"done": ["one", "two", "three"]}
    assert _steps(tmp_path) == ["one", "two", "two", "three"]  # one ran once


def test_a_thread_is_a_session_and_a_backup_round_trips_it(backend: Backend) -> None:
    rt = backend.runtime()
    graph = build(backend.directory, rt)
    config = {"configurable": {"thread_id": "research/42"}}
    graph.invoke({"done": []}, config)
    sessions = rt.sessions.list(tags=["langgraph"])
    assert [s.name for s in sessions] == ["langgraph:research/42"]
    assert sessions[0].metadata == {"langgraph_id": "research/42"}
    saver = LLMSpellSaver(rt)
    history = [t.checkpoint["id"] for t in saver.list(config)]
    assert len(history) == 5  # input, one, two, three + the empty start

    backup = rt.backups.backup(description="threads")
    saver.delete_thread("research/42")
    assert saver.get_tuple(config) is None and not rt.sessions.list(tags=["langgraph"])
    rt.backups.restore(backup.id)
    assert [t.checkpoint["id"] for t in saver.list(config)] == history
    assert graph.get_state(config).values == {"done": ["one", "two", "three"]}
    # State backups hold no session records (docs/backup-and-migration.md): the thread's
    # checkpoints are back and it runs on, its session record is not.
    assert graph.invoke({"done": ["again"]}, config)["done"][-1] == "three"
    assert len(list(saver.list(config))) == 10
    saver.delete_thread("research/42")
    assert saver.get_tuple(config) is None
    assert not [s for s in rt.state.scopes() if s.startswith("session:")]


def test_bad_input_is_refused_with_the_argument_named(mem) -> None:  # type: ignore[no-untyped-def]
    saver = LLMSpellSaver(mem)
    with pytest.raises(ValidationError, match="config\\['configurable'\\]\\['thread_id'\\]"):
        saver.get_tuple({"configurable": {"thread_id": 7}})
    with pytest.raises(ValidationError, match="argument 'config'"):
        saver.get_tuple({"thread_id": "x"})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(ValidationError, match="argument 'strategy'"):
        saver.prune(["x"], strategy="keep_all")
    with pytest.raises(ValidationError, match="argument 'limit'"):
        list(saver.list(None, limit="3"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="argument 'runtime'"):
        from llmspell import Runtime
        LLMSpellSaver(Runtime.memory(session__enabled=False))
    assert not mem.sessions.list(tags=["langgraph"])  # nothing was created


def test_llmspell_backup_and_restore_commands_round_trip_a_thread(tmp_path: Path,
                                                                   run) -> None:  # type: ignore[no-untyped-def]
    import json

    from llmspell import Runtime

    config = {"configurable": {"thread_id": "nightly"}}
    with Runtime.from_config() as rt:
        build(tmp_path, rt).invoke({"done": []}, config)
    made = run("backup", "create", "--json")
    assert made.exit_code == 0, made.output
    backup_id = json.loads(made.output)["id"]
    with Runtime.from_config() as rt:
        LLMSpellSaver(rt).delete_thread("nightly")
    assert run("backup", "restore", backup_id).exit_code == 0
    with Runtime.from_config() as rt:
        state = build(tmp_path, rt).get_state(config)
    assert state.values == {"done": ["one", "two", "three"]} and state.next == ()


def test_writers_racing_on_a_new_thread_end_with_one_session(tmp_path: Path) -> None:
    import threading

    from llmspell.integrations.threads import ForeignSessions

    runtimes = [runtime_at(tmp_path) for _ in range(4)]  # one store handle each
    start = threading.Barrier(len(runtimes))
    got: list[str] = []

    def race(rt) -> None:  # type: ignore[no-untyped-def]
        start.wait()
        got.append(ForeignSessions(rt, "langgraph").ensure("shared-thread"))

    workers = [threading.Thread(target=race, args=(rt,)) for rt in runtimes]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    try:
        assert len(got) == 4 and len(set(got)) == 1
        assert [s.id for s in runtimes[0].sessions.list(tags=["langgraph"])] == got[:1]
    finally:
        for rt in runtimes:
            rt.close()


def test_values_a_checkpoint_borrows_survive_pruning_and_forks(mem) -> None:  # type: ignore[no-untyped-def]
    from langgraph.checkpoint.base import empty_checkpoint

    saver = LLMSpellSaver(mem)

    def put(parent: dict, number: int, values: dict, versions: dict, new: dict) -> dict:  # type: ignore[type-arg]
        checkpoint = {**empty_checkpoint(), "id": f"1f0000000000000{number}",
                      "channel_values": values, "channel_versions": versions}
        return saver.put(parent, checkpoint, {"step": number}, new)  # type: ignore[arg-type]

    root = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    first = put(root, 1, {"big": "kept once", "n": 1}, {"big": 1, "n": 1}, {"big": 1, "n": 1})
    second = put(first, 2, {"big": "kept once", "n": 2}, {"big": 1, "n": 2}, {"n": 2})
    # A fork from the root whose 'big' comes from checkpoint 1 without being its child.
    fork = put(root, 3, {"big": "kept once", "n": 3}, {"big": 1, "n": 3}, {"n": 3})
    for config, n in ((second, 2), (fork, 3)):
        found = saver.get_tuple(config)
        assert found is not None
        assert found.checkpoint["channel_values"] == {"big": "kept once", "n": n}
    saver.prune(["t"], strategy="keep_latest")  # keeps 3 only; 1, which held 'big', goes
    assert [t.checkpoint["id"] for t in saver.list(root)] == ["1f00000000000003"]
    latest = saver.get_tuple(root)
    assert latest is not None
    assert latest.checkpoint["channel_values"] == {"big": "kept once", "n": 3}
