"""Limits: runaway scripts stop with ScriptLimitExceeded, however they try to keep running.

Limits here are small so each test stops in well under a second; the assertions are that the
script stopped and what the error says, never how long it took.
"""

from __future__ import annotations

import contextlib
import signal

import pytest

from backends import MakeEngine
from llmspell.errors import ScriptError, ScriptLimitExceeded
from llmspell.lua import LuaEngine

INSTRUCTIONS = {"engines__lua__max_instructions": 2_000_000}
MEMORY = {"engines__lua__max_memory_bytes": 8 * 2**20}
TIME = {"engines__lua__timeout_seconds": 0.3, "engines__lua__max_instructions": 0}

RUNAWAYS = {
    "tight loop": "while true do end",
    "pcall swallowing the limit": "while true do pcall(function() while true do end end) end",
    "pcall then carry on": (
        "local n = 0\n"
        "while true do pcall(function() while true do end end) n = n + 1 end"),
    "error() inside pcall": "while true do pcall(error, 'x') end",
    "xpcall with a looping handler": (
        "xpcall(function() while true do end end, function() while true do end end)"),
    "coroutine.create": (
        "local co = coroutine.create(function() while true do end end)\n"
        "while true do coroutine.resume(co) end"),
    "coroutine.wrap under pcall": (
        "local f = coroutine.wrap(function() while true do end end)\n"
        "while true do pcall(f) end"),
    "yielding coroutine": (
        "local co = coroutine.wrap(function() while true do coroutine.yield() end end)\n"
        "while true do co() end"),
    "recursion caught by pcall": (
        "local function f() return 1 + f() end\n"
        "while true do pcall(f) end"),
    "string building": "local s = '' while true do s = ('x'):rep(10) .. tostring(#s) end",
    "sort with a looping comparator": (
        "table.sort({3, 2, 1}, function(a, b) while true do end end)"),
    "loop in a to-be-closed handler": (
        "do local x <close> = setmetatable({}, {__close = function() while true do end end}) "
        "end"),
}


@pytest.mark.parametrize("code", RUNAWAYS.values(), ids=RUNAWAYS.keys())
def test_instruction_limit_stops_runaway_scripts(make_engine: MakeEngine, code: str) -> None:
    engine = make_engine(**INSTRUCTIONS)
    with pytest.raises(ScriptLimitExceeded) as caught:
        engine.run_string(code, "loop.lua")
    message = str(caught.value)
    assert "instruction limit of 2,000,000 reached" in message
    assert "[engines.lua] max_instructions" in message
    assert message.startswith("loop.lua:")
    assert caught.value.script == "loop.lua"


def test_the_limit_names_the_line_it_stopped_at(make_engine: MakeEngine) -> None:
    engine = make_engine(**INSTRUCTIONS)
    with pytest.raises(ScriptLimitExceeded) as caught:
        engine.run_string("local x = 0\n\nwhile true do x = x + 1 end", "loop.lua")
    assert caught.value.line == 3
    assert str(caught.value).startswith("loop.lua:3: instruction limit")


def test_limits_apply_per_run_and_the_engine_recovers(make_engine: MakeEngine) -> None:
    engine = make_engine(**INSTRUCTIONS)
    with pytest.raises(ScriptLimitExceeded):
        engine.run_string("co = coroutine.wrap(function() while true do end end) co()")
    assert engine.run_string("local s = 0 for i = 1, 100000 do s = s + i end return s") == (
        5000050000)
    # Instructions of earlier runs do not count against the next one.
    for _ in range(3):
        engine.run_string("for i = 1, 150000 do end")


def test_a_script_within_the_limits_is_not_disturbed(make_engine: MakeEngine) -> None:
    engine = make_engine(**INSTRUCTIONS, **MEMORY)
    assert engine.run_string("""
        local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
        local t = {}
        for i = 1, 1000 do t[i] = tostring(i) end
        local ok = pcall(error, "fine")
        return co(1), co(5), #table.concat(t), ok
    """) == (2, 10, 2893, False)


MEMORY_BOMBS = {
    "growing table": "local t = {} for i = 1, 1e9 do t[i] = tostring(i) end",
    "string doubling": "local s = 'x' while true do s = s .. s end",
    "string.rep": "local s = string.rep('x', 2^40)",
    "pcall swallowing out-of-memory": (
        "local keep = {}\n"
        "while true do pcall(function() while true do keep[#keep + 1] = {} end end) end"),
    "in a coroutine": (
        "local co = coroutine.create(function()\n"
        "  local t = {} while true do t[#t + 1] = {} end\n"
        "end)\n"
        "while true do coroutine.resume(co) end"),
    "through a Python call": "local t = {} while true do t[#t + 1] = JSON.parse('[1,2,3]') end",
}


@pytest.mark.parametrize("code", MEMORY_BOMBS.values(), ids=MEMORY_BOMBS.keys())
def test_memory_limit_stops_memory_bombs(make_engine: MakeEngine, code: str) -> None:
    engine = make_engine(**MEMORY)
    with pytest.raises(ScriptError) as caught:
        engine.run_string(code, "bomb.lua")
    message = str(caught.value)
    if "resulting string too large" in message:  # string.rep refuses before allocating
        return
    assert isinstance(caught.value, ScriptLimitExceeded)
    assert "memory limit of 8 MB (8388608 bytes) reached" in message
    assert "[engines.lua] max_memory_bytes" in message
    assert engine.run_string("return 1 + 1") == 2  # memory is back after the run


WALL_TIME = {
    "busy loop": "while true do end",
    "sleep loop": "while true do Utils.sleep(0.05) end",
    "sleep under pcall": "while true do pcall(Utils.sleep, 0.05) end",
    "one long sleep": "Utils.sleep(3600)",
}


@pytest.mark.parametrize("code", WALL_TIME.values(), ids=WALL_TIME.keys())
def test_wall_time_limit_stops_the_script(make_engine: MakeEngine, code: str) -> None:
    engine = make_engine(**TIME)
    with pytest.raises(ScriptLimitExceeded) as caught:
        engine.run_string(code, "slow.lua")
    message = str(caught.value)
    assert message.startswith("slow.lua:1: wall-time limit of 0.3 s reached")
    assert "[engines.lua] timeout_seconds or [runtime] script_timeout_seconds" in message


def test_runtime_script_timeout_is_the_fallback(make_engine: MakeEngine) -> None:
    engine = make_engine(runtime__script_timeout_seconds=0.2, engines__lua__max_instructions=0)
    assert engine.limits.timeout_seconds == 0.2
    with pytest.raises(ScriptLimitExceeded, match=r"wall-time limit of 0\.2 s"):
        engine.run_string("while true do end")


def test_no_limits_keeps_the_hook_for_ctrl_c(make_engine: MakeEngine) -> None:
    # Ctrl-C must stop any script, so the hook stays even with every limit off.
    engine = make_engine(engines__lua__max_instructions=0, engines__lua__timeout_seconds=0,
                         engines__lua__max_memory_bytes=0, engines__lua__sandbox="full")
    assert engine.run_string("return debug.gethook()") is not None
    assert engine.run_string("local s = 0 for i = 1, 3000000 do s = s + 1 end return s") == (
        3000000)


def test_remaining_time_is_available_to_python_callables(make_engine: MakeEngine) -> None:
    engine: LuaEngine = make_engine(engines__lua__timeout_seconds=5)
    seen: list[float | None] = []
    engine.set_global("remaining", engine.function(
        lambda: seen.append(engine.limits.remaining()), "remaining"))
    engine.run_string("remaining()")
    assert seen[0] is not None and 0 < seen[0] <= 5
    unlimited = make_engine()
    assert unlimited.limits.remaining() is None


def test_limits_hold_while_python_converts_big_values(make_engine: MakeEngine) -> None:
    # The hook fires inside conversions (they run Lua helpers); memory is tight throughout.
    engine = make_engine(**INSTRUCTIONS, **MEMORY)
    with pytest.raises(ScriptLimitExceeded):
        engine.run_string("""
            local rows = {}
            for i = 1, 2000 do rows[i] = {id = i, tags = {"a", "b"}, name = "row " .. i} end
            local keep = {}
            while true do keep[#keep + 1] = JSON.parse(JSON.stringify(rows)) end
        """)
    assert engine.run_string("return 'alive'") == "alive"


def test_a_limit_changed_between_runs_is_the_one_named(make_engine: MakeEngine) -> None:
    # The stop messages are kept between runs; a changed limit must not keep the old one.
    engine = make_engine(**INSTRUCTIONS)
    with pytest.raises(ScriptLimitExceeded, match="instruction limit of 2,000,000 reached"):
        engine.run_string("while true do end")
    engine.limits.max_instructions = 3_000_000
    with pytest.raises(ScriptLimitExceeded, match="instruction limit of 3,000,000 reached"):
        engine.run_string("while true do end")
    engine.limits.max_instructions, engine.limits.timeout_seconds = 0, 0.2
    with pytest.raises(ScriptLimitExceeded, match=r"wall-time limit of 0\.2 s reached"):
        engine.run_string("while true do end")


@pytest.mark.parametrize("previous", [signal.SIG_IGN, signal.default_int_handler,
                                      lambda signum, frame: None], ids=["ignore", "default",
                                                                        "a function"])
@pytest.mark.parametrize("code", ["return handler()", "handler() error('boom')"])
def test_a_run_catches_ctrl_c_and_gives_the_handler_back(make_engine: MakeEngine,
                                                         previous: object, code: str) -> None:
    engine: LuaEngine = make_engine()
    seen: list[object] = []
    engine.set_global("handler", engine.function(
        lambda: seen.append(signal.getsignal(signal.SIGINT)), "handler"))
    original = signal.signal(signal.SIGINT, previous)  # type: ignore[arg-type]
    try:
        with contextlib.suppress(ScriptError):
            engine.run_string(code)
        assert seen == [engine.limits._on_sigint]
        assert signal.getsignal(signal.SIGINT) == previous
    finally:
        signal.signal(signal.SIGINT, original)
