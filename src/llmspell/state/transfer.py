"""Export and import state as JSON lines: a data copy that import restores exactly.

One line per value::

    {"scope": "agent:gpt-4", "key": "history", "value": [...], "schema_version": 1,
     "created_at": 1732233600.5, "updated_at": 1732233712.25}

A value holding ``bytes`` has them as base64 text, with their paths in ``"binary"`` (the
encoding of :mod:`llmspell.codec`), so import gives back the same bytes. Export is a data copy:
secrets are not redacted (``[state] redact_on_write`` decides what is stored). Import is one
transaction: every line is checked first, and a bad line (named by its number) means nothing
is written.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import orjson

from llmspell.codec import DECODE_ERRORS, damaged, format_path
from llmspell.errors import LLMSpellError, ValidationError
from llmspell.state.scopes import store_key
from llmspell.validation import check_known_keys

if TYPE_CHECKING:
    from llmspell.state.manager import StateManager

FIELDS = ("scope", "key", "value", "binary", "schema_version", "created_at", "updated_at")
_REQUIRED = ("scope", "key", "value")


def export_lines(manager: StateManager, include: Iterable[str] | None = None) -> Iterator[bytes]:
    """One JSON line (without the newline) per value, for scopes matching the globs in
    ``include`` (every scope when None), in store order."""
    for scope, key, raw in manager.records(include):
        try:
            record = orjson.loads(raw)
            line: dict[str, Any] = {"scope": scope, "key": key, "value": record["v"]}
        except DECODE_ERRORS as exc:  # a damaged record stops the export, naming its key
            raise damaged(store_key(scope, key), exc) from None
        if record.get("b"):
            line["binary"] = record["b"]
        line["schema_version"] = record.get("s", 1)
        line["created_at"] = record.get("c")
        line["updated_at"] = record.get("u")
        yield orjson.dumps(line)


def import_lines(manager: StateManager, lines: Iterable[str | bytes], *,
                 progress: Callable[[str, int, int], None] | None = None) -> int:
    """Save the value of every line in one transaction; returns how many were imported.

    Blank lines are skipped. Raises ValidationError naming the line (``argument 'file':
    line 3: ...``) when a line is not a valid export line; nothing is written then.
    ``progress(phase, done, total)``: phase ``read`` every 1000 values (the total is not
    known before the end), then ``write`` before and after the one commit.
    """
    count = 0
    with manager.transaction() as tx:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                scope, key, value, extra = _parse(line)
                skey = store_key(scope, key)
                write = manager._prepare(scope, key, skey, value, extra["schema_version"],
                                         created_at=extra["created_at"],
                                         updated_at=extra["updated_at"])
            except LLMSpellError as exc:
                raise ValidationError("file", f"line {number}: {exc}") from exc
            if write is not None:
                tx.buffer(write)
                count += 1
                if progress is not None and count % 1000 == 0:
                    progress("read", count, count)
        if progress is not None:
            progress("read", count, count)
            progress("write", 0, count)
    if progress is not None:
        progress("write", count, count)
    return count


def _parse(line: str | bytes) -> tuple[Any, Any, Any, dict[str, Any]]:
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValidationError("line", f"is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValidationError("line", "must be a JSON object", got=data)
    check_known_keys(data, FIELDS, "line", noun="field")
    for name in _REQUIRED:
        if name not in data:
            raise ValidationError("line", f"missing field {name!r}")
    value = data["value"]
    binary = data.get("binary")
    if binary is not None:
        value = _with_bytes(value, binary)
    extra = {"schema_version": data.get("schema_version"),
             "created_at": _time(data, "created_at"), "updated_at": _time(data, "updated_at")}
    return data["scope"], data["key"], value, extra


def _with_bytes(value: Any, binary: Any) -> Any:
    """``value`` with the base64 text at each path of ``binary`` decoded (strictly)."""
    if not isinstance(binary, list) or not all(isinstance(p, list) for p in binary):
        raise ValidationError("binary", "must be a list of paths (lists of keys and indexes)",
                              got=binary)
    for path in binary:
        parent, last = None, None
        node = value
        try:
            for part in path:
                parent, last = node, part
                node = node[part]
        except (KeyError, IndexError, TypeError):
            raise ValidationError("binary", "names a path that is not in the value",
                                  path=format_path(tuple(path)), got=path) from None
        if not isinstance(node, str):
            raise ValidationError("binary", "names a value that is not base64 text",
                                  path=format_path(tuple(path)), got=node)
        try:
            raw = base64.b64decode(node, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("binary", "names a value that is not base64 text",
                                  path=format_path(tuple(path)), got=node) from None
        if parent is None:
            return raw
        parent[last] = raw
    return value


def _time(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValidationError(name, "must be Unix seconds (a number >= 0)", got=value)
    return float(value)
