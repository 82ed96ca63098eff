"""``llmspell worker``: take jobs from the queue (:mod:`.queue`) and run them.

A worker owns one Runtime on the store and runs up to ``concurrency`` jobs at once, each on a
thread of its own with a fresh Lua state. While a job runs, a heartbeat renews its lease every
third of ``lease_seconds``; a worker that is killed stops renewing, the lease runs out and
another worker claims the job (its run starts again: a script should be written to be re-run,
as a durable workflow is). The result (the script's return value, or a workflow's result) is
written back only while the claim is still held; an error sends the job back to the queue
until its attempts are used up.

Kinds: ``script`` runs ``payload.source`` with ``payload.args`` as ARGS (the worker's own
config decides the sandbox and allowed paths); ``workflow`` rebuilds a declarative workflow
definition (``Workflow.enqueue``) and runs it durably under ``payload.run_id``: a run a killed
worker left half done is resumed from its last finished step, not started again; ``branch``
runs one branch of a distributed parallel workflow into its run's record
(:mod:`llmspell.workflows.distributed`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from llmspell.codec import to_jsonable
from llmspell.errors import LLMSpellError, ValidationError
from llmspell.storage.jobs import Job, JobQueue, check_queue

logger = logging.getLogger("llmspell.workers")


class Worker:
    """Claims and runs jobs of ``queues`` until stopped (see the module docstring).

    Args:
        runtime: the Runtime jobs run in (its store must be on PostgreSQL).
        queues: the queues to take work from, in order of preference.
        concurrency: jobs run at once by this worker.
        lease_seconds: how long a claim lasts without a heartbeat.
        poll_seconds: how long to wait before looking again when there is no work.
        limits: fleet-wide running jobs per queue (``[workers] queue_limits``).
        report: called with a line per finished job (the CLI prints it).
    """

    def __init__(self, runtime: Any, *, queues: list[str], concurrency: int = 1,
                 lease_seconds: float = 30.0, poll_seconds: float = 0.5,
                 limits: dict[str, int] | None = None,
                 report: Callable[[str], None] | None = None) -> None:
        if not queues:
            raise ValidationError("queues", "must name at least one queue", got=queues)
        for i, queue in enumerate(queues):
            check_queue(queue, f"queues[{i}]")
        for name, value, low in (("concurrency", concurrency, 1),
                                 ("lease_seconds", lease_seconds, 0.1),
                                 ("poll_seconds", poll_seconds, 0.01)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
                raise ValidationError(name, f"must be a number >= {low}", got=value)
        self.runtime = runtime
        self.queue = JobQueue(runtime.store)
        self.queues = list(queues)
        self.concurrency = int(concurrency)
        self.lease_seconds = float(lease_seconds)
        self.poll_seconds = float(poll_seconds)
        self.limits = dict(limits or {})
        self.report = report or (lambda line: None)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.done = self.failed = self.lost = 0
        self._stop = threading.Event()
        self._running: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    def stop(self) -> None:
        """Finish the jobs running now, claim no more."""
        self._stop.set()

    def run(self, *, max_jobs: int | None = None, idle_exit: float | None = None) -> int:
        """Work until :meth:`stop`, until ``max_jobs`` jobs were taken, or until there was no
        work for ``idle_exit`` seconds; returns how many jobs were taken."""
        taken = 0
        idle_since = time.monotonic()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="llmspell-job") as pool:
            while not self._stop.is_set() and (max_jobs is None or taken < max_jobs):
                with self._lock:
                    busy = len(self._running)
                if busy >= self.concurrency:
                    self._stop.wait(0.01)
                    continue
                job = self.queue.claim(self.queues, self.name, self.lease_seconds, self.limits)
                if job is None:
                    if busy == 0 and idle_exit is not None \
                            and time.monotonic() - idle_since >= idle_exit:
                        break
                    self._stop.wait(self.poll_seconds)
                    continue
                taken += 1
                idle_since = time.monotonic()
                with self._lock:
                    self._running[job.id] = pool.submit(self._run_job, job)
            pool.shutdown(wait=True)
        self.queue.close()
        return taken

    # -- one job ------------------------------------------------------------------------------

    def _run_job(self, job: Job) -> None:
        beat = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(job, beat), daemon=True,
                                 name=f"llmspell-heartbeat-{job.id}")
        heart.start()
        try:
            try:
                result = self.execute(job)
                error = None
            except Exception as exc:  # the job's own failure: recorded, retried
                result, error = None, f"{type(exc).__name__}: {exc}"
            beat.set()
            heart.join()
            written = self.queue.finish(job.id, self.name, result=result, error=error)
            if not written:
                self.lost += 1
                self.report(f"job {job.id}: claim lost (lease ran out); result not written")
            elif error is None:
                self.done += 1
                self.report(f"job {job.id} done ({job.kind}, queue {job.queue}, attempt "
                            f"{job.attempts})")
            else:
                self.failed += 1
                self.report(f"job {job.id} failed (attempt {job.attempts} of "
                            f"{job.max_attempts}): {error}")
        except Exception:
            logger.exception("job %s: could not record its outcome", job.id)
        finally:
            beat.set()
            with self._lock:
                self._running.pop(job.id, None)

    def _heartbeat(self, job: Job, done: threading.Event) -> None:
        while not done.wait(self.lease_seconds / 3):
            try:
                if not self.queue.heartbeat(job.id, self.name, self.lease_seconds):
                    logger.warning("job %s: lease lost while running", job.id)
                    return
            except LLMSpellError as exc:
                logger.warning("job %s: heartbeat failed: %s", job.id, exc)

    def execute(self, job: Job) -> Any:
        """Run ``job`` here and return its JSON-ready result."""
        payload = job.payload
        if job.kind == "script":
            from llmspell.lua.engine import LuaEngine

            engine = LuaEngine(self.runtime, args=tuple(payload.get("args", ())),
                               script_name=payload.get("name", f"job-{job.id}.lua"))
            try:
                value = engine.run_string(payload["source"], payload.get("name"))
            finally:
                engine.close()
            return to_jsonable(value, argument="result")[0]
        if job.kind == "workflow":
            return run_workflow(self.runtime, payload)
        if job.kind == "branch":
            return to_jsonable(self.runtime.workflows.run_branch(payload, {
                "job": job.id, "worker": self.name, "attempt": job.attempts}),
                argument="result")[0]
        raise ValidationError("kind", "must be script, workflow or branch", got=job.kind)


def run_workflow(runtime: Any, payload: dict[str, Any]) -> Any:
    """Run the enqueued workflow run, or resume it when an earlier claim started it (its
    finished steps are not run again); a run that already finished gives its summary."""
    from llmspell.errors import WorkflowError
    from llmspell.workflows import Workflow
    from llmspell.workflows.rebuild import rebuild

    service = runtime.workflows
    run_id = payload["run_id"]
    try:
        existing = service.run(run_id)
    except WorkflowError:
        existing = None
    if existing is None:
        definition = rebuild(payload["definition"], service.settings, run_id)
        result = service.start(Workflow(service, definition), payload.get("input"),
                               run_id=run_id)
    elif existing["status"] in ("running", "failed"):
        result = service.resume(run_id)
    else:
        result = {key: existing.get(key) for key in ("run_id", "status", "output", "error")}
    return to_jsonable(result, argument="result")[0]
