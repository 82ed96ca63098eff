"""What the built-in tools share: a required-parameter check and confined file reads/writes."""

from __future__ import annotations

from typing import Any

from llmspell.errors import ValidationError
from llmspell.tools.base import ToolContext

MAX_FILE_BYTES = 64 * 1024 * 1024


def read_confined(ctx: ToolContext, path: str, *, tool: str, argument: str,
                  limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the file ``path`` (a parameter) if the tool may read it, up to ``limit``."""
    real = ctx.resolve(path, tool=tool, argument=argument)
    with open(real, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValidationError("params", f"the file is larger than {limit} bytes",
                              path=f"$.{argument}", got=path)
    return data


def write_confined(ctx: ToolContext, path: str, data: bytes, *, tool: str,
                   argument: str) -> str:
    real = ctx.resolve(path, tool=tool, argument=argument, write=True)
    with open(real, "wb") as handle:
        handle.write(data)
    return real


def need(params: dict[str, Any], key: str, operation: str) -> Any:
    if key not in params:
        raise ValidationError("params", f"operation {operation!r} needs '{key}'", path=f"$.{key}")
    return params[key]
