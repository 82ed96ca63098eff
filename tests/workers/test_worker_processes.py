"""Acceptance with real processes on postgres: 3 workers drain 300 queued scripts, each run
exactly once; a worker SIGKILLed mid-run leaves its job to another."""

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
from llmspell.workers.submit import script_payload

backend = backend_fixture(["postgres"])
pytestmark = pytest.mark.slow

COUNT = """
local key = "ran:" .. ARGS[1]
while true do
  local n = State.load("global", key)
  if State.compare_and_set("global", key, n, (n or 0) + 1) then break end
end
return ARGS[1]
"""

SLOW = """
State.save("global", "started:" .. ARGS[1], true)
Utils.sleep(tonumber(ARGS[2]))
return "finished " .. ARGS[1]
"""


def worker(backend: Backend, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    env["LLMSPELL_STORAGE_URL"] = backend.url
    return subprocess.Popen([sys.executable, "-m", "llmspell", "worker", "--json", *args],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_three_workers_drain_300_scripts_each_run_exactly_once(backend: Backend,
                                                                 tmp_path: Path) -> None:
    rt = backend.runtime()
    (tmp_path / "count.lua").write_text(COUNT)
    jobs = JobQueue(rt.store)
    ids = [jobs.enqueue("script", script_payload(tmp_path / "count.lua", [str(i)]))
           for i in range(300)]
    procs = [worker(backend, tmp_path, "--idle-exit", "1.5", "--concurrency", "2")
             for _ in range(3)]
    totals = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        totals.append(__import__("json").loads(out))
    assert sum(t["done"] for t in totals) == 300
    assert all(t["done"] > 0 for t in totals), totals  # the work was shared
    for i, job_id in enumerate(ids):
        found = jobs.get(job_id)
        assert found is not None and found["status"] == "done" and found["attempts"] == 1
        assert found["result"] == str(i)
        assert rt.state.load("global", f"ran:{i}") == 1
    jobs.close()


def test_a_killed_workers_job_is_taken_by_another(backend: Backend, tmp_path: Path) -> None:
    rt = backend.runtime()
    (tmp_path / "slow.lua").write_text(SLOW)
    jobs = JobQueue(rt.store)
    job_id = jobs.enqueue("script", script_payload(tmp_path / "slow.lua", ["x", "1"]))
    first = worker(backend, tmp_path, "--lease-seconds", "1")
    try:
        deadline = time.time() + 30
        while rt.state.load("global", "started:x") is None:
            assert time.time() < deadline, "the first worker never started the job"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    held = jobs.get(job_id)
    assert held is not None and held["status"] == "running"
    second = worker(backend, tmp_path, "--lease-seconds", "5", "--idle-exit", "3")
    _out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    found = jobs.get(job_id)
    assert found is not None and found["status"] == "done", found
    assert found["attempts"] == 2 and found["result"] == "finished x"
    assert found["worker"] != held["worker"]
    jobs.close()
