"""The job queue (storage.jobs) and a worker in this process, on postgres; workers need it,
and the embedded backends say so."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from backends import Backend, backend_fixture
from llmspell.errors import BackendUnavailable, ValidationError, WorkflowError
from llmspell.lua import LuaEngine
from llmspell.workers import JobQueue, Worker
from llmspell.workers.submit import script_payload

backend = backend_fixture(["postgres"])


@pytest.fixture
def jobs(backend: Backend) -> Any:
    queue = JobQueue(backend.open())
    yield queue
    queue.close()


def test_claims_never_overlap_and_results_are_written_once(jobs: JobQueue) -> None:
    ids = [jobs.enqueue("script", {"source": "return 1"}) for _ in range(3)]
    first = jobs.claim(["default"], "w1", 30)
    second = jobs.claim(["default"], "w2", 30)
    assert first is not None and second is not None and first.id != second.id
    assert {first.id, second.id} < set(ids) and first.attempts == 1
    assert jobs.finish(first.id, "w1", result={"ok": True})
    assert not jobs.finish(first.id, "w1", result={"again": True})  # done already
    assert not jobs.finish(second.id, "w1", result=1)  # not w1's claim
    found = jobs.get(first.id)
    assert found is not None and found["status"] == "done" and found["result"] == {"ok": True}


def test_an_expired_claim_is_taken_by_another_and_the_old_holder_cannot_finish(
        jobs: JobQueue) -> None:
    job_id = jobs.enqueue("script", {"source": "return 1"})
    old = jobs.claim(["default"], "slow", 0.2)
    assert old is not None and jobs.claim(["default"], "other", 30) is None
    time.sleep(0.3)
    assert not jobs.heartbeat(job_id, "nobody", 30)
    taken = jobs.claim(["default"], "other", 30)
    assert taken is not None and taken.id == job_id and taken.attempts == 2
    assert not jobs.heartbeat(job_id, "slow", 30)
    assert not jobs.finish(job_id, "slow", result="stale")
    assert jobs.finish(job_id, "other", result="fresh")
    assert jobs.get(job_id)["result"] == "fresh"  # type: ignore[index]


def test_errors_retry_until_attempts_run_out(jobs: JobQueue) -> None:
    job_id = jobs.enqueue("script", {"source": "x"}, max_attempts=2)
    job = jobs.claim(["default"], "w", 30)
    assert job is not None
    assert jobs.finish(job_id, "w", error="boom", backoff=0)
    assert jobs.get(job_id)["status"] == "queued"  # type: ignore[index]
    assert jobs.claim(["default"], "w", 30) is not None
    assert jobs.finish(job_id, "w", error="boom again", backoff=0)
    found = jobs.get(job_id)
    assert found is not None and found["status"] == "failed" and found["attempts"] == 2
    assert found["error"] == "boom again"
    assert jobs.claim(["default"], "w", 30) is None


def test_a_queue_limit_counts_the_whole_fleet(jobs: JobQueue) -> None:
    for _ in range(3):
        jobs.enqueue("script", {"source": "return 1"}, queue="llm")
    limits = {"llm": 2}
    assert jobs.claim(["llm"], "a", 30, limits) is not None
    assert jobs.claim(["llm"], "b", 30, limits) is not None
    assert jobs.claim(["llm"], "c", 30, limits) is None
    assert jobs.claim(["llm"], "c", 30) is not None  # without the limit
    assert jobs.counts() == {"llm": {"running": 3}}


def test_bad_arguments(jobs: JobQueue, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="kind"):
        jobs.enqueue("shell", {})
    with pytest.raises(ValidationError, match="queue"):
        jobs.enqueue("script", {}, queue="no spaces")
    with pytest.raises(ValidationError, match="max_attempts"):
        jobs.enqueue("script", {}, max_attempts=0)
    with pytest.raises(ValidationError, match="payload"):
        jobs.enqueue("script", {"x": object()})
    assert jobs.counts() == {}
    (tmp_path / "bin.lua").write_bytes(b"\xff\xfe")
    with pytest.raises(Exception, match="not UTF-8"):
        script_payload(tmp_path / "bin.lua", [])


@pytest.mark.parametrize("name", ["memory", "sqlite"])
def test_embedded_backends_say_workers_need_postgres(name: str, tmp_path: Path) -> None:
    from backends import make_backend

    with (make_backend(name, tmp_path) as place,
          pytest.raises(BackendUnavailable, match="workers need PostgreSQL")):
        JobQueue(place.open())


def test_a_worker_runs_scripts_and_declarative_workflows(backend: Backend,
                                                         tmp_path: Path) -> None:
    rt = backend.runtime()
    script = tmp_path / "job.lua"
    script.write_text("#!/usr/bin/env llmspell\nreturn {got = ARGS[1], n = #ARGS}\n")
    failing = tmp_path / "bad.lua"
    failing.write_text("error('no luck')\n")
    jobs = JobQueue(rt.store)
    ok = jobs.enqueue("script", script_payload(script, ["x"]))
    bad = jobs.enqueue("script", script_payload(failing, []), max_attempts=1)
    engine = LuaEngine(rt, script_name="enqueue.lua")
    queued = engine.run_string("""
        local wf = Workflow.sequential{name = "sum-it", steps = {
          {name = "sum", type = "tool", tool = "calculator", input = {input = "6 * 7"}}}}
        local fn = Workflow.sequential{name = "with-code", steps = {
          {name = "f", type = "function", fn = function() return 1 end}}}
        local ok, err = pcall(fn.enqueue, fn)
        return {wf:enqueue({}), ok, tostring(err)}
    """)
    engine.close()
    assert queued[1] is False and "cannot be enqueued" in queued[2]
    lines: list[str] = []
    worker = Worker(rt, queues=["default"], poll_seconds=0.05, report=lines.append)
    assert worker.run(idle_exit=0.3) == 3
    assert jobs.get(ok)["result"] == {"got": "x", "n": 1}  # type: ignore[index]
    failed = jobs.get(bad)
    assert failed is not None and failed["status"] == "failed" and "no luck" in failed["error"]
    flow = jobs.get(queued[0]["job_id"])
    assert flow is not None and flow["status"] == "done", flow
    assert flow["result"]["success"] is True, flow["result"]
    assert flow["result"]["run_id"] == queued[0]["run_id"]
    assert rt.workflows.run(queued[0]["run_id"])["status"] == "completed"
    assert (worker.done, worker.failed, worker.lost) == (2, 1, 0)
    jobs.close()
    with pytest.raises(ValidationError, match="queues"):
        Worker(rt, queues=[])
    with pytest.raises(ValidationError, match="concurrency"):
        Worker(rt, queues=["q"], concurrency=0)
    assert WorkflowError  # the error class Workflow.enqueue raises (checked above by text)


def test_list_takes_the_shared_limit_rule(jobs: JobQueue) -> None:
    for _ in range(3):
        jobs.enqueue("script", {"source": "return 1"})
    assert len(jobs.list(limit=2)) == 2
    assert len(jobs.list(limit=0)) == len(jobs.list(limit=None)) == 3  # 0 or None: all
    for bad in (-1, True, "2"):
        with pytest.raises(ValidationError, match=r"argument 'limit': must be an integer >= 0 "
                                                  r"\(0 or none: no limit\)"):
            jobs.list(limit=bad)  # type: ignore[arg-type]
