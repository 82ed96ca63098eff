"""The four kinds of workflow, with real tools, a scripted-provider agent, functions and nested
workflows, on every backend (the run record is in state)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from llmspell.runtime import Runtime


def test_sequential_runs_tools_an_agent_and_a_function_with_references(rt: Runtime) -> None:
    rt.agents.create("writer", "scripted/demo", replies=["a poem about 42"])
    seen: list[Any] = []

    def shout(input: Any, ctx: dict[str, Any]) -> str:
        seen.append((input, ctx["step"], ctx["outputs"]["calc"]))
        return str(input).upper()

    flow = rt.workflows.sequential({
        "name": "pipeline", "description": "demo", "error_strategy": "fail_fast",
        "steps": [
            {"name": "calc", "type": "tool", "tool": "calculator", "input": {"input": "6*7"}},
            {"name": "write", "type": "agent", "agent": "writer",
             "input": "Write about {{step:calc:output.result}}"},
            {"name": "shout", "type": "function", "fn": shout,
             "input": "{{step:write:output}}"},
        ]})
    result = flow.execute()
    assert result["success"] and result["status"] == "completed"
    assert result["output"] == "A POEM ABOUT 42"
    assert seen == [("a poem about 42", "shout", {"result": 42, "expression": "6*7"})]
    assert [s["step_name"] for s in result["step_results"]] == ["calc", "write", "shout"]
    assert result["data"]["steps_executed"] == 3 and result["workflow_type"] == "sequential"
    stored = rt.workflows.run(result["run_id"])
    assert stored["status"] == "completed" and stored["output"] == "A POEM ABOUT 42"
    assert [s["path"] for s in stored["steps"]] == ["calc", "write", "shout"]
    assert rt.state.load(f"workflow:{result['run_id']}", "step:calc")["output"]["result"] == 42


def test_parallel_runs_branches_at_most_max_concurrency_at_once(mem: Runtime) -> None:
    running, peak = [0], [0]
    lock = threading.Lock()

    def wait(input: Any, ctx: dict[str, Any]) -> str:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.03)
        with lock:
            running[0] -= 1
        return ctx["step"]

    flow = mem.workflows.parallel({"name": "fan", "max_concurrency": 3, "steps": [
        {"name": f"s{i}", "fn": wait} for i in range(7)]})
    result = flow.execute()
    assert result["success"] and peak[0] == 3
    assert result["output"] == {f"s{i}": f"s{i}" for i in range(7)}


def test_parallel_branches_of_several_steps_and_a_nested_workflow(mem: Runtime) -> None:
    inner = mem.workflows.sequential({"name": "inner", "steps": [
        {"name": "hash", "tool": "hash_calculator",
         "input": {"operation": "hash", "algorithm": "sha256", "input": "{{input:text}}"}}]})
    flow = mem.workflows.parallel({"name": "two", "branches": [
        {"name": "left", "steps": [
            {"name": "a", "fn": lambda i, c: 2},
            {"name": "b", "fn": lambda i, c: i * 10, "input": "{{step:a:output}}"}]},
        {"name": "right", "steps": [{"name": "nest", "type": "workflow", "workflow": inner}]},
    ]})
    result = flow.execute({"text": "abc"})
    assert result["success"], result["error"]
    assert result["output"]["left"] == 20
    paths = {s["path"] for s in result["step_results"]}
    assert {"a", "b", "nest", "nest/hash"} <= paths


def test_conditional_takes_the_first_branch_whose_condition_holds(mem: Runtime) -> None:
    def make(mode: Any) -> Any:
        return mem.workflows.conditional({"name": "route", "shared": {"mode": mode}, "branches": [
            {"name": "by_function", "condition": lambda view: view["shared"]["mode"] == "fn",
             "steps": [{"name": "f", "fn": lambda i, c: "function"}]},
            {"name": "declared", "condition": {"type": "and", "conditions": [
                {"type": "shared_data_exists", "key": "mode"},
                {"type": "not", "condition": {"type": "shared_data_equals", "key": "mode",
                                              "expected": "other"}}]},
             "steps": [{"name": "d", "tool": "calculator", "input": {"input": "1+1"}}]},
        ], "default": [{"name": "z", "fn": lambda i, c: "default"}]})

    assert make("fn").execute()["output"] == "function"
    assert make("x").execute()["output"] == {"result": 2, "expression": "1+1"}
    assert make("other").execute()["output"] == "default"


def test_conditions_on_steps_inside_a_nested_conditional(mem: Runtime) -> None:
    check = mem.workflows.conditional({"name": "check", "branches": [
        {"condition": {"type": "step_failed", "step": "risky"},
         "steps": [{"name": "repair", "fn": lambda i, c: "repaired"}]},
        {"condition": {"type": "step_output_equals", "step": "risky", "expected": "fine"},
         "steps": [{"name": "ok", "fn": lambda i, c: "ok"}]}]})

    def risky(input: Any, ctx: Any) -> str:
        if input == "fail":
            raise RuntimeError("broke")
        return "fine"

    def outer(mode: str) -> Any:
        return mem.workflows.sequential({"name": "outer", "error_strategy": "continue",
                                         "steps": [{"name": "risky", "fn": risky, "input": mode},
                                                   {"name": "then", "workflow": check}]})

    assert outer("go").execute()["output"] == "ok"
    failed = outer("fail").execute()
    assert failed["output"] == "repaired" and failed["data"]["failed_steps"] == 1


def test_loops_over_a_range_a_collection_and_while_a_condition_holds(mem: Runtime) -> None:
    squares = mem.workflows.loop({"name": "sq", "range": {"start": 1, "end": 4}, "body": [
        {"name": "square", "fn": lambda i, c: c["loop"]["value"] ** 2}]})
    assert squares.execute()["output"] == [1, 4, 9, 16]
    words = mem.workflows.loop({"name": "words", "collection": ["a", "bb", "ccc"], "body": [
        {"name": "len", "tool": "text_manipulator",
         "input": {"operation": "uppercase", "input": "{{loop:value}}"}}]})
    assert [o["result"] for o in words.execute()["output"]] == ["A", "BB", "CCC"]
    counter = mem.workflows.loop({
        "name": "until", "while": lambda view: view["loop"]["index"] <= 10,
        "max_iterations": 5, "break_if": {"type": "step_output_equals", "step": "n",
                                          "expected": 3},
        "body": [{"name": "n", "fn": lambda i, c: c["loop"]["index"]}]})
    result = counter.execute()
    assert result["output"] == [1, 2, 3]  # broke after the third
    capped = mem.workflows.loop({"name": "capped", "while": "always", "max_iterations": 4,
                                 "body": [{"name": "n", "fn": lambda i, c: 1}]})
    assert capped.execute()["output"] == [1, 1, 1, 1]


def test_rs_llmspell_iterator_form_and_output_key_shared_data(mem: Runtime) -> None:
    flow = mem.workflows.loop({"name": "it", "iterator": {"range": {"start": 0, "end": 2}},
                               "body": [{"name": "v", "fn": lambda i, c: c["loop"]["index"],
                                         "output_key": "last"}]})
    result = flow.execute()
    assert result["output"] == [1, 2, 3] and result["shared"] == {"last": 3}
    assert flow.get_state("last") == 3
    stored = mem.workflows.run(result["run_id"])
    assert stored["shared"] == {"last": 3}


def test_the_uuid_step_of_the_issue_feeds_a_later_step(mem: Runtime) -> None:
    flow = mem.workflows.sequential({"name": "ids", "steps": [
        {"name": "generate_id", "type": "tool", "tool": "uuid_generator", "input": {}},
        {"name": "use", "fn": lambda i, c: i, "input": "id={{step:generate_id:output.uuid}}"}]})
    result = flow.execute()
    assert result["success"] and result["output"].startswith("id=")
    assert len(result["output"]) == len("id=") + 36


def test_events_are_published_and_steps_journaled_in_the_current_session(mem: Runtime) -> None:
    seen: list[str] = []
    mem.events.subscribe("workflow.**", lambda event: seen.append(event.type))
    session = mem.sessions.create("wf")
    flow = mem.workflows.sequential({"name": "j", "steps": [
        {"name": "one", "tool": "calculator", "input": {"input": "2+2"}}]})
    with mem.sessions.current(session.id):
        result = flow.execute()
    assert seen == ["workflow.started", "workflow.step.completed", "workflow.completed"]
    kinds = [e.kind for e in mem.sessions.journal.read(session.id)]
    assert "workflow.step" in kinds and kinds.count("workflow.run") == 2
    step = next(e for e in mem.sessions.journal.read(session.id) if e.kind == "workflow.step")
    assert step.data["run_id"] == result["run_id"] and step.data["status"] == "completed"
    assert mem.workflows.run(result["run_id"])["session_id"] == session.id


@pytest.mark.parametrize("kind", ["sequential", "parallel", "conditional", "loop"])
def test_every_kind_is_listed_and_removable(mem: Runtime, kind: str) -> None:
    spec: dict[str, Any] = {"name": f"k_{kind}"}
    step = {"name": "s", "fn": lambda i, c: 1}
    if kind == "conditional":
        spec["branches"] = [{"condition": "always", "steps": [step]}]
    elif kind == "loop":
        spec.update(range={"start": 1, "end": 1}, body=[step])
    else:
        spec["steps"] = [step]
    flow = mem.workflows.create(kind, spec)
    assert flow.execute()["success"]
    assert [w["name"] for w in mem.workflows.list()] == [f"k_{kind}"]
    assert mem.workflows.get(flow.id) is flow and mem.workflows.get(f"k_{kind}") is flow
    assert mem.workflows.remove(flow.id) and mem.workflows.get(flow.id) is None
    assert flow.metrics()["execution"]["total_executions"] == 1
