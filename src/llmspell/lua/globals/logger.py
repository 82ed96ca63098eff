"""``Logger``: ``Logger.debug/info/warn/error(message[, fields])`` to structured logs.

Records go to the ``logging`` logger ``llmspell.script`` with two extra attributes: ``fields``
(the table, converted to a dict; ``{}`` when none) and ``script`` (the script's name). Secrets
in the message and the fields are redacted (:mod:`llmspell.redact`, with ``[state]
redact_patterns``) before the record exists, so no handler sees them.
``Logger.warning`` is an alias of ``Logger.warn``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.errors import ValidationError
from llmspell.lua import checks
from llmspell.lua.convert import describe_lua
from llmspell.redact import Redactor

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

LOGGER = logging.getLogger("llmspell.script")

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "error": logging.ERROR}


def _logger_function(engine: LuaEngine, level: int, redactor: Redactor) -> Callable[..., None]:
    def log(message: Any, fields: Any = None) -> None:
        if isinstance(message, int | float) and not isinstance(message, bool):
            message = str(message)
        elif not isinstance(message, str):
            raise ValidationError("message", f"must be a string (got {describe_lua(message)})")
        extra = checks.mapping(fields, "fields")
        if LOGGER.isEnabledFor(level):
            LOGGER.log(level, redactor.redact_text(message),
                       extra={"fields": redactor.redact(extra), "script": engine.script_name})

    return log


def install(engine: LuaEngine) -> None:
    redactor = Redactor(engine.config.state.redact_patterns)
    functions = {name: _logger_function(engine, level, redactor)
                 for name, level in LEVELS.items()}
    functions["warning"] = functions["warn"]
    engine.install_global("Logger", functions)
