"""``llmspell workflow list|show|resume|cancel`` on runs a script left in the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cli_runner import Run

SCRIPT = """
local mode = ARGS[1]
if mode == "break" then State.save("global", "expr", "1 +") end
if mode == "fix" then State.save("global", "expr", "6 * 7") end
local flow = Workflow.sequential({name = "calc", steps = {
    {name = "read", tool = "calculator", input = {input = "2 + 2"}},
    {name = "calc", tool = "calculator", input = {input = "{{shared:expr}}"}}}})
flow:setState("expr", State.load("global", "expr"))
if mode == "break" then print(flow:execute().run_id) end
"""


def data(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_show_resume_and_cancel(run: Run, tmp_path: Path) -> None:
    script = tmp_path / "calc.lua"
    script.write_text(SCRIPT)
    made = run("run", str(script), "--", "break")
    assert made.exit_code == 0, made.output
    run_id = made.stdout.strip()
    (listed,) = data(run("workflow", "list", "--json"))
    assert (listed["run_id"], listed["status"], listed["steps_done"]) == (run_id, "failed", 2)
    assert data(run("workflow", "list", "--status", "completed", "--json")) == []
    assert data(run("workflow", "list", "--limit", "0", "--json")) == [listed]  # 0: all
    shown = data(run("workflow", "show", run_id, "--json"))
    assert [s["status"] for s in shown["steps"]] == ["completed", "failed"]
    assert shown["error"]["location"] == "calc"
    text = run("workflow", "show", run_id)
    assert "status: failed" in text.stdout and "calc\tfailed" in text.stdout
    table = run("workflow", "list")
    assert run_id in table.stdout
    # The stored definition is declarative: the CLI resumes it with no script; it still
    # fails (the shared data of the run holds the bad expression) and says so.
    again = run("workflow", "resume", run_id)
    assert again.exit_code == 1 and "workflow failed" in again.stderr
    resumed = run("workflow", "resume", run_id, "--json")
    assert resumed.exit_code == 1
    result = json.loads(resumed.stdout)
    assert result["metadata"]["replayed_steps"] == 1 and result["steps_ran"] == ["calc"]
    assert "session_id: - (not run in a session)" in text.stdout and "None" not in text.stdout
    cancelled = data(run("workflow", "cancel", run_id, "--json"))
    assert cancelled == {"run_id": run_id, "status": "cancelled", "steps_ran": ["read", "calc"],
                         "steps_completed": ["read"], "steps_failed": ["calc"]}
    refused = run("workflow", "cancel", run_id)
    assert refused.exit_code != 0 and "cancelled" in refused.stderr
    missing = run("workflow", "show", "nope")
    assert missing.exit_code != 0 and "no workflow run 'nope'" in missing.stderr


def test_a_run_a_hook_cancelled_is_final(run: Run, tmp_path: Path) -> None:
    script = tmp_path / "flow.lua"
    script.write_text("""
    local flow = Workflow.sequential({name = "two", steps = {
        {name = "a", tool = "calculator", input = {input = "2 + 2"}},
        {name = "b", tool = "calculator", input = {input = "{{step:a:output.result}} * 10"}}}})
    Hook.register("workflow:before_step", function(ctx)
        if ctx.data.step == "b" then return {action = "cancel", reason = "later"} end
    end)
    print(flow:execute().run_id)
    """)
    run_id = run("run", str(script)).stdout.strip()
    assert data(run("workflow", "show", run_id, "--json"))["status"] == "cancelled"
    # A cancelled run is final (a failed or interrupted one is not).
    refused = run("workflow", "resume", run_id)
    assert refused.exit_code != 0 and "only a running (interrupted) or failed" in refused.stderr


def test_resume_of_a_run_with_lua_code_says_what_to_do(run: Run, tmp_path: Path) -> None:
    script = tmp_path / "code.lua"
    script.write_text("""
    local flow = Workflow.sequential({name = "code", steps = {
        {name = "a", type = "function", fn = function() error("down") end}}})
    print(flow:execute().run_id)
    """)
    run_id = run("run", str(script)).stdout.strip()
    refused = run("workflow", "resume", run_id)
    assert refused.exit_code != 0 and "Workflow.resume(id)" in refused.stderr


def test_cancel_says_which_steps_completed_and_which_failed(run: Run, tmp_path: Path) -> None:
    script = tmp_path / "calc.lua"
    script.write_text(SCRIPT)
    run_id = run("run", str(script), "--", "break").stdout.strip()
    said = run("workflow", "cancel", run_id)
    assert said.exit_code == 0, said.output
    assert said.stdout.strip() == (f"cancelled {run_id}; steps that had completed: read; "
                                   "failed: calc")
