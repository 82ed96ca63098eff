"""Putting work on the queue: ``llmspell run --queue`` (a script) and ``Workflow.enqueue`` (a
declarative workflow run). Both need a store on PostgreSQL (:mod:`.queue`)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from llmspell.errors import ScriptError, WorkflowError
from llmspell.storage.jobs import JobQueue


def script_payload(path: str | Path, args: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The job of running the Lua file ``path`` with ``args``: its source travels in the job,
    so a worker on another machine runs it without sharing files.

    Raises:
        ScriptError: the file cannot be read or is not UTF-8.
    """
    shown = str(path)
    try:
        raw = Path(path).read_bytes().removeprefix(b"\xef\xbb\xbf")
        source = raw.decode("utf-8")
    except OSError as exc:
        raise ScriptError(f"cannot read script {shown}: {exc.strerror or exc}",
                          script=shown) from exc
    except UnicodeDecodeError as exc:
        raise ScriptError(f"script {shown} is not UTF-8 ({exc.reason} at byte {exc.start}); a "
                          "queued script travels as text", script=shown) from None
    if source.startswith("#"):  # a #! line, skipped as `lua` does; line numbers kept
        newline = source.find("\n")
        source = "" if newline < 0 else "--" + source[newline:]
    return {"name": Path(path).name, "source": source, "args": [str(a) for a in args]}


def workflow_payload(workflow: Any, input: Any) -> dict[str, Any]:
    """The job of running ``workflow`` (a declarative one) once, under a new run id.

    Raises:
        WorkflowError: the definition holds a function step or condition (its code cannot
            travel to a worker).
    """
    from llmspell.workflows.rebuild import rebuild

    run_id = uuid.uuid4().hex
    described = workflow.described()
    try:
        rebuild(described, workflow.service.settings, run_id)
    except WorkflowError as exc:
        raise WorkflowError(f"workflow {workflow.name!r} cannot be enqueued: a worker rebuilds "
                            "it from its definition, and it holds code (a function step or "
                            f"condition); run it with execute() instead ({exc})") from None
    return {"definition": described, "input": input, "run_id": run_id,
            "workflow": workflow.name}


def enqueue_workflow(queue: JobQueue, workflow: Any, input: Any = None, *,
                     queue_name: str = "default", max_attempts: int = 3) -> dict[str, Any]:
    """Enqueue one run of ``workflow``; returns ``{job_id, run_id, queue}``."""
    payload = workflow_payload(workflow, input)
    job_id = queue.enqueue("workflow", payload, queue=queue_name, max_attempts=max_attempts)
    return {"job_id": job_id, "run_id": payload["run_id"], "queue": queue_name}
