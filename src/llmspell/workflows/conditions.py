"""Conditions of conditional branches, loop ``while`` and ``break_if``: declared or coded.

A condition is a function (Lua or Python) called with the run's view ``{shared, outputs,
status, loop, input}`` and true when it returns a truthy value, or a declaration
(rs-llmspell's ``{type = ...}`` tables):

- ``"always"`` / ``"never"`` (or ``{type = "always"}``);
- ``{type = "shared_data_equals", key, expected}`` (alias ``equals``, ``value`` for
  ``expected``) and ``{type = "shared_data_exists", key}`` (alias ``exists``): on shared data,
  ``key`` may be a dotted path (``user.name``);
- ``{type = "step_output_equals", step, expected}`` (alias ``step_result_equals``),
  ``{type = "step_succeeded", step}``, ``{type = "step_failed", step}``;
- ``{type = "and"|"or", conditions = {...}}``, ``{type = "not", condition}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llmspell.errors import ValidationError
from llmspell.validation import check_known_keys

TYPES = ("always", "never", "shared_data_equals", "shared_data_exists", "step_output_equals",
         "step_succeeded", "step_failed", "and", "or", "not")
ALIASES = {"equals": "shared_data_equals", "exists": "shared_data_exists",
           "step_result_equals": "step_output_equals"}
_FIELDS = {"shared_data_equals": ("key", "expected", "value"), "shared_data_exists": ("key",),
           "step_output_equals": ("step", "expected", "value"), "step_succeeded": ("step",),
           "step_failed": ("step",), "and": ("conditions",), "or": ("conditions",),
           "not": ("condition",), "always": (), "never": ()}
_MISSING = object()


@dataclass
class Condition:
    """A parsed condition; ``fn`` set for a coded one."""

    kind: str
    key: str | None = None
    expected: Any = None
    parts: list[Condition] = field(default_factory=list)
    fn: Callable[[dict[str, Any]], Any] | None = None

    def evaluate(self, view: dict[str, Any]) -> bool:
        """Whether the condition holds for ``view`` (see the module docstring)."""
        kind = self.kind
        if kind == "function":
            assert self.fn is not None
            result = self.fn(view)
            return result is not None and result is not False
        if kind == "always":
            return True
        if kind == "never":
            return False
        if kind == "and":
            return all(p.evaluate(view) for p in self.parts)
        if kind == "or":
            return any(p.evaluate(view) for p in self.parts)
        if kind == "not":
            return not self.parts[0].evaluate(view)
        if kind == "shared_data_equals":
            return lookup(view["shared"], self.key or "") == self.expected
        if kind == "shared_data_exists":
            return lookup(view["shared"], self.key or "") not in (_MISSING, None)
        status = view["status"].get(self.key)
        if kind == "step_succeeded":
            return status == "completed"
        if kind == "step_failed":
            return status == "failed"
        output = view["outputs"].get(self.key, _MISSING)
        return output == self.expected or (isinstance(output, str)
                                           and output == str(self.expected))

    def describe(self) -> Any:
        """The condition as plain JSON (a function as ``"<function>"``)."""
        if self.kind == "function":
            return "<function>"
        if self.kind in ("always", "never"):
            return self.kind
        out: dict[str, Any] = {"type": self.kind}
        if self.key is not None:
            out["step" if self.kind.startswith("step_") else "key"] = self.key
        if self.kind in ("shared_data_equals", "step_output_equals"):
            out["expected"] = self.expected
        if self.kind in ("and", "or"):
            out["conditions"] = [p.describe() for p in self.parts]
        if self.kind == "not":
            out["condition"] = self.parts[0].describe()
        return out


def lookup(data: Any, path: str) -> Any:
    """The value at the dotted ``path`` of ``data``, or a marker when absent."""
    node = data
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and 0 < int(part) <= len(node):
            node = node[int(part) - 1]  # 1-based, as in Lua
        else:
            return _MISSING
    return node


def parse_condition(value: Any, argument: str, path: str) -> Condition:
    """A Condition from what a script gave (see the module docstring).

    Raises:
        ValidationError: an unknown type, a missing field, or a value of the wrong kind.
    """
    if callable(value):
        return Condition("function", fn=value)
    if isinstance(value, str):
        if value in ("always", "never"):
            return Condition(value)
        raise ValidationError(argument, "a condition string must be 'always' or 'never'",
                              path=path, got=value)
    if not isinstance(value, Mapping):
        raise ValidationError(argument, "a condition must be a function, 'always', 'never' or "
                              "a table {type = ...}", path=path, got=value)
    kind = value.get("type")
    kind = ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if kind not in TYPES:
        raise ValidationError(argument, "the condition type must be one of "
                              + ", ".join(TYPES + tuple(ALIASES)), path=f"{path}.type",
                              got=value.get("type"))
    check_known_keys(value, ("type", *_FIELDS[kind]), argument, noun="field", path=path)
    if kind in ("always", "never"):
        return Condition(kind)
    if kind in ("and", "or"):
        parts = value.get("conditions")
        if not isinstance(parts, list) or not parts:
            raise ValidationError(argument, "must be a non-empty list of conditions",
                                  path=f"{path}.conditions", got=parts)
        return Condition(kind, parts=[parse_condition(p, argument, f"{path}.conditions[{i}]")
                                      for i, p in enumerate(parts, start=1)])
    if kind == "not":
        if "condition" not in value:
            raise ValidationError(argument, "'not' needs a condition", path=path)
        return Condition(kind, parts=[parse_condition(value["condition"], argument,
                                                      f"{path}.condition")])
    label = "step" if kind.startswith("step_") else "key"
    key = value.get(label)
    if not isinstance(key, str) or not key:
        raise ValidationError(argument, "must be a non-empty string", path=f"{path}.{label}",
                              got=key)
    expected = value.get("expected", value.get("value"))
    if kind in ("shared_data_equals", "step_output_equals") and expected is None:
        raise ValidationError(argument, "needs the expected value", path=f"{path}.expected")
    return Condition(kind, key=key, expected=expected)
