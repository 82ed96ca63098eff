"""``Config.get("dotted.path"[, default])``: a value of the effective configuration.

The path names a key (``"engines.lua.sandbox"``) or a table (``"runtime"``, as a table).
A missing key gives ``default`` (the very Lua value passed, or nil). Paths come back as strings.
In the ``safe`` sandbox secrets are hidden (``[REDACTED]``): fields named like ``api_key`` or
``password``, secret-shaped strings, and the password in a URL such as
``postgresql://user:secret@host/db``.

The Lua half is ``llmspell/lua/scripts/config.lua``.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from llmspell.lua import checks
from llmspell.lua.bridge import Values
from llmspell.redact import Redactor

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

_MISSING = object()


def _plain(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def install(engine: LuaEngine) -> None:
    safe = engine.config.lua.sandbox == "safe"
    redactor = Redactor(engine.config.state.redact_patterns)

    def get(path: Any) -> Values:
        value = engine.config.get(checks.text(path, "path", empty=False), _MISSING)
        if value is _MISSING:
            return Values((False,))
        value = _plain(value)
        return Values((True, redactor.redact(value) if safe else value))

    engine.install_global("Config", {"get": get}, "config.lua")
