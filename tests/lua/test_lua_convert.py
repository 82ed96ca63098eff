"""The Lua <-> Python converter: property tests both ways, and every rule and refusal."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmspell import Runtime
from llmspell.errors import CyclicValue, InvalidValue, ScriptError, ValidationError
from llmspell.lua import LuaEngine
from llmspell.lua.convert import Converter, render
from llmspell.testing.fuzz import as_lua_sees_it as normalized
from llmspell.testing.fuzz import same
from strategies import INT64, examples, scalars, text, values

VALUES = values(scalars(integers=INT64, floats=st.floats(allow_nan=False), max_size=20),
                keys=text(20))


@pytest.fixture(scope="module")
def engine() -> Iterator[LuaEngine]:
    runtime = Runtime.memory()
    engine = LuaEngine(runtime)
    yield engine
    engine.close()
    runtime.close()


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(VALUES)
def test_python_to_lua_to_python_is_identity(engine: LuaEngine, value: Any) -> None:
    back = engine.to_python(engine.to_lua(value))
    assert same(back, normalized(value))


@settings(max_examples=examples(100), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(VALUES)
def test_values_survive_a_lua_function_and_json(engine: LuaEngine, value: Any) -> None:
    identity = engine.run_string("return function(...) return ... end")
    assert same(identity(value), normalized(value))


def lua_literal(value: Any) -> str:
    """Lua source that builds ``value`` the way a script would write it."""
    if value is None:
        return "JSON.null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value != -(2**63) else "math.mininteger"
    if isinstance(value, float):
        if math.isinf(value):
            return "(1/0)" if value > 0 else "(-1/0)"
        return f"{value!r}" if "e" in repr(value) or "." in repr(value) else f"{value!r}.0"
    if isinstance(value, str | bytes):
        raw = value.encode("utf-8") if isinstance(value, str) else value
        return '"' + "".join(f"\\x{byte:02x}" for byte in raw) + '"'
    if isinstance(value, list):
        if not value:
            return "JSON.array()"
        return "{" + ", ".join(lua_literal(item) for item in value) + "}"
    return "{" + ", ".join(f"[{lua_literal(k)}] = {lua_literal(v)}" for k, v in value.items()) + "}"


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(VALUES)
def test_tables_built_by_scripts_convert_by_the_rules(engine: LuaEngine, value: Any) -> None:
    top = "nil" if value is None else lua_literal(value)
    back = engine.run_string(f"return {top}")
    assert same(back, normalized(value))


@settings(max_examples=examples(100), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(INT64, min_size=1, max_size=6), st.sampled_from(["x", "name"]))
def test_mixed_tables_are_refused_naming_the_key(engine: LuaEngine, items: list[int],
                                                 key: str) -> None:
    literal = "{" + ", ".join(map(str, items)) + f", {key} = 1}}"
    with pytest.raises(ScriptError) as caught:
        engine.run_string(f"return JSON.stringify({literal})")
    assert f"mixed table: it has index 1 and string key {key!r}" in str(caught.value)


CASES = [
    ("{}", {}),
    ("JSON.array()", []),
    ("JSON.array({1, 2})", [1, 2]),
    ("{1, 2, 3}", [1, 2, 3]),
    ("{[1] = 'a', [2] = 'b'}", ["a", "b"]),
    ("{b = 1, a = 2}", {"a": 2, "b": 1}),
    ("{a = {b = {c = {}}}}", {"a": {"b": {"c": {}}}}),
    ("{1, JSON.null, 3}", [1, None, 3]),
    ("{a = JSON.null}", {"a": None}),
    ("3", 3),
    ("3.0", 3.0),
    ("2^53", 2.0**53),
    ("math.maxinteger", 2**63 - 1),
    ("'caf\\xc3\\xa9'", "café"),
    ("'\\xff\\xfe'", b"\xff\xfe"),
    ("{['\\xc3\\xa9'] = '\\x00'}", {"é": "\x00"}),
]


@pytest.mark.parametrize("code, expected", CASES, ids=[c for c, _ in CASES])
def test_lua_values_convert_as_documented(engine: LuaEngine, code: str, expected: Any) -> None:
    assert same(engine.run_string(f"return {code}"), expected)


def test_dict_keys_come_back_sorted(engine: LuaEngine) -> None:
    result = engine.run_string("return {zeta = 1, alpha = 2, mid = 3}")
    assert list(result) == ["alpha", "mid", "zeta"]


REFUSALS = [
    ("{1, 2, nil, 4}", "$", "table has key 4 but no key 3"),
    ("{[0] = 'a', [1] = 'b'}", "$", "table key 0 is not allowed: lists start at 1"),
    ("{[5] = 'x'}", "$", "table has key 5 but no key 1"),
    ("{[-1] = 'x'}", "$", "table key -1 is not allowed"),
    ("{[1.5] = 'x'}", "$", "table key 1.5 (a float) is not allowed"),
    ("{[true] = 'x'}", "$", "table key true (a boolean) is not allowed"),
    ("{[{}] = 'x'}", "$", "table key of type table is not allowed"),
    ("{['\\xff'] = 1}", "$", "is not valid UTF-8 text"),
    ("{items = {1, 2, {name = {1, x = 2}}}}", "$.items[3].name",
     "mixed table: it has index 1 and string key 'x'"),
    ("{['two words'] = {f = print}}", "$['two words'].f", "a function cannot be converted"),
    ("{co = coroutine.create(print)}", "$.co", "a thread cannot be converted"),
    ("{io.stdout}", "$[1]", "a userdata cannot be converted"),
    ("(function() local a = JSON.array({1}) a.x = 2 return a end)()", "$",
     "a JSON.array may only have keys 1..n; it has key 'x'"),
]


@pytest.mark.parametrize("code, path, rule", REFUSALS, ids=[c for c, _, _ in REFUSALS])
def test_refusals_name_the_path_and_the_key(engine: LuaEngine, code: str, path: str,
                                            rule: str) -> None:
    with pytest.raises(ScriptError) as caught:
        engine.run_string(f"local value = {code}\nlocal text = JSON.stringify(value)", "r.lua")
    message = str(caught.value)
    assert message.startswith(f"r.lua:2: InvalidValue: argument 'value' at {path}: ")
    assert rule in message


def test_a_cycle_is_refused_with_its_path(engine: LuaEngine) -> None:
    with pytest.raises(ScriptError) as caught:
        engine.run_string("local t = {a = {}} t.a.b = t return JSON.stringify(t)")
    assert ("CyclicValue: argument 'value' at $.a.b: the table contains itself (a cycle)"
            in str(caught.value))
    # Shared (not cyclic) tables are fine.
    assert engine.run_string("local s = {1} return JSON.stringify({a = s, b = s})") == (
        '{"a":[1],"b":[1]}')


def test_functions_pass_only_where_asked(engine: LuaEngine) -> None:
    function = engine.run_string("return function() return 1 end")
    assert function() == 1  # results may carry functions
    with pytest.raises(InvalidValue, match="a function cannot be converted"):
        engine.to_python(function.lua_function)


def test_python_values_refused_on_the_way_in(engine: LuaEngine) -> None:
    with pytest.raises(InvalidValue, match=r"at \$\.a\[1\]: integers must fit in 64 bits"):
        engine.to_lua({"a": [1, 2**64]})
    with pytest.raises(InvalidValue, match=r"at \$: dict keys must be str; key 1 is a int"):
        engine.to_lua({1: "x"})
    with pytest.raises(InvalidValue, match=r"at \$\[0\]: cannot be converted to Lua"):
        engine.to_lua([object()])
    with pytest.raises(InvalidValue, match="lone surrogate"):
        engine.to_lua("\ud800")
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(CyclicValue, match=r"at \$\[0\]: the value contains itself"):
        engine.to_lua(loop)
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(ValidationError, match="nested deeper than 200 levels"):
        engine.to_lua(deep)


def test_scalars_in_dicts_are_checked_with_their_path(engine: LuaEngine) -> None:
    # dict values that are plain scalars take a shorter road; its refusals name the path too
    with pytest.raises(InvalidValue, match=r"at \$\.meta\.big: integers must fit in 64 bits"):
        engine.to_lua({"meta": {"ok": 1, "big": 2**63}})
    with pytest.raises(InvalidValue, match=r"at \$\.meta\.text: .*lone surrogate"):
        engine.to_lua({"meta": {"text": "\ud800"}})
    with pytest.raises(InvalidValue, match=r"at \$\.caf\u00e9: .*lone surrogate"):
        engine.to_lua({"caf\u00e9": "\ud800"})
    shown = engine.run_string("return function(v) return v.a, v.b, v.c == JSON.null, v.d, "
                              "v['caf\u00e9'], v.f end")
    assert shown({"a": "x", "b": -(2**63), "c": None, "d": 1.5, "caf\u00e9": True,
                  "f": False}) == ("x", -(2**63), True, 1.5, True, False)


def test_none_is_nil_at_the_top_and_null_inside(engine: LuaEngine) -> None:
    show = engine.run_string("return function(v) return v == nil, v == JSON.null, "
                             "type(v) == 'table' and v[2] == JSON.null end")
    assert show(None) == (True, False, False)
    assert show([1, None]) == (False, False, True)


def test_arrays_from_python_stay_arrays(engine: LuaEngine) -> None:
    stringify = engine.run_string("return function(v) return JSON.stringify(v) end")
    assert stringify([]) == "[]"
    assert stringify({}) == "{}"
    assert stringify({"a": [], "b": ()}) == '{"a":[],"b":[]}'


class _Dict(dict[str, Any]):
    pass


class _List(list[Any]):
    pass


@pytest.mark.parametrize("mapping", [dict, _Dict, MappingProxyType, OrderedDict],
                         ids=["dict", "dict subclass", "mappingproxy", "OrderedDict"])
@pytest.mark.parametrize("sequence", [list, _List, tuple], ids=["list", "list subclass", "tuple"])
def test_every_mapping_and_sequence_converts_as_dict_and_list_do(
        engine: LuaEngine, mapping: Any, sequence: Any) -> None:
    # dict and list take a shortcut past the isinstance checks; the others must agree with it.
    value = mapping({"text": "é", "none": None, "items": sequence([1, 2.5, mapping({"k": True})]),
                     "empty": sequence([])})
    assert engine.to_python(engine.to_lua(value)) == {
        "empty": [], "items": [1, 2.5, {"k": True}], "none": None, "text": "é"}
    with pytest.raises(InvalidValue) as general:
        engine.to_lua({"a": [{1: "x"}]})
    with pytest.raises(InvalidValue) as caught:
        engine.to_lua(mapping({"a": sequence([mapping({1: "x"})])}))
    assert str(caught.value) == str(general.value)


# Scalars in dicts take a shorter road than list elements (Converter._container converts them
# in place); both must give the same Lua value, or the same refusal, for every scalar.
ANY_SCALAR = (scalars(integers=st.integers(), floats=st.floats(), max_size=12)
              | st.text(max_size=6))  # lone surrogates too


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["k", "caf\u00e9", "two words"]), ANY_SCALAR)
def test_dict_scalars_convert_as_list_elements_do(engine: LuaEngine, key: str,
                                                  value: Any) -> None:
    same_value = engine.run_string(
        "return function(d, k, l) local a, b = d[k], l[1] "
        "return (rawequal(a, b) or a ~= a and b ~= b) and math.type(a) == math.type(b) end")
    try:
        in_list = engine.to_lua([value])
    except InvalidValue as exc:
        with pytest.raises(InvalidValue) as caught:
            engine.to_lua({key: value})
        assert str(caught.value) == str(exc).replace("$[0]", render(("$", key)))
        return
    assert same_value(engine.to_lua({key: value}), key.encode(), in_list) is True


class _Full(Exception):
    pass


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.text(max_size=4), ANY_SCALAR, max_size=6))
def test_dict_scalars_spend_the_memory_room_as_each_value_would(
        engine: LuaEngine, value: dict[str, Any]) -> None:
    # the room a dict costs: 96 + 80 an entry, and for each key and each text or bytes value
    # 40 + its UTF-8 length, as the general path spends them one by one: exactly that fits
    def size(text: Any) -> int:
        return 40 + len(text.encode("utf-8") if isinstance(text, str) else text)
    value = {k: v for k, v in value.items() if _encodes(k) and _encodes(v)}
    cost = 96 + 80 * len(value) + sum(size(k) + (size(v) if isinstance(v, str | bytes) else 0)
                                      for k, v in value.items())
    for room in (cost, cost - 1):
        converter = Converter(engine.lua, engine.core, engine.call, room=lambda room=room: room,
                              full=_Full)
        if room < cost:
            with pytest.raises(_Full):
                converter.to_lua(value)
        else:
            converter.to_lua(value)


def _encodes(value: Any) -> bool:
    if not isinstance(value, str):
        return not isinstance(value, int) or -(2**63) <= value < 2**63
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
