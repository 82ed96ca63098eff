"""The one converter between Lua values and Python values.

Every value that crosses the bridge (arguments of llmspell functions, their results, script
results) goes through :class:`Converter`. The rules (DESIGN.md section 13, docs/lua.md):

Lua -> Python
    nil and ``JSON.null`` -> None; an id handle (an artifact id) -> its id string; booleans
    -> bool; integers -> int; floats -> float;
    strings -> str when valid UTF-8, else bytes; a table whose keys are exactly 1..n -> list
    (in key order); a table created by ``JSON.array()`` -> list (keys 1..n; a hole is None);
    any other table -> dict whose keys are the table's string keys, sorted (Lua tables have no
    order; sorting keeps output deterministic); an empty table -> {}. A table that mixes 1..n
    with string keys, has a non-sequence integer key (``{[5] = x}``, a hole), a float, boolean
    or table key, a key that is not valid UTF-8, or contains itself, is refused with a
    ValidationError naming the key and its path (``$.items[3].name``; Lua indices, 1-based).
    Functions are refused unless the caller asks for them (they become :class:`LuaFunction`);
    userdata and coroutines are refused.
Python -> Lua
    None -> nil at the top level and ``JSON.null`` inside containers (so ``[None]`` round-trips);
    bool, int (64-bit range), float as themselves; str -> UTF-8 string; bytes -> string;
    dict (str keys only) -> table; list/tuple -> table marked as an array (so ``[]`` comes
    back as a list); a :class:`LuaFunction` or a Lua object of the same runtime as itself.
    Anything else, a cycle, or an int outside 64 bits is a ValidationError naming the path
    (Python indices, 0-based). A small dict of scalars, dicts of scalars and empty lists (a
    record, such as an agent's result) is built by one call of a Lua function made for its
    keys (``Converter._record``): the same table, one crossing instead of one per table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lupa import lua54

from llmspell.codec import MAX_DEPTH
from llmspell.errors import CyclicValue, InvalidValue, ValueTooLarge

LUA_MIN_INT = -(2**63)
LUA_MAX_INT = 2**63 - 1

_PLAIN, _ARRAY, _NULL, _ID = 0, 1, 2, 3
_SCALARS = frozenset({type(None), bool, int, float})
# Tuples, not ``bytes | bytearray | ...`` unions: a union written in an isinstance call is built
# anew at each call (~2.5k instructions with its deallocation, callgrind).
_BYTES_LIKE = (bytes, bytearray, memoryview)
_CONTAINERS = (Mapping, list, tuple)
# What a value built for Lua is counted as against the memory limit's room (an estimate of
# Lua's own allocation): a string 40 bytes plus its text, a table 96 plus 80 per dict entry
# or 40 per list element.
_STRING, _TABLE, _ENTRY, _ELEMENT = 40, 96, 80, 40
# Records (see Converter._record): at most this many values (a Lua function's parameters),
# and builders for at most this many shapes per engine; shapes seen once are remembered, up
# to _SEEN, so that a shape gets its builder when it comes the second time.
_RECORD_VALUES, _SHAPES, _SEEN = 60, 64, 1024
# Room a builder needs while it is compiled (a few KB for the largest; an allocation failing in
# Lua under a call from Python must not happen, see limits.py): below it, none is compiled.
_COMPILE_ROOM = 64 * 1024
_VALUE, _EMPTY_ARRAY = 0, 1  # in a record's layout; a dict is the tuple of its keys


class LuaFunction:
    """A Lua function held by Python; calling it runs it in its engine (limits and errors apply).

    ``call`` is the engine's ``call``; arguments and results are converted by the rules above.
    """

    __slots__ = ("_call", "lua_function")

    def __init__(self, lua_function: Any, call: Callable[..., Any]) -> None:
        self.lua_function = lua_function
        self._call = call

    def __call__(self, *args: Any) -> Any:
        return self._call(self.lua_function, *args)

    def __repr__(self) -> str:
        return f"<LuaFunction {self.lua_function!r}>"


def lua_type_name(value: Any) -> str:
    """The Lua type name of a value as Lua sees it (for error messages)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, bytes | str):
        return "string"
    if isinstance(value, list | tuple | Mapping):
        return "table"
    if isinstance(value, LuaFunction):
        return "function"
    return lua_kind(value) or type(value).__name__


def lua_kind(value: Any) -> str | None:
    """lupa's ``lua_type``, except that coroutines (which lupa wraps as functions) are
    ``thread``; None for Python objects."""
    kind = lua54.lua_type(value)
    if kind == "function" and type(value).__name__ == "_LuaCoroutineFunction":
        return "thread"
    return kind


def describe_lua(value: Any) -> str:
    """``nil``, ``boolean true``, ``number 3``, ``string "abc"``, ``table``: for messages."""
    kind = lua_type_name(value)
    if value is None or kind in ("table", "function", "userdata", "thread"):
        return kind
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = repr(value) if isinstance(value, str) else str(value).lower()
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


def join_path(path: str, key: Any) -> str:
    """``$`` + a key: ``$.name``, ``$["two words"]``, ``$[3]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if isinstance(key, str) and key.isidentifier():
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


#: A path into a value being converted to Lua, built cheaply as it descends and written out
#: (:func:`render`) only for an error: ``"$"``, or (the parent's path, a key or index).
LazyPath = str | tuple[Any, Any]


def render(path: LazyPath) -> str:
    """A :data:`LazyPath` as text, like :func:`join_path`: ``$.a[2]``."""
    keys: list[Any] = []
    while not isinstance(path, str):
        path, key = path
        keys.append(key)
    for key in reversed(keys):
        path = join_path(path, key)
    return path


class Converter:
    """Converts values for one Lua runtime; ``core`` is the table built by the prelude.

    ``room``, when there is a memory limit, returns how many bytes Python may still allocate in
    Lua; a value that would not fit raises ``full()`` (the limit's error) before it is built.

    ``max_bytes`` (the Lua memory limit, or None) bounds a value taken from Lua: its strings are
    counted as they are copied, each reference in full (a table holding one 1 MB string 1,000
    times is 1,000 MB in Python), and ValueTooLarge is raised, naming the path, as soon as the
    count passes it, so Python never holds more than that for one value.
    """

    def __init__(self, lua: Any, core: Any, call: Callable[..., Any], *,
                 room: Callable[[], int] | None = None,
                 full: Callable[[], Exception] | None = None,
                 max_bytes: int | None = None) -> None:
        self._max_bytes = max_bytes
        self._table_from = lua.table_from
        self._inspect = core.inspect
        self._setmetatable = core.setmetatable  # a C function: runs no Lua code (no hook)
        self._array_mt = core.ARRAY_MT
        self.null = core.NULL
        self._call = call
        self._room = room
        self._full = full
        self._kinds = {type(lua.eval(b"{}")): "table", type(lua.eval(b"print")): "function",
                       type(lua.eval(b"coroutine.create(print)")): "thread"}
        self._compile_record = core.record_builder
        # Records (see _record), by their keys: (layout, builder, what the keys and tables
        # count against the room); _seen: the layouts of those seen once.
        self._records: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any, int]] = {}
        self._seen: dict[tuple[Any, ...], list[Any]] = {}
        self._built = 0

    # -- Lua -> Python -------------------------------------------------------------------

    def to_python(self, value: Any, argument: str = "value", *, functions: bool = False) -> Any:
        """Convert a value received from Lua. Raises ValidationError naming ``argument``."""
        kind = type(value)
        if kind in _SCALARS:
            return value
        if kind is bytes:
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return value
        budget = None if self._max_bytes is None else [self._max_bytes]
        return self._object(value, argument, "$", functions, set(), 0, budget)

    def _object(self, value: Any, argument: str, path: str, functions: bool,
                seen: set[bytes], depth: int, budget: list[int] | None) -> Any:
        kind = self._kinds.get(type(value)) or lua_kind(value)
        if kind == "table":
            return self._table(value, argument, path, functions, seen, depth, budget)
        if kind == "function" and functions:
            return LuaFunction(value, self._call)
        if kind is None:
            raise InvalidValue(argument, "is not a Lua value", path=path, got=value)
        rule = ("a function cannot be converted here" if kind == "function"
                else f"a {kind} cannot be converted (only nil, booleans, numbers, strings and "
                     "tables can)")
        raise InvalidValue(argument, rule, path=path)

    def _table(self, table: Any, argument: str, path: str, functions: bool,
               seen: set[bytes], depth: int, budget: list[int] | None) -> Any:
        found = self._inspect(table)
        kind = found if type(found) is int else found[0]
        if kind == _NULL:
            return None
        if kind == _ID:  # a handle standing for an id string (see the prelude)
            ident = found[1]
            return ident.decode("utf-8") if isinstance(ident, bytes) else ident
        address = found[1]
        if address in seen:
            raise CyclicValue(argument, "the table contains itself (a cycle)", path=path)
        if depth >= MAX_DEPTH:
            raise InvalidValue(argument, f"tables are nested deeper than {MAX_DEPTH} levels",
                               path=path)
        small = found[2] >= 0
        keys = found[3::2] if small else tuple(table.keys())
        as_list = _shape(keys, kind == _ARRAY, argument, path)
        # A large table is walked again, converting each value as it comes, so Python never
        # holds a reference (a Lua registry slot) to every nested table at once.
        pairs = zip(keys, found[4::2], strict=True) if small else table.items()
        item = self._item
        seen.add(address)
        try:
            if as_list:
                out = [None] * (max(keys, default=0) if kind == _ARRAY else len(keys))
                for index, value in pairs:
                    out[index - 1] = item(value, argument, path, index, functions, seen, depth,
                                          budget)
                return out
            texts = {key: key.decode("utf-8") for key in keys}
            converted = {texts[key]: item(value, argument, path, texts[key], functions, seen,
                                          depth, budget) for key, value in pairs}
            return dict(sorted(converted.items()))
        finally:
            seen.discard(address)

    def _item(self, value: Any, argument: str, parent: str, key: str | int, functions: bool,
              seen: set[bytes], depth: int, budget: list[int] | None) -> Any:
        kind = type(value)
        if kind in _SCALARS:
            return value
        if kind is bytes:
            if budget is not None:
                budget[0] -= len(value)
                if budget[0] < 0:
                    raise self._too_large(argument, join_path(parent, key))
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return value
        return self._object(value, argument, join_path(parent, key), functions, seen,
                            depth + 1, budget)

    def _too_large(self, argument: str, path: str) -> ValueTooLarge:
        return ValueTooLarge(argument, f"holds more than {self._max_bytes:,} bytes of strings, "
                             "counting each reference to a string in full (the limit is [engines."
                             "lua] max_memory_bytes: a value from Lua cannot be larger in Python)",
                             path=path)

    # -- Python -> Lua -------------------------------------------------------------------

    def to_lua(self, value: Any, argument: str = "value") -> Any:
        """Convert a Python value for Lua. Raises ValidationError naming ``argument``.

        With a memory limit, a value too large for what is left raises the limit's error
        before its first table is built.
        """
        budget = None if self._room is None else [self._room()]
        if type(value) is dict and len(value) <= _RECORD_VALUES:
            table = self._record(value, budget)
            if table is not None:
                return table
        return self._lua_value(value, argument, "$", set(), 0, budget, top=True)

    def _record(self, value: dict[Any, Any], budget: list[int] | None) -> Any:
        """The table of a record, or None to leave the value to the general path.

        A record is a dict (str keys) of at most _RECORD_VALUES keys and values: None, bool,
        float, a 64-bit int, str, a dict of those or an empty list: an agent's result, most
        functions' results. Its table is made in one call of a Lua function built for its
        shape (its keys, and those of its dicts), which converts as the general path does
        (the tests compare the two): an agent result in ~65k instructions instead of ~147k
        (callgrind). A shape gets its builder the second time it comes (a value converted
        once is not worth one). Anything else (another type, an int past 64 bits, text with
        a lone surrogate, a new shape) goes the general path, which converts it or says why
        not.
        """
        found = self._records.get(tuple(value))
        if found is None:
            self._learn(value, budget)
            return None
        layout, build, size = found
        plain: list[Any] = []
        for (key, item), form in zip(value.items(), layout, strict=True):
            if type(key) is not str:
                return None
            if form is _VALUE:
                plain.append(item)
            elif form is _EMPTY_ARRAY:
                if type(item) is not list or item:
                    return None
            elif type(item) is dict and tuple(item) == form:
                for inner_key in item:
                    if type(inner_key) is not str:
                        return None
                plain.extend(item.values())
            else:
                return None
        values: list[Any] = []
        for item in plain:
            kind = type(item)
            if kind is str:
                try:
                    data = item.encode()
                except UnicodeEncodeError:
                    return None
                size += _STRING + len(data)
                values.append(data)
            elif kind is bool or kind is float or (
                    kind is int and LUA_MIN_INT <= item <= LUA_MAX_INT):
                values.append(item)
            elif item is None:
                values.append(self.null)
            else:
                return None
        self._spend(budget, size)
        return build(*values)

    def _learn(self, value: dict[Any, Any], budget: list[int] | None) -> None:
        """Remember the shape of a record seen once; build the builder of one seen twice."""
        layout: list[Any] = []
        count = 0
        for key, item in value.items():
            if type(key) is not str:
                return
            if type(item) is dict:
                if any(type(inner) is not str for inner in item):
                    return
                layout.append(tuple(item))
                count += len(item)
            elif type(item) is list and not item:
                layout.append(_EMPTY_ARRAY)
            else:
                layout.append(_VALUE)
                count += 1
        keys = tuple(value)
        if count > _RECORD_VALUES or self._built >= _SHAPES or (
                budget is not None and budget[0] < _COMPILE_ROOM):
            return
        if self._seen.get(keys) != layout:
            if len(self._seen) < _SEEN or keys in self._seen:
                self._seen[keys] = layout
            return
        del self._seen[keys]
        shown: list[Any] = []  # the layout as core.record_builder reads it (prelude.lua)
        names: list[bytes] = []
        size = _TABLE + _ENTRY * len(keys)
        try:
            for key, form in zip(keys, layout, strict=True):
                names.append(key.encode())
                if form is _VALUE:
                    shown.append(b"s")
                elif form is _EMPTY_ARRAY:
                    shown.append(b"a")
                    size += _TABLE
                else:
                    shown.append(len(form))
                    names.extend(inner.encode() for inner in form)
                    size += _TABLE + _ENTRY * len(form)
        except UnicodeEncodeError:  # no builder: the general path refuses such a key
            return
        size += sum(_STRING + len(name) for name in names)
        build = self._compile_record(self._table_from(shown), *names)
        self._records[keys] = (tuple(layout), build, size)
        self._built += 1
        if budget is not None and self._room is not None:
            budget[0] = self._room()  # what the compiling took

    def _lua_value(self, value: Any, argument: str, path: LazyPath, seen: set[int],
                   depth: int, budget: list[int] | None, *, top: bool = False) -> Any:
        kind = type(value)
        if value is None:
            return None if top else self.null
        if kind is bool or kind is float:
            return value
        if kind is dict or kind is list:  # what results are made of: past the isinstance chain
            return self._container(value, argument, path, seen, depth, budget)
        if isinstance(value, int):
            if not LUA_MIN_INT <= value <= LUA_MAX_INT:
                raise InvalidValue(argument, "integers must fit in 64 bits for Lua",
                                   path=render(path), got=value)
            return value
        if isinstance(value, str):
            try:
                data = value.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidValue(argument, "text must be valid Unicode (it has a lone "
                                   "surrogate)", path=render(path)) from None
            self._spend(budget, _STRING + len(data))
            return data
        if isinstance(value, _BYTES_LIKE):
            data = bytes(value)
            self._spend(budget, _STRING + len(data))
            return data
        if isinstance(value, LuaFunction):
            return value.lua_function
        if isinstance(value, _CONTAINERS):
            return self._container(value, argument, path, seen, depth, budget)
        if lua54.lua_type(value) is not None:
            return value  # already a Lua object (a table or function built for Lua)
        raise InvalidValue(argument, "cannot be converted to Lua (expected None, bool, int, "
                           "float, str, bytes, list or dict)", path=render(path), got=value)

    def _spend(self, budget: list[int] | None, size: int) -> None:
        if budget is not None:
            budget[0] -= size
            if budget[0] < 0 and self._full is not None:
                raise self._full()

    def _container(self, value: Any, argument: str, path: LazyPath, seen: set[int],
                   depth: int, budget: list[int] | None) -> Any:
        marker = id(value)
        if marker in seen:
            raise CyclicValue(argument, "the value contains itself (a cycle)",
                              path=render(path))
        if depth >= MAX_DEPTH:
            raise InvalidValue(argument, f"values are nested deeper than {MAX_DEPTH} levels",
                               path=render(path))
        seen.add(marker)
        try:
            convert = self._lua_value
            kind = type(value)
            # Exact types first: an ABC isinstance check costs ~1.4k instructions (callgrind).
            if kind is dict or (kind is not list and isinstance(value, Mapping)):
                items: dict[bytes, Any] = {}
                # Scalars under ASCII keys are converted in place, as _lua_value would (the
                # tests compare the two), their bytes summed and spent at once before any
                # table is built: an agent result 170k -> 147k instructions (callgrind).
                size = 0
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise InvalidValue(argument, f"dict keys must be str; key {key!r} is "
                                           f"a {type(key).__name__}", path=render(path))
                    if key.isascii():
                        item_kind = type(item)
                        if item_kind is str:
                            try:
                                data = item.encode()
                            except UnicodeEncodeError:  # the checked path says why, with path
                                data = None
                            if data is not None:
                                size += 2 * _STRING + len(key) + len(data)
                                items[key.encode()] = data
                                continue
                        if item_kind is bool or item_kind is float or item is None or (
                                item_kind is int and LUA_MIN_INT <= item <= LUA_MAX_INT):
                            size += _STRING + len(key)
                            items[key.encode()] = self.null if item is None else item
                            continue
                    self._spend(budget, size)
                    size = 0
                    child = (path, key)
                    items[convert(key, argument, child, seen, depth, budget)] = convert(
                        item, argument, child, seen, depth + 1, budget)
                self._spend(budget, size + _TABLE + _ENTRY * len(items))
                return self._table_from(items)
            elements = [convert(item, argument, (path, index), seen, depth + 1, budget)
                        for index, item in enumerate(value)]
            self._spend(budget, _TABLE + _ELEMENT * len(elements))
            return self._setmetatable(self._table_from(elements), self._array_mt)
        finally:
            seen.discard(marker)


def _shape(keys: tuple[Any, ...], marked: bool, argument: str, path: str) -> bool:
    """True if a table with these keys is a list, False if a dict; else why neither. A table
    marked as a JSON.array may have holes (a parsed ``null`` read as nil): they are None."""
    if (keys or marked) and all(type(key) is int for key in keys) and (
            keys == tuple(range(1, len(keys) + 1)) or sorted(keys) == list(
            range(1, len(keys) + 1))):
        return True
    if marked and all(type(key) is int and key >= 1 for key in keys):
        return True  # a JSON.array with holes (JSON.parse's nulls): the holes are null
    if marked:
        bad = next(key for key in keys if type(key) is not int or key < 1)
        raise InvalidValue(argument, "a JSON.array may only have keys 1..n; it has key "
                           f"{_key_text(bad)}", path=path)
    texts: list[str] = []
    for key in keys:
        if type(key) is bytes:
            try:
                texts.append(key.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidValue(argument, f"table key {key!r} is not valid UTF-8 text",
                                   path=path) from None
        elif type(key) is not int:
            raise InvalidValue(argument, f"table key {_key_text(key)} is not allowed "
                               "(keys are strings, or 1..n for a list)", path=path)
    indices = sorted(key for key in keys if type(key) is int)
    if indices and texts:
        raise InvalidValue(argument, f"mixed table: it has index {indices[0]} and string "
                           f"key {min(texts)!r}; use a list or a map, not both", path=path)
    if indices:
        raise InvalidValue(argument, _sequence_problem(indices), path=path)
    return False


def _sequence_problem(indices: list[int]) -> str:
    """Why integer keys (sorted) do not form 1..n, naming the offending key."""
    if indices[0] < 1:
        return (f"table key {indices[0]} is not allowed: lists start at 1 (a map needs string "
                f'keys such as ["{indices[0]}"])')
    present = set(indices)
    missing = next(i for i in range(1, indices[-1] + 1) if i not in present)
    return (f"table has key {indices[-1]} but no key {missing}: a list needs every index 1..n "
            f'(no holes); a map needs string keys such as ["{indices[-1]}"]')


def _key_text(key: Any) -> str:
    if isinstance(key, bytes):
        return repr(key.decode("utf-8", "replace"))
    if isinstance(key, bool):
        return f"{str(key).lower()} (a boolean)"
    if isinstance(key, float):
        return f"{key!r} (a float)"
    if isinstance(key, int):
        return str(key)
    return f"of type {lua_type_name(key)}"
