"""The tools an agent may call: a name, a description, a JSON schema of the arguments, and a
callable that takes the arguments as a dict. Arguments that miss a ``required`` field of the
schema, or give a property of the wrong ``type``, are refused before the tool runs.

The Tool registry comes later; until then tools are registered on the agent, as Python
callables or Lua functions: an :class:`AgentTool`, a dict ``{name, description, parameters, fn}``
(``execute`` or ``handler`` for ``fn`` too), or a plain Python function (its ``__name__`` and
docstring; no parameters schema). A tool's result goes back to the model as text: a string as
it is, anything else as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from llmspell.errors import ValidationError
from llmspell.providers.base import ToolSpec
from llmspell.state.migration.validation import TYPES, Validation
from llmspell.validation import check_texts

TOOL_KEYS = ("name", "description", "parameters", "fn", "execute", "handler", "secret_fields")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
NAME_RULE = "must be 1-64 characters from A-Z a-z 0-9 _ - (what model APIs accept)"


@dataclass
class AgentTool:
    """One tool: ``call(arguments)`` runs it; ``calls``/``failures`` count its use."""

    name: str
    fn: Callable[[dict[str, Any]], Any]
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}})
    calls: int = 0
    failures: int = 0
    #: Dotted argument paths holding credentials: ``[REDACTED]`` in the journal.
    secret_fields: tuple[str, ...] = ()
    _rules: Validation | None = field(default=None, repr=False, compare=False)

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    def problem(self, arguments: dict[str, Any]) -> str | None:
        """What is wrong with ``arguments`` by the schema's ``required`` fields and the
        ``type`` of its ``properties`` (the checks a migration's validation makes), or None."""
        rules = self._rules
        if rules is None:
            props = self.parameters.get("properties") or {}
            types = {name: spec["type"] for name, spec in props.items()
                     if isinstance(spec, Mapping) and spec.get("type") in TYPES}
            required = tuple(r for r in self.parameters.get("required") or ()
                             if isinstance(r, str))
            rules = self._rules = Validation(required, types)
        return rules.problem(arguments)

    def call(self, arguments: dict[str, Any]) -> Any:
        self.calls += 1
        try:
            return self.fn(arguments)
        except Exception:
            self.failures += 1
            raise

    def metadata(self) -> dict[str, Any]:
        """rs-llmspell's ``getToolMetadata`` shape (plus the schema and counters)."""
        return {"name": self.name, "description": self.description, "version": "1.0.0",
                "parameters": dict(self.parameters), "calls": self.calls,
                "failures": self.failures}


def as_tool(value: Any, path: str) -> AgentTool:
    """An :class:`AgentTool` from any accepted form; ValidationError naming ``tools`` and the
    path otherwise."""
    if isinstance(value, AgentTool):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(TOOL_KEYS))
        if unknown:
            raise ValidationError("tools", f"unknown key(s) {', '.join(unknown)}; known: "
                                  f"{', '.join(TOOL_KEYS)}", path=path, got=dict(value))
        fn = value.get("fn") or value.get("execute") or value.get("handler")
        if not callable(fn):
            raise ValidationError("tools", "must be a function (the tool's code)",
                                  path=f"{path}.fn", got=fn)
        name = check_name(value.get("name"), f"{path}.name")
        description = value.get("description", "")
        if not isinstance(description, str):
            raise ValidationError("tools", "must be a string", path=f"{path}.description",
                                  got=description)
        parameters = value.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, Mapping):
            raise ValidationError("tools", "must be a JSON schema (a table)",
                                  path=f"{path}.parameters", got=parameters)
        secrets = check_texts(value.get("secret_fields") or (), "tools",
                              "dotted argument paths", path=f"{path}.secret_fields",
                              non_empty=True)
        return AgentTool(name, fn, description, dict(parameters),
                         secret_fields=tuple(secrets))
    if callable(value) and hasattr(value, "__name__"):
        return AgentTool(check_name(value.__name__, path), _by_keywords(value),
                         (value.__doc__ or "").strip())
    raise ValidationError("tools", "each tool must be a table {name=, description=, "
                          "parameters=, fn=}, an AgentTool or a Python function", path=path,
                          got=value)


def check_name(name: Any, path: str) -> str:
    if isinstance(name, str) and _NAME.fullmatch(name):
        return name
    raise ValidationError("tools", NAME_RULE, path=path, got=name)


def _by_keywords(fn: Callable[..., Any]) -> Callable[[dict[str, Any]], Any]:
    def call(arguments: dict[str, Any]) -> Any:
        return fn(**arguments)
    return call


def result_text(value: Any) -> str:
    """A tool's result as the text sent back to the model."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
