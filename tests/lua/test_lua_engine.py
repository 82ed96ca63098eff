"""LuaEngine: running scripts, results, output, and how errors surface."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from backends import MakeEngine
from llmspell.errors import ScriptError, ValidationError
from llmspell.lua import LuaEngine, LuaFunction, ScriptExit


def test_results_come_back_converted(engine: LuaEngine) -> None:
    assert engine.run_string("return nil") is None
    assert engine.run_string("local x = 1") is None
    assert engine.run_string("return 42") == 42
    assert engine.run_string('return 1, "two", {3}, {a = true}') == (1, "two", [3], {"a": True})


def test_print_goes_through_sys_stdout_with_tostring_and_tabs(
        engine: LuaEngine, capsys: pytest.CaptureFixture[str]) -> None:
    print("before")
    engine.run_string('print("a", 1, 2.5, nil, true, JSON.null) print() '
                      'print(setmetatable({}, {__tostring = function() return "T" end}))')
    print("after")
    assert capsys.readouterr().out == "before\na\t1\t2.5\tnil\ttrue\tnull\n\nT\nafter\n"


def test_io_write_goes_through_sys_stdout(engine: LuaEngine,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    engine.run_string('io.write("x=", 1, " y=", 2.5, "\\n"):write("")')
    assert capsys.readouterr().out == "x=1 y=2.5\n"
    with pytest.raises(ScriptError, match="bad argument #1 to 'write'"):
        engine.run_string("io.write({})")


def test_uncaught_error_names_script_and_line(engine: LuaEngine) -> None:
    with pytest.raises(ScriptError) as caught:
        engine.run_string("local t = {}\n\nlocal x = t.missing.field", "quickstart.lua")
    error = caught.value
    assert str(error).startswith("quickstart.lua:3: attempt to index a nil value")
    assert (error.script, error.line) == ("quickstart.lua", 3)
    assert "stack traceback" in error.lua_traceback  # type: ignore[attr-defined]
    assert "[llmspell]" not in error.lua_traceback  # type: ignore[attr-defined]


def test_error_with_a_table_value_is_described(engine: LuaEngine) -> None:
    with pytest.raises(ScriptError, match=r"^t\.lua:2: \(error object is a table value\)"):
        engine.run_string("local x = 1\nerror({code = 1})", "t.lua")
    with pytest.raises(ScriptError, match=r"^t\.lua:1: custom"):
        engine.run_string('error(setmetatable({}, {__tostring = function() return "custom" '
                          "end}))", "t.lua")


def test_python_error_surfaces_with_class_name_location_and_cause(engine: LuaEngine) -> None:
    with pytest.raises(ScriptError) as caught:
        engine.run_string("local a = 1\nJSON.parse(42)", "s.lua")
    error = caught.value
    assert str(error) == ("s.lua:2: ValidationError: argument 'text': must be a string "
                          "(got number 42)")
    assert error.line == 2
    assert isinstance(error.__cause__, ValidationError)


def test_pcall_catches_python_errors_as_strings(engine: LuaEngine) -> None:
    ok, message = engine.run_string("return pcall(JSON.parse, '{bad')")
    assert ok is False
    assert message.startswith("ValidationError: argument 'text': is not valid JSON")
    assert engine.run_string(
        "local ok, e = pcall(Utils.hash, 'x', 'nope') return type(e), e:match('^%a+')"
    ) == ("string", "ValidationError")


def test_too_many_arguments_are_refused(engine: LuaEngine) -> None:
    ok, message = engine.run_string("return pcall(Utils.uuid, 1)")
    assert not ok
    assert message == "ValidationError: argument '#1': Utils.uuid takes at most 0 arguments (got 1)"


def test_syntax_error_names_script_and_line(engine: LuaEngine) -> None:
    with pytest.raises(ScriptError) as caught:
        engine.run_string("local x = 1\nlocal = 2", "bad.lua")
    assert str(caught.value).startswith("bad.lua:2:")
    assert caught.value.line == 2


def test_run_file_uses_the_path_and_skips_a_shebang(engine: LuaEngine, tmp_path: Path) -> None:
    script = tmp_path / "hello.lua"
    script.write_text("#!/usr/bin/env llmspell\nlocal x = 1\nreturn x + 1\n")
    assert engine.run_file(script) == 2
    script.write_text("#!/usr/bin/env llmspell\n\nerror('boom')\n")
    with pytest.raises(ScriptError) as caught:
        engine.run_file(script)
    assert caught.value.script == str(script)
    assert caught.value.line == 3
    assert str(caught.value) == f"{script}:3: boom"


def test_run_file_missing(engine: LuaEngine, tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match=r"cannot read script .*nope\.lua"):
        engine.run_file(tmp_path / "nope.lua")


def test_os_exit_ends_the_script_cleanly(engine: LuaEngine,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ScriptExit) as caught:
        engine.run_string("print('one') os.exit(3) print('two')")
    assert caught.value.code == 3
    with pytest.raises(ScriptExit) as caught:
        engine.run_string("pcall(os.exit, false) print('not reached')")
    assert caught.value.code == 1
    assert capsys.readouterr().out == "one\n"
    with pytest.raises(ScriptExit) as caught:
        engine.run_string("os.exit()")
    assert caught.value.code == 0
    assert engine.run_string("return 5") == 5  # the engine is usable afterwards


def test_call_runs_lua_functions_with_converted_values(engine: LuaEngine) -> None:
    engine.run_string("function double(t) local out = {} for i, v in ipairs(t) do "
                      "out[i] = v * 2 end return out end")
    assert engine.call("double", [1, 2, 3]) == [2, 4, 6]
    adder = engine.run_string("return function(a, b) return a + b end")
    assert isinstance(adder, LuaFunction)
    assert adder(2, 3) == 5
    with pytest.raises(ScriptError, match="attempt to perform arithmetic"):
        adder(2, None)
    with pytest.raises(ValidationError, match="global 'nothing' is not a function"):
        engine.call("nothing")


def test_globals_persist_between_runs_of_one_engine(engine: LuaEngine) -> None:
    engine.run_string("counter = 1")
    engine.run_string("counter = counter + 1")
    assert engine.run_string("return counter") == 2


def test_python_module_and_attribute_access_are_gone(make_engine: MakeEngine) -> None:
    assert make_engine().run_string("return python") is None
    engine = make_engine(engines__lua__sandbox="full")
    assert engine.run_string("return python, package.loaded.python") == (None, None)
    # The raw Python callable sits in an upvalue; reachable only with the debug library.
    ok, message = engine.run_string(
        "local f for i = 1, 3 do local _, v = debug.getupvalue(Utils.uuid, i) "
        "if type(v) == 'userdata' then f = v end end "
        "local ok, e = pcall(function() return f.__globals__ end) return ok, tostring(e)")
    assert not ok
    assert "cannot access attributes of Python objects" in str(message)


def test_close_is_idempotent_and_final(engine: LuaEngine) -> None:
    engine.close()
    engine.close()
    assert engine.closed
    with pytest.raises(ScriptError, match="closed"):
        engine.run_string("return 1")


def test_a_closed_engine_is_collected() -> None:
    from llmspell import Runtime

    with Runtime.memory() as runtime:
        engine = LuaEngine(runtime)
        engine.run_string("x = {1, 2, 3} Logger.info('x')")
        engine.close()
        ref = weakref.ref(engine)
        del engine
        gc.collect()
        assert ref() is None


def test_print_of_binary_strings_keeps_the_bytes(
        engine: LuaEngine, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    engine.run_string("print('ok', '\\xff\\xfe')")
    assert capsysbinary.readouterr().out == b"ok\t\xff\xfe\n"


def test_ctrl_c_in_a_python_call_stops_the_script_through_pcall(engine: LuaEngine) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    engine.set_global("interrupted", engine.function(interrupted, "interrupted"))
    with pytest.raises(KeyboardInterrupt):
        engine.run_string("while true do pcall(interrupted) end")
    assert engine.run_string("return 1") == 1


def test_a_result_that_cannot_be_converted_is_a_script_error(engine: LuaEngine) -> None:
    with pytest.raises(ScriptError, match=r"^r\.lua: the script's result cannot be converted: "
                                          r"argument 'result' at \$: mixed table"):
        engine.run_string("return {1, x = 2}", "r.lua")


def test_on_close_callbacks_run_last_first_and_errors_surface(engine: LuaEngine) -> None:
    ran: list[str] = []

    def failing() -> None:
        ran.append("failing")
        raise RuntimeError("cleanup failed")

    engine.on_close(lambda: ran.append("first"))
    engine.on_close(failing)
    engine.on_close(lambda: ran.append("last"))
    with pytest.raises(RuntimeError, match="cleanup failed"):
        engine.close()
    assert ran == ["last", "failing", "first"]
    assert engine.closed
