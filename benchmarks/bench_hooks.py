"""Hook overhead: a point with no hooks, and the cost of each registered no-op hook.

Budgets (DESIGN.md section 17): nothing measurable with no hooks registered; <= 0.25 us per
registered hook call. The per-hook figure is (fire with 5 hooks - fire with 1 hook) / 4, so the
fixed cost of a firing (context and outcome objects) is reported separately.
"""

from __future__ import annotations

import time

from harness import Bench
from llmspell.hooks import HookRegistry


def _per_op(loop, n: int, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        loop(n)
        out.append((time.perf_counter() - start) / n * 1e6)
    return out


def _fire_loop(registry: HookRegistry, point: str, how: str = "fire"):
    fire = getattr(registry, how)
    data = {"scope": "global", "key": "k", "value": 1}

    def loop(k: int) -> None:
        for _ in range(k):
            fire(point, data)

    return loop


def run(bench: Bench) -> None:
    n = 5_000 if bench.quick else 100_000
    rounds = 3 if bench.quick else 7

    def noop(ctx: object) -> None:
        return None

    def empty_loop(k: int) -> None:
        for _ in range(k):
            pass

    bench.record("empty loop (reference)", _per_op(empty_loop, n, rounds))

    def call_loop(k: int) -> None:
        data = {}
        for _ in range(k):
            noop(data)

    bench.record("plain function call (reference)", _per_op(call_loop, n, rounds))

    idle = HookRegistry()
    has = idle.has

    def has_loop(k: int) -> None:
        for _ in range(k):
            if has("state:before_write"):
                raise AssertionError

    bench.record("has(point), no hooks", _per_op(has_loop, n, rounds), budget_us=0.1)
    bench.record("fire, no hooks", _per_op(_fire_loop(idle, "state:before_write"), n, rounds),
                 budget_us=0.25)

    bench.record("before(point, data), no hooks (what subsystems call)",
                 _per_op(_fire_loop(idle, "state:before_write", "before"), n, rounds),
                 budget_us=0.25)

    def run_loop(k: int) -> None:
        run_ = idle.run
        for _ in range(k):
            run_("tool:before_execution", 1, noop, after="tool:after_execution",
                 error="tool:error")

    bench.record("run(op), no hooks", _per_op(run_loop, n, rounds), budget_us=0.5)

    medians = {}
    for count in (1, 5):
        registry = HookRegistry()
        for _ in range(count):
            registry.register("state:before_write", noop)
        result = bench.record(f"fire, {count} no-op hook(s)",
                              _per_op(_fire_loop(registry, "state:before_write"), n, rounds))
        medians[count] = result.rounds
        bench.record(f"before, {count} no-op hook(s)",
                     _per_op(_fire_loop(registry, "state:before_write", "before"), n, rounds))

    per_hook = [(five - one) / 4 for one, five in zip(medians[1], medians[5], strict=True)]
    bench.record("per registered no-op hook call", per_hook, budget_us=0.25,
                 note="(5 hooks - 1 hook) / 4", peer="plain function call (reference)")

    timed = HookRegistry(default_time_budget=1.0)
    for _ in range(5):
        timed.register("state:before_write", noop)
    bench.record("fire, 5 no-op hooks with a time budget",
                 _per_op(_fire_loop(timed, "state:before_write"), n, rounds))

    observed = HookRegistry()
    observed.enable_builtin("metrics")
    bench.record("fire, no hooks, metrics on",
                 _per_op(_fire_loop(observed, "state:before_write"), n, rounds))
