"""Tool call overhead: ``calculator`` called as a plain Python function, through
``rt.tools.invoke`` (validation, hooks, events; no session), through ``invoke`` journaled in a
session, and from Lua with ``Tool.invoke``.

The figures are side by side: the difference to the plain call is the per-call price of the
contract (schema validation, the worker thread that enforces the timeout, events, and with a
session the journal entry and the artifact of the result).
"""

from __future__ import annotations

from harness import Bench
from llmspell import Runtime
from llmspell.lua import LuaEngine
from llmspell.tools.base import ToolContext
from llmspell.tools.builtins.calculator import Calculator

PARAMS = {"input": "2 + 3 * 4 ^ 2"}


def run(bench: Bench) -> None:
    bench.group = "tools"
    number = 300
    with Runtime.memory() as rt:
        plain = Calculator()
        ctx = ToolContext(rt.tools.security.confinement, rt.tools.redactor)
        bench.measure("calculator: plain Python call", lambda: plain.execute(PARAMS, ctx),
                      number=number * 10)
        bench.measure("calculator: rt.tools.invoke (no session)",
                      lambda: rt.tools.invoke("calculator", PARAMS), number=number,
                      peer="calculator: plain Python call")
        inline = Calculator()
        inline.name = "calculator_inline"
        inline.inline = True
        rt.tools.register(inline)
        bench.measure("calculator: invoke, inline (no timeout thread)",
                      lambda: rt.tools.invoke("calculator_inline", PARAMS), number=number,
                      peer="calculator: plain Python call")
        session = rt.sessions.create("bench")
        bench.measure("calculator: invoke journaled in a session (+ artifact)",
                      lambda: rt.tools.invoke("calculator", PARAMS, session_id=session.id),
                      number=number // 3, peer="calculator: plain Python call")
        with LuaEngine(rt) as engine:
            call = engine.run_string(
                'return function() return Tool.invoke("calculator", '
                '{input = "2 + 3 * 4 ^ 2"}) end')
            bench.measure("calculator: Tool.invoke from Lua (no session)", call,
                          number=number, peer="calculator: plain Python call")
