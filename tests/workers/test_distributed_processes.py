"""Distributed parallel branches with real processes on postgres: the parent process dies while
it waits for its branches; resumed, it runs only the branch that had not finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends import Backend, backend_fixture
from llmspell.workers import JobQueue

backend = backend_fixture(["postgres"])
pytestmark = pytest.mark.slow

PARENT = """
local fan = Workflow.parallel{name = "fan", distributed = true, timeout_ms = 60000, branches = {
  {name = "a", steps = {{name = "a1", type = "tool", tool = "calculator",
                         input = {input = "6 * 7"}}}},
  {name = "b", steps = {{name = "b1", type = "tool", tool = "calculator",
                         input = {input = "2 ** 10"}}}}}}
return fan:execute()
"""


def spawn(backend: Backend, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    env["LLMSPELL_STORAGE_URL"] = backend.url
    return subprocess.Popen([sys.executable, "-m", "llmspell", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(check: object, what: str, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while not check():  # type: ignore[operator]
        assert time.time() < deadline, what
        time.sleep(0.05)


def test_a_killed_parent_resumes_without_rerunning_finished_branches(
        backend: Backend, tmp_path: Path) -> None:
    rt = backend.runtime()
    jobs = JobQueue(rt.store)
    (tmp_path / "parent.lua").write_text(PARENT)
    parent = spawn(backend, tmp_path, "run", "parent.lua")
    try:
        wait_for(lambda: len(jobs.list(status="queued")) == 2, "the parent never enqueued")
        first = spawn(backend, tmp_path, "worker", "--json", "--max-jobs", "1")
        _out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        assert parent.poll() is None  # still waiting for branch b
    finally:
        parent.kill()  # SIGKILL while it waits (and the clean-up when a check failed)
        parent.communicate(timeout=10)
    assert parent.returncode == -signal.SIGKILL
    (run,) = rt.workflows.runs(status="running")
    before = rt.workflows.run(run["run_id"])
    assert [s["path"] for s in before["steps"]] == ["a1"]
    job_a, job_b = before["decisions"]["?worker:a"]["job"], before["decisions"]["?worker:b"]["job"]
    assert jobs.get(job_b)["status"] == "queued"  # type: ignore[index]
    second = spawn(backend, tmp_path, "worker", "--json", "--idle-exit", "3")
    try:
        result = rt.workflows.resume(run["run_id"])
    finally:
        _out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert result["success"] is True, result
    assert result["output"]["a"]["result"] == 42 and result["output"]["b"]["result"] == 1024
    assert result["steps_ran"] == ["b1"]  # a1 was served from the record
    after = rt.workflows.run(run["run_id"])
    assert after["decisions"] == before["decisions"]  # the queued job was waited for
    assert {s["path"]: s["finished"] for s in after["steps"]}["a1"] == before["steps"][0][
        "finished"]
    branch_jobs = [j for j in jobs.list() if j["kind"] == "branch"]
    assert sorted(j["id"] for j in branch_jobs) == sorted([job_a, job_b])
    assert all(j["status"] == "done" and j["attempts"] == 1 for j in branch_jobs)
    assert branch_jobs[0]["worker"] != branch_jobs[1]["worker"]
    jobs.close()
