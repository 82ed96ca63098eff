"""The ``State`` global: the seed's API from Lua, persistence across processes, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backends import ON_DISK, Backend
from cli_runner import Run
from llmspell import Runtime
from llmspell.errors import ScriptError
from llmspell.lua import LuaEngine

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def rt() -> Any:
    with Runtime.memory() as runtime:
        yield runtime


@pytest.fixture
def lua(rt: Runtime) -> Any:
    engine = LuaEngine(rt, script_name="test.lua")
    yield engine.run_string
    engine.close()


# -- the seed's snippet, through `llmspell run`, across runs ---------------------------------


@pytest.mark.parametrize("backend", ON_DISK, indirect=True)
def test_the_seed_snippet_keeps_state_across_runs(backend: Backend, run: Run) -> None:
    outputs = []
    for _ in range(2):
        result = run("--set", f"storage.url={backend.url}", "run", str(EXAMPLES / "state.lua"))
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == ("messages:\t1\thello from run 1\ntemp_data:\tnil\n"
                          "workflow keys:\tstep_1\n")
    assert outputs[1] == ("messages:\t2\thello from run 2\ntemp_data:\tnil\n"
                          "workflow keys:\tstep_1 step_2\n")


def test_the_seed_config_table_works_with_llmspell_run(run: Run, tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text(
        '[state]\nenabled = true\nbackend = "sled"\npath = "./data/state"\n')
    for expected in ("1", "2"):
        result = run("run", str(EXAMPLES / "state.lua"))
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith(f"messages:\t{expected}\t")
    assert (tmp_path / "data" / "state" / "llmspell.db").is_file()


def test_the_transactions_example(run: Run) -> None:
    result = run("run", str(EXAMPLES / "state_transactions.lua"))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "status:\tdone"
    assert lines[1].startswith("rolled back:\ttrue\tdone\t")
    assert lines[1].endswith("state_transactions.lua:14: the source went away")
    assert lines[2] == "runs:\t3"
    assert lines[3].startswith("false\tInvalidScope: argument 'scope': unknown scope kind "
                               "'agnet'")
    assert lines[4].startswith("false\tInvalidKey: argument 'key': must not contain '..'")


# -- values round-trip ----------------------------------------------------------------------


def test_values_round_trip(lua: Any) -> None:
    assert lua("""
        local values = {
          n = 42, f = 1.5, neg = -7, big = math.maxinteger, s = "héllo", t = true,
          nested = {a = {b = {1, 2, {c = "deep"}}}}, array = {1, 2, 3}, empty = {},
          raw = "\\xff\\x00"}
        for key, value in pairs(values) do State.save("global", key, value) end
        State.save("global", "nothing", nil)
        local out = {}
        for key in pairs(values) do out[key] = State.load("global", key) end
        assert(math.type(out.n) == "integer" and math.type(out.f) == "float")
        assert(State.load("global", "nothing") == nil and State.exists("global", "nothing"))
        assert(#State.load("global", "array") == 3)
        return JSON.stringify({
          n = out.n, f = out.f, neg = out.neg, big = out.big == math.maxinteger, s = out.s,
          t = out.t, nested = out.nested, array = out.array, empty = out.empty,
          raw = out.raw == "\\xff\\x00"})
    """) == ('{"array":[1,2,3],"big":true,"empty":{},"f":1.5,"n":42,"neg":-7,'
             '"nested":{"a":{"b":[1,2,{"c":"deep"}]}},"raw":true,"s":"héllo","t":true}')


def test_lua_saves_are_python_values(lua: Any, rt: Runtime) -> None:
    lua('State.save("agent:gpt-4", "history", {{role = "user", content = "hi"}})')
    assert rt.state.load("agent:gpt-4", "history") == [{"role": "user", "content": "hi"}]
    rt.state.save("workflow:w", "cfg", {"retries": 3, "tags": ["a"]})
    assert lua('return State.load("workflow:w", "cfg").tags[1]') == "a"


def test_the_one_argument_forms_use_the_global_scope(lua: Any, rt: Runtime) -> None:
    lua('State.save("greeting", "hi")')
    assert rt.state.load("global", "greeting") == "hi"
    assert lua('return State.load("greeting")') == "hi"
    assert lua('return State.exists("greeting")') is True
    assert lua('return State.list_keys()[1]') == "greeting"
    assert lua('return State.delete("greeting")') is True
    assert not rt.state.exists("global", "greeting")


def test_aliases_exists_clear_and_list_with_prefix(lua: Any) -> None:
    assert lua("""
        State.set("custom:c", "a/1", 1)
        State.set("custom:c", "a/2", 2)
        State.set("custom:c", "b", 3)
        local all, some = State.list("custom:c"), State.list_keys("custom:c", "a/")
        local got = State.get("custom:c", "b")
        local cleared = State.clear("custom:c")
        return table.concat(all, ","), table.concat(some, ","), got, cleared,
               State.exists("custom:c", "b"), State.load("custom:c", "b", "dflt")
    """) == ("a/1,a/2,b", "a/1,a/2", 3, 3, False, "dflt")


def test_compare_and_set(lua: Any) -> None:
    assert lua("""
        return State.compare_and_set("global", "n", nil, 1),
               State.compare_and_set("global", "n", nil, 2),
               State.compare_and_set("global", "n", 1, {x = 1}),
               State.compare_and_set("global", "n", {x = 1}, 3),
               State.load("global", "n")
    """) == (True, False, True, True, 3)


# -- transactions ---------------------------------------------------------------------------


def test_a_transaction_commits_and_returns_what_the_function_returned(lua: Any,
                                                                      rt: Runtime) -> None:
    assert lua("""
        return State.transaction(function()
          State.save("global", "a", 1)
          State.save("agent:x", "b", 2)
          assert(State.load("global", "a") == 1)  -- the block sees its own writes
          return "done", 2
        end)
    """) == ("done", 2)
    assert rt.state.load("global", "a") == 1 and rt.state.load("agent:x", "b") == 2


def test_an_error_in_a_transaction_rolls_back_and_reaches_the_script(lua: Any,
                                                                    rt: Runtime) -> None:
    rt.state.save("global", "kept", "before")
    assert lua("""
        local ok, err = pcall(State.transaction, function()
          State.save("global", "kept", "after")
          State.save("agent:x", "new", 1)
          error({code = 42})  -- any error value comes back unchanged
        end)
        return ok, err.code
    """) == (False, 42)
    assert rt.state.load("global", "kept") == "before"
    assert not rt.state.exists("agent:x", "new")
    with pytest.raises(ScriptError, match=r"test\.lua:3: out of cheese"):
        lua('State.transaction(function()\n State.save("global", "kept", 2)\n '
            'error("out of cheese")\nend)')
    assert rt.state.load("global", "kept") == "before"
    lua('State.save("global", "after", 1)')  # nothing is left buffered
    assert rt.state.load("global", "after") == 1


def test_a_state_error_inside_a_transaction_rolls_back(lua: Any, rt: Runtime) -> None:
    result = lua("""
        return pcall(State.transaction, function()
          State.save("global", "a", 1)
          State.save("global", "..", 1)
        end)
    """)
    assert result[0] is False and result[1].startswith("InvalidKey:")
    assert rt.state.list_keys("global") == []


def test_nested_transactions_join(lua: Any, rt: Runtime) -> None:
    lua("""
        State.transaction(function()
          State.save("global", "outer", 1)
          pcall(State.transaction, function()
            State.save("global", "inner_failed", 1)
            error("inner only")
          end)
          State.transaction(function() State.save("global", "inner", 1) end)
        end)
    """)
    assert rt.state.list_keys("global") == ["inner", "outer"]


# -- errors ---------------------------------------------------------------------------------

ERRORS = [
    ('State.save("agnet:x", "k", 1)', "InvalidScope: argument 'scope': unknown scope kind "
                                       "'agnet' (did you mean 'agent'?)"),
    ('State.save("global", "__k", 1)', "InvalidKey: argument 'key': must not start with '__'"),
    ('State.save("global", "\\xff\\xfe", 1)', "InvalidKey: argument 'key': must be valid "
                                              "UTF-8 text"),
    ('local t = {}; t.me = t; State.save("global", "k", t)', "CyclicValue: argument 'value' "
                                                             "at $.me"),
    ('State.save("global", "k", string.rep("x", 200))', "ValueTooLarge: argument 'value': "
                                                        "the value for global/k must encode "
                                                        "to at most 100 bytes"),
    ('State.load("global", 7)', "InvalidKey: argument 'key': must be a str"),
    ('State.save("k")', "ValidationError: State.save takes (scope, key, value)"),
    ('State.clear()', "ValidationError: State.clear takes a scope"),
    ('State.transaction(42)', "ValidationError: State.transaction takes a function"),
    ('State.list_keys("global", 7)', "InvalidKey: argument 'prefix': must be a str"),
]


@pytest.mark.parametrize(("code", "message"), ERRORS, ids=[e[1].split(":")[0] + str(i)
                                                          for i, e in enumerate(ERRORS)])
def test_errors_are_catchable_lua_errors_and_change_nothing(code: str, message: str) -> None:
    with Runtime.memory(state__max_value_bytes=100) as rt:
        rt.state.save("global", "k", "before")
        engine = LuaEngine(rt, script_name="test.lua")
        try:
            ok, err = engine.run_string(f"return pcall(function() {code} end)")
        finally:
            engine.close()
        assert ok is False
        assert message in err, err
        assert list(rt.state.records()) == [("global", "k", rt.store.get("state/global/k"))]
        assert rt.state.load("global", "k") == "before"


def test_disabled_state_is_a_clear_lua_error() -> None:
    with Runtime.memory(state__enabled=False) as rt:
        engine = LuaEngine(rt, script_name="test.lua")
        try:
            ok, err = engine.run_string('return pcall(State.save, "global", "k", 1)')
        finally:
            engine.close()
    assert ok is False
    assert err.startswith("StateError: state is disabled ([state] enabled = false")


def test_hooks_registered_in_python_apply_to_lua_writes(rt: Runtime, lua: Any) -> None:
    from llmspell.hooks import HookResult

    rt.hooks.register("state:before_write",
                      lambda ctx: HookResult.cancel("read-only") if ctx.data["scope"] ==
                      "global" else None)
    ok, err = lua('return pcall(State.save, "global", "k", 1)')
    assert ok is False
    assert err.startswith("HookCancelled: ") and "read-only" in err
    assert not rt.state.exists("global", "k")
