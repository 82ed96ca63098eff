"""Validation rules a migration checks on every value before and after transforming it.

::

    {"required": ["name", "email"], "types": {"age": "integer", "tags": "array"},
     "check": lambda value: "age must be positive" if value.get("age", 0) < 0 else True}

``required``: fields the value (a table) must have. ``types``: field -> one of ``string``,
``number``, ``integer``, ``boolean``, ``table`` (a list or a dict), ``object`` (a dict),
``array`` (a list), ``null``. ``check``: a callable (a Lua function from Lua) that gets the
value and returns true/None to accept, false or a message to refuse. A value that is not a
table fails any ``required`` or ``types`` rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llmspell.errors import ValidationError
from llmspell.validation import check_texts

TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "table": lambda v: isinstance(v, dict | list),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


@dataclass(frozen=True)
class Validation:
    """Rules for one side (before or after) of a migration; see the module docstring."""

    required: tuple[str, ...] = ()
    types: Mapping[str, str] = field(default_factory=dict)
    check: Callable[[Any], Any] | None = None

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value``, or None when it passes every rule."""
        if self.required or self.types:
            if not isinstance(value, dict):
                return f"must be a table with fields (got {type(value).__name__})"
            for name in self.required:
                if name not in value:
                    return f"required field {name!r} is missing"
            for name, kind in self.types.items():
                if name in value and not TYPES[kind](value[name]):
                    got = type(value[name]).__name__
                    return f"field {name!r} must be {kind} (got {got} {value[name]!r:.40})"
        if self.check is not None:
            verdict = self.check(value)
            if verdict is False:
                return "the custom check refused it"
            if isinstance(verdict, str):
                return f"the custom check refused it: {verdict}"
        return None

    def spec(self) -> dict[str, Any]:
        """A plain description (for reports and for a plan's derived id)."""
        out: dict[str, Any] = {}
        if self.required:
            out["required"] = list(self.required)
        if self.types:
            out["types"] = dict(sorted(self.types.items()))
        if self.check is not None:
            out["check"] = callable_name(self.check)
        return out


def parse_validation(spec: Any, argument: str) -> Validation | None:
    """A :class:`Validation` from a dict (None/empty: no rules).

    Raises:
        ValidationError: naming ``argument`` and the bad part.
    """
    if spec is None or isinstance(spec, Validation):
        return spec
    if not isinstance(spec, Mapping):
        raise ValidationError(argument, "must be a table {required = {...}, types = {...}, "
                              "check = fn}", got=spec)
    unknown = sorted(set(spec) - {"required", "types", "check"})
    if unknown:
        raise ValidationError(argument, f"unknown rule {unknown[0]!r} (rules: required, "
                              "types, check)")
    required = check_texts(spec.get("required") or [], f"{argument}.required", "field names",
                           non_empty=True)
    types = spec.get("types") or {}
    if not isinstance(types, Mapping):
        raise ValidationError(f"{argument}.types", "must map field names to type names",
                              got=types)
    for name, kind in types.items():
        if kind not in TYPES:
            raise ValidationError(f"{argument}.types", f"type of field {name!r} must be one "
                                  f"of {', '.join(TYPES)}", got=kind)
    check = spec.get("check")
    if check is not None and not callable(check):
        raise ValidationError(f"{argument}.check", "must be a function", got=check)
    if not required and not types and check is None:
        return None
    return Validation(tuple(required), dict(types), check)


def callable_name(fn: Any) -> str:
    """A stable name for a callable: ``module.qualname`` (the Lua layer names the Lua
    functions it passes ``lua function``)."""
    module = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"{module}.{name}" if module else name
