"""Error strategies, retries, timeouts, hook outcomes, cancel, resume and bad definitions."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from llmspell.errors import ValidationError, WorkflowError
from llmspell.hooks import HookResult
from llmspell.runtime import Runtime
from llmspell.workflows.home import route


class Flaky:
    """A step function failing its first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, input: Any, ctx: Any) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(f"failure {self.calls}")
        return "ok"


def steps(middle: Any, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": "first", "fn": lambda i, c: 1},
            {"name": "middle", "fn": middle, **extra},
            {"name": "last", "fn": lambda i, c: 3}]


def test_fail_fast_stops_at_the_failing_step(mem: Runtime) -> None:
    result = mem.workflows.sequential({"name": "ff", "steps": steps(Flaky(9))}).execute()
    assert not result["success"] and result["status"] == "failed"
    assert result["error"]["location"] == "middle"
    assert "failure 1" in result["error"]["message"]
    assert result["steps_ran"] == ["first", "middle"]  # last never ran
    assert mem.workflows.run(result["run_id"])["status"] == "failed"


def test_continue_records_the_failure_and_goes_on(mem: Runtime) -> None:
    result = mem.workflows.sequential({"name": "c", "error_strategy": "continue",
                                       "steps": steps(Flaky(9))}).execute()
    assert result["success"] and result["output"] == 3
    middle = result["step_results"][1]
    assert (middle["status"], middle["success"]) == ("failed", False)
    assert result["data"]["failed_steps"] == 1


def test_retry_strategy_tries_again_with_backoff(mem: Runtime) -> None:
    flaky = Flaky(2)
    flow = mem.workflows.sequential({"name": "r", "error_strategy": {
        "type": "retry", "max_attempts": 3, "backoff_ms": 1}, "steps": steps(flaky)})
    result = flow.execute()
    assert result["success"] and flaky.calls == 3
    assert result["step_results"][1]["attempts"] == 3
    worse = Flaky(5)
    failed = mem.workflows.sequential({"name": "r2", "error_strategy": "retry",
                                       "backoff_ms": 1, "steps": steps(worse)}).execute()
    assert not failed["success"] and worse.calls == 3  # "retry": three attempts in all


def test_a_step_s_own_retries_apply_under_any_strategy(mem: Runtime) -> None:
    flaky = Flaky(1)
    result = mem.workflows.sequential({"name": "own", "steps": steps(
        flaky, retries=1, backoff_ms=0)}).execute()
    assert result["success"] and flaky.calls == 2


def test_a_step_over_its_timeout_fails(mem: Runtime) -> None:
    finished: list[bool] = []

    def slow(input: Any, ctx: Any) -> str:
        time.sleep(0.5)
        finished.append(True)
        return "late"

    result = mem.workflows.sequential({"name": "t", "steps": steps(slow, timeout_ms=50)}
                                      ).execute()
    assert not result["success"] and "timeout of 0.05 s" in result["error"]["message"]
    assert finished == []  # the call was abandoned, not waited for


def test_hooks_change_input_skip_steps_and_change_the_result(mem: Runtime) -> None:
    seen: list[Any] = []

    def before(ctx: Any) -> Any:
        if ctx.data["step"] == "first":
            return HookResult.skip(result="skipped!")
        return HookResult.modified({**ctx.data, "input": "changed"})

    mem.hooks.register("workflow:before_step", before)
    mem.hooks.register("workflow:after_step", lambda ctx: HookResult.modified(
        f"{ctx.data}+after"))
    mem.hooks.register("workflow:complete", lambda ctx: seen.append(ctx.data["status"]))
    flow = mem.workflows.sequential({"name": "h", "steps": [
        {"name": "first", "fn": lambda i, c: "never"},
        {"name": "echo", "fn": lambda i, c: i, "input": "original"}]})
    result = flow.execute()
    assert result["step_results"][0]["status"] == "skipped"
    assert result["step_results"][0]["output"] == "skipped!"
    assert result["output"] == "changed+after" and seen == ["completed"]


def test_a_hook_cancelling_a_step_cancels_the_workflow_and_says_what_ran(mem: Runtime) -> None:
    mem.hooks.register("BeforeWorkflowStep", lambda ctx: HookResult.cancel("stop here")
                       if ctx.data["step"] == "last" else None)
    result = mem.workflows.sequential({"name": "x", "steps": steps(lambda i, c: 2)}).execute()
    assert result["status"] == "cancelled" and not result["success"]
    assert result["steps_ran"] == ["first", "middle"]
    assert "stop here" in result["error"]["message"] and result["error"]["location"] == "last"
    with pytest.raises(WorkflowError, match="cancelled"):
        mem.workflows.resume(result["run_id"])


def test_a_workflow_error_hook_retry_resumes_from_the_record(mem: Runtime) -> None:
    flaky = Flaky(1)
    first = Flaky(0)
    mem.hooks.register("workflow:error", lambda ctx: HookResult.retry(delay=0, attempts=2))
    result = mem.workflows.sequential({"name": "again", "steps": [
        {"name": "first", "fn": first}, {"name": "second", "fn": flaky}]}).execute()
    assert result["success"] and flaky.calls == 2 and first.calls == 1


def test_resume_serves_completed_steps_and_reruns_the_failed_one(mem: Runtime) -> None:
    calls: list[str] = []
    broken = [True]

    def track(name: str) -> Any:
        def step(input: Any, ctx: Any) -> str:
            calls.append(name)
            if name == "middle" and broken[0]:
                raise RuntimeError("down")
            return f"{name}:{input}"
        return step

    spec = {"name": "res", "steps": [
        {"name": "first", "fn": track("first"), "input": "x"},
        {"name": "middle", "fn": track("middle"), "input": "{{step:first:output}}"},
        {"name": "last", "fn": track("last"), "input": "{{step:middle:output}}"}]}
    failed = mem.workflows.sequential(spec).execute()
    assert failed["status"] == "failed" and calls == ["first", "middle"]
    broken[0] = False
    resumed = mem.workflows.resume(failed["run_id"])
    assert resumed["success"] and resumed["output"] == "last:middle:first:x"
    assert calls == ["first", "middle", "middle", "last"]  # first was served
    assert resumed["metadata"]["replayed_steps"] == 1 and resumed["steps_ran"] == [
        "middle", "last"]
    with pytest.raises(WorkflowError, match="completed"):
        mem.workflows.resume(failed["run_id"])


def test_resume_needs_the_same_definition_or_a_declarative_one(mem: Runtime) -> None:
    flow = mem.workflows.sequential({"name": "code", "steps": steps(Flaky(9))})
    run_id = flow.execute()["run_id"]
    mem.workflows.sequential({"name": "code", "steps": steps(Flaky(0), retries=2)})
    with pytest.raises(WorkflowError, match="defined differently"):
        mem.workflows.resume(run_id)
    mem.workflows.remove("code")
    with pytest.raises(WorkflowError, match=r"Workflow\.resume"):
        mem.workflows.resume(run_id)  # its code is gone with its definition
    declared = mem.workflows.sequential({"name": "calc", "steps": [
        {"name": "bad", "tool": "calculator", "input": {"input": "{{shared:expr}}"}}]})
    declared.set_state("expr", "1 +")
    failed = declared.execute()
    assert failed["status"] == "failed"
    mem.workflows.remove("calc")
    run = mem.workflows.run(failed["run_id"])
    assert run["shared"] == {"expr": "1 +"}
    with pytest.raises(WorkflowError, match="failed after"):
        result = mem.workflows.resume(failed["run_id"])  # rebuilt from the record; fails again
        raise WorkflowError(result["error"]["message"])


def test_cancel_from_outside_stops_before_the_next_step(mem: Runtime) -> None:
    holder: dict[str, Any] = {}

    def cancel_me(input: Any, ctx: Any) -> str:
        holder["cancelled"] = mem.workflows.cancel(ctx["run_id"])
        return "done"

    result = mem.workflows.sequential({"name": "cx", "steps": steps(cancel_me)}).execute()
    assert result["status"] == "cancelled" and result["steps_ran"] == ["first", "middle"]
    assert holder["cancelled"]["steps_ran"] == ["first"]
    with pytest.raises(WorkflowError, match="only a running or failed"):
        mem.workflows.cancel(result["run_id"])
    with pytest.raises(WorkflowError, match="no workflow run"):
        mem.workflows.cancel("nope")


@pytest.mark.parametrize(("kind", "spec", "message"), [
    ("sequential", {"steps": []}, "argument 'config': must be a non-empty string"),
    ("sequential", {"name": "a", "steps": []}, r"at \$\.steps: must be a non-empty list"),
    ("sequential", {"name": "a", "steps": [{"name": "s", "type": "tol", "tool": "x"}]},
     r"at \$\.steps\[1\]\.type: must be one of tool"),
    ("sequential", {"name": "a", "steps": [{"name": "s", "tool": "calculator", "colour": 1}]},
     r"unknown field 'colour'"),
    ("sequential", {"name": "a", "error_strategy": "explode", "steps": [
        {"name": "s", "tool": "calculator"}]}, r"\$\.error_strategy: must be one of fail_fast"),
    ("sequential", {"name": "a", "steps": [{"name": "s", "input": 3}]},
     r"\$\.steps\[1\]\.type: a step needs a type"),
    ("sequential", {"name": "a", "steps": [{"name": "s", "type": "function", "fn": 3}]},
     r"\$\.steps\[1\]\.fn: a function step needs fn"),
    ("sequential", {"name": "a", "steps": [{"name": "s", "tool": "calculator"},
                                           {"name": "s", "tool": "calculator"}]},
     "'s' is used twice"),
    ("parallel", {"name": "a", "max_concurrency": 0, "steps": [
        {"name": "s", "tool": "calculator"}]}, r"\$\.max_concurrency: must be an integer >= 1"),
    ("conditional", {"name": "a", "branches": [{"steps": [{"name": "s", "tool": "x"}]}]},
     r"\$\.branches\[1\]: a branch needs a condition"),
    ("conditional", {"name": "a", "branches": [{"condition": {"type": "equal"}, "steps": [
        {"name": "s", "tool": "x"}]}]}, r"\$\.branches\[1\]\.condition\.type: the condition"),
    ("loop", {"name": "a", "body": [{"name": "s", "tool": "x"}]},
     "exactly one of range, collection or while"),
    ("loop", {"name": "a", "range": {"start": 1, "end": 5000}, "body": [
        {"name": "s", "tool": "x"}]}, "more than max_iterations"),
    ("sequential", {"name": "a", "steps": [{"name": "s", "workflow": "ghost"}]},
     r"\$\.steps\[1\]\.workflow: a workflow step names a defined workflow"),
    ("nonsense", {"name": "a"}, "argument 'kind'"),
])
def test_bad_definitions_name_the_path_and_the_rule(mem: Runtime, kind: str,
                                                    spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        mem.workflows.create(kind, spec)
    assert mem.workflows.list() == []


def test_a_reference_to_a_step_that_did_not_run_fails_that_step(mem: Runtime) -> None:
    flow = mem.workflows.sequential({"name": "ref", "steps": [
        {"name": "use", "fn": lambda i, c: i, "input": "{{step:later:output}}"},
        {"name": "later", "fn": lambda i, c: 1}]})
    assert flow.validate()["valid"]
    result = flow.execute()
    assert "step 'later' has no output yet" in result["error"]["message"]
    ghost = mem.workflows.sequential({"name": "ghost", "steps": [
        {"name": "use", "tool": "nope", "input": "{{step:nothing:output}}"}]})
    report = ghost.validate()
    assert not report["valid"] and len(report["errors"]) == 2


def test_a_step_output_that_cannot_be_stored_fails_the_step(mem: Runtime) -> None:
    result = mem.workflows.sequential({"name": "obj", "steps": [
        {"name": "bad", "fn": lambda i, c: object()}]}).execute()
    assert result["status"] == "failed" and "InvalidValue" in result["error"]["error_type"]


def test_runs_filter_and_bad_arguments(mem: Runtime) -> None:
    mem.workflows.sequential({"name": "one", "steps": steps(lambda i, c: 2)}).execute()
    mem.workflows.sequential({"name": "two", "steps": steps(Flaky(9))}).execute()
    assert [r["workflow"] for r in mem.workflows.runs(status="failed")] == ["two"]
    assert len(mem.workflows.runs(workflow="one")) == 1
    assert len(mem.workflows.runs(limit=1)) == 1
    with pytest.raises(ValidationError, match="argument 'status'"):
        mem.workflows.runs(status="sleeping")
    with pytest.raises(ValidationError, match="argument 'run_id'"):
        mem.workflows.resume("")
    with pytest.raises(ValidationError, match="argument 'run_id'"):
        mem.workflows.sequential({"name": "x", "steps": steps(lambda i, c: 2)}).execute(
            run_id=mem.workflows.runs()[0]["run_id"])


def test_a_workflow_past_its_timeout_fails_before_its_next_step(mem: Runtime) -> None:
    def slow(input: Any, ctx: Any) -> int:
        time.sleep(0.06)
        return 2

    result = mem.workflows.sequential({"name": "late", "timeout_ms": 50,
                                       "steps": steps(slow)}).execute()
    assert result["status"] == "failed" and result["error"]["error_type"] == "WorkflowTimeout"
    assert result["steps_ran"] == ["first", "middle"] and result["error"]["location"] == "last"


def test_a_call_queued_for_the_script_thread_is_dropped_when_its_step_times_out(
        mem: Runtime) -> None:
    # Lua code runs on the run's home thread (workflows.home.route). "busy" holds that thread;
    # "late" sends its call there while it is held, and times out waiting: the queued call
    # must be dropped, not run once the thread is free again later in the run.
    started = threading.Event()
    ran: list[str] = []

    def hold() -> str:
        started.set()
        time.sleep(0.4)
        ran.append("busy")
        return "busy"

    def busy(input: Any, ctx: Any) -> str:
        return route(hold)

    def late(input: Any, ctx: Any) -> str:
        started.wait(5)
        return route(lambda: ran.append("late") or "late")

    result = mem.workflows.parallel({"name": "queued", "steps": [
        {"name": "busy", "fn": busy}, {"name": "late", "fn": late, "timeout_ms": 50}]}).execute()
    assert not result["success"]
    message = result["error"]["message"]
    assert "'late'" in message and "was cancelled (it will not run)" in message
    assert ran == ["busy"]


@pytest.mark.parametrize("run_id", ["a/b", "x" * 300, "", 7])
def test_a_bad_run_id_is_named_as_run_id(mem: Runtime, run_id: Any) -> None:
    flow = mem.workflows.sequential({"name": "ids", "steps": steps(lambda i, c: 2)})
    for call in (lambda: flow.execute(run_id=run_id), lambda: mem.workflows.run(run_id),
                 lambda: mem.workflows.resume(run_id), lambda: mem.workflows.cancel(run_id)):
        with pytest.raises(ValidationError, match="argument 'run_id'"):
            call()
    assert mem.workflows.runs() == []


def test_runs_checks_the_workflow_filter(mem: Runtime) -> None:
    with pytest.raises(ValidationError, match="argument 'workflow'"):
        mem.workflows.runs(workflow=3)


def test_an_input_state_cannot_store_is_refused_naming_input(mem: Runtime) -> None:
    flow = mem.workflows.sequential({"name": "in", "steps": steps(lambda i, c: 2)})
    with pytest.raises(ValidationError, match=r"argument 'input' at \$\.when"):
        flow.execute({"when": object()})
    assert mem.workflows.runs() == []


def test_workflow_checkpoint_fires_after_each_step_is_committed(mem: Runtime) -> None:
    seen: list[tuple[str, str, bool]] = []

    def note(ctx: Any) -> None:
        run = mem.workflows.run(ctx.data["run_id"])  # the step is stored when it fires
        seen.append((ctx.data["path"], ctx.data["status"],
                     any(s["path"] == ctx.data["path"] for s in run["steps"])))

    handle = mem.hooks.register("workflow:checkpoint", note)
    assert handle.notice is None  # a fired point: no "not fired" notice
    result = mem.workflows.sequential({"name": "cp", "error_strategy": "continue",
                                       "steps": steps(Flaky(9))}).execute()
    assert result["success"]
    assert seen == [("first", "completed", True), ("middle", "failed", True),
                    ("last", "completed", True)]
    mem.hooks.register("workflow:checkpoint", lambda ctx: HookResult.cancel("enough"))
    stopped = mem.workflows.sequential({"name": "cp2", "steps": steps(Flaky(0))}).execute()
    assert stopped["status"] == "cancelled" and stopped["steps_ran"] == ["first"]


def test_a_step_type_of_the_wrong_kind_is_named(mem: Runtime) -> None:
    for wrong in ({"parallel": 1}, ["tool"], 5):
        with pytest.raises(ValidationError, match=r"at \$\.steps\[1\]\.type: must be one of"):
            mem.workflows.sequential({"name": "w", "steps": [
                {"name": "s", "type": wrong, "tool": "calculator"}]})
