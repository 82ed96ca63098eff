"""``JSON``: parse and stringify JSON (orjson), ``JSON.array`` and ``JSON.null``.

``JSON.parse(text[, {keep_nulls = true}])`` gives Lua values by the converter's rules: arrays
come back marked as arrays (so ``[]`` stringifies as ``[]``); ``null`` is nil, as in
rs-llmspell (a key holding null is absent, an array element a hole), or, with ``keep_nulls``,
``JSON.null`` inside containers (a top-level ``null`` is nil either way).
``JSON.stringify(value[, {indent = n}])`` is compact by default
(``{"a":1}``), keys sorted; strings that are not UTF-8, NaN and infinities are refused with the
path. ``JSON.array([t])`` marks ``t`` (or a new table) as an array; ``JSON.null`` is the null
sentinel (``tostring`` gives ``null``).

The Lua half is ``llmspell/lua/scripts/json.lua``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import orjson

from llmspell.errors import InvalidValue, ValidationError
from llmspell.lua import checks
from llmspell.lua.convert import join_path
from llmspell.validation import check_flag

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine


def parse(text: Any, options: Any = None) -> Any:
    """``JSON.parse(text[, {keep_nulls = true}])``; the Lua half turns ``JSON.null`` into nil
    unless ``keep_nulls``."""
    check_flag(checks.options(options, "options", ("keep_nulls",)).get("keep_nulls", False),
               "options", path=".keep_nulls")
    source = checks.data(text, "text")
    try:
        return orjson.loads(source)
    except orjson.JSONDecodeError as exc:
        raise ValidationError("text", f"is not valid JSON: {exc}") from None


def stringify(value: Any, options: Any = None) -> str:
    """``JSON.stringify(value[, {indent = n}])``."""
    indent = checks.options(options, "options", ("indent",)).get("indent", 0)
    if isinstance(indent, bool) or not isinstance(indent, int) or not 0 <= indent <= 16:
        raise ValidationError("options", f"indent must be an integer from 0 to 16 (got "
                              f"{indent!r})")
    _check_encodable(value, "$")
    if indent == 0:
        return orjson.dumps(value).decode("utf-8")
    if indent == 2:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")
    return json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False)


def _check_encodable(value: Any, path: str) -> None:
    if isinstance(value, bytes):
        raise InvalidValue("value", "a string that is not valid UTF-8 cannot be JSON text",
                           path=path)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidValue("value", f"JSON has no {value!r}", path=path)
    if isinstance(value, list):
        for index, item in enumerate(value, start=1):
            _check_encodable(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_encodable(item, join_path(path, key))


def install(engine: LuaEngine) -> None:
    engine.install_global("JSON", {"parse": parse, "stringify": stringify}, "json.lua")
