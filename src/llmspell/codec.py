"""Values to bytes and back: JSON-compatible values plus ``bytes``, checked on the way in.

A storable value is None, bool, int (64-bit), finite float, str, bytes, a list/tuple of values,
or a dict with str keys, nested at most :data:`MAX_DEPTH` levels deep (the one depth limit: the
Lua converter, the events bus and the config loader use it too; JSON encoders give up a little
deeper, and a deeper value would exhaust Python's recursion limit while it is walked).
:func:`encode` checks the whole value once (type, cycles, NaN, key types, depth, size),
turning each ``bytes`` into base64 text and recording where it was, so the result stays plain
JSON (readable with ``sqlite3`` and JSON1) and decodes back exactly.
Errors name the argument and the path inside the value (``$.items[3].name``).
"""

from __future__ import annotations

import base64
import math
import sys
from collections.abc import Iterable
from typing import Any

import orjson

from llmspell.errors import CorruptRecord, CyclicValue, InvalidValue, ValueTooLarge

Path = tuple[str | int, ...]

_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
#: The deepest a value's lists and dicts may nest: ``[[1]]`` is 2 levels deep.
MAX_DEPTH = 200
_SCALARS = (str, bool, type(None))


def format_path(path: Path) -> str:
    """``("items", 3, "name")`` -> ``$.items[3].name``."""
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def to_jsonable(value: Any, *, argument: str = "value", max_bytes: int | None = None,
                subject: str = "", setting: str = "") -> tuple[Any, list[list[str | int]]]:
    """A JSON-ready copy of ``value`` and the paths at which ``bytes`` were base64-encoded.

    With ``max_bytes``, the size the value will encode to is counted while it is walked, every
    reference to a shared string, bytes or container counted as what it encodes to, and the
    value is refused as soon as the count passes ``max_bytes``, before any copy or encoding is
    made (the count is a lower bound: escapes and number digits are left out, so the exact
    check after encoding, :func:`check_size`, still applies).

    Raises InvalidValue (or CyclicValue) naming ``argument`` and the path; ValueTooLarge
    (:func:`too_large`, with ``subject`` and ``setting``) past ``max_bytes``.
    """
    budget = sys.maxsize if max_bytes is None else max_bytes
    if type(value) is str:
        if len(value) + 2 > budget:
            raise too_large(argument, budget, len(value) + 2, subject=subject, setting=setting,
                            at_least=True)
        return value, []
    if isinstance(value, _SCALARS):
        return value, []
    size = _plain(value, 0, budget)
    if size > budget:
        raise too_large(argument, budget, size, subject=subject, setting=setting, at_least=True)
    if size >= 0:
        return value, []  # already JSON-ready: no copy needed
    binary: list[list[str | int]] = []
    active: set[int] = set()
    counted = 0

    def count(nbytes: int) -> None:
        nonlocal counted
        counted += nbytes
        if counted > budget:
            raise too_large(argument, budget, counted, subject=subject, setting=setting,
                            at_least=True)

    def walk(node: Any, path: Path) -> Any:
        if isinstance(node, str):
            count(len(node) + 2)  # with its quotes
            return node
        if isinstance(node, _SCALARS):
            count(4)
            return node
        if isinstance(node, int):
            if not _INT_MIN <= node <= _INT_MAX:
                raise int_too_wide(argument, path, node)
            count(1)
            return node
        if isinstance(node, float):
            if not math.isfinite(node):
                raise InvalidValue(argument, "floats must be finite (JSON has no NaN or "
                                   "Infinity)", path=format_path(path), got=node)
            count(1)
            return node
        if isinstance(node, bytes | bytearray | memoryview):
            count((memoryview(node).nbytes + 2) // 3 * 4 + 2)  # base64 text, before making it
            binary.append(list(path))
            return base64.b64encode(bytes(node)).decode("ascii")
        if isinstance(node, dict | list | tuple):
            if len(path) >= MAX_DEPTH:
                raise too_deep(argument, path)
            count(1 + len(node))  # the brackets and the commas
            marker = id(node)
            if marker in active:
                raise cycle_closes(argument, path)
            active.add(marker)
            try:
                if isinstance(node, dict):
                    out = {}
                    for key, item in node.items():
                        if not isinstance(key, str):
                            raise key_not_str(argument, path, key)
                        count(len(key) + 3)
                        out[key] = walk(item, (*path, key))
                    return out
                return [walk(item, (*path, i)) for i, item in enumerate(node)]
            finally:
                active.discard(marker)
        raise InvalidValue(argument, "must be None, bool, int, float, str, bytes, list or dict "
                           "with str keys", path=format_path(path), got=node)

    return walk(value, ()), binary


def unencodable(value: Any, argument: str) -> InvalidValue:
    """The error for a value orjson refused to encode: the string that is not valid UTF-8 (a
    lone surrogate), the integer past 64 bits, the dict key that is not a string, a cycle or
    too deep a value, with its path."""
    active: set[int] = set()  # the containers on the path walked now: one again is a cycle
    clean: set[int] = set()  # containers walked whole and found fine (a value may share one)

    def find(node: Any, path: Path) -> InvalidValue | None:
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError as exc:
                return InvalidValue(argument, f"strings must be valid UTF-8 (character "
                                    f"{exc.start} is a lone surrogate)", path=format_path(path),
                                    got=node)
            return None
        if isinstance(node, int) and not isinstance(node, bool) and not (
                _INT_MIN <= node <= _INT_MAX):
            return int_too_wide(argument, path, node)
        if not isinstance(node, dict | list | tuple) or id(node) in clean:
            return None
        if id(node) in active:
            return cycle_closes(argument, path)
        if len(path) >= MAX_DEPTH:
            return too_deep(argument, path)
        active.add(id(node))
        try:
            if isinstance(node, dict):
                for key, item in node.items():
                    if not isinstance(key, str):
                        return key_not_str(argument, path, key)
                    found = find(key, path) or find(item, (*path, key))
                    if found is not None:
                        return found
            else:
                for i, item in enumerate(node):
                    found = find(item, (*path, i))
                    if found is not None:
                        return found
        finally:
            active.discard(id(node))
        clean.add(id(node))
        return None

    return find(value, ()) or InvalidValue(argument, "cannot be encoded as JSON", path="$",
                                           got=value)


def int_too_wide(argument: str, path: Path, value: int) -> InvalidValue:
    """The error for an integer JSON in llmspell cannot hold (past 64 bits)."""
    return InvalidValue(argument, "integers must fit in 64 bits", path=format_path(path),
                        got=value)


def cycle_closes(argument: str, path: Path) -> CyclicValue:
    """The error for a container met again inside itself, at ``path``."""
    return CyclicValue(argument, "must not contain itself (a cycle closes here)",
                       path=format_path(path))


def key_not_str(argument: str, path: Path, key: object) -> InvalidValue:
    """The error for a dict key that is not a string, in the dict at ``path``."""
    return InvalidValue(argument, "dict keys must be str", path=format_path(path), got=key)


def too_deep(argument: str, path: Path) -> InvalidValue:
    """The error for a value nested deeper than :data:`MAX_DEPTH` (``path`` is where the
    limit is crossed; only its first and last steps are shown)."""
    shown = format_path(path)
    if len(path) > 8:
        shown = f"{format_path(path[:3])}...{format_path(path[-3:])[1:]} ({len(path)} levels)"
    return InvalidValue(argument, f"must not be nested deeper than {MAX_DEPTH} levels (the "
                        "depth limit)", path=shown)


def check_nesting(value: Any, *, argument: str = "value") -> None:
    """Refuse a value whose dicts, lists, tuples and sets nest deeper than :data:`MAX_DEPTH`
    or that holds a float that is not finite (NaN, infinities), the codec's rules for values
    that are not otherwise stored as given (event data). Other types are left alone; a cycle
    is reported as too deep.

    Raises:
        InvalidValue: naming ``argument`` and the path.
    """
    if type(value) is dict and _finite_and_shallow(value.values()):  # most event data
        return
    if _plain(value, 0, sys.maxsize) >= 0:  # the common case, without building paths
        return
    stack: list[tuple[Any, Path]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, float):
            if not math.isfinite(node):
                raise InvalidValue(argument, "floats must be finite (JSON has no NaN or "
                                   "Infinity)", path=format_path(path), got=node)
        elif isinstance(node, dict | list | tuple | set | frozenset):
            if len(path) >= MAX_DEPTH:
                raise too_deep(argument, path)
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((item, (*path, key if isinstance(key, str | int) else str(key)))
                         for key, item in items)


#: How deep :func:`_finite_and_shallow` looks before leaving a value to the full walk.
_SHALLOW_LEVELS = 8


def _finite_and_shallow(items: Iterable[Any], depth: int = 1) -> bool:
    """Whether every item is a str, int, bool, None or finite float, or a dict, list or
    tuple of such items, nested at most :data:`_SHALLOW_LEVELS` deep: nothing for
    :func:`check_nesting` to refuse (most event data: a table of scalars, tags, usage
    figures), checked with one call per container, none per scalar. False sends the value
    to the full walk, which finds the error (or a value deeper than this but allowed)."""
    for item in items:
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if kind is float:
            if item - item == 0.0:  # not inf or nan
                continue
            return False
        if depth >= _SHALLOW_LEVELS:
            return False
        if kind is dict:
            if _finite_and_shallow(item.values(), depth + 1):
                continue
            return False
        if kind is list or kind is tuple:
            if _finite_and_shallow(item, depth + 1):
                continue
            return False
        return False
    return True


def _plain(node: Any, depth: int, budget: int) -> int:
    """The least number of bytes ``node`` encodes to when it is JSON-ready as it is (only dict
    with str keys, list, tuple, str, bool, None, 64-bit int and finite float, nested at most
    100 deep), counting stopped as soon as it passes ``budget``; -1 when it is not JSON-ready.
    The common case, checked without building paths or copies; anything else (bytes, an error
    to report, a possible cycle) goes through the full walk of :func:`to_jsonable`. Every node
    counts at least one byte, so a value that holds one container many times (a DAG) is
    walked at most ``budget`` nodes far."""
    kind = type(node)
    if kind is str:
        return len(node) + 2
    if kind is bool or node is None:
        return 4
    if kind is int:
        return 1 if _INT_MIN <= node <= _INT_MAX else -1
    if kind is float:
        return 1 if node - node == 0.0 else -1  # -1 for inf and nan
    if depth > 100:  # deeper values take the full walk, which checks MAX_DEPTH
        return -1
    total = 1  # the brackets, and one separator (a comma or the closing bracket) per item
    # The scalar cases above, spelled out for items: no call per scalar (most items are).
    if kind is dict:
        for key, item in node.items():
            if type(key) is not str:
                return -1
            kind = type(item)
            if kind is str:
                size = len(item) + 2
            elif (kind is int and _INT_MIN <= item <= _INT_MAX) or (
                    kind is float and item - item == 0.0):
                size = 1
            else:
                size = _plain(item, depth + 1, budget)
                if size < 0:
                    return -1
            total += len(key) + 4 + size
            if total > budget:
                return total
        return total
    if kind is list or kind is tuple:
        for item in node:
            kind = type(item)
            if kind is str:
                size = len(item) + 2
            elif kind is int and _INT_MIN <= item <= _INT_MAX:
                size = 1
            else:
                size = _plain(item, depth + 1, budget)
                if size < 0:
                    return -1
            total += size + 1
            if total > budget:
                return total
        return total
    return -1


def from_jsonable(value: Any, binary: list[list[str | int]]) -> Any:
    """Undo :func:`to_jsonable`: decode the base64 text found at each path in ``binary``."""
    if not binary:
        return value
    for path in binary:
        if not path:
            return base64.b64decode(value)
        parent = value
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = base64.b64decode(parent[path[-1]])
    return value


def compact(data: bytes) -> bytes:
    """A plain copy of ``data`` to keep for long (a cache, a store's value): orjson's results
    hold a 4 KB block whatever their length (1,000 entries of 40 bytes: 4.1 MB kept, 86 KB as
    copies), and a bytes subclass or a slice of a bigger buffer pins that buffer. ``b"%b" %``
    makes that copy (fresh, of exactly the data's length) at a sixth of what
    ``bytes(memoryview(data))`` costs, its argument parsing skipped."""
    return b"%b" % data


def dumps(value: Any) -> bytes:
    """JSON bytes of an already-checked JSON-ready value."""
    return orjson.dumps(value)


def loads(data: bytes | str) -> Any:
    """Parse JSON bytes."""
    return orjson.loads(data)


def encode(value: Any, *, argument: str = "value", max_bytes: int | None = None) -> bytes:
    """Check ``value`` and encode it as self-describing JSON bytes (see :func:`decode`).

    The bytes are ``{"v": value}`` plus ``"b": [paths]`` when the value held ``bytes``.
    Raises InvalidValue/CyclicValue, or ValueTooLarge when over ``max_bytes``.
    """
    jsonable, binary = to_jsonable(value, argument=argument, max_bytes=max_bytes)
    data = orjson.dumps({"v": jsonable, "b": binary} if binary else {"v": jsonable})
    check_size(data, max_bytes, argument=argument)
    return data


def decode(data: bytes) -> Any:
    """The value :func:`encode` encoded."""
    record = orjson.loads(data)
    return from_jsonable(record["v"], record.get("b") or [])


#: What decoding damaged bytes raises: orjson's JSONDecodeError and base64's binascii.Error
#: are ValueErrors; a record of the wrong shape fails on a missing key or a wrong type.
DECODE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def damaged(key: str, exc: BaseException) -> CorruptRecord:
    """The error for the record under store ``key`` that failed to decode with ``exc`` (one of
    :data:`DECODE_ERRORS`): reads of damaged data raise it, never return "no value"."""
    return CorruptRecord(key, f"it does not decode ({type(exc).__name__}: {exc})")


def stored_object(data: bytes, key: str) -> dict[str, Any]:
    """The JSON object stored under store ``key`` (a record of one of the stores' indexes,
    ledgers or settings); CorruptRecord naming ``key`` when ``data`` is not one."""
    try:
        found = orjson.loads(data)
    except DECODE_ERRORS as exc:
        raise damaged(key, exc) from None
    if not isinstance(found, dict):
        raise CorruptRecord(key, f"it holds a JSON {type(found).__name__}, not an object")
    return found


def stored_int(data: bytes | None, key: str) -> int:
    """The count or number stored as decimal digits under store ``key`` (0 when absent);
    CorruptRecord naming ``key`` when ``data`` is anything else."""
    if not data:
        return 0
    if not data.isdigit():
        raise CorruptRecord(key, f"it holds {data[:40]!r}, not a decimal number")
    return int(data)


def check_size(data: bytes, max_bytes: int | None, *, argument: str = "value",
               subject: str = "", setting: str = "") -> None:
    """Refuse encoded ``data`` longer than ``max_bytes`` (:func:`too_large`)."""
    if max_bytes is not None and len(data) > max_bytes:
        raise too_large(argument, max_bytes, len(data), subject=subject, setting=setting)


def too_large(argument: str, max_bytes: int, size: int, *, subject: str = "",
              setting: str = "", at_least: bool = False) -> ValueTooLarge:
    """The error for a value of ``size`` encoded bytes over ``max_bytes`` (``at_least``: the
    size was counted before encoding, which stopped there). ``subject`` names what the value
    is for ("the value for global/k"), ``setting`` the config setting that sets the limit."""
    limit = f"at most {max_bytes:,} bytes" + (f" ({setting})" if setting else "")
    encodes = (f"at least {size:,} (counted before encoding, which did not happen)"
               if at_least else f"{size:,}")
    return ValueTooLarge(argument, f"{subject} must encode to {limit}, encodes to {encodes}"
                         if subject else f"must encode to {limit}, encodes to {encodes}")
