"""`llmspell run --queue`, `llmspell worker` and `llmspell jobs` (in-process, on postgres), and
their refusals on an embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends import Backend, backend_fixture
from cli_runner import Run

backend = backend_fixture(["postgres"])


@pytest.mark.slow
def test_queue_run_work_and_inspect(backend: Backend, run: Run, tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text(f'[storage]\nurl = "{backend.url}"\n')
    (tmp_path / "job.lua").write_text("return {doubled = tonumber(ARGS[1]) * 2}\n")
    (tmp_path / "bad.lua").write_text("error('nope')\n")
    queued = run("run", "--queue", "job.lua", "--", "21")
    assert queued.exit_code == 0, queued.output
    assert queued.stdout.startswith("queued job ") and "on default (queued)" in queued.stdout
    job_id = queued.stdout.split()[2]
    run("--set", "workers.max_attempts=1", "run", "--queue", "--queue-name", "other",
        "bad.lua")
    listed = json.loads(run("jobs", "list", "--json").stdout)
    assert [j["status"] for j in listed] == ["queued", "queued"]
    worked = run("worker", "--queue", "default", "--queue", "other", "--idle-exit", "0.2",
                 "--json")
    assert worked.exit_code == 0, worked.output
    assert json.loads(worked.stdout)["taken"] == 2
    shown = json.loads(run("jobs", "show", job_id, "--json").stdout)
    assert shown["status"] == "done" and shown["result"] == {"doubled": 42}
    failed = run("jobs", "list", "--status", "failed")
    assert "other" in failed.stdout and "nope" in failed.stdout
    assert run("jobs", "show", "999999").exit_code == 2
    again = run("run", "--queue", "--wait", "0.1", "--json", "job.lua", "--", "1")
    assert json.loads(again.stdout)["status"] == "queued"  # no worker: still waiting


def test_usage_errors_and_embedded_stores(run: Run, tmp_path: Path) -> None:
    (tmp_path / "job.lua").write_text("return 1\n")
    assert run("run", "--wait", "1", "job.lua").exit_code == 2
    assert run("run", "--queue", "--record", "job.lua").exit_code == 2
    refused = run("run", "--queue", "job.lua")  # the default sqlite store
    assert refused.exit_code != 0 and "workers need PostgreSQL" in refused.output
    assert "workers need PostgreSQL" in run("worker", "--idle-exit", "0").output
    assert "workers need PostgreSQL" in run("jobs", "list").output
