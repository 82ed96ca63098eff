"""Hostile scripts (issue 11, items 1 and 8): no script outlives the limits or Ctrl-C.

The runaway cases run in a child process with a generous timeout, so a regression fails the
test instead of hanging the suite; the assertions are about how the script stopped, never
about how long it took.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap

import pytest

from backends import MakeEngine
from llmspell.errors import ScriptError, ScriptLimitExceeded

CLOSE_LOOP = ("local g <close> = setmetatable({}, {__close = function() while true do end end})\n"
              "while true do end")

DRIVER = textwrap.dedent("""
    import sys
    from llmspell import Runtime
    from llmspell.lua import LuaEngine

    limits = {"instructions": {"engines__lua__max_instructions": 2_000_000},
              "time": {"engines__lua__max_instructions": 0, "engines__lua__timeout_seconds": 0.5},
              "none": {"engines__lua__max_instructions": 0, "engines__lua__max_memory_bytes": 0},
              "3 s": {"engines__lua__timeout_seconds": 3}}
    runtime = Runtime.memory(**limits[sys.argv[1]])
    engine = LuaEngine(runtime, script_name="hostile.lua")

    def started() -> None:
        print("started", flush=True)

    engine.set_global("started", engine.function(started, "started"))
    try:
        engine.run_string(sys.argv[2])
    except BaseException as exc:
        print(type(exc).__name__, exc, flush=True)
    print("alive:", engine.run_string("return 1 + 1"), flush=True)
""")


def run_hostile(code: str, limits: str, *, interrupt: bool = False) -> str:
    """Run ``code`` in a child process; with ``interrupt``, send SIGINT once it has started."""
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, limits, code],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        if interrupt:
            assert proc.stdout.readline() == "started\n"
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"the script was not stopped ({limits!r} limits, interrupt={interrupt})")
    assert proc.returncode == 0, err
    return out


@pytest.mark.parametrize("limits, expected", [
    ("instructions", "ScriptLimitExceeded hostile.lua:1: instruction limit of 2,000,000"),
    ("time", "ScriptLimitExceeded hostile.lua:1: wall-time limit of 0.5 s reached"),
])
def test_a_looping_close_handler_does_not_escape_the_limits(limits: str, expected: str) -> None:
    out = run_hostile(CLOSE_LOOP, limits)
    assert expected in out
    assert out.endswith("alive: 2\n")


@pytest.mark.parametrize("ending", ["while true do end", "error('unwind')"])
def test_ctrl_c_stops_a_looping_close_handler(ending: str) -> None:
    code = ("local g <close> = setmetatable({}, {__close = function() while true do end end})\n"
            f"started() {ending}")
    out = run_hostile(code, "none", interrupt=True)
    assert "KeyboardInterrupt" in out
    assert out.endswith("alive: 2\n")


def test_ctrl_c_stops_a_plain_loop_with_every_limit_off() -> None:
    out = run_hostile("started() while true do end", "none", interrupt=True)
    assert "KeyboardInterrupt" in out and out.endswith("alive: 2\n")


def test_a_close_handler_after_an_ordinary_error_still_runs(make_engine: MakeEngine) -> None:
    engine = make_engine()
    with pytest.raises(ScriptError, match="boom"):
        engine.run_string("local g <close> = setmetatable({}, {__close = function() "
                          "CLOSED = true end}) error('boom')")
    assert engine.run_string("return CLOSED") is True


# -- item 8: long C calls -------------------------------------------------------------------

PATHOLOGICAL = {
    "find with lazy dots": 'return string.rep("a", 3e5):find(".-.-.-.-b")',
    "match with greedy dots": 'return string.rep("a", 3e5):match("(.*)(.*)(.*)b")',
    "gmatch": 'for x in string.rep("a", 1e5):gmatch("a-a-a-b") do end',
    "gsub": 'return (string.rep("a", 1e5):gsub(".-.-b", ""))',
    "method call": 'local s = ("ab"):rep(1e5) return s:find("(a-)b-.-x")',
    "optional items": 'return ("a"):rep(40):match(("a?"):rep(40) .. ("a"):rep(40) .. "b")',
    "balanced": 'return ("("):rep(1e5):find("%b()")',
}


@pytest.mark.parametrize("code", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_a_backtracking_pattern_is_refused_before_it_runs(code: str) -> None:
    # Under a 3 s limit these ran for minutes to years: the hook cannot stop a C call.
    out = run_hostile(code, "3 s")
    assert re.search(r"ScriptError hostile\.lua(:1)?: ValidationError: argument 'pattern': "
                     r"string\.\w+ with pattern .* may take up to .* matching steps, over the "
                     r"limit of 2e\+08", out), out
    assert out.endswith("alive: 2\n")


def test_the_refusal_can_be_caught(make_engine: MakeEngine) -> None:
    engine = make_engine()
    ok, message = engine.run_string(
        'return pcall(string.find, string.rep("a", 1e5), ".-.-b")')
    assert ok is False and "ValidationError: argument 'pattern'" in message


EVERYDAY = {
    "trim": ('return ("  hello  " .. ("word "):rep(2000) .. "  "):match("^%s*(.-)%s*$") '
             '~= nil', True),
    "key=value": ('return ((("x"):rep(5000)) .. "=v"):match("^(.-)=(.*)$") ~= nil', True),
    "words": ('return select(2, ("word "):rep(1e5):gsub("%w+", "x"))', 100_000),
    "plain find": ('return (string.rep("a", 1e5) .. ".-"):find(".-", 1, true)', (100_001, 100_002)),
    "gmatch count": ('local n = 0 for _ in ("a,b,c,"):rep(1e4):gmatch("([^,]*),") do n = n + 1 '
                     'end return n', 30_000),
    "balanced text": ('return (("f(x) "):rep(1000):gsub("%b()", ""))', "f " * 1000),
    "init": ('return ("hello"):find("l+", -3)', (3, 4)),
}


@pytest.mark.parametrize("code, result", EVERYDAY.values(), ids=EVERYDAY.keys())
def test_everyday_patterns_still_run(make_engine: MakeEngine, code: str, result: object) -> None:
    assert make_engine().run_string(code) == result


def test_pattern_functions_keep_lua_argument_errors(make_engine: MakeEngine) -> None:
    engine = make_engine()
    with pytest.raises(ScriptError, match=r"^a\.lua:1: bad argument #1 to 'string\.find' "
                                          r"\(string expected, got no value\)"):
        engine.run_string("local found = string.find(nil, 'x')", "a.lua")


def test_sleep_stops_at_the_time_limit(make_engine: MakeEngine) -> None:
    engine = make_engine(engines__lua__timeout_seconds=0.2)
    with pytest.raises(ScriptLimitExceeded, match=r"wall-time limit of 0\.2 s"):
        engine.run_string("Utils.sleep(1e6)")


def test_ctrl_c_stops_a_long_sleep() -> None:
    out = run_hostile("started() Utils.sleep(1e6)", "none", interrupt=True)
    assert "KeyboardInterrupt" in out and out.endswith("alive: 2\n")
