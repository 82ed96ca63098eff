"""The transforms of a migration plan, compiled into plain functions run by a for-loop.

Each compiled step is ``step(value, ctx) -> (value, outcome)`` with outcome ``CHANGED``,
``UNCHANGED`` or ``SKIPPED``. A field transform on a value that is not a table, or lacks the
field, leaves it as it is and reports ``SKIPPED`` (``default`` is the exception: a missing
field is what it fills). Steps change the (freshly decoded) value in place. A step that
cannot do its work (``convert`` of ``"abc"`` to int, ``split`` of a number, a custom function
that raises) raises :class:`TransformFailed`; the migration then fails as a whole.

Conversions (``convert``):

- ``int``: from an integral float, a bool (1/0), or text of an integer (``" 42 "``).
- ``float``: from an int, or text of a finite number.
- ``str``: from a number (``3``, ``2.5``) or a bool (``"true"``/``"false"``).
- ``bool``: from text ``true/false/yes/no/on/off/1/0`` (any case) or a number (0 is false).

Converting null, a table, or a value already of the target type: null and tables fail, the
target type is left as it is (``UNCHANGED``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

from llmspell.state.migration.plan import Transform

CHANGED, UNCHANGED, SKIPPED = 0, 1, 2

Step = Callable[[Any, dict[str, Any]], tuple[Any, int]]

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class TransformFailed(Exception):
    """A transform could not convert a value (an internal signal, turned into a
    MigrationError that names the item and the transform)."""


def compile_steps(transforms: tuple[Transform, ...]) -> list[Step]:
    """One function per transform, in order."""
    return [_BUILDERS[t.kind](t) for t in transforms]


def _clone(value: Any) -> Any:
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


def _copy(t: Transform) -> Step:
    source, target = t.field, t.to

    def step(value: Any, ctx: dict[str, Any]) -> tuple[Any, int]:
        if not isinstance(value, dict) or source not in value:
            return value, SKIPPED
        value[target] = _clone(value[source])
        return value, CHANGED
    return step


def _rename(t: Transform) -> Step:
    source, target = t.field, t.to

    def step(value: Any, ctx: dict[str, Any]) -> tuple[Any, int]:
        if not isinstance(value, dict) or source not in value:
            return value, SKIPPED
        value[target] = value.pop(source)
        return value, CHANGED
    return step


def _default(t: Transform) -> Step:
    name, fill = t.field, t.value

    def step(value: Any, ctx: dict[str, Any]) -> tuple[Any, int]:
        if not isinstance(value, dict):
            return value, SKIPPED
        if name in value:
            return value, UNCHANGED
        value[name] = _clone(fill)
        return value, CHANGED
    return step


def _remove(t: Transform) -> Step:
    name = t.field

    def step(value: Any, ctx: dict[str, Any]) -> tuple[Any, int]:
        if not isinstance(value, dict) or name not in value:
            return value, SKIPPED
        del value[name]
        return value, CHANGED
    return step


def _convert(t: Transform) -> Step:
    name, target = t.field, t.to
    assert name is not None and target is not None
    convert = _CONVERTERS[target]

    def step(value: Any, ctx: dict[str, Any]) -> tuple[Any, int]:
        if not isinstance(value, dict) or name not in value:
            return value, SKIPPED
        old = value[name]
        new = convert(old)
        if type(new) is type(old) and new == old:
            return value, UNCHANGED
        value[name] = new
        return value, CHANGED
    return step


def _split(t: Transform) -> Step:
    name, into, sep, keep = t.field, t.into, t.separator, t.keep
    assert name is not None
    drop = not keep and name not in into

    def step(value: Any, ctx: dict[str, Any]) -> tuple[Any, int]:
        if not isinstance(value, dict) or name not in value:
            return value, SKIPPED
        text = value[name]
        if not isinstance(text, str):
            raise TransformFailed(f"field {name!r} must be a string to split (got "
                                  f"{type(text).__name__} {text!r:.40})")
        parts = text.split(sep, len(into) - 1)
        if drop:
            del value[name]
        for i, target in enumerate(into):
            value[target] = parts[i] if i < len(parts) else None
        return value, CHANGED
    return step


def _merge(t: Transform) -> Step:
    fields, target, sep, keep = t.fields, t.to, t.separator, t.keep

    def step(value: Any, ctx: dict[str, Any]) -> tuple[Any, int]:
        if not isinstance(value, dict):
            return value, SKIPPED
        present = [f for f in fields if f in value and value[f] is not None]
        if not present:
            return value, SKIPPED
        joined = sep.join(_to_str(value[f], f) for f in present)
        if not keep:
            for f in fields:
                if f != target:
                    value.pop(f, None)
        value[target] = joined
        return value, CHANGED
    return step


def _custom(t: Transform) -> Step:
    fn, name = t.fn, t.field
    assert fn is not None

    if name is None:
        def whole(value: Any, ctx: dict[str, Any]) -> tuple[Any, int]:
            new = fn(value, ctx)
            return (value, UNCHANGED) if new is None else (new, CHANGED)
        return whole

    def step(value: Any, ctx: dict[str, Any]) -> tuple[Any, int]:
        if not isinstance(value, dict) or name not in value:
            return value, SKIPPED
        new = fn(value[name], {**ctx, "value": value})
        if new is None:
            return value, UNCHANGED
        value[name] = new
        return value, CHANGED
    return step


_BUILDERS: dict[str, Callable[[Transform], Step]] = {
    "copy": _copy, "rename": _rename, "default": _default, "remove": _remove,
    "convert": _convert, "split": _split, "merge": _merge, "custom": _custom,
}


# -- conversions --------------------------------------------------------------------------


def _cannot(value: Any, target: str) -> TransformFailed:
    return TransformFailed(f"cannot convert {type(value).__name__} {value!r:.40} to {target}")


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _cannot(value, "int")


def to_float(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
    raise _cannot(value, "float")


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise _cannot(value, "bool")


def to_str(value: Any) -> str:
    return _to_str(value, None)


def _to_str(value: Any, name: str | None) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    where = f"field {name!r}: " if name else ""
    raise TransformFailed(f"{where}cannot convert {type(value).__name__} {value!r:.40} to str")


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "int": to_int, "float": to_float, "str": to_str, "bool": to_bool,
}
