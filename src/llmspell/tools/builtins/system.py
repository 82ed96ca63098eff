"""``environment_reader``: environment variables, with secrets redacted.

A variable whose name says it holds a secret (``*_API_KEY``, ``*TOKEN``, ``*PASSWORD``...) or
whose value has a secret's shape (``sk-...``, ``AKIA...``, JWTs) is shown as ``[REDACTED]``
(:mod:`llmspell.redact`, with ``[state] redact_patterns``). Setting variables is not offered.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Any

from llmspell.errors import ValidationError
from llmspell.redact import REDACTED
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.support import need


class EnvironmentReader(Tool):
    name = "environment_reader"
    description = ("Read environment variables: one (get), all (list) or those whose name "
                   "matches a glob (pattern); secrets are redacted")
    category = "system"
    security_level = "restricted"
    capabilities = ("environment",)
    parameters = {
        "type": "object",
        "properties": {
            "operation": {"enum": ["get", "list", "pattern"], "default": "list"},
            "variable_name": {"type": "string"},
            "pattern": {"type": "string"},
        },
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        op = params.get("operation", "list")

        def shown(name: str, value: str) -> str:
            if ctx.redactor.is_secret_field(name):
                return REDACTED
            return ctx.redactor.redact_text(value)

        if op == "get":
            name = need(params, "variable_name", op)
            value = os.environ.get(name)
            return {"name": name, "value": None if value is None else shown(name, value),
                    "exists": value is not None}
        if op == "pattern":
            glob = params.get("pattern")
            if not glob:
                raise ValidationError("params", "operation 'pattern' needs 'pattern' (a glob "
                                      "such as 'PATH*')", path="$.pattern")
            names = [n for n in os.environ if fnmatch.fnmatchcase(n, glob)]
        else:
            names = list(os.environ)
        return {"variables": {n: shown(n, os.environ[n]) for n in sorted(names)}}
