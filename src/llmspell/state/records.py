"""The stored form of one state value: a small JSON object, readable with ``sqlite3`` + JSON1.

::

    {"v": value, "b": [paths of bytes], "s": schema_version, "c": created_at,
     "u": updated_at, "q": change_seq}

``v`` is the value as JSON, with each ``bytes`` as base64 text whose path is listed in ``b``
(present only when there are any; see :mod:`llmspell.codec`). ``c`` and ``u`` are Unix seconds
(float), ``q`` the store-wide change sequence number of the write that produced the record.
The value is encoded once, when it is saved; the metadata is spliced around those bytes, so a
retried commit (a new sequence number) does not encode the value again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from blake3 import blake3

from llmspell.codec import (
    DECODE_ERRORS,
    damaged,
    from_jsonable,
    int_too_wide,
    to_jsonable,
    too_large,
    unencodable,
)
from llmspell.errors import InvalidValue
from llmspell.state.versions import DEFAULT_VERSION, Version
from llmspell.state.versions import check_version as check_version

DEFAULT_SCHEMA_VERSION = DEFAULT_VERSION

_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_dumps = orjson.dumps
_loads = orjson.loads


@dataclass(frozen=True, slots=True)
class Record:
    """A decoded record: the value and its metadata."""

    value: Any
    schema_version: Version
    created_at: float
    updated_at: float
    seq: int


class Encoded(NamedTuple):
    """A checked value, encoded: ``data`` is the JSON of ``v``, ``binary`` the bytes paths."""

    data: bytes
    binary: list[list[str | int]] | None



#: (type, scalar) -> its Encoded, for ints, bools, None and short strings: a value saved again
#: and again (a flag, a status, a small count) costs a dict lookup. The first _SCALARS_MAX
#: such values stay (no eviction: a counter's ever new values would only churn it). Floats
#: are left out (0.0 == -0.0).
_SCALARS: dict[tuple[type, Any], Encoded] = {}
_SCALARS_MAX = 4096
_SHORT_TEXT = 64


#: The config setting whose limit :func:`check_size` and ``encode_value(max_bytes=...)`` apply.
LIMIT_SETTING = "[state] max_value_bytes"


def encode_value(value: Any, *, argument: str = "value", max_bytes: int | None = None,
                 scope: str = "", key: str = "") -> Encoded:
    """Check ``value`` (types, cycles, 64-bit ints, finite floats, UTF-8 strings) and encode it.

    With ``max_bytes`` (the ``[state] max_value_bytes`` of the value for ``scope``/``key``), a
    value whose size, counted while it is checked, is already over the limit is refused before
    it is encoded (:func:`llmspell.codec.to_jsonable`); the caller checks the encoded size
    exactly (:func:`check_size`).

    Raises:
        InvalidValue, CyclicValue: naming ``argument`` and the path inside the value.
        ValueTooLarge: over ``max_bytes``, counted before encoding.
    """
    kind = type(value)
    if kind is str and max_bytes is not None and len(value) >= max_bytes - 1:
        to_jsonable(value, argument=argument, max_bytes=max_bytes,
                    subject=f"the value for {scope}/{key}", setting=LIMIT_SETTING)
    if kind is int or kind is str or kind is bool or value is None:
        cached = _SCALARS.get((kind, value))
        if cached is not None:
            return cached
        if kind is int and not _INT_MIN <= value <= _INT_MAX:
            raise int_too_wide(argument, (), value)
        try:
            encoded = Encoded(_dumps(value), None)
        except orjson.JSONEncodeError:
            raise unencodable(value, argument) from None
        if len(_SCALARS) < _SCALARS_MAX and (kind is not str or len(value) <= _SHORT_TEXT):
            _SCALARS[(kind, value)] = encoded
        return encoded
    if kind is float:
        if not math.isfinite(value):
            raise InvalidValue(argument, "floats must be finite (JSON has no NaN or Infinity)",
                               path="$", got=value)
        return Encoded(_dumps(value), None)
    jsonable, paths = to_jsonable(value, argument=argument, max_bytes=max_bytes,
                                  subject=f"the value for {scope}/{key}", setting=LIMIT_SETTING)
    try:
        return Encoded(_dumps(jsonable), paths or None)
    except orjson.JSONEncodeError:
        raise unencodable(jsonable, argument) from None


def check_size(encoded: Encoded, limit: int, scope: str, key: str) -> None:
    """Refuse a value over ``limit`` bytes ([state] max_value_bytes), naming scope and key."""
    size = len(encoded.data)
    if size > limit:
        raise too_large("value", limit, size, subject=f"the value for {scope}/{key}",
                        setting=LIMIT_SETTING)


def encode_record(encoded: Encoded, schema_version: Version, created_at: float,
                  updated_at: float, seq: int) -> bytes:
    """The record bytes (see the module docstring); a semver version is a JSON string."""
    created = _dumps(created_at)
    updated = created if updated_at is created_at else _dumps(updated_at)
    if schema_version.__class__ is not int:
        return _encode_semver(encoded, str(schema_version), created, updated, seq)
    if encoded.binary is None:
        return b'{"v":%b,"s":%d,"c":%b,"u":%b,"q":%d}' % (
            encoded.data, schema_version, created, updated, seq)
    return b'{"v":%b,"b":%b,"s":%d,"c":%b,"u":%b,"q":%d}' % (
        encoded.data, _dumps(encoded.binary), schema_version, created, updated, seq)


def _encode_semver(encoded: Encoded, version: str, created: bytes, updated: bytes,
                   seq: int) -> bytes:
    if encoded.binary is None:
        return b'{"v":%b,"s":%b,"c":%b,"u":%b,"q":%d}' % (
            encoded.data, _dumps(version), created, updated, seq)
    return b'{"v":%b,"b":%b,"s":%b,"c":%b,"u":%b,"q":%d}' % (
        encoded.data, _dumps(encoded.binary), _dumps(version), created, updated, seq)


def decode_record(data: bytes, key: str = "") -> Record:
    """The :class:`Record` in ``data`` (stored under ``key``).

    Raises:
        CorruptRecord: ``data`` is not a record (damaged or truncated), naming ``key``.
    """
    try:
        raw = _loads(data)
        binary = raw.get("b")
        value = from_jsonable(raw["v"], binary) if binary else raw["v"]
        return Record(value, raw.get("s", DEFAULT_SCHEMA_VERSION), raw.get("c", 0.0),
                      raw.get("u", 0.0), raw.get("q", 0))
    except DECODE_ERRORS as exc:
        raise damaged(key, exc) from None


def decode_value(data: bytes, key: str = "") -> Any:
    """Just the value of the record in ``data``; raises as :func:`decode_record`."""
    try:
        raw = _loads(data)
        binary = raw.get("b")
        return from_jsonable(raw["v"], binary) if binary else raw["v"]
    except DECODE_ERRORS as exc:
        raise damaged(key, exc) from None


def decode_encoded_value(encoded: Encoded) -> Any:
    """The value an :class:`Encoded` holds (a fresh copy)."""
    value = _loads(encoded.data)
    return from_jsonable(value, encoded.binary) if encoded.binary else value


def decode_encoded(data: bytes) -> tuple[Encoded, Record]:
    """The record in ``data`` with its value re-encoded (for copying it elsewhere)."""
    raw = _loads(data)
    binary = raw.get("b") or None
    encoded = Encoded(_dumps(raw["v"]), binary)
    value = from_jsonable(raw["v"], binary) if binary else raw["v"]
    return encoded, Record(value, raw.get("s", DEFAULT_SCHEMA_VERSION), raw.get("c", 0.0),
                           raw.get("u", 0.0), raw.get("q", 0))


def created_at(data: bytes) -> float | None:
    """The creation time stored in the record ``data``; None when the record is damaged (a
    write over a damaged record starts it afresh: saving a value repairs the key)."""
    try:
        return float(_loads(data).get("c", 0.0))
    except DECODE_ERRORS:
        return None


def value_hash(value: Any) -> str:
    """BLAKE3 (hex) of a value's canonical encoding: JSON with sorted keys, and the paths of
    its bytes. Equal values hash equally whatever their dicts' key order."""
    jsonable, binary = to_jsonable(value)
    return _hash(jsonable, binary or None)


def record_value_hash(data: bytes) -> str | None:
    """:func:`value_hash` of the value stored in the record ``data``, without decoding bytes;
    None when the record is damaged (as for no old value)."""
    try:
        raw = _loads(data)
        return _hash(raw["v"], raw.get("b") or None)
    except DECODE_ERRORS:
        return None


def encoded_hash(encoded: Encoded) -> str:
    """:func:`value_hash` of an :class:`Encoded` value."""
    return _hash(_loads(encoded.data), encoded.binary)


def _hash(jsonable: Any, binary: list[list[str | int]] | None) -> str:
    canonical = _dumps({"v": jsonable, "b": binary} if binary else {"v": jsonable},
                       option=orjson.OPT_SORT_KEYS)
    return str(blake3(canonical).hexdigest())


def same_value(a: Any, b: Any) -> bool:
    """Whether two values are equal as stored values: like ``==``, except that a bool never
    equals a number (JSON tells them apart) and a tuple equals the list with the same items."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple | dict) or isinstance(b, list | tuple | dict):
        return False
    if isinstance(a, bytearray | memoryview):
        a = bytes(a)
    if isinstance(b, bytearray | memoryview):
        b = bytes(b)
    return bool(a == b)
