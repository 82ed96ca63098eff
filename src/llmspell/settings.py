"""Typed settings objects whose defaults and config keys come from the config schema.

A subsystem's settings are a frozen dataclass whose fields are declared with
:func:`setting`: the field's default is the schema default of its key (so ``Settings()``
equals the settings of a runtime with no config file), and :func:`from_config` fills every
such field from a :class:`~llmspell.config.Config`. No default is written twice.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from llmspell.config_schema import SCHEMA, default

T = TypeVar("T")


def setting(path: str) -> Any:
    """A dataclass field for the setting ``"table.key"``, defaulting to its schema default.

    Numbers become floats and lists tuples, both for the default and in :func:`from_config`.
    """
    value = _typed(path, default(path))
    return dataclasses.field(default=value, metadata={"setting": path})


def from_config(cls: type[T], config: Any, **given: Any) -> T:
    """An instance of the settings dataclass ``cls`` with every :func:`setting` field read
    from ``config`` (a :class:`~llmspell.config.Config`); ``given`` sets fields directly."""
    values = dict(given)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        path = f.metadata.get("setting")
        if path is not None and f.name not in values:
            values[f.name] = _typed(path, config.setting(path))
    return cls(**values)


def _typed(path: str, value: Any) -> Any:
    table, _, key = path.rpartition(".")
    kind = SCHEMA[table][key].kind
    if kind == "number":
        return float(value)
    if kind == "list[str]":
        return tuple(value)
    return value
