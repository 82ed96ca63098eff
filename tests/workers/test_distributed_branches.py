"""A parallel workflow's branches as worker jobs (workflows/distributed.py), on postgres: the
branches run on workers, each branch's steps are committed by the claim holder, the parent
waits within the workflow's timeout, and the embedded stores and function steps are refused."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from backends import Backend, backend_fixture, make_backend
from llmspell.errors import ValidationError, WorkflowError
from llmspell.lua import LuaEngine
from llmspell.workers import JobQueue, Worker
from llmspell.workflows.distributed import FENCE, FencedRecord

backend = backend_fixture(["postgres"])

SPEC: dict[str, Any] = {
    "name": "fan-out", "distributed": True, "timeout_ms": 20000,
    "branches": [
        {"name": "a", "steps": [
            {"name": "a1", "type": "tool", "tool": "calculator", "input": {"input": "6 * 7"}},
            {"name": "a2", "type": "tool", "tool": "calculator",
             "input": {"input": "{{step:a1:output.result}} + 1"}, "output_key": "a_sum"}]},
        {"name": "b", "steps": [
            {"name": "b1", "type": "tool", "tool": "calculator", "input": {"input": "2 ** 10"},
             "output_key": "b_pow"}]},
    ]}


def drain(rt: Any, stop: threading.Event) -> threading.Thread:
    worker = Worker(rt, queues=["default"], poll_seconds=0.02, concurrency=2)

    def go() -> None:
        threading.Thread(target=lambda: (stop.wait(), worker.stop()), daemon=True).start()
        worker.run()

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


def test_branches_run_as_worker_jobs_and_land_in_the_runs_record(backend: Backend) -> None:
    rt = backend.runtime()
    stop = threading.Event()
    thread = drain(backend.runtime(), stop)
    session = rt.sessions.create("fan")
    try:
        with rt.sessions.current(session.id):
            result = rt.workflows.parallel(SPEC).execute({"x": 1})
    finally:
        stop.set()
        thread.join(10)
    assert result["success"] is True, result
    local = rt.workflows.parallel({**SPEC, "name": "here", "distributed": False}).execute()
    assert result["output"] == local["output"]
    assert result["output"]["b"]["result"] == 1024
    assert result["shared"]["b_pow"]["result"] == 1024 and "a_sum" in result["shared"]
    assert sorted(result["steps_ran"]) == ["a1", "a2", "b1"]
    run = rt.workflows.run(result["run_id"])
    assert {s["path"] for s in run["steps"]} == {"a1", "a2", "b1"}
    journaled = [e.data for e in rt.sessions.journal.read(session.id)
                 if e.kind == "workflow.step"]
    assert sorted(e["path"] for e in journaled) == ["a1", "a2", "b1"]
    assert all(e["on_worker"] and e["status"] == "completed" for e in journaled)
    assert run["shared"]["b_pow"]["result"] == 1024  # merged by the parent, committed
    jobs = JobQueue(rt.store)
    for name in ("a", "b"):
        job_id = run["decisions"][f"?worker:{name}"]["job"]
        row = jobs.get(job_id)
        assert row is not None and row["kind"] == "branch" and row["status"] == "done"
        assert row["result"]["status"] == "completed" and row["attempts"] == 1
        fence = rt.state.load(f"workflow:{result['run_id']}", FENCE + name)
        assert fence["job"] == job_id and fence["worker"] == row["worker"]
    jobs.close()


def test_a_failing_branch_fails_the_run_and_resume_reruns_only_it(backend: Backend) -> None:
    rt = backend.runtime()
    spec = {"name": "half-bad", "distributed": True, "timeout_ms": 20000, "branches": [
        {"name": "good", "steps": [{"name": "g", "type": "tool", "tool": "calculator",
                                    "input": {"input": "1 + 1"}}]},
        {"name": "bad", "steps": [{"name": "x", "type": "tool", "tool": "calculator",
                                   "input": {"input": "1 +"}}]}]}
    stop = threading.Event()
    thread = drain(backend.runtime(), stop)
    try:
        result = rt.workflows.parallel(spec).execute()
        assert result["success"] is False and result["status"] == "failed"
        assert result["error"]["location"] == "x" and "bad" in result["error"]["message"]
        run = rt.workflows.run(result["run_id"])
        good_job = run["decisions"]["?worker:good"]["job"]
        bad_job = run["decisions"]["?worker:bad"]["job"]
        finished = {s["path"]: s["finished"] for s in run["steps"]}
        again = rt.workflows.resume(result["run_id"])
    finally:
        stop.set()
        thread.join(10)
    assert again["status"] == "failed"  # still bad: ran again, on a new job
    run = rt.workflows.run(result["run_id"])
    assert run["decisions"]["?worker:good"]["job"] == good_job  # the good branch was not re-run
    assert run["decisions"]["?worker:bad"]["job"] != bad_job
    assert {s["path"]: s["finished"] for s in run["steps"]}["g"] == finished["g"]
    assert again["steps_ran"] == ["x"]


def test_the_parent_waits_within_the_workflows_timeout(backend: Backend) -> None:
    rt = backend.runtime()
    result = rt.workflows.parallel({**SPEC, "name": "nobody", "timeout_ms": 300}).execute()
    assert result["status"] == "failed", result
    assert result["error"]["error_type"] == "WorkflowTimeout"
    assert "waiting for its branches on workers (a, b)" in result["error"]["message"]


def test_a_stale_claim_cannot_commit_a_branch_step(backend: Backend) -> None:
    rt = backend.runtime()
    run = rt.workflows.sequential({"name": "one", "steps": [
        {"name": "s", "type": "tool", "tool": "calculator", "input": {"input": "1"}}]}
        ).execute()
    old = FencedRecord(rt.state, run["run_id"], FENCE + "b", {"job": 1, "attempt": 1})
    new = FencedRecord(rt.state, run["run_id"], FENCE + "b", {"job": 1, "attempt": 2})
    old.take()
    old.load()
    new.take()
    old.commit_step("late", {"status": "completed", "output": 1}, {})
    with pytest.raises(WorkflowError, match="taken by another"):
        old.flush()
    assert rt.state.load(f"workflow:{run['run_id']}", "step:late") is None
    new.commit_step("late", {"status": "completed", "output": 2}, {"dropped": True})
    new.flush()
    assert rt.state.load(f"workflow:{run['run_id']}", "step:late")["output"] == 2
    assert rt.state.load(f"workflow:{run['run_id']}", "shared") is None  # the parent's


def test_function_steps_cannot_travel(backend: Backend) -> None:
    rt = backend.runtime()
    with pytest.raises(ValidationError, match=r"\$\.distributed.*function step 'f'"):
        rt.workflows.parallel({"name": "code", "distributed": True, "branches": [
            {"name": "a", "steps": [{"name": "f", "type": "function",
                                     "fn": lambda i, c: 1}]}]})
    with pytest.raises(ValidationError, match="true or false"):
        rt.workflows.parallel({**SPEC, "distributed": "yes"})
    engine = LuaEngine(rt, script_name="t.lua")
    ok, err = engine.run_string("""
        return pcall(Workflow.parallel, {name = "lua-code", distributed = true,
          branches = {{name = "a", steps = {{name = "f", type = "function",
                                             fn = function() return 1 end}}}}})""")
    engine.close()
    assert ok is False and "cannot travel" in str(err)


@pytest.mark.parametrize("name", ["memory", "sqlite"])
def test_embedded_stores_refuse_distributed_branches(name: str, tmp_path: Path) -> None:
    with make_backend(name, tmp_path) as place:
        rt = place.runtime()
        with pytest.raises(ValidationError, match="only on PostgreSQL"):
            rt.workflows.parallel(SPEC)
        rt.close()
        on = place.runtime(workflows__parallel_on_workers=True)
        with pytest.raises(ValidationError, match="only on PostgreSQL"):
            on.workflows.parallel({k: v for k, v in SPEC.items() if k != "distributed"})
        assert on.workflows.parallel({**SPEC, "distributed": False}).definition.distributed \
            is False
        on.close()


def test_a_worker_whose_claim_ran_out_cannot_commit_the_branch(backend: Backend) -> None:
    rt = backend.runtime()
    spec = {"name": "taken", "distributed": True, "timeout_ms": 20000, "branches": [
        {"name": "b", "steps": [{"name": "b1", "type": "tool", "tool": "calculator",
                                 "input": {"input": "3 * 3"}}]}]}
    results: list[Any] = []
    parent = threading.Thread(target=lambda: results.append(
        rt.workflows.parallel(spec).execute()), daemon=True)
    parent.start()
    jobs = JobQueue(rt.store)
    stale_rt = backend.runtime()
    inside, go_on = threading.Event(), threading.Event()

    def hold(ctx: Any) -> None:
        inside.set()
        go_on.wait(20)

    stale_rt.hooks.register("workflow:before_step", hold)
    deadline = time.time() + 20
    while (job := jobs.claim(["default"], "stale", 0.3)) is None:  # no heartbeat: it stops
        assert time.time() < deadline, "the parent never enqueued its branch"
        time.sleep(0.02)
    errors: list[Exception] = []

    def stale_run() -> None:
        try:
            stale_rt.workflows.run_branch(job.payload, {"job": job.id, "worker": "stale",
                                                        "attempt": job.attempts})
        except WorkflowError as exc:
            errors.append(exc)

    stale = threading.Thread(target=stale_run, daemon=True)
    stale.start()
    assert inside.wait(10)  # the stale worker is inside step b1
    stop = threading.Event()
    thread = drain(backend.runtime(), stop)  # claims the job once the lease ran out
    parent.join(20)
    stop.set()
    thread.join(10)
    go_on.set()
    stale.join(10)
    (result,) = results
    assert result["success"] is True and result["output"]["b"]["result"] == 9, result
    assert errors and "taken by another" in str(errors[0])
    assert not jobs.finish(job.id, "stale", result={"status": "completed"})
    row = jobs.get(job.id)
    assert row is not None and row["attempts"] == 2 and row["worker"] != "stale"
    step = rt.state.load(f"workflow:{result['run_id']}", "step:b1")
    assert step["output"]["result"] == 9 and step["attempts"] == 1
    jobs.close()


def test_bad_branch_jobs_are_refused(backend: Backend) -> None:
    rt = backend.runtime()
    owner = {"job": 1, "worker": "w", "attempt": 1}
    with pytest.raises(WorkflowError, match="payload must be a table"):
        rt.workflows.run_branch("nope", owner)
    with pytest.raises(ValidationError, match="run_id"):
        rt.workflows.run_branch({"run_id": ""}, owner)
    described = rt.workflows.parallel(SPEC).described()
    with pytest.raises(WorkflowError, match="has no branch 'zz'"):
        rt.workflows.run_branch({"run_id": "r1", "definition": described, "branch": "zz"},
                                owner)
    with pytest.raises(WorkflowError, match="no workflow run 'r1'"):
        rt.workflows.run_branch({"run_id": "r1", "definition": described, "branch": "a"},
                                owner)
    assert rt.state.list_keys("workflow:r1") == []  # a refused job leaves nothing behind


@pytest.mark.slow
def test_a_job_enqueued_just_before_a_crash_is_found_by_its_token(backend: Backend) -> None:
    rt = backend.runtime()
    # the resumed run has the same timeout to get both branches done: room for a busy machine
    timed_out = rt.workflows.parallel({**SPEC, "name": "lost", "timeout_ms": 1500}).execute()
    assert timed_out["error"]["error_type"] == "WorkflowTimeout"  # no worker ran
    scope = f"workflow:{timed_out['run_id']}"
    decision = rt.state.load(scope, "decision:?worker:a")
    rt.state.save(scope, "decision:?worker:a", {**decision, "job": None})  # died before this
    stop = threading.Event()
    thread = drain(backend.runtime(), stop)
    try:
        again = rt.workflows.resume(timed_out["run_id"])
    finally:
        stop.set()
        thread.join(10)
    assert again["success"] is True, again["error"]
    assert rt.state.load(scope, "decision:?worker:a") == decision  # found, not enqueued again
    jobs = JobQueue(rt.store)
    assert len([j for j in jobs.list() if j["kind"] == "branch"]) == 2
    jobs.close()
