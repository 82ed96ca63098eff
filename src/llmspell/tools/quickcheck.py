"""A fast acceptance test for the common shapes of tool parameter schemas.

jsonschema's validator costs ~15 us for a three-property object, more than a tool such as the
calculator spends computing. Most tools' schemas use a small part of JSON Schema: ``type``,
``properties``, ``required``, ``additionalProperties``, ``enum``, ``const``, ``items``,
``pattern``, ``anyOf`` and numeric, length and size bounds. :func:`compile_check` turns such a
schema into a plain function that says whether a value **surely** satisfies it; it answers
``False`` whenever it is not sure (an integer given as ``1.0``, a bool where a number is
asked, an enum member of another type). A ``False`` is never reported: the caller then runs
the full jsonschema validation, which gives the error with its path, or accepts the value
after all. So the answer for every value is jsonschema's; only the time differs.

A schema using any keyword outside the subset (``$ref``, ``oneOf``, ``format``,
``patternProperties``, ``$schema``...) is not compiled at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

#: Keywords that say nothing about validity.
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "$comment",
                          "deprecated", "readOnly", "writeOnly"})
_KNOWN = _ANNOTATIONS | {"type", "properties", "required", "additionalProperties", "enum",
                         "const", "items", "minimum", "maximum", "exclusiveMinimum",
                         "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems",
                         "maxProperties", "pattern", "anyOf"}
#: JSON scalar types an ``enum`` member may have for a plain ``==`` with the value's exact
#: type to decide (bool is not int here, as in JSON Schema).
_SCALARS = (str, int, float, bool, type(None))


def compile_check(schema: Any) -> Check | None:
    """A function telling whether a value surely satisfies ``schema`` (module doc), or None
    when ``schema`` uses anything outside the supported subset."""
    if not isinstance(schema, Mapping):
        return None
    if not set(schema) <= _KNOWN:
        return None
    checks: list[Check] = []
    kind = schema.get("type")
    if kind is not None:
        check = _type_check(kind)
        if check is None:
            return None
        checks.append(check)
    if "enum" in schema:
        members = schema["enum"]
        if not isinstance(members, list) or not all(type(m) in _SCALARS for m in members):
            return None
        allowed = frozenset((type(m), m) for m in members)
        checks.append(lambda v: type(v) in _SCALARS and (type(v), v) in allowed)
    if "const" in schema:
        const = schema["const"]
        if type(const) not in _SCALARS:
            return None
        checks.append(lambda v: type(v) is type(const) and v == const)
    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            return None
        try:
            search = re.compile(schema["pattern"]).search  # what jsonschema itself uses
        except re.error:
            return None
        checks.append(lambda v: type(v) is not str or search(v) is not None)
    if "anyOf" in schema:
        options = schema["anyOf"]
        if not isinstance(options, list) or not options:
            return None
        compiled = [compile_check(o) for o in options]
        if any(c is None for c in compiled):
            return None
        # One option surely satisfied is enough; none: not sure (the full check decides).
        checks.append(lambda v: any(c(v) for c in compiled))  # type: ignore[misc]
    bounds = _bounds(schema)
    if bounds is None:
        return None
    checks.extend(bounds)
    if "items" in schema:
        item = compile_check(schema["items"])
        if item is None:
            return None
        checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
    shape = _object_check(schema)
    if shape is None:
        return None
    if shape is not _NOTHING:
        checks.append(shape)
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)


def _type_check(kind: Any) -> Check | None:
    names = kind if isinstance(kind, list) else [kind]
    tests = []
    for name in names:
        test = _TYPES.get(name) if isinstance(name, str) else None
        if test is None:
            return None
        tests.append(test)
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(t(v) for t in tests)


_TYPES: dict[str, Check] = {
    "string": lambda v: type(v) is str,
    # Only exact ints: 1.0 is an integer to JSON Schema, but let jsonschema say so.
    "integer": lambda v: type(v) is int,
    "number": lambda v: type(v) is int or type(v) is float,
    "boolean": lambda v: type(v) is bool,
    "null": lambda v: v is None,
    "object": lambda v: type(v) is dict,
    "array": lambda v: type(v) is list,
}


def _bounds(schema: Mapping[str, Any]) -> list[Check] | None:
    checks: list[Check] = []
    for keyword, applies, measure, ok in (
            ("minimum", _is_number, _same, lambda x, b: x >= b),
            ("maximum", _is_number, _same, lambda x, b: x <= b),
            ("exclusiveMinimum", _is_number, _same, lambda x, b: x > b),
            ("exclusiveMaximum", _is_number, _same, lambda x, b: x < b),
            # JSON Schema counts code points, as len() does on a str.
            ("minLength", _is_str, len, lambda x, b: x >= b),
            ("maxLength", _is_str, len, lambda x, b: x <= b),
            ("minItems", _is_list, len, lambda x, b: x >= b),
            ("maxItems", _is_list, len, lambda x, b: x <= b),
            ("maxProperties", _is_dict, len, lambda x, b: x <= b)):
        if keyword not in schema:
            continue
        bound = schema[keyword]
        if type(bound) not in (int, float):
            return None
        checks.append(_bound(applies, measure, ok, bound))
    return checks


def _bound(applies: Check, measure: Callable[[Any], Any], ok: Callable[[Any, Any], bool],
           bound: float) -> Check:
    return lambda v: not applies(v) or ok(measure(v), bound)


def _is_number(v: Any) -> bool:
    return type(v) is int or type(v) is float


def _is_str(v: Any) -> bool:
    return type(v) is str


def _is_list(v: Any) -> bool:
    return type(v) is list


def _is_dict(v: Any) -> bool:
    return type(v) is dict


def _same(v: Any) -> Any:
    return v


_NOTHING: Check = lambda v: True  # noqa: E731 - a marker: the schema says nothing of objects


def _object_check(schema: Mapping[str, Any]) -> Check | None:
    """The object keywords' check, :data:`_NOTHING` when there are none, None when they are
    outside the subset."""
    props = schema.get("properties")
    required = schema.get("required")
    extra = schema.get("additionalProperties", True)
    if props is None and required is None and extra is True:
        return _NOTHING
    if props is None:
        props = {}
    if not isinstance(props, Mapping) or not isinstance(required, list | type(None)):
        return None
    compiled: dict[str, Check] = {}
    for name, sub in props.items():
        prop_check = compile_check(sub)
        if prop_check is None:
            return None
        compiled[name] = prop_check
    needed = tuple(required or ())
    if not all(isinstance(n, str) for n in needed):
        return None
    if extra is True:
        other: Check | None = None
        closed = False
    elif extra is False:
        other, closed = None, True
    else:
        other = compile_check(extra)
        if other is None:
            return None
        closed = False
    get = compiled.get

    def check(v: Any) -> bool:
        if type(v) is not dict:
            return True  # the type keyword (if any) decides
        for name in needed:
            if name not in v:
                return False
        for name, value in v.items():
            prop = get(name)
            if prop is not None:
                if not prop(value):
                    return False
            elif closed or (other is not None and not other(value)):
                return False
        return True

    return check


__all__ = ["compile_check"]
