"""A workflow rebuilt from a run's stored definition, so ``llmspell workflow resume ID`` can
finish a declarative run (tools, agents, declared conditions, nested workflows) with no
script. A definition with a function step or a function condition cannot be rebuilt: its code
is not stored, and the script that defines the workflow must resume the run itself
(``Workflow.resume(id)`` after defining the workflow again).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmspell.errors import ValidationError, WorkflowError
from llmspell.workflows.spec import Definition, describe, parse_definition


def rebuild(described: Mapping[str, Any], settings: Mapping[str, Any], run_id: str
            ) -> Definition:
    """The Definition ``described`` (:func:`~llmspell.workflows.spec.describe`) stands for.

    Raises:
        WorkflowError: the definition holds a function, or cannot be read back.
    """
    try:
        definition = _definition(described, settings)
    except (ValidationError, KeyError, TypeError) as exc:
        raise WorkflowError(
            f"run {run_id} cannot be resumed here: its workflow {described.get('name')!r} "
            "has code (a function step or condition) or is not defined in this process; "
            "run the script that defines it and call Workflow.resume(id) there "
            f"({exc})") from exc
    if describe(definition) != described:
        raise WorkflowError(f"run {run_id}: the stored definition cannot be read back exactly")
    return definition


def _definition(d: Mapping[str, Any], settings: Mapping[str, Any]) -> Definition:
    kind = d["kind"]
    spec: dict[str, Any] = {"name": d["name"], "description": d.get("description", ""),
                            "error_strategy": d["error_strategy"],
                            "max_retries": d["max_retries"], "backoff_ms": d["backoff_ms"]}
    if d.get("timeout") is not None:
        spec["timeout"] = d["timeout"]
    if kind == "parallel":
        spec["branches"] = [{"name": b["name"], "steps": _steps(b["steps"], settings)}
                            for b in d["branches"]]
        spec["max_concurrency"] = d["max_concurrency"]
        spec["distributed"] = bool(d.get("distributed", False))
    elif kind == "conditional":
        spec["branches"] = [{"name": b["name"], "condition": b["condition"],
                             "steps": _steps(b["steps"], settings)} for b in d["branches"]]
        if d.get("default"):
            spec["default"] = _steps(d["default"], settings)
    else:
        spec["steps" if kind == "sequential" else "body"] = _steps(d["steps"], settings)
    if kind == "loop":
        loop = d["loop"]
        if loop["values"] is not None:
            spec["collection"] = loop["values"]
        else:
            spec["while"] = loop["while"]
        spec["max_iterations"] = loop["max_iterations"]
        if loop["break_if"]:
            spec["break_if"] = loop["break_if"]
    return parse_definition(kind, spec, resolve=lambda value, path: value,
                            settings=settings, argument="definition")


def _steps(steps: list[Mapping[str, Any]], settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for s in steps:
        if s["type"] == "function":
            raise ValidationError("definition", "a function step's code is not stored",
                                  path=f"step {s['name']}")
        step: dict[str, Any] = {"name": s["name"], "type": s["type"]}
        if "description" in s:
            step["description"] = s["description"]
        if s["type"] == "workflow":
            step["workflow"] = _definition(s["workflow"], settings)
        else:
            step[s["type"]] = s[s["type"]]
        if "input" in s:
            step["input"] = s["input"]
        if "timeout" in s:
            step["timeout"] = s["timeout"]
        if "retries" in s:
            step["retries"] = s["retries"]
        if "backoff" in s:
            step["backoff_ms"] = round(s["backoff"] * 1000)
        if "output_key" in s:
            step["output_key"] = s["output_key"]
        out.append(step)
    return out
