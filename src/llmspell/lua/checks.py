"""Argument checks for the Python side of Lua functions.

Each returns the value (normalised) or raises ValidationError naming the argument and saying,
in Lua's terms, what was expected and what was got: ``argument 'text': must be a string (got
nil)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from llmspell.errors import ValidationError
from llmspell.lua.convert import describe_lua
from llmspell.validation import check_known_keys


def _fail(argument: str, expected: str, value: Any) -> ValidationError:
    return ValidationError(argument, f"must be {expected} (got {describe_lua(value)})")


def text(value: Any, argument: str, *, empty: bool = True) -> str:
    """A string that is valid UTF-8 (Lua strings that are not arrive as bytes)."""
    if isinstance(value, bytes):
        raise ValidationError(argument, "must be UTF-8 text (got a binary string)")
    if not isinstance(value, str):
        raise _fail(argument, "a string", value)
    if not empty and not value:
        raise ValidationError(argument, "must not be empty")
    return value


def data(value: Any, argument: str) -> bytes:
    """A string of any bytes (text is encoded as UTF-8)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise _fail(argument, "a string", value)


def number(value: Any, argument: str, *, minimum: float | None = None) -> float | int:
    """A finite number, at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise _fail(argument, "a finite number", value)
    if minimum is not None and value < minimum:
        raise _fail(argument, f"at least {minimum:g}", value)
    return value


def mapping(value: Any, argument: str, *, optional: bool = True) -> dict[str, Any]:
    """A table with string keys (nil gives {} when ``optional``)."""
    if value is None and optional:
        return {}
    if not isinstance(value, Mapping):
        expected = "a table with string keys" + (" or nil" if optional else "")
        if isinstance(value, list):
            raise ValidationError(argument, f"must be {expected} (got a list)")
        raise _fail(argument, expected, value)
    return dict(value)


def options(value: Any, argument: str, known: tuple[str, ...]) -> dict[str, Any]:
    """An options table whose keys are all in ``known``."""
    found = mapping(value, argument)
    check_known_keys(found, known, argument)
    return found


# -- Lua's shapes, normalised here so the core never sees them ------------------------------


def as_list(value: Any) -> Any:
    """``value``, or ``[]`` for an empty table: Lua has one empty table, which the converter
    gives as ``{}``, so a field that holds a list gets ``[]`` instead."""
    return [] if value == {} else value


def handle_id(value: Any) -> Any:
    """The id of a handle (a session handle, an artifact table) passed inside a table, where
    it arrives converted to a dict of its fields; any other value as it is."""
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return value["id"]
    return value
