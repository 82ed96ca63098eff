"""WorkflowService (``rt.workflows``): define, run, resume, cancel and inspect workflows.

``rt.workflows.sequential({...})`` (also ``parallel``, ``conditional``, ``loop``, or
``create(kind, spec)``) checks the definition and registers a :class:`Workflow` by name (a
new definition of the same name replaces the old one: that is how a script defines its
workflow again before resuming a run). ``workflow.execute(input)`` starts a durable run and
returns its result; ``resume(run_id)`` finishes a run that was interrupted (its process
killed) or failed; ``cancel(run_id)`` stops one; ``runs()`` and ``run(run_id)`` read the
records. Runs live in state scope ``workflow:<run id>`` (:mod:`llmspell.workflows.record`).
"""

from __future__ import annotations

import builtins
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from llmspell.codec import to_jsonable
from llmspell.errors import SessionNotFound, ValidationError, WorkflowError
from llmspell.journal import Draft
from llmspell.storage.jobs import JobQueue, has_job_queue
from llmspell.workflows.distributed import NEED_POSTGRES, run_branch
from llmspell.workflows.record import RunRecord, check_run_id, list_runs, scope_of
from llmspell.workflows.runner import Runner, Services, start_meta
from llmspell.workflows.spec import KINDS, Definition, all_steps, describe, parse_definition
from llmspell.workflows.template import references

RESUMABLE = ("running", "failed")


class Workflow:
    """A registered workflow definition, runnable many times (each run durable)."""

    def __init__(self, service: WorkflowService, definition: Definition) -> None:
        self.service = service
        self.definition = definition
        self.id = f"{definition.kind}-{uuid.uuid4().hex[:12]}"
        self._described: dict[str, Any] | None = None
        self.shared: dict[str, Any] = dict(definition.shared)
        self.listeners: dict[str, list[Callable[[Any], Any]]] = {
            "before": [], "after": [], "error": []}
        self.active: list[Runner] = []
        self.last_run_id: str | None = None
        self.executions = self.successes = 0
        self.total_ms = 0.0
        self.last_time: float | None = None

    @property
    def name(self) -> str:
        return self.definition.name

    def described(self) -> dict[str, Any]:
        """The definition as plain JSON (computed once: a Definition does not change)."""
        if self._described is None:
            self._described = describe(self.definition)
        return self._described

    @property
    def kind(self) -> str:
        return self.definition.kind

    def execute(self, input: Any = None, *, run_id: str | None = None) -> dict[str, Any]:
        """Run the workflow once, durably; returns the result (``success``, ``status``,
        ``run_id``, ``output``, ``step_results``...: docs/workflows.md).

        Raises:
            ValidationError: ``run_id`` is not a fresh valid id.
            StateError: state is disabled (runs are recorded in state).
        """
        return self.service.start(self, input, run_id=run_id)

    def on(self, which: str, fn: Callable[[Any], Any]) -> None:
        """Call ``fn`` before each execution (``before``: ``{workflow, input}``), after it
        (``after``: the result) or when it does not succeed (``error``: the result)."""
        if not isinstance(which, str) or which not in self.listeners:
            raise ValidationError("which", "must be before, after or error", got=which)
        if not callable(fn):
            raise ValidationError("fn", "must be a function", got=fn)
        self.listeners[which].append(fn)

    def get_state(self, key: str) -> Any:
        """A value of the shared data: of the run going on, else of the last run (or the
        initial shared data before any run)."""
        _check_key(key)
        if self.active:
            with self.active[-1].lock:
                return self.active[-1].record.shared.get(key)
        return self.shared.get(key)

    def set_state(self, key: str, value: Any) -> None:
        """Set shared data: in the run going on (committed at once), else for the next run."""
        _check_key(key)
        if self.active:
            self.active[-1].set_shared(key, value)
        else:
            self.shared[key] = value

    def info(self) -> dict[str, Any]:
        d = self.definition
        return {"id": self.id, "name": d.name, "type": d.kind, "description": d.description,
                "error_strategy": d.error_strategy,
                "steps": [s.name for s in all_steps(d)], "last_run_id": self.last_run_id}

    def validate(self) -> dict[str, Any]:
        """``{valid, errors, warnings}``: tools and agents that do not exist, references to
        steps the workflow does not have."""
        errors: list[str] = []
        warnings: list[str] = []
        names = set(self.definition.step_names())
        self.service.check_targets(self.definition, errors, warnings, names)
        return {"valid": not errors, "workflow_id": self.id, "errors": errors,
                "warnings": warnings}

    def metrics(self) -> dict[str, Any]:
        return {"workflow_id": self.id, "execution": {
            "total_executions": self.executions, "successful_executions": self.successes,
            "failed_executions": self.executions - self.successes,
            "average_duration_ms": self.total_ms / self.executions if self.executions else 0,
            "last_execution_time": self.last_time}}

    def __repr__(self) -> str:
        return f"<Workflow {self.kind} {self.name!r}>"


class WorkflowService:
    """The workflows of one runtime (see the module docstring).

    Args:
        services: builds the :class:`Services` a run uses (called per run: the state
            manager is built on first use).
        settings: ``{max_concurrency, max_iterations}`` defaults (``[workflows]``).
    """

    def __init__(self, services: Callable[[], Services], settings: Mapping[str, Any]) -> None:
        self._make_services = services
        self._ready: Services | None = None
        self.settings = dict(settings)
        self._lock = threading.Lock()
        self._by_name: dict[str, Workflow] = {}
        self._by_id: dict[str, Workflow] = {}
        #: run id -> its runner, while the run goes on in this process
        self._running: dict[str, Runner] = {}
        self.known_tool: Callable[[str], bool] = lambda name: True
        self.known_agent: Callable[[str], bool] = lambda name: True
        #: None when the store has a job queue (distributed parallels), else what to name it
        self.store_url: Callable[[], str | None] = lambda: "a store without a job queue"

    @classmethod
    def from_runtime(cls, runtime: Any) -> WorkflowService:
        """The service of ``runtime``: its state, tools, agents, hooks, events, sessions."""
        sessions_on = runtime.unavailable("sessions") is None

        def journal(sid: str | None, kind: str, data: dict[str, Any], cid: str) -> None:
            if sid is not None and sessions_on:
                with contextlib.suppress(SessionNotFound):  # deleted meanwhile: no journal
                    runtime.sessions.append_entries(sid, [Draft(kind, data, cid)])

        def find_agent(name: str) -> Any:
            found = runtime.agents.get(name)
            if found is None:
                raise ValidationError("agent", "no agent of that name (create it before the "
                                      "workflow runs); known: "
                                      + (", ".join(runtime.agents.list()) or "none"), got=name)
            return found

        def services() -> Services:
            if (off := runtime.unavailable("state")) is not None:
                raise off
            return Services(
                state=runtime.state, invoke_tool=runtime.tools.invoke, find_agent=find_agent,
                hooks=runtime.hooks, events=runtime.events, journal=journal,
                current_session=(lambda: runtime.sessions.current_id()) if sessions_on
                else (lambda: None),
                jobs=(lambda: JobQueue(runtime.store)) if has_job_queue(runtime.store)
                else None,
                branch_queue=runtime.config.setting("workers.queue"),
                branch_attempts=runtime.config.setting("workers.max_attempts"))

        made = cls(services, runtime.config.values["workflows"])
        made.store_url = lambda: None if has_job_queue(runtime.store) else str(
            getattr(runtime.store, "url", type(runtime.store).__name__))
        made.known_tool = lambda name: runtime.tools.exists(name)
        made.known_agent = lambda name: runtime.agents.get(name) is not None
        return made

    # -- definitions ------------------------------------------------------------------

    def create(self, kind: str, spec: Any) -> Workflow:
        """Check ``spec`` and register a ``kind`` workflow (replacing one of the same name).

        Raises:
            ValidationError: a bad kind or spec (names the path and the rule).
        """
        definition = parse_definition(kind, spec, resolve=self._resolve, settings=self.settings)
        if _distributed(definition) and (url := self.store_url()) is not None:
            raise ValidationError("config", NEED_POSTGRES.format(url=url), path="$.distributed")
        made = Workflow(self, definition)
        with self._lock:
            old = self._by_name.pop(definition.name, None)
            if old is not None:
                self._by_id.pop(old.id, None)
            self._by_name[definition.name] = made
            self._by_id[made.id] = made
        return made

    def sequential(self, spec: Any) -> Workflow:
        return self.create("sequential", spec)

    def parallel(self, spec: Any) -> Workflow:
        return self.create("parallel", spec)

    def conditional(self, spec: Any) -> Workflow:
        return self.create("conditional", spec)

    def loop(self, spec: Any) -> Workflow:
        return self.create("loop", spec)

    def get(self, ref: Any) -> Workflow | None:
        """The workflow of this id or name, or None."""
        if isinstance(ref, Workflow):
            return ref
        if not isinstance(ref, str):
            raise ValidationError("workflow", "must be a workflow id or name", got=ref)
        with self._lock:
            return self._by_id.get(ref) or self._by_name.get(ref)

    def list(self) -> builtins.list[dict[str, Any]]:
        with self._lock:
            return [w.info() for w in self._by_name.values()]

    def remove(self, ref: Any) -> bool:
        found = self.get(ref)
        if found is None:
            return False
        with self._lock:
            self._by_id.pop(found.id, None)
            if self._by_name.get(found.name) is found:
                del self._by_name[found.name]
        return True

    def types(self) -> builtins.list[str]:
        return list(KINDS)

    def _resolve(self, value: Any, path: str) -> Definition:
        """The definition of a nested step's ``workflow``: a Workflow, handle, id or name."""
        if isinstance(value, Mapping) and isinstance(value.get("id"), str):
            value = value["id"]
        found = self.get(value) if isinstance(value, str | Workflow) else None
        if found is None:
            raise ValidationError("config", "a workflow step names a defined workflow (its "
                                  "handle, id or name)", path=path, got=value)
        return found.definition

    def check_targets(self, definition: Definition, errors: builtins.list[str],
                      warnings: builtins.list[str], names: set[str]) -> None:
        for step in all_steps(definition):
            if step.kind == "tool" and not self.known_tool(step.target):
                errors.append(f"step {step.name!r}: no tool named {step.target!r}")
            elif step.kind == "agent" and not self.known_agent(step.target):
                warnings.append(f"step {step.name!r}: no agent named {step.target!r} yet")
            elif step.kind == "workflow":
                self.check_targets(step.target, errors, warnings, names)
            for ref in references(step.input):
                if ref not in names:
                    errors.append(f"step {step.name!r}: refers to step {ref!r}, which the "
                                  "workflow does not have")

    # -- runs -------------------------------------------------------------------------

    def start(self, workflow: Workflow, input: Any, *, run_id: str | None = None
              ) -> dict[str, Any]:
        """Start a run of ``workflow`` (Workflow.execute)."""
        services = self._services()
        if run_id is None:
            run_id = uuid.uuid4().hex
        elif services.state.load(scope_of(check_run_id(run_id)), "run") is not None:
            raise ValidationError("run_id", "must be a new id (a run has this one)", got=run_id)
        to_jsonable(input, argument="input")  # the run's record keeps it
        record = RunRecord(services.state, run_id)
        for fn in workflow.listeners["before"]:
            fn({"workflow": workflow.name, "run_id": run_id, "input": input})
        record.start(start_meta(workflow.definition, workflow.id, input,
                                services.current_session()), workflow.described(),
                     workflow.shared)
        return self._drive(workflow, services, record, input)

    def resume(self, run_id: Any) -> dict[str, Any]:
        """Finish the run ``run_id``: completed steps are served from the record (not run
        again), the step that was running when the process died runs again.

        Raises:
            WorkflowError: no such run; it is completed or cancelled; or its workflow is not
                defined here the way it was (a script must define it again first).
        """
        check_run_id(run_id)
        services = self._services()
        record = RunRecord(services.state, run_id)
        if not record.load():
            raise WorkflowError(f"no workflow run {run_id!r}")
        status = record.meta.get("status")
        if status not in RESUMABLE:
            raise WorkflowError(f"run {run_id} is {status}; only a running (interrupted) or "
                                "failed run can be resumed")
        workflow = self._for_record(record)
        record.reopen()
        return self._drive(workflow, services, record, record.meta.get("input"))

    def cancel(self, run_id: Any) -> dict[str, Any]:
        """Cancel the run ``run_id``: a run going on (in any process) stops before its next
        step. Returns ``{run_id, status, steps_ran, steps_completed, steps_failed}``: the
        steps that ran (with any outcome), those of them that completed, and those that
        failed.

        Raises:
            WorkflowError: no such run, or it already finished.
        """
        found = self.run(run_id)
        if found["status"] not in RESUMABLE:
            raise WorkflowError(f"run {run_id} is {found['status']}; only a running or failed "
                                "run can be cancelled")
        record = RunRecord(self._services().state, run_id)
        record.load()
        stored = record.finish("cancelled", None, {
            "error_type": "Cancelled", "message": "cancelled with workflow cancel",
            "location": None}, record.shared)
        if stored != "cancelled":
            raise WorkflowError(f"run {run_id} is {stored}; it finished meanwhile")
        return {"run_id": run_id, "status": "cancelled",
                "steps_ran": [s["path"] for s in found["steps"]],
                "steps_completed": [s["path"] for s in found["steps"]
                                    if s["status"] == "completed"],
                "steps_failed": [s["path"] for s in found["steps"] if s["status"] == "failed"]}

    def runs(self, *, status: str | None = None, workflow: str | None = None,
             limit: int | None = None) -> builtins.list[dict[str, Any]]:
        """Runs, newest first: ``{run_id, workflow, kind, status, started_at, ...}``."""
        state = self._services().state
        return [_summary(m) for m in list_runs(state, status=status, workflow=workflow,
                                               limit=limit)]

    def run(self, run_id: Any) -> dict[str, Any]:
        """One run: its summary, definition, input, output, error, shared data and the
        recorded steps in the order they finished.

        Raises:
            WorkflowError: no such run.
        """
        check_run_id(run_id)
        running = self._running.get(run_id)
        if running is not None:  # going on in this process: commit what it has pending
            with running.lock:
                running.record.flush()
        record = RunRecord(self._services().state, run_id)
        if not record.load():
            raise WorkflowError(f"no workflow run {run_id!r}")
        meta = {**record.meta, "steps_done": len(record.steps)}
        steps = sorted(record.steps.values(), key=lambda r: r.get("finished", 0))
        return {**_summary(meta), "definition": record.definition,
                "input": meta.get("input"), "output": meta.get("output"),
                "error": meta.get("error"), "shared": record.shared, "steps": steps,
                "decisions": record.decisions}

    def run_branch(self, payload: Any, owner: dict[str, Any]) -> dict[str, Any]:
        """Run one branch job of a distributed parallel here (``llmspell worker``):
        :func:`llmspell.workflows.distributed.run_branch`."""
        return run_branch(self._services(), self.settings, payload, owner)

    def _services(self) -> Services:
        if self._ready is None:
            self._ready = self._make_services()
        return self._ready

    def _drive(self, workflow: Workflow, services: Services, record: RunRecord,
               input: Any) -> dict[str, Any]:
        runner = Runner(services, workflow.definition, record, workflow_id=workflow.id)
        workflow.active.append(runner)
        self._running[record.run_id] = runner
        started = time.perf_counter()
        try:
            result = runner.run(input)
        finally:
            workflow.active.remove(runner)
            self._running.pop(record.run_id, None)
        workflow.last_run_id = record.run_id
        workflow.shared = dict(record.shared)
        workflow.executions += 1
        workflow.successes += 1 if result.get("success") else 0
        workflow.total_ms += (time.perf_counter() - started) * 1000
        workflow.last_time = time.time()
        for fn in workflow.listeners["after"]:
            fn(result)
        if not result.get("success"):
            for fn in workflow.listeners["error"]:
                fn(result)
        return result

    def _for_record(self, record: RunRecord) -> Workflow:
        """The workflow a stored run was made from: the one registered under its name, which
        must be defined as it was; else one rebuilt from the stored definition when it has
        no function (a function's code is not stored)."""
        described = record.definition or {}
        name = record.meta.get("workflow")
        found = self.get(name) if isinstance(name, str) else None
        if found is not None:
            if found.described() != described:
                raise WorkflowError(
                    f"workflow {name!r} is defined differently from when run {record.run_id} "
                    "started; define it as it was to resume the run")
            return found
        from llmspell.workflows.rebuild import rebuild

        return Workflow(self, rebuild(described, self.settings, record.run_id))


def _distributed(definition: Definition) -> bool:
    """Whether ``definition`` or a workflow nested in it runs branches on workers."""
    return definition.distributed or any(
        s.kind == "workflow" and _distributed(s.target) for s in all_steps(definition))


def _summary(meta: dict[str, Any]) -> dict[str, Any]:
    return {key: meta.get(key) for key in ("run_id", "workflow", "workflow_id", "kind",
                                           "status", "steps_done", "started_at",
                                           "updated_at", "finished_at", "session_id")}


def _check_key(key: Any) -> None:
    if not isinstance(key, str) or not key:
        raise ValidationError("key", "must be a non-empty string", got=key)
