"""``Workflow``: define, run, resume and inspect durable workflows from Lua (docs/workflows.md).

rs-llmspell v0.6.0's global: ``Workflow.sequential{name, description, steps, error_strategy}``,
``Workflow.parallel{name, branches | steps, max_concurrency}``, ``Workflow.conditional{name,
branches = {{condition, steps}}, default}``, ``Workflow.loop{name, range | collection | while |
iterator, body, max_iterations, break_if}`` return a workflow handle (fields ``id``, ``name``,
``type``; methods ``execute([input])``, ``getInfo``, ``getState(key)``, ``setState(key,
value)``, ``onBeforeExecute(fn)``, ``onAfterExecute(fn)``, ``onError(fn)``, ``validate``,
``getMetrics``, ``debug``, ``emit(name, data)``). ``Workflow.list/get/remove/register/types``,
``Workflow.resume(run_id)``, ``Workflow.cancel(run_id)``, ``Workflow.runs([filter])``,
``Workflow.run(run_id)``, ``Workflow.setDefaultErrorHandler(fn)``, ``Workflow.enableDebug(on)``
and ``Workflow.isDebugEnabled()`` complete it.

Every call goes through ``rt.workflows``. Workflows a script defines are removed when its
engine closes (their Lua functions die with it); their runs stay recorded. The Lua half is
``llmspell/lua/scripts/workflow.lua``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from llmspell.errors import ValidationError
from llmspell.lua import checks
from llmspell.validation import check_flag, check_known_keys
from llmspell.workflows.spec import describe

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine
    from llmspell.workflows import Workflow, WorkflowService

logger = logging.getLogger("llmspell.workflows")
RUNS_FILTER = ("status", "workflow", "limit")
ENQUEUE_KEYS = ("queue", "max_attempts")
LISTENERS = {"before": "before", "after": "after", "error": "error"}


def install(engine: LuaEngine) -> None:
    runtime = engine.runtime
    mine: list[str] = []
    settings: dict[str, Any] = {"debug": False, "on_error": None}

    def service() -> WorkflowService:
        return runtime.workflows

    def workflow(ref: Any) -> Workflow:
        found = service().get(checks.text(ref, "workflow"))
        if found is None:
            raise ValidationError("workflow", "no workflow of that id or name (removed?)",
                                  got=ref)
        return found

    def handle(item: Workflow) -> dict[str, Any]:
        return {"id": item.id, "name": item.name, "type": item.kind}

    def create(kind: Any, spec: Any) -> dict[str, Any]:
        made = service().create(checks.text(kind, "kind"), spec)
        mine.append(made.id)
        return handle(made)

    def execute(ref: Any, input: Any = None) -> dict[str, Any]:
        result = workflow(ref).execute(input)
        return _finished(result)

    queues: list[Any] = []

    def enqueue(ref: Any, input: Any = None, opts: Any = None) -> dict[str, Any]:
        from llmspell.storage.jobs import JobQueue
        from llmspell.workers.submit import enqueue_workflow

        o = checks.mapping(opts, "options")
        check_known_keys(o, ENQUEUE_KEYS, "options", noun="field")
        item = workflow(ref)
        if not queues:
            queues.append(JobQueue(runtime.store))
            engine.on_close(queues[0].close)
        return enqueue_workflow(queues[0], item, input,
                                queue_name=o.get("queue", runtime.config.setting(
                                    "workers.queue")),
                                max_attempts=o.get("max_attempts", runtime.config.setting(
                                    "workers.max_attempts")))

    def _finished(result: dict[str, Any]) -> dict[str, Any]:
        if settings["debug"]:
            for step in result["step_results"]:
                logger.info("workflow %s step %s: %s%s", result["workflow_name"],
                            step["path"], step["status"],
                            " (recorded)" if step["replayed"] else "")
        if not result["success"] and settings["on_error"] is not None:
            settings["on_error"](result)
        return result

    def on(ref: Any, which: Any, fn: Any) -> dict[str, Any]:
        item = workflow(ref)
        item.on(checks.text(which, "which"), fn)
        return {"success": True, "workflow_id": item.id, "hook_type": which}

    def get(ref: Any) -> dict[str, Any] | None:
        found = service().get(checks.text(ref, "workflow"))
        return None if found is None else handle(found)

    def remove(ref: Any) -> bool:
        return service().remove(checks.text(ref, "workflow"))

    def runs(filters: Any = None) -> list[dict[str, Any]]:
        chosen = checks.options(filters, "filter", RUNS_FILTER)
        return service().runs(**chosen)

    def debug(ref: Any) -> dict[str, Any]:
        item = workflow(ref)
        return {"workflow_id": item.id, "name": item.name, "type": item.kind,
                "definition": describe(item.definition),
                "runtime": {"last_run_id": item.last_run_id, "running": len(item.active)}}

    def emit(ref: Any, name: Any, data: Any = None) -> dict[str, Any]:
        item = workflow(ref)
        event = checks.text(name, "event_name", empty=False)
        runtime.events.publish(f"workflow.{event}", {
            "workflow_id": item.id, "workflow_name": item.name, "workflow_type": item.kind,
            "data": data}, source="workflows")
        return {"success": True, "workflow_id": item.id, "event_name": event}

    def set_error_handler(fn: Any) -> None:
        if fn is not None and not callable(fn):
            raise ValidationError("handler", "must be a function (or nil to remove it)",
                                  got=fn)
        settings["on_error"] = fn

    def enable_debug(on: Any) -> None:
        settings["debug"] = check_flag(on, "enabled")

    def close() -> None:
        settings["on_error"] = None
        if runtime.closed or not mine:
            return
        for workflow_id in mine:
            service().remove(workflow_id)

    engine.on_close(close)
    engine.install_global("Workflow", {
        "create": create, "execute": execute, "enqueue": enqueue, "on": on, "get": get,
        "remove": remove,
        "list": lambda: service().list(), "types": lambda: service().types(),
        "getInfo": lambda ref: workflow(ref).info(),
        "getState": lambda ref, key: workflow(ref).get_state(key),
        "setState": lambda ref, key, value=None: workflow(ref).set_state(key, value),
        "validate": lambda ref: workflow(ref).validate(),
        "getMetrics": lambda ref: workflow(ref).metrics(),
        "debug": debug, "emit": emit,
        "resume": lambda run_id: _finished(service().resume(run_id)),
        "cancel": lambda run_id: service().cancel(run_id),
        "runs": runs, "run": lambda run_id: service().run(run_id),
        "setDefaultErrorHandler": set_error_handler, "enableDebug": enable_debug,
        "isDebugEnabled": lambda: settings["debug"],
    }, "workflow.lua", takes_functions=("create", "on", "setDefaultErrorHandler", "execute"))
