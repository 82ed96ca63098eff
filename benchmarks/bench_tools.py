"""Tool call overhead (issue 13; DESIGN.md section 17: <= 50 us over a plain call, validated
and journaled): ``calculator`` as a plain Python call (the reference), through
``rt.tools.invoke`` (schema validation, admission, hooks, events, the worker thread that
enforces the timeout; no session), the same for a copy marked ``inline`` (no worker thread),
``invoke`` journaled in a session (the ``tool.call`` entry, the events journaled by the
session recorder, and the result stored as an artifact) on the memory store and on SQLite
(where the writes after the tool ran share one commit: docs/tools.md), and ``Tool.invoke``
from Lua (per call inside a script run).

The calls are timed interleaved (benchmarks/paired.py) in CPU time of the process (worker
threads included) and in wall time; each "overhead:" figure is a call's median minus the plain
call's median in the same rounds, i.e. llmspell's own time per call, against the 50 us budget.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any

from harness import Bench
from llmspell import Runtime
from llmspell.lua import LuaEngine
from llmspell.tools.base import ToolContext
from llmspell.tools.builtins.calculator import Calculator
from paired import paired

PARAMS = {"input": "2 + 3 * 4 ^ 2"}
BUDGET_US = 50.0
#: The Lua figure is per call inside a script run: a function calling Tool.invoke this many
#: times, its time divided by it (entering the engine is paid once per run, not per call).
LUA_LOOP = 10
LUA_NAME = "calculator: Tool.invoke from Lua, in a script run (no session)"


def run(bench: Bench) -> None:
    bench.group = "tools"
    n = 30 if bench.quick else 300
    rounds = 3 if bench.quick else 5
    with (tempfile.TemporaryDirectory() as tmp, Runtime.memory() as rt,
          Runtime.memory(storage__url=f"sqlite:///{tmp}/tools.db") as lite,
          LuaEngine(rt) as engine):
        plain = Calculator()
        ctx = ToolContext(rt.tools.security.confinement, rt.tools.redactor)
        inline = Calculator()
        inline.name = "calculator_inline"
        inline.inline = True
        rt.tools.register(inline)
        session = rt.sessions.create("bench")
        in_lite = lite.sessions.create("bench")
        lua = engine.run_string(f'return function() local r for _ = 1, {LUA_LOOP} do '
                                'r = Tool.invoke("calculator", {input = "2 + 3 * 4 ^ 2"}) '
                                'end return r end')
        reference = "calculator: plain Python call (reference)"
        calls: dict[str, Callable[[], Any]] = {
            reference: lambda: plain.execute(PARAMS, ctx),
            "calculator: rt.tools.invoke (no session)":
                lambda: rt.tools.invoke("calculator", PARAMS),
            "calculator: invoke, inline (no worker thread)":
                lambda: rt.tools.invoke("calculator_inline", PARAMS),
            "calculator: invoke journaled in a session (+ artifact)":
                lambda: rt.tools.invoke("calculator", PARAMS, session_id=session.id),
            "calculator: invoke journaled in a session, sqlite (+ artifact)":
                lambda: lite.tools.invoke("calculator", PARAMS, session_id=in_lite.id),
            LUA_NAME: lua,
        }
        for clock, suffix in ((time.process_time, " (CPU)"), (time.perf_counter, " (wall)")):
            paired(bench, calls, reference, n, rounds, budgets={},
                   default_budget=BUDGET_US, clock=clock, suffix=suffix,
                   repeats={LUA_NAME: LUA_LOOP})
