"""Hooks: named points where user code can watch, change, retry, skip or cancel an operation.

Register a plain callable at a point and fire the point from the code that owns it::

    hooks = HookRegistry(publish=bus.publish)
    handle = hooks.register("tool:before_execution", check_args, priority="high")
    args = hooks.before("tool:before_execution", {"tool": "calculator", "input": "2+2"})
    result = hooks.run("tool:before_execution", args, call_tool,
                       after="tool:after_execution", error="tool:error")

``before`` (a ``Skipped`` or the data to go on with), ``after`` and ``run`` are the calls every
subsystem makes: they apply what each point honours (``points.TABLE``) and report the rest.

Modules: :mod:`~llmspell.hooks.points` (names, aliases, honoured outcomes, fired points,
priorities), :mod:`~.results` (context, results, outcome), :mod:`~.registry` (the registry),
:mod:`~.runner` (what an outcome means to the operation), :mod:`~.breaker` (circuit
breaker) and :mod:`~.builtin` (logging, metrics and cost tracking).
``docs/hooks-and-events.md`` is the user guide.
"""

from llmspell.hooks.breaker import BreakerPolicy
from llmspell.hooks.builtin import CostTracker, HookLogger, HookMetrics
from llmspell.hooks.points import (
    CANONICAL,
    FIRED,
    HONOURS,
    POINTS,
    PRIORITIES,
    TABLE,
    resolve_point,
)
from llmspell.hooks.registry import HookHandle, HookRegistry
from llmspell.hooks.results import HookContext, HookOutcome, HookResult, Skipped, to_result

__all__ = [
    "CANONICAL",
    "FIRED",
    "HONOURS",
    "POINTS",
    "PRIORITIES",
    "TABLE",
    "BreakerPolicy",
    "CostTracker",
    "HookContext",
    "HookHandle",
    "HookLogger",
    "HookMetrics",
    "HookOutcome",
    "HookRegistry",
    "HookResult",
    "Skipped",
    "resolve_point",
    "to_result",
]
