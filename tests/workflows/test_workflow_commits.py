"""A durable run commits with the next thing it must commit anyway: the start with the first
step's result, the last step's result with the end (issue 18: fewer commits per step). Each
step's result is still in the store before the next step starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from batch_log import record_batches
from llmspell.runtime import Runtime


def test_two_steps_commit_twice_and_each_result_is_stored_before_the_next_step(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    with Runtime.memory(storage__url=url) as rt, Runtime.memory(storage__url=url) as other:
        seen_by_other: list[Any] = []

        def one(input: Any, ctx: Any) -> int:
            seen_by_other.append(other.state.load(f"workflow:{ctx['run_id']}", "run"))
            return int(input) + 1

        def two(input: Any, ctx: Any) -> int:
            scope = f"workflow:{ctx['run_id']}"
            seen_by_other.append((other.state.load(scope, "run")["status"],
                                  other.state.load(scope, "step:one")["output"]))
            return int(input) + 1

        flow = rt.workflows.sequential({"name": "two", "steps": [
            {"name": "one", "fn": one, "input": "{{input:x}}"},
            {"name": "two", "fn": two, "input": "{{step:one:output}}"}]})
        flow.execute({"x": 0})  # the definition is stored once, by the first run
        seen_by_other.clear()
        batches = record_batches(rt.store)
        result = flow.execute({"x": 1})
        assert result["status"] == "completed" and result["output"] == 3
        assert len(batches) == 2
        # Before its first commit the run is its own process's; step 1's result (with the
        # start) is stored before step 2 runs.
        assert seen_by_other == [None, ("running", 2)]
        stored = other.workflows.run(result["run_id"])
        assert stored["status"] == "completed" and stored["output"] == 3
        assert [s["path"] for s in stored["steps"]] == ["one", "two"]


def test_a_run_is_visible_to_its_own_process_during_its_first_step(mem: Runtime) -> None:
    seen: list[Any] = []

    def look(input: Any, ctx: Any) -> str:
        seen.append(mem.workflows.run(ctx["run_id"])["status"])
        return "ok"

    mem.workflows.sequential({"name": "own", "steps": [{"name": "s", "fn": look}]}).execute()
    assert seen == ["running"]


def test_a_definition_is_stored_in_every_store_that_runs_it() -> None:
    # The same definition run in two stores of one process: each store holds it (the second
    # run used to find it "already stored" in a process-wide memory and leave it out).
    from llmspell import Runtime

    for _ in range(2):
        with Runtime.memory() as rt:
            wf = rt.workflows.sequential({"name": "same", "steps": [
                {"name": "one", "type": "tool", "tool": "calculator",
                 "input": {"input": "1 + 1"}}]})
            result = wf.execute()
            run = rt.workflows.run(result["run_id"])
            assert run["definition"] is not None
