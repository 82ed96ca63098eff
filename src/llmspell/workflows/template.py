"""Step input templating: ``{{step:NAME:output}}`` and friends, filled from the run's view.

References (inside any string of a step's ``input``, at any depth):

- ``{{step:NAME:output}}``: the output of the step NAME that ran before (rs-llmspell's form);
  ``{{step:NAME:output.a.b}}`` a field of a table output (list indexes are 1-based);
- ``{{shared:KEY}}``: shared data (a dotted path);
- ``{{input}}`` / ``{{input:KEY}}``: the run's input;
- ``{{loop:index}}`` / ``{{loop:value}}``: the current loop iteration (1-based index).

A string that is exactly one reference becomes the referenced value itself (a table stays a
table, a number a number); inside longer text a value is written as text (tables as JSON).
A reference to a step that has not run, or to nothing, fails the step with a
ValidationError naming the reference.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from llmspell.errors import ValidationError
from llmspell.workflows.conditions import _MISSING, lookup

REFERENCE = re.compile(r"\{\{\s*(step|shared|input|loop)(?::([^}]*?))?\s*\}\}")


def render(value: Any, view: dict[str, Any], *, step: str) -> Any:
    """``value`` with every reference filled from ``view`` (see the module docstring)."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        whole = REFERENCE.fullmatch(value.strip())
        if whole is not None:
            return _resolve(whole, view, step)
        return REFERENCE.sub(lambda m: _as_text(_resolve(m, view, step)), value)
    if isinstance(value, Mapping):
        return {k: render(v, view, step=step) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, view, step=step) for v in value]
    return value


def references(value: Any) -> list[str]:
    """The step names ``value`` refers to with ``{{step:NAME:...}}``."""
    found: list[str] = []
    if isinstance(value, str):
        for match in REFERENCE.finditer(value):
            if match.group(1) == "step" and match.group(2):
                found.append(match.group(2).split(":", 1)[0])
    elif isinstance(value, Mapping):
        for v in value.values():
            found.extend(references(v))
    elif isinstance(value, list):
        for v in value:
            found.extend(references(v))
    return found


def _resolve(match: re.Match[str], view: dict[str, Any], step: str) -> Any:
    source, rest = match.group(1), (match.group(2) or "").strip()
    if source == "step":
        name, _, field = rest.partition(":")
        outputs = view["outputs"]
        if name not in outputs:
            raise ValidationError("input", f"step {name!r} has no output yet (it has not run, "
                                  "or was skipped)", path=f"step {step}", got=match.group(0))
        found = outputs[name]
        field = field or "output"
        if field != "output" and not field.startswith("output."):
            raise ValidationError("input", "a step reference reads 'output' or 'output.FIELD'",
                                  path=f"step {step}", got=match.group(0))
        if field.startswith("output."):
            found = lookup(found, field[len("output."):])
    elif source == "shared":
        found = lookup(view["shared"], rest) if rest else view["shared"]
    elif source == "input":
        found = lookup(view["input"], rest) if rest else view["input"]
    else:
        loop = view.get("loop")
        found = _MISSING if loop is None or rest not in ("index", "value") else loop[rest]
    if found is _MISSING:
        raise ValidationError("input", "the reference names nothing", path=f"step {step}",
                              got=match.group(0))
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()
