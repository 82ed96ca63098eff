"""Records (a dict of scalars, dicts of scalars and empty lists, such as an agent's result) are
built for Lua by a builder made for their shape (``Converter._record``): the table must be
the one the general path builds, and a value it cannot build must be refused as the general
path refuses it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmspell import Runtime
from llmspell.errors import ValidationError
from llmspell.lua import LuaEngine
from llmspell.lua.convert import Converter
from llmspell.providers.scripted import ScriptedProvider
from strategies import examples, scalars

# A table described as text: types, integer or float, exact floats (%a), JSON.null by
# identity, metatables by name, keys sorted.
DESCRIBE = r"""
local function describe(v)
  if rawequal(v, JSON.null) then return "null" end
  local t = type(v)
  if t == "number" then
    return math.type(v) .. ":" .. (math.type(v) == "float" and string.format("%a", v) or v)
  elseif t == "string" then return string.format("%q", v)
  elseif t ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return describe(a) < describe(b) end)
  local out = {}
  for i, k in ipairs(keys) do out[i] = describe(k) .. "=" .. describe(v[k]) end
  return tostring(getmetatable(v)) .. "{" .. table.concat(out, ",") .. "}"
end
return describe
"""

SCALAR = scalars(integers=st.integers(), floats=st.floats(), max_size=8) | st.text(max_size=5)
RECORDS = st.dictionaries(
    st.text(max_size=4),
    SCALAR | st.dictionaries(st.text(max_size=4), SCALAR, max_size=4) | st.just([])
    | st.lists(SCALAR, max_size=2),
    max_size=6)


@pytest.fixture(scope="module")
def engine() -> Iterator[LuaEngine]:
    runtime = Runtime.memory()
    with LuaEngine(runtime) as engine:
        yield engine
    runtime.close()


def outcome(convert: Callable[[], Any], describe: Any) -> str:
    """What a conversion gives, as text: the table described, or the error."""
    try:
        return describe(convert())
    except ValidationError as exc:
        return f"{type(exc).__name__}: {exc}"


def general_and_record(engine: LuaEngine, value: Any) -> tuple[str, str, bool]:
    """The value converted by a new converter (the general path: a shape seen for the first
    time) and by one that has seen its shape twice (its builder), and whether a builder was
    used."""
    describe = engine.run_string(DESCRIBE)
    general = outcome(lambda: Converter(engine.lua, engine.core, engine.call).to_lua(value),
                      describe)
    warm = Converter(engine.lua, engine.core, engine.call)
    for _ in range(2):
        outcome(lambda: warm.to_lua(value), describe)
    built = any(isinstance(entry, tuple) for entry in warm._records.values())
    return general, outcome(lambda: warm.to_lua(value), describe), built


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RECORDS)
def test_a_record_is_the_table_the_general_path_builds(engine: LuaEngine,
                                                       value: dict[str, Any]) -> None:
    general, record, _ = general_and_record(engine, value)
    assert record == general


AGENT_RESULT = {
    "text": "Hello th\u00e9re \u2603 \U0001f600", "output": "Hello th\u00e9re \u2603 \U0001f600",
    "metadata": {"agent": "bench", "model": "demo", "provider": "scripted",
                 "finish_reason": "stop", "latency_ms": 0.343, "execution_time_ms": 0,
                 "token_count": 5, "steps": 1, "cost": 0.0, "correlation_id": "e578da00",
                 "session_id": None, "api_key": "sk-secret-123"},
    "usage": {"input_tokens": 3, "output_tokens": 2, "total": 5, "cost": 0.0},
    "tool_calls": [],
}


class _Str(str):
    pass


class _Dict(dict):  # type: ignore[type-arg]
    pass


@pytest.mark.parametrize("value", [
    AGENT_RESULT,
    {**AGENT_RESULT, "tool_calls": [{"id": "c1", "name": "calc", "arguments": {"x": [1, 2]},
                                     "result": {"success": True, "output": "3",
                                                "error": None}}]},
    {**AGENT_RESULT, "metadata": {**AGENT_RESULT["metadata"], "nested": {"a": {"b": 1}}}},
    {**AGENT_RESULT, "metadata": {}, "usage": {"\u00e9t\u00e9": "\u00fc", "two words": -0.0}},
    {"text": _Str("sub"), "n": 1}, {"meta": _Dict(a=1)}, {"flag": True, "n": 1.0, "i": 1},
    {"big": 2**63 - 1, "small": -(2**63)}, {"big": 2**63}, {"m": {"big": -(2**63) - 1}},
    {"bad": "\ud800"}, {"m": {"bad": "\udfff"}}, {"\ud800": 1}, {"m": {"\ud800": 1}},
    {1: "one"}, {"m": {2: "two"}}, {"b": b"bytes"}, {"t": ("a",)}, {"e": {}}, {"l": [None]},
    {}, {"many": dict.fromkeys(map(str, range(70)), 1)},
], ids=lambda value: repr(value)[:40])
def test_edge_cases_convert_or_are_refused_as_by_the_general_path(
        engine: LuaEngine, value: dict[Any, Any]) -> None:
    general, record, _ = general_and_record(engine, value)
    assert record == general


def test_an_agent_result_is_built_by_its_builder(engine: LuaEngine) -> None:
    general, record, built = general_and_record(engine, AGENT_RESULT)
    assert built
    assert record == general
    assert '"tool_calls"=JSON.array{}' in record and '"session_id"=null' in record


class _Full(Exception):
    pass


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RECORDS)
def test_a_record_spends_the_memory_room_as_the_general_path_does(
        engine: LuaEngine, value: dict[str, Any]) -> None:
    room = [10**9]
    warm = Converter(engine.lua, engine.core, engine.call, room=lambda: room[0], full=_Full)
    for _ in range(3):
        try:
            warm.to_lua(value)
        except ValidationError:
            return  # refused: the test above compares refusals
    # the general path's cost, found by the smallest room it fits in
    low, high = 0, 10**9
    while low < high:
        middle = (low + high) // 2
        general = Converter(engine.lua, engine.core, engine.call, room=lambda m=middle: m,
                            full=_Full)
        try:
            general.to_lua(value)
            high = middle
        except _Full:
            low = middle + 1
    room[0] = low
    warm.to_lua(value)
    room[0] = low - 1
    with pytest.raises(_Full):
        warm.to_lua(value)


def test_agent_results_in_lua_are_the_same_from_the_first_call_on(engine: LuaEngine) -> None:
    runtime = engine.runtime
    runtime.providers.add("scripted", ScriptedProvider("scripted", ["h\u00e9llo \u2603"] * 5))
    runtime.agents.create("records", "scripted/demo")
    describe = engine.run_string(DESCRIBE)
    call = engine.run_string('local a = Agent.get("records") '
                             'return function() return a:invoke{text = "hi"} end')
    seen = [describe(call.lua_function()) for _ in range(4)]
    # the values that change per call (latency, ids, token counts) aside, the tables agree
    shapes = [[part.split("=")[0] for part in text.split(",")] for text in seen]
    assert shapes[0] == shapes[1] == shapes[2] == shapes[3]
    assert all('"text"="h\u00e9llo \u2603"' in text for text in seen)
    runtime.agents.remove("records")


def test_no_builder_is_compiled_without_room_for_it(engine: LuaEngine) -> None:
    # compiling allocates in Lua under a call from Python, which must not fail: with little
    # room left the general path converts the record, every time
    converter = Converter(engine.lua, engine.core, engine.call, room=lambda: 8 * 1024,
                          full=_Full)
    describe = engine.run_string(DESCRIBE)
    tables = {describe(converter.to_lua(AGENT_RESULT)) for _ in range(3)}
    assert len(tables) == 1
    assert converter._records == {}


def test_large_dicts_take_the_general_path(engine: LuaEngine) -> None:
    converter = Converter(engine.lua, engine.core, engine.call)
    value = dict.fromkeys(map(str, range(61)), 1)
    for _ in range(3):
        converter.to_lua(value)
    assert converter._records == {} and converter._seen == {}
