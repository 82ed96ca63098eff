"""``@tool``: a Python function becomes a Tool, its parameter schema derived from type hints.

    @tool(category="utility")
    def add(a: int, b: int = 0) -> int:
        '''Add two integers.'''
        return a + b

``add`` is now a :class:`~llmspell.tools.base.Tool` (``add.call({"a": 1})`` is 1); register it
with ``rt.tools.register(add)``. Hints map to JSON Schema: ``str``, ``int``, ``float``,
``bool``, ``list[X]``, ``dict[str, X]``, ``X | None``, ``Literal[...]``; a parameter without a
default is required. The docstring's first paragraph is the description. A parameter named
``ctx`` receives the :class:`~llmspell.tools.base.ToolContext` and is not in the schema.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from llmspell.errors import ValidationError
from llmspell.tools.base import Tool, ToolContext

_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"},
    bool: {"type": "boolean"}, list: {"type": "array"}, dict: {"type": "object"},
    Any: {},
}


def schema_of(hint: Any, where: str) -> dict[str, Any]:
    """The JSON Schema of a type hint; ValidationError naming the parameter otherwise."""
    if hint in _SIMPLE:
        return dict(_SIMPLE[hint])
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (list, tuple, set, frozenset) and args:
        return {"type": "array", "items": schema_of(args[0], where)}
    if origin is dict:
        return {"type": "object", **({"additionalProperties": schema_of(args[1], where)}
                                     if len(args) == 2 else {})}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        inner = [schema_of(a, where) for a in options]
        if type(None) in args:
            inner.append({"type": "null"})
        return inner[0] if len(inner) == 1 else {"anyOf": inner}
    raise ValidationError("fn", f"the type hint of parameter '{where}' has no JSON Schema form "
                          "(use str, int, float, bool, list[...], dict[str, ...], Literal or "
                          "X | None)", got=hint)


def derive_schema(fn: Callable[..., Any]) -> dict[str, Any]:
    """The parameters schema of ``fn`` from its signature and type hints."""
    hints = typing.get_type_hints(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(fn).parameters.items():
        if name == "ctx":
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ValidationError("fn", f"*{name} parameters cannot be described to a model")
        prop = schema_of(hints.get(name, Any), name)
        if param.default is param.empty:
            required.append(name)
        elif param.default is None or isinstance(param.default, str | int | float | bool):
            prop["default"] = param.default
        properties[name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def tool(fn: Callable[..., Any] | None = None, *, name: str | None = None,
         description: str | None = None, category: str = "custom",
         security_level: str = "safe", timeout: float | None = 30.0,
         capabilities: tuple[str, ...] = ()) -> Any:
    """Make a Tool of ``fn`` (use as ``@tool`` or ``@tool(category=...)``); see the module."""
    def make(function: Callable[..., Any]) -> Tool:
        takes_ctx = "ctx" in inspect.signature(function).parameters

        def run(params: dict[str, Any], ctx: ToolContext) -> Any:
            return function(**params, ctx=ctx) if takes_ctx else function(**params)

        doc = inspect.getdoc(function) or ""
        made = Tool(name or function.__name__,
                    description if description is not None else doc.split("\n\n")[0],
                    parameters=derive_schema(function), category=category,
                    security_level=security_level, timeout=timeout,
                    capabilities=capabilities, fn=run)
        made.__doc__ = function.__doc__
        return made

    return make(fn) if fn is not None else make
