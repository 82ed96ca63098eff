"""Running one workflow run: the kinds, the steps, hooks, events, journal and the record.

:class:`Runner` executes a :class:`~llmspell.workflows.spec.Definition` against a
:class:`~llmspell.workflows.record.RunRecord`. Before a step runs, the record is asked: a step
whose result is recorded (completed, skipped, or failed under ``continue``) is not run again,
its recorded output is served (this is how resume works); the same holds for the branch a
conditional took and each loop decision. Every finished step is committed, with the shared
data and the run's progress, before the next one starts.

Around the run: ``workflow:start`` (its input; modified / skip / retry), ``workflow:complete``
(the result; modified / retry) and ``workflow:error`` (retry runs the body again: the steps
that completed are served from the record), through :meth:`HookRegistry.run`. Around each
step: ``workflow:before_step`` (``{workflow, run_id, step, path, type, input}``: modified
replaces the input, skip skips the step, cancel cancels the workflow) and
``workflow:after_step`` (the output: modified replaces it, retry runs the step again).
Events ``workflow.started|completed|failed|cancelled`` and ``workflow.step.completed|
failed|skipped`` (source ``workflows``); journal entries ``workflow.run`` and
``workflow.step`` in the current session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from llmspell.codec import to_jsonable
from llmspell.errors import HookCancelled, LLMSpellError, ValidationError, WorkflowError
from llmspell.ids import correlation_id
from llmspell.providers.retry import backoff_delay
from llmspell.workflows.conditions import Condition
from llmspell.workflows.home import Home, Ticket, home
from llmspell.workflows.record import RunRecord
from llmspell.workflows.spec import Definition, Step
from llmspell.workflows.template import render

SOURCE = "workflows"
JOURNAL_STEP = "workflow.step"
JOURNAL_RUN = "workflow.run"
MAX_BACKOFF = 30.0


@dataclass
class Services:
    """What a run calls: injected by the WorkflowService (no import of the runtime)."""

    state: Any
    invoke_tool: Callable[[str, Any], Any]
    find_agent: Callable[[str], Any]
    hooks: Any = None
    events: Any = None
    journal: Callable[[str | None, str, dict[str, Any], str], None] | None = None
    current_session: Callable[[], str | None] = lambda: None
    sleep: Callable[[float], Any] = time.sleep
    #: opens the job queue a distributed parallel enqueues its branches into (None: the
    #: store has none); the queue name and attempts its branch jobs get
    jobs: Callable[[], Any] | None = None
    branch_queue: str = "default"
    branch_attempts: int = 3


class StepFailed(WorkflowError):
    """A step failed under fail_fast or retry: the run stops (``location`` names the step)."""

    def __init__(self, message: str, location: str, error_type: str) -> None:
        super().__init__(message)
        self.location = location
        self.error_type = error_type


class Cancelled(WorkflowError):
    """The run was cancelled: by a hook (``reason``) or from outside (``llmspell workflow
    cancel``)."""

    def __init__(self, reason: str, location: str | None) -> None:
        super().__init__(f"the workflow was cancelled: {reason}")
        self.reason = reason
        self.location = location


class Finished(WorkflowError):
    """Carries the result of a run that did not complete out of the hooks' ``run``."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(result["error"]["message"] if result.get("error") else "failed")
        self.result = result


@dataclass
class _Progress:
    outputs: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)


class Runner:
    """One run of ``definition`` (see the module docstring)."""

    def __init__(self, services: Services, definition: Definition, record: RunRecord, *,
                 workflow_id: str, listeners: Any = None) -> None:
        self.services = services
        self.definition = definition
        self.record = record
        self.workflow_id = workflow_id
        self.listeners = listeners
        self.cid = correlation_id()
        self.sid = services.current_session()
        self.lock = threading.Lock()
        self.progress = _Progress()
        self.input: Any = None
        self.home: Home | None = None
        self.stop = threading.Event()  # a parallel branch failed under fail_fast
        self.deadlines: dict[int, tuple[float, float]] = {}  # a (nested) workflow's timeout
        self.started = time.time()
        self.on_worker = False  # running one branch of a distributed parallel (a worker)

    # -- the run ----------------------------------------------------------------------

    def run(self, input: Any) -> dict[str, Any]:
        """Run (or resume) to the end; returns the result table (see docs/workflows.md)."""
        hooks = self.services.hooks
        self._publish("workflow.started", {})
        self._journal(JOURNAL_RUN, {"status": "running", "input": input})
        with home() as here:
            self.home = here
            try:
                if hooks is None:
                    result = self._body(input)
                else:
                    ran: list[bool] = []

                    def body(data: Any) -> dict[str, Any]:
                        ran.append(True)
                        return self._body(data)

                    result = hooks.run("workflow:start", input, body, after="workflow:complete",
                                       error="workflow:error", component=self.definition.name,
                                       correlation_id=self.cid, session_id=self.sid,
                                       metadata=self._meta())
                    if not ran:
                        result = self._finish("cancelled", None, {
                            "error_type": "Skipped", "message": "a workflow:start hook "
                            "skipped the workflow", "location": None})
            except Finished as done:
                result = done.result
            except HookCancelled as exc:  # at workflow:start or workflow:complete
                result = self._finish("cancelled", None, _error(exc, None))
        return result

    def _body(self, input: Any) -> dict[str, Any]:
        self.input = input
        if self.record.meta.get("status") != "running":
            self.record.reopen()  # a workflow:error hook asked for another attempt
        self.progress = _Progress()
        self.stop.clear()
        try:
            output = self._kind(self.definition, "", None)
        except Cancelled as exc:
            raise Finished(self._finish("cancelled", None, {
                "error_type": "Cancelled", "message": str(exc), "location": exc.location})
                ) from exc
        except StepFailed as exc:
            raise Finished(self._finish("failed", None, {
                "error_type": exc.error_type, "message": str(exc), "location": exc.location})
                ) from exc
        return self._finish("completed", output, None)

    def _finish(self, status: str, output: Any, error: dict[str, Any] | None) -> dict[str, Any]:
        with self.lock:
            shared = dict(self.record.shared)
        stored = self.record.finish(status, output, error, shared)
        if stored != status:  # cancelled from outside while the last step ran
            status, output, error = stored, None, self.record.meta.get("error")
        result = self._result(status, output, error)
        kind = {"completed": "workflow.completed", "failed": "workflow.failed"}.get(
            status, "workflow.cancelled")
        self._publish(kind, {"status": status, "error": error and error["message"]})
        self._journal(JOURNAL_RUN, {"status": status, "output": output, "error": error})
        return result

    # -- kinds ------------------------------------------------------------------------

    def _kind(self, definition: Definition, prefix: str, loop: dict[str, Any] | None) -> Any:
        if definition.timeout is not None:
            self.deadlines[id(definition)] = (time.monotonic() + definition.timeout,
                                              definition.timeout)
        kind = definition.kind
        if kind == "sequential":
            return self._sequence(definition, definition.steps, prefix, loop)
        if kind == "parallel":
            return self._parallel(definition, prefix, loop)
        if kind == "conditional":
            return self._conditional(definition, prefix, loop)
        return self._loop(definition, prefix)

    def _sequence(self, definition: Definition, steps: list[Step], prefix: str,
                  loop: dict[str, Any] | None) -> Any:
        output = None
        for step in steps:
            if self.stop.is_set():
                raise _NotStarted()
            output = self._step(definition, step, prefix + step.name, loop)
        return output

    def branch(self, definition: Definition, branch: Any, prefix: str,
               loop: dict[str, Any] | None) -> Any:
        """Run one branch of the parallel ``definition`` (a worker's branch job)."""
        return self._sequence(definition, branch.steps, prefix, loop)

    def _parallel(self, definition: Definition, prefix: str, loop: dict[str, Any] | None) -> Any:
        if definition.distributed and not self.on_worker:
            from llmspell.workflows.distributed import run_parallel

            return run_parallel(self, definition, prefix, loop)
        assert self.home is not None
        branches = definition.branches
        with ThreadPoolExecutor(max_workers=definition.max_concurrency,
                                thread_name_prefix=f"workflow:{definition.name}") as pool:
            futures = [self.home.submit(pool, self._sequence, definition, b.steps, prefix,
                                        loop) for b in branches]
            pending = list(futures)
            while pending:
                self.home.wait(pending, first=True)
                for future in [f for f in pending if f.done()]:
                    pending.remove(future)
                    error = future.exception()
                    if isinstance(error, StepFailed | Cancelled):
                        self.stop.set()  # branches not started yet do not start
        failures = [f.exception() for f in futures
                    if f.exception() is not None and not isinstance(f.exception(), _NotStarted)]
        for error in failures:
            if isinstance(error, Cancelled):
                raise error
        if failures:
            raise failures[0]  # type: ignore[misc]
        return {b.name: f.result() for b, f in zip(branches, futures, strict=True)}

    def _conditional(self, definition: Definition, prefix: str,
                     loop: dict[str, Any] | None) -> Any:
        path = prefix + "?branch"

        def choose() -> Any:
            view = self._view(loop)
            for i, branch in enumerate(definition.branches):
                assert branch.condition is not None
                if branch.condition.evaluate(view):
                    return i
            return "default" if definition.default else None

        chosen = self._decide(path, choose)
        if chosen is None:
            return None
        if chosen == "default":
            return self._sequence(definition, definition.default, prefix, loop)
        return self._sequence(definition, definition.branches[chosen].steps, prefix, loop)

    def _loop(self, definition: Definition, prefix: str) -> Any:
        spec = definition.loop
        assert spec is not None
        outputs = []
        count = len(spec.values) if spec.values is not None else spec.max_iterations
        for index in range(1, count + 1):
            value = spec.values[index - 1] if spec.values is not None else index
            loop = {"index": index, "value": value}
            here = f"{prefix}#{index}"
            if spec.while_ is not None and not self._decide(
                    here + "?while", partial(self._holds, [spec.while_], loop)):
                break
            outputs.append(self._sequence(definition, definition.steps, here + "/", loop))
            if spec.break_if and self._decide(
                    here + "?break", partial(self._holds, spec.break_if, loop)):
                break
        return outputs

    def _holds(self, conditions: list[Condition], loop: dict[str, Any]) -> bool:
        view = self._view(loop)
        return any(c.evaluate(view) for c in conditions)

    def _decide(self, path: str, decide: Callable[[], Any]) -> Any:
        """A decision taken once per run: served from the record when it was taken before."""
        if path in self.record.decisions:
            return self.record.decisions[path]
        value = decide()
        value = bool(value) if isinstance(value, bool) else value
        with self.lock:
            self.record.commit_decision(path, value)
        return value

    # -- steps ------------------------------------------------------------------------

    def _step(self, definition: Definition, step: Step, path: str,
              loop: dict[str, Any] | None) -> Any:
        recorded = self.record.steps.get(path)
        if recorded is not None and recorded.get("status") != "failed":
            self._note(step, path, recorded, replayed=True)
            return recorded.get("output")
        with self.lock:
            self.record.before_step()  # what came before is durable before this step runs
        if self.record.status() == "cancelled":
            raise Cancelled("it was cancelled from outside the run", path)
        deadline = self.deadlines.get(id(definition))
        if deadline is not None and time.monotonic() > deadline[0]:
            raise StepFailed(f"workflow {definition.name!r} ran past its timeout of "
                             f"{deadline[1]} s before step {step.name!r}", path,
                             "WorkflowTimeout")
        started = time.perf_counter()
        attempts = 0
        allowed = 1 + (step.retries if step.retries is not None else definition.max_retries)
        base = step.backoff if step.backoff is not None else definition.backoff
        error: Exception | None = None
        while True:
            attempts += 1
            try:
                status, output, result = self._attempt(definition, step, path, loop)
                error = None
                break
            except (Cancelled, _NotStarted):
                raise
            except HookCancelled as exc:
                if exc.point.startswith("workflow:"):
                    raise Cancelled(exc.reason, path) from exc
                error = exc
            except Exception as exc:
                error = exc
            if attempts >= allowed:
                status, output, result = "failed", None, None
                break
            self.services.sleep(backoff_delay(base, attempts, MAX_BACKOFF))
        record = {"path": path, "name": step.name, "type": step.kind, "status": status,
                  "output": output, "result": result, "attempts": attempts,
                  "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                  "finished": time.time(), "error": None if error is None else str(error),
                  "error_type": None if error is None else type(error).__name__}
        with self.lock:
            if status == "completed" and step.output_key is not None:
                self.record.shared[step.output_key] = output
            shared = dict(self.record.shared)
            self.record.commit_step(path, record, shared)
        self._note(step, path, record, replayed=False)
        self._publish(f"workflow.step.{status}", {"step": step.name, "path": path,
                                                  "attempts": attempts, "error": record["error"]})
        self._journal(JOURNAL_STEP, {"step": step.name, "path": path, "type": step.kind,
                                     "status": status, "output": output,
                                     "error": record["error"], "attempts": attempts,
                                     "duration_ms": record["duration_ms"]})
        self._checkpoint(definition, step, path, record)
        if status == "failed" and definition.error_strategy != "continue":
            raise StepFailed(f"step {step.name!r} failed after {attempts} attempt(s): {error}",
                             path, record["error_type"])
        return output

    def _checkpoint(self, definition: Definition, step: Step, path: str,
                    record: dict[str, Any]) -> None:
        """``workflow:checkpoint``: the step's record is committed (a resume starts after it).
        A hook's cancel cancels the run before its next step."""
        hooks = self.services.hooks
        if hooks is None or not hooks.has("workflow:checkpoint"):
            return
        try:
            hooks.after("workflow:checkpoint", {
                "workflow": definition.name, "run_id": self.record.run_id, "step": step.name,
                "path": path, "status": record["status"], "attempts": record["attempts"]},
                component=definition.name, correlation_id=self.cid, session_id=self.sid,
                metadata={"step": step.name})
        except HookCancelled as exc:
            raise Cancelled(exc.reason, path) from exc

    def _attempt(self, definition: Definition, step: Step, path: str,
                 loop: dict[str, Any] | None) -> tuple[str, Any, Any]:
        """One attempt of a step inside its hook points: (status, output, result)."""
        input_ = render(step.input, self._view(loop), step=step.name)
        ran: list[Any] = []

        def operation(data: Any) -> Any:
            given = data.get("input") if isinstance(data, dict) else data
            output, result = self._call(definition, step, path, given, loop)
            ran.append(result)
            return output

        hooks = self.services.hooks
        if hooks is None:
            output = operation({"input": input_})
        else:
            output = hooks.run("workflow:before_step", {
                "workflow": definition.name, "run_id": self.record.run_id, "step": step.name,
                "path": path, "type": step.kind, "input": input_}, operation,
                after="workflow:after_step", component=definition.name,
                correlation_id=self.cid, session_id=self.sid, metadata={"step": step.name})
        if not ran:
            return "skipped", output, None
        to_jsonable(output, argument="output")  # storable, or the step fails here
        return "completed", output, ran[-1]

    def _call(self, definition: Definition, step: Step, path: str, input_: Any,
              loop: dict[str, Any] | None) -> tuple[Any, Any]:
        """Call the step's target (bounded by its timeout): (output, structured result)."""
        if step.kind == "workflow":
            inner = self._kind(step.target, path + "/", loop)
            return inner, None
        if step.timeout is None:
            return self._target(step, path, input_, loop)
        assert self.home is not None
        began = time.monotonic()
        ticket = Ticket()
        future = self.home.submit(None, self._target, step, path, input_, loop, ticket=ticket)
        if not self.home.wait([future], step.timeout):
            future.cancel()
            cancelled, running = ticket.abandon()
            if running and not self.home.at_home():
                wait_futures(running)  # Lua code on the script's thread cannot be stopped
                raise _overran(step, began)
            if cancelled:
                raise WorkflowError(
                    f"step {step.name!r} did not finish within its timeout of {step.timeout} s:"
                    " its Lua call was still waiting for the script's thread and was cancelled "
                    "(it will not run)")
            raise WorkflowError(f"step {step.name!r} did not finish within its timeout of "
                                f"{step.timeout} s (the call was abandoned)")
        if time.monotonic() - began > step.timeout:  # a Lua function ran at home, overran
            raise _overran(step, began)
        return future.result()

    def _target(self, step: Step, path: str, input_: Any,
                loop: dict[str, Any] | None) -> tuple[Any, Any]:
        if step.kind == "tool":
            out = self.services.invoke_tool(step.target, {} if input_ is None else input_)
            result = _plain(out.result)
            return (out.text if result is None else result), None
        if step.kind == "agent":
            agent = self.services.find_agent(step.target)
            answer = agent.invoke(input_ if input_ is not None else "")
            return answer.text, answer.to_dict()
        context = {"workflow": self.definition.name, "workflow_id": self.workflow_id,
                   "run_id": self.record.run_id, "step": step.name, "path": path,
                   "loop": loop}
        with self.lock:
            context["shared"] = dict(self.record.shared)
            context["outputs"] = dict(self.progress.outputs)
        output = step.target(input_, context)
        return output, None

    # -- helpers ----------------------------------------------------------------------

    def set_shared(self, key: str, value: Any) -> None:
        """Write shared data now (``workflow:setState`` during the run), committed at once."""
        with self.lock:
            self.record.shared[key] = value
            shared = dict(self.record.shared)
            self.record.commit_shared(shared)

    def _view(self, loop: dict[str, Any] | None) -> dict[str, Any]:
        with self.lock:
            return {"outputs": dict(self.progress.outputs),
                    "results": dict(self.progress.results),
                    "status": dict(self.progress.status), "shared": dict(self.record.shared),
                    "input": self.input, "loop": loop}

    def _note(self, step: Step, path: str, record: dict[str, Any], *, replayed: bool) -> None:
        with self.lock:
            status = record.get("status", "completed")
            self.progress.status[step.name] = status
            if status != "failed":
                self.progress.outputs[step.name] = record.get("output")
                self.progress.results[step.name] = record.get("result")
            self.progress.steps.append({
                "step_name": step.name, "path": path, "status": status,
                "success": status != "failed", "output": record.get("output"),
                "error": record.get("error"), "duration_ms": record.get("duration_ms", 0),
                "attempts": record.get("attempts", 1), "replayed": replayed})

    def _result(self, status: str, output: Any, error: dict[str, Any] | None) -> dict[str, Any]:
        steps = list(self.progress.steps)
        failed = sum(1 for s in steps if s["status"] == "failed")
        succeeded = len(steps) - failed
        ended = time.time()
        return {
            "success": status == "completed", "status": status,
            "run_id": self.record.run_id, "workflow_id": self.workflow_id,
            "workflow_name": self.definition.name, "workflow_type": self.definition.kind,
            "duration_ms": round((ended - self.started) * 1000, 3), "output": output,
            "data": {"steps_executed": len(steps), "successful_steps": succeeded,
                     "failed_steps": failed, "final_output": output,
                     "outputs": dict(self.progress.outputs)},
            "error": error, "step_results": steps,
            "steps_ran": [s["step_name"] for s in steps if not s["replayed"]],
            "shared": dict(self.record.shared),
            "metadata": {"start_time": self.started, "end_time": ended,
                         "steps_executed": len(steps), "steps_succeeded": succeeded,
                         "steps_failed": failed,
                         "replayed_steps": sum(1 for s in steps if s["replayed"])},
        }

    def _meta(self) -> dict[str, Any]:
        return {"workflow": self.definition.name, "run_id": self.record.run_id,
                "workflow_type": self.definition.kind}

    def _publish(self, kind: str, data: dict[str, Any]) -> None:
        events = self.services.events
        if events is not None:
            events.publish(kind, {"workflow": self.definition.name,
                                  "run_id": self.record.run_id, **data},
                           correlation_id=self.cid, session_id=self.sid, source=SOURCE)

    def _journal(self, kind: str, data: dict[str, Any]) -> None:
        journal = self.services.journal
        if journal is not None and self.sid is not None:
            journal(self.sid, kind, {"workflow": self.definition.name,
                                     "run_id": self.record.run_id, **data}, self.cid)


class _NotStarted(LLMSpellError):
    """A parallel branch that did not start because another failed under fail_fast."""


def _plain(value: Any) -> Any:
    try:
        to_jsonable(value, argument="result")
    except ValidationError:
        return None
    return value


def _error(exc: BaseException, location: str | None) -> dict[str, Any]:
    return {"error_type": type(exc).__name__, "message": str(exc), "location": location}


def start_meta(definition: Definition, workflow_id: str, input: Any,
               session_id: str | None) -> dict[str, Any]:
    """What the ``run`` record holds about the run besides its status and outcome."""
    return {"workflow": definition.name, "workflow_id": workflow_id, "kind": definition.kind,
            "input": input, "session_id": session_id}


def _overran(step: Step, began: float) -> WorkflowError:
    """A step whose Lua code ran past the step's timeout, to its end (it cannot be stopped)."""
    return WorkflowError(f"step {step.name!r} took longer than its timeout of {step.timeout} s: "
                         f"its Lua code ran to the end after {time.monotonic() - began:.3f} s "
                         "(Lua cannot be stopped midway); its output is not used")
