"""Paired timing for per-call overheads: the calls are timed interleaved (one of each in turn,
so they share the machine's load), each call's median is kept per round, and each call's
overhead over a reference call (same round) is recorded against a budget.

``clock`` is ``time.process_time`` (CPU time of this process, worker threads and an
in-process test server included: what the code costs, whatever else runs on a shared machine)
or ``time.perf_counter`` (wall time: what a caller waits, including waits for a CPU).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from harness import Bench


def paired(bench: Bench, calls: dict[str, Callable[[], Any]], reference: str, n: int,
           rounds: int, *, budgets: dict[str, float | None], default_budget: float,
           clock: Callable[[], float] = time.process_time, suffix: str = "",
           repeats: dict[str, int] | None = None) -> None:
    """Record each call's median (``name + suffix``) and, for every call but ``reference``,
    ``overhead: name + suffix`` = its median minus the reference's, per round, against
    ``budgets.get(name, default_budget)`` (None: no budget, e.g. a peer). ``repeats[name]``:
    that function makes this many calls each time (a loop inside a script); its times are
    divided by it, so every figure is per call."""
    repeats = repeats or {}
    for fn in calls.values():
        fn()  # warm up
    per_round: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        times: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(n):
            for name, fn in calls.items():
                start = clock()
                fn()
                times[name].append((clock() - start) * 1e6 / repeats.get(name, 1))
        for name, found in times.items():
            per_round[name].append(statistics.median(found))
    for name, found in per_round.items():
        bench.record(name + suffix, found)
    for name, found in per_round.items():
        if name != reference:
            bench.record(f"overhead: {name}{suffix}",
                         [a - b for a, b in zip(found, per_round[reference], strict=True)],
                         budget_us=budgets.get(name, default_budget))
