"""The durable record of workflow runs, in state scope ``workflow:<run id>``.

Keys of a run's scope:

- ``run``: ``{run_id, workflow, workflow_id, kind, definition (its hash), status, input,
  started_at, updated_at, finished_at, output, error, session_id}``; ``status`` is
  ``running``, ``completed``, ``failed`` or ``cancelled``. It changes at the start, the
  end, a resume and a cancel, by compare-and-set, so a cancel from another process is never
  overwritten by the run;
- ``shared``: the run's shared data (absent while it is empty);
- ``step:<path>``: a finished step's result ``{path, name, status, output, error,
  error_type, attempts, duration_ms}``; ``status`` is ``completed``, ``failed`` or
  ``skipped``. ``<path>`` locates the step in nested workflows and loop iterations
  (``outer/inner``, ``body#3/fetch``);
- ``decision:<path>``: the branch a conditional took or whether a loop goes on, so a resumed
  run takes the same path even when a condition is a function.

The workflow's definition, as plain JSON (what resume compares), is kept once per distinct
definition in scope ``workflow:def-<hash>`` (key ``definition``), not once per run.

Every commit is one atomic ``save_many`` (state's transaction, which retries a lost race
through :func:`llmspell.storage.retry.retry_batch`): a step's result, the shared data and the
run's progress land together before the next step starts.

Writes wait for the next commit that must happen anyway (``pending``): the start (the ``run``
key, the shared data, the definition) is committed with the first step's result, and a
step's result with whatever comes next, which is the next step's start (:meth:`flush`, before
it runs), a decision, shared data, or the end of the run. So a run of two steps commits
twice: the start with step 1, then step 2 with the end. Until its first commit a run is
known to its own process only (the service flushes it for ``run`` and ``cancel`` there); a
crash before that commit leaves no run to resume. A step's result is still durable before
any later step starts, so a crash re-runs at most the step that was interrupted or whose
result was not yet committed.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson

from llmspell.errors import StateError, ValidationError, WorkflowError
from llmspell.state.scopes import check_scope
from llmspell.validation import check_limit

SCOPE_PREFIX = "workflow:"
RUN = "run"
DEFINITION = "definition"
DEFINITION_PREFIX = "def-"
SHARED = "shared"
STEP = "step:"
DECISION = "decision:"
STATUSES = ("running", "completed", "failed", "cancelled")


def scope_of(run_id: str) -> str:
    return SCOPE_PREFIX + run_id


def check_run_id(run_id: Any) -> str:
    """``run_id`` if it can name a run: a non-empty string that makes a valid state scope."""
    if not isinstance(run_id, str) or not run_id:
        raise ValidationError("run_id", "must be a run id (a non-empty string)", got=run_id)
    try:
        check_scope(scope_of(run_id), argument="run_id")
    except ValidationError as exc:
        raise ValidationError("run_id", f"cannot name a run: {exc.rule}", got=run_id) from None
    return run_id


class RunRecord:
    """Reads and commits one run's record through the StateManager ``state``."""

    def __init__(self, state: Any, run_id: str) -> None:
        self.state = state
        self.run_id = run_id
        self.scope = scope_of(run_id)
        self.meta: dict[str, Any] = {}
        self.steps: dict[str, dict[str, Any]] = {}
        self.decisions: dict[str, Any] = {}
        self.definition: Any = None
        self.shared: dict[str, Any] = {}
        self._saved_shared: dict[str, Any] = {}  # the shared data as last committed
        #: scope -> key -> value written by the next commit (see the module docstring)
        self.pending: dict[str, dict[str, Any]] = {}
        self._results_pending = False  # a step's result is among them

    # -- reading ----------------------------------------------------------------------

    def load(self) -> bool:
        """Read the whole record; False when there is no run of this id."""
        meta = self.state.load(self.scope, RUN)
        if meta is None:
            return False
        self.meta = meta
        digest = meta.get("definition")
        self.definition = None if not isinstance(digest, str) else self.state.load(
            SCOPE_PREFIX + DEFINITION_PREFIX + digest, DEFINITION)
        self.shared = self.state.load(self.scope, SHARED, {}) or {}
        self._saved_shared = dict(self.shared)
        for key in self.state.list_keys(self.scope):
            if key.startswith(STEP):
                self.steps[key[len(STEP):]] = self.state.load(self.scope, key)
            elif key.startswith(DECISION):
                self.decisions[key[len(DECISION):]] = self.state.load(self.scope, key)
        return True

    def saved_shared(self) -> dict[str, Any]:
        """The shared data as last committed."""
        return self._saved_shared

    def status(self) -> str | None:
        """The stored status now (read afresh: another process may have cancelled)."""
        meta = self.state.load(self.scope, RUN)
        return None if meta is None else meta.get("status")

    # -- writing ----------------------------------------------------------------------

    def start(self, meta: dict[str, Any], definition: dict[str, Any],
              shared: dict[str, Any]) -> None:
        now = time.time()
        self.meta = {**meta, "run_id": self.run_id, "status": "running", "started_at": now,
                     "updated_at": now, "finished_at": None, "output": None, "error": None}
        self.shared = dict(shared)
        self._saved_shared = dict(shared)
        self.definition = definition
        digest = self.meta["definition"] = definition_hash(definition)
        where = SCOPE_PREFIX + DEFINITION_PREFIX + digest
        # Read each time, not remembered: another store, a restore or a deleted scope may
        # not have it (a process-wide memory of written definitions left them out).
        if self.state.load(where, DEFINITION) is None:
            self.pending[where] = {DEFINITION: definition}
        mine = self.pending.setdefault(self.scope, {})
        mine[RUN] = self.meta
        if self.shared:
            mine[SHARED] = self.shared

    def commit_step(self, path: str, result: dict[str, Any], shared: dict[str, Any]) -> None:
        """The step's result, with the shared data when the step changed it: written by the
        next commit (:meth:`flush` at the latest)."""
        mine = self.pending.setdefault(self.scope, {})
        mine[STEP + path] = result
        self._results_pending = True
        if shared != self._saved_shared:
            mine[SHARED] = shared
            self._saved_shared = dict(shared)
        self.steps[path] = result

    def commit_decision(self, path: str, value: Any) -> None:
        self.pending.setdefault(self.scope, {})[DECISION + path] = value
        self.flush()
        self.decisions[path] = value

    def commit_shared(self, shared: dict[str, Any]) -> None:
        self.pending.setdefault(self.scope, {})[SHARED] = shared
        self.flush()
        self._saved_shared = dict(shared)

    def before_step(self) -> None:
        """Before a step runs: commit the results of the steps before it (a start alone
        waits for the first step's result)."""
        if self._results_pending:
            self.flush()

    def flush(self) -> None:
        """Commit what is pending, in one batch (nothing when nothing is)."""
        if not self.pending:
            return
        self.state.save_many(self.pending)
        self.pending = {}
        self._results_pending = False

    def finish(self, status: str, output: Any, error: dict[str, Any] | None,
               shared: dict[str, Any]) -> str:
        """End the run with ``status`` (and the shared data, if changed) in one batch;
        returns the status stored, which is ``cancelled`` when someone cancelled the run
        meanwhile (their record is kept)."""
        now = time.time()
        new = {**self.meta, "status": status, "output": output, "error": error,
               "updated_at": now, "finished_at": now}
        pending, self.pending = self.pending, {}
        self._results_pending = False
        changed = shared != self._saved_shared
        if RUN in pending.get(self.scope, {}):  # never committed: nobody else knows the run
            pending[self.scope][RUN] = new
            if changed:
                pending[self.scope][SHARED] = shared
            self.state.save_many(pending)
            swapped = True
        elif not pending and not changed:
            swapped = self.state.compare_and_set(self.scope, RUN, self.meta, new)
        else:
            try:
                with self.state.transaction() as tx:
                    swapped = tx.compare_and_set(self.scope, RUN, self.meta, new)
                    if swapped and changed:
                        tx.save(self.scope, SHARED, shared)
                    # Pending step results are written either way (cancelled or not).
                    tx.save_many(pending)
            except StateError:
                swapped = False  # changed between the compare and the commit
                if pending:
                    self.state.save_many(pending)
        if not swapped:
            self.meta = self.state.load(self.scope, RUN) or new
            return str(self.meta.get("status"))
        self.meta = new
        self._saved_shared = dict(shared)
        return status

    def reopen(self) -> None:
        """Mark a resumed run running again; failed step results are dropped (re-run).

        Raises:
            WorkflowError: the run changed meanwhile (cancelled, or resumed elsewhere).
        """
        self.flush()
        failed = [p for p, r in self.steps.items() if r.get("status") == "failed"]
        new = {**self.meta, "status": "running", "updated_at": time.time(),
               "finished_at": None, "error": None}
        if not self.state.compare_and_set(self.scope, RUN, self.meta, new):
            raise WorkflowError(f"run {self.run_id} changed while it was being resumed")
        self.meta = new
        with self.state.transaction() as tx:
            for path in failed:
                tx.delete(self.scope, STEP + path)
        for path in failed:
            del self.steps[path]


def definition_hash(definition: dict[str, Any]) -> str:
    """The first 16 hex digits of the SHA-256 of the definition's canonical JSON."""
    body = orjson.dumps(definition, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()[:16]


def list_runs(state: Any, *, status: str | None = None, workflow: str | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
    """The runs' ``run`` records, newest first, filtered by ``status`` and workflow name."""
    if status is not None and status not in STATUSES:
        raise ValidationError("status", "must be one of " + ", ".join(STATUSES), got=status)
    limit = check_limit(limit)
    if workflow is not None and not isinstance(workflow, str):
        raise ValidationError("workflow", "must be a workflow name (a string)", got=workflow)
    found = []
    for scope in state.scopes():
        if not scope.startswith(SCOPE_PREFIX):
            continue
        meta = state.load(scope, RUN)
        if not isinstance(meta, dict) or "run_id" not in meta:
            continue  # a workflow scope a script wrote itself
        meta = {**meta, "steps_done": len(state.list_keys(scope, STEP))}
        if status is not None and meta.get("status") != status:
            continue
        if workflow is not None and meta.get("workflow") != workflow:
            continue
        found.append(meta)
    found.sort(key=lambda m: m.get("started_at") or 0, reverse=True)
    return found[:limit]
