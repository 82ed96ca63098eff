"""What the built-in tools share: a required-parameter check, confined file reads/writes, and
settings of their own read from a ``[tools.*]`` table."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from llmspell.errors import ValidationError
from llmspell.tools.base import Tool, ToolContext

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


class ConfiguredTool(Tool):
    """A tool with settings of its own: :attr:`Settings` is a dataclass whose fields are the
    keys of the config table :attr:`TABLE` (``"tools.web_search"``); the schema gives their
    defaults (a list comes as a tuple)."""

    Settings: ClassVar[type]
    TABLE: ClassVar[str]

    def __init__(self, settings: Any = None) -> None:
        super().__init__()
        self.settings = settings if settings is not None else self.Settings()

    @classmethod
    def from_config(cls, config: Any) -> Tool:
        values = {f.name: config.setting(f"{cls.TABLE}.{f.name}")
                  for f in dataclasses.fields(cls.Settings)}
        return cls(cls.Settings(**{k: tuple(v) if isinstance(v, list) else v
                                   for k, v in values.items()}))
