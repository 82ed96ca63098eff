"""The branches of a parallel workflow as worker jobs (``distributed = true`` or ``[workflows]
parallel_on_workers``; PostgreSQL only).

The process running the workflow (the parent) enqueues one ``branch`` job per branch
(:mod:`llmspell.storage.jobs`), records the job in the run's record (``decision:<path>
?worker:<branch>`` = ``{token, job}``: the token is committed before the job is enqueued
with it, so a crash between the two leaves a job that resume finds), and waits for the jobs,
polling their rows, within the workflow's timeout. A worker that claims a job rebuilds the
parallel definition from the job, takes the branch's fence (``branch:<path>`` in the run's
scope, written with the job id, worker and attempt) and runs the branch's steps with a
:class:`Runner` on the run's own record: each step's result is committed in the same batch
as a compare-and-set of the fence, so once another worker has claimed the job (the first
one's lease ran out), the first one can no longer write. A branch on a worker writes only
its own step records; the parent reads them when the job is done, adds the ``output_key``
values to the shared data and journals the steps in its session (the worker has none). The
step hooks and events of a branch happen in the worker's process. The workflow's timeout is
the waiting process's: a job does not carry it (a resumed run waits for its old jobs with a
new timeout), so a worker finishes a branch whose run stopped waiting; its steps' own
timeouts apply.

Resuming the parent (after its process died, or after a failure) serves the branches whose
steps are all recorded, waits for the jobs it had enqueued that are still queued or running,
and enqueues a new job only for a branch whose job ended without finishing it. Inside a
worker, a branch finds its already-recorded steps and does not run them again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from llmspell.errors import WorkflowError
from llmspell.workflows.home import home
from llmspell.workflows.record import STEP, RunRecord, check_run_id
from llmspell.workflows.spec import Branch, Definition, describe

FENCE = "branch:"
POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 0.5
NEED_POSTGRES = ("a parallel workflow's branches run on workers only on PostgreSQL (the job "
                 "queue is a table of the store's database); this store is {url}: set "
                 "distributed = false, or [storage] url = \"postgresql://...\"")


def decision_path(prefix: str, branch: str) -> str:
    return f"{prefix}?worker:{branch}"


class FencedRecord(RunRecord):
    """A run's record as a worker running one branch writes it: every commit checks the
    branch's fence (module docstring) and leaves the shared data to the parent."""

    def __init__(self, state: Any, run_id: str, fence: str, owner: dict[str, Any]) -> None:
        super().__init__(state, run_id)
        self.fence = fence
        self.owner = owner

    def take(self) -> None:
        """Hold the fence: a worker that held it before can no longer commit."""
        self.state.save(self.scope, self.fence, self.owner)

    def flush(self) -> None:
        mine = self.pending.get(self.scope, {})
        mine.pop("shared", None)
        if not any(self.pending.values()):
            self.pending = {}
            self._results_pending = False
            return
        with self.state.transaction() as tx:
            if not tx.compare_and_set(self.scope, self.fence, self.owner, self.owner):
                raise WorkflowError(f"run {self.run_id}: this worker's claim on the branch "
                                    f"({self.fence}) was taken by another; its result is not "
                                    "written")
            tx.save_many(self.pending)
        self.pending = {}
        self._results_pending = False


# -- the parent -------------------------------------------------------------------------


def run_parallel(runner: Any, definition: Definition, prefix: str,
                 loop: dict[str, Any] | None) -> dict[str, Any]:
    """The parallel ``definition`` with each unfinished branch run as a worker job; returns
    ``{branch: output}`` as the in-process parallel does."""
    from llmspell.workflows.runner import Cancelled, StepFailed

    services = runner.services
    if services.jobs is None:
        raise WorkflowError(NEED_POSTGRES.format(url="not known"))
    record: RunRecord = runner.record
    deadline = _deadline(runner, definition)
    jobs = services.jobs()
    try:
        with runner.lock:
            record.flush()  # a worker reads the run's record: it must be there
            known = set(record.steps)
        waiting: dict[str, int] = {}
        results: dict[str, dict[str, Any]] = {}
        for branch in definition.branches:
            if _finished(record, branch, prefix):
                results[branch.name] = {"status": "completed"}
                continue
            waiting[branch.name] = _job_for(runner, jobs, definition, branch, prefix, loop)
        pause = POLL_SECONDS
        while waiting:
            for name, job_id in list(waiting.items()):
                row = jobs.get(job_id)
                if row is not None and row["status"] in ("done", "failed"):
                    results[name] = _outcome(row)
                    del waiting[name]
            if not waiting:
                break
            if record.status() == "cancelled":
                raise Cancelled("it was cancelled from outside the run", prefix or None)
            if deadline is not None and time.time() > deadline[0]:
                late = ", ".join(sorted(waiting))
                raise StepFailed(f"workflow {definition.name!r} ran past its timeout of "
                                 f"{deadline[1]} s waiting for its branches on workers "
                                 f"({late})", prefix + sorted(waiting)[0], "WorkflowTimeout")
            time.sleep(pause)
            pause = min(pause * 1.5, MAX_POLL_SECONDS)
    finally:
        jobs.close()
    return _collect(runner, definition, prefix, results, known)


def _job_for(runner: Any, jobs: Any, definition: Definition, branch: Branch, prefix: str,
             loop: dict[str, Any] | None) -> int:
    """The job running ``branch``: the one recorded (or, when the process died while
    enqueuing it, found by its token) while it is queued or running, else a new one. The
    token is committed before the job is enqueued, so a job is never lost to a crash."""
    services, record = runner.services, runner.record
    path = decision_path(prefix, branch.name)
    known = record.decisions.get(path)
    if isinstance(known, dict) and isinstance(known.get("token"), str):
        job_id = known.get("job")
        if not isinstance(job_id, int):
            job_id = jobs.find("branch", known["token"])
        row = jobs.get(job_id) if isinstance(job_id, int) else None
        if row is not None and row["status"] in ("queued", "running"):
            if known.get("job") != job_id:
                with runner.lock:
                    record.commit_decision(path, {"token": known["token"], "job": job_id})
            return int(row["id"])
    token = uuid.uuid4().hex
    with runner.lock:
        record.commit_decision(path, {"token": token, "job": None})
    payload = _payload(runner, definition, branch, prefix, loop)
    job_id = jobs.enqueue("branch", {**payload, "token": token}, queue=services.branch_queue,
                          max_attempts=services.branch_attempts)
    with runner.lock:
        record.commit_decision(path, {"token": token, "job": job_id})
    return int(job_id)


def _deadline(runner: Any, definition: Definition) -> tuple[float, float] | None:
    """The earliest wall-clock end of the parallel's own timeout and the run's."""
    found = []
    for d in (definition, runner.definition):
        entry = runner.deadlines.get(id(d))
        if entry is not None:
            found.append((time.time() + entry[0] - time.monotonic(), entry[1]))
    return min(found) if found else None


def _finished(record: RunRecord, branch: Branch, prefix: str) -> bool:
    for step in branch.steps:
        found = record.steps.get(prefix + step.name)
        if found is None or found.get("status") == "failed":
            return False
    return True


def _payload(runner: Any, definition: Definition, branch: Branch, prefix: str,
             loop: dict[str, Any] | None) -> dict[str, Any]:
    with runner.lock:
        view = {"outputs": dict(runner.progress.outputs),
                "results": dict(runner.progress.results),
                "status": dict(runner.progress.status)}
    return {"run_id": runner.record.run_id, "definition": describe(definition),
            "branch": branch.name, "prefix": prefix, "loop": loop, "input": runner.input,
            "view": view}


def _outcome(row: Mapping[str, Any]) -> dict[str, Any]:
    if row["status"] == "failed":
        return {"status": "failed", "error": f"its job {row['id']} failed on the workers "
                f"after {row['attempts']} attempt(s): {row['error']}",
                "error_type": "WorkerFailed", "location": None}
    result = row.get("result")
    return result if isinstance(result, dict) else {"status": "failed", "error_type":
                                                    "WorkerFailed", "location": None,
                                                    "error": f"job {row['id']} gave no result"}


def _collect(runner: Any, definition: Definition, prefix: str,
             results: dict[str, dict[str, Any]], known: set[str]) -> dict[str, Any]:
    """Read each branch's step records, note them, merge output keys; raise the first
    failure (a cancel first)."""
    from llmspell.workflows.runner import JOURNAL_STEP, Cancelled, StepFailed

    record = runner.record
    outputs: dict[str, Any] = {}
    failures: list[Exception] = []
    for branch in definition.branches:
        output = None
        for step in branch.steps:
            path = prefix + step.name
            found = record.steps.get(path) if path in known else \
                runner.services.state.load(record.scope, STEP + path)
            if found is None:
                break  # the branch stopped before this step
            with runner.lock:
                record.steps[path] = found
                if found.get("status") == "completed" and step.output_key is not None:
                    record.shared[step.output_key] = found.get("output")
            runner._note(step, path, found, replayed=path in known)
            if path not in known:  # the worker has no session: journal it here
                runner._journal(JOURNAL_STEP, {
                    "step": step.name, "path": path, "type": step.kind,
                    "status": found.get("status"), "output": found.get("output"),
                    "error": found.get("error"), "attempts": found.get("attempts"),
                    "duration_ms": found.get("duration_ms"), "on_worker": True})
            output = None if found.get("status") == "failed" else found.get("output")
        outputs[branch.name] = output
        outcome = results.get(branch.name, {})
        where = outcome.get("location") or prefix + branch.name
        if outcome.get("status") == "cancelled":
            failures.insert(0, Cancelled(str(outcome.get("error")), where))
        elif outcome.get("status") == "failed":
            failures.append(StepFailed(f"branch {branch.name!r}: {outcome.get('error')}",
                                       where, str(outcome.get("error_type"))))
    with runner.lock:
        shared = dict(record.shared)
        if shared != record.saved_shared():
            record.commit_shared(shared)
    if failures:
        raise failures[0]
    return outputs


# -- the worker -------------------------------------------------------------------------


def run_branch(services: Any, settings: Mapping[str, Any], payload: Any,
               owner: dict[str, Any]) -> dict[str, Any]:
    """Run one branch job (module docstring): ``{status, error, error_type, location}``,
    ``status`` being ``completed``, ``failed`` or ``cancelled``.

    Raises:
        ValidationError: a payload that is not a branch job's.
        WorkflowError: no such run or branch, or the claim was lost while running.
    """
    from llmspell.workflows.rebuild import rebuild
    from llmspell.workflows.runner import Cancelled, Runner, StepFailed

    if not isinstance(payload, Mapping):
        raise WorkflowError(f"a branch job's payload must be a table, got {payload!r}")
    run_id = check_run_id(payload.get("run_id"))
    definition = rebuild(payload.get("definition") or {}, settings, run_id)
    name, prefix = payload.get("branch"), payload.get("prefix", "")
    branch = next((b for b in definition.branches if b.name == name), None)
    if branch is None or not isinstance(prefix, str):
        raise WorkflowError(f"run {run_id}: workflow {definition.name!r} has no branch "
                            f"{name!r}")
    record = FencedRecord(services.state, run_id, FENCE + prefix + branch.name, owner)
    if record.status() is None:  # checked before the fence is written: nothing is left
        raise WorkflowError(f"no workflow run {run_id!r} (its branch {name!r} was queued)")
    record.take()  # before reading: a commit of an earlier holder is seen or refused
    record.load()
    if record.meta.get("status") == "cancelled":
        return {"status": "cancelled", "error": "it was cancelled before the branch ran",
                "error_type": "Cancelled", "location": prefix + branch.name}
    runner = Runner(services, definition, record,
                    workflow_id=str(record.meta.get("workflow_id", "")))
    runner.on_worker = True
    runner.input = payload.get("input")
    view = payload.get("view") or {}
    runner.progress.outputs.update(view.get("outputs") or {})
    runner.progress.results.update(view.get("results") or {})
    runner.progress.status.update(view.get("status") or {})
    outcome: dict[str, Any] = {"status": "completed", "error": None, "error_type": None,
                               "location": None}
    with home() as here:
        runner.home = here
        try:
            runner.branch(definition, branch, prefix, payload.get("loop"))
        except Cancelled as exc:
            outcome = {"status": "cancelled", "error": exc.reason, "error_type": "Cancelled",
                       "location": exc.location}
        except StepFailed as exc:
            outcome = {"status": "failed", "error": str(exc), "error_type": exc.error_type,
                       "location": exc.location}
    with runner.lock:
        record.flush()
    return outcome
