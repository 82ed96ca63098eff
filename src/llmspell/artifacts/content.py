"""What an artifact's content may be, and how it becomes bytes and comes back.

``bytes`` are stored as they are; ``str`` as UTF-8; a ``dict``/``list`` (a Lua table), or a
JSON scalar (number, boolean), as compact JSON with ``encoding = "json"``, so reading it
gives the value back rather than its text. Binary strings inside a table are refused: JSON
has no bytes (store them as an artifact of their own).
"""

from __future__ import annotations

from typing import Any

import orjson

from llmspell.artifacts.model import JSON_ENCODING, Artifact
from llmspell.codec import format_path, to_jsonable
from llmspell.errors import ValidationError


def to_bytes(content: object) -> tuple[bytes, str | None]:
    """``(bytes, encoding)`` for ``content``; encoding is ``"json"`` or None.

    Raises ValidationError naming ``content`` (and the path inside a table) for content that
    cannot be stored.
    """
    if isinstance(content, bytes):
        return content, None
    if isinstance(content, bytearray | memoryview):
        return bytes(content), None
    if isinstance(content, str):
        try:
            return content.encode("utf-8"), None
        except UnicodeEncodeError:
            raise ValidationError("content", "text must be valid Unicode (it has a lone "
                                  "surrogate)") from None
    if content is None:
        raise ValidationError("content", "must be a string, bytes, or a table/dict/list "
                              "(got nothing)", got=content)
    if isinstance(content, dict | list | tuple | int | float | bool):
        value, binary = to_jsonable(content, argument="content")
        if binary:
            raise ValidationError("content", "a table stored as JSON cannot hold binary "
                                  "strings (store them as an artifact of their own)",
                                  path=format_path(tuple(binary[0])))
        return orjson.dumps(value), JSON_ENCODING
    raise ValidationError("content", "must be a string, bytes, or a table/dict/list",
                          got=content)


def from_bytes(artifact: Artifact, data: bytes) -> Any:
    """The value an artifact was stored with: decoded JSON for ``encoding = "json"``, else the
    bytes (callers decide whether they are text)."""
    if artifact.encoding == JSON_ENCODING:
        return orjson.loads(data)
    return data
