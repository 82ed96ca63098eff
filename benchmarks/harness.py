"""A small benchmark harness: medians, budgets, peers measured in the same run, history.

Figures are wall-clock medians; :meth:`Bench.measure` also keeps the median CPU time
(``time.process_time``), printed next to them, since the machine is shared and a busy neighbour
stretches wall time but not CPU time. Each ``benchmarks/bench_*.py`` defines ``run(bench:
Bench) -> None`` and calls :meth:`Bench.measure` for every figure. ``python benchmarks/run.py``
collects them, prints a table, saves the run as JSON under ``benchmarks/results/`` and flags
any figure more than 20% worse than the last saved run. Nothing here asserts: the machine is
shared and noisy.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    group: str
    name: str
    median_us: float
    unit: str = "us/op"  # "us/op" (lower is better) or "ops/s" (higher is better)
    value: float = 0.0  # the figure in `unit`
    budget: float | None = None
    # names of results in the same group to print ratios against (a peer, our own floor, raw
    # SQLite); a str is one name
    peer: str | tuple[str, ...] | None = None
    # a budget relative to the first peer: ours <= budget_ratio x its time
    budget_ratio: float | None = None
    note: str = ""
    rounds: list[float] = field(default_factory=list)
    # median CPU time per call (time.process_time: this process, every thread), when measured
    cpu_us: float | None = None

    @property
    def peers(self) -> tuple[str, ...]:
        if self.peer is None:
            return ()
        return (self.peer,) if isinstance(self.peer, str) else tuple(self.peer)

    @property
    def within_budget(self) -> bool | None:
        if self.budget is None:
            return None
        if self.unit == "ops/s":
            return self.value >= self.budget
        return self.value <= self.budget

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Bench:
    """Collects results. ``quick`` runs fewer rounds (for a smoke check)."""

    def __init__(self, *, quick: bool = False, only: str | None = None) -> None:
        self.quick = quick
        self.only = only
        self.results: list[Result] = []
        self.group = ""

    def measure(
        self,
        name: str,
        fn: Callable[[], Any],
        *,
        number: int = 1000,
        rounds: int = 7,
        budget_us: float | None = None,
        min_ops_per_s: float | None = None,
        peer: str | tuple[str, ...] | None = None,
        budget_ratio: float | None = None,
        note: str = "",
        setup: Callable[[], Any] | None = None,
    ) -> Result:
        """Time ``fn`` called ``number`` times per round; keep the median of ``rounds``.

        ``budget_us`` is a per-call ceiling; ``min_ops_per_s`` a throughput floor (the result
        is then reported in ops/s). ``peer`` names another result of the same group to print
        the ratio against. ``setup`` runs (untimed) before each round.
        """
        if self.quick:
            number = max(1, number // 10)
            rounds = min(rounds, 3)
        per_call: list[float] = []
        cpu: list[float] = []
        fn()  # warm up (and surface errors before timing)
        for _ in range(rounds):
            if setup is not None:
                setup()
            start, cpu_start = time.perf_counter(), time.process_time()
            for _ in range(number):
                fn()
            per_call.append((time.perf_counter() - start) / number * 1e6)
            cpu.append((time.process_time() - cpu_start) / number * 1e6)
        result = self.record(name, per_call, budget_us=budget_us, min_ops_per_s=min_ops_per_s,
                             peer=peer, budget_ratio=budget_ratio, note=note)
        result.cpu_us = statistics.median(cpu)
        return result

    def record(
        self,
        name: str,
        per_call_us: list[float],
        *,
        budget_us: float | None = None,
        min_ops_per_s: float | None = None,
        peer: str | tuple[str, ...] | None = None,
        budget_ratio: float | None = None,
        note: str = "",
    ) -> Result:
        """Record a figure measured by the caller (microseconds per operation, per round)."""
        median = statistics.median(per_call_us)
        if min_ops_per_s is not None:
            unit, value, budget = "ops/s", 1e6 / median if median else float("inf"), min_ops_per_s
        else:
            unit, value, budget = "us/op", median, budget_us
        result = Result(self.group, name, median, unit, value, budget, peer, budget_ratio, note,
                        [round(x, 4) for x in per_call_us])
        self.results.append(result)
        return result


def timed_async(loop: Any, call: Callable[[], Any], number: int) -> float:
    """Microseconds per awaited ``call()`` (a coroutine factory), ``number`` calls on
    ``loop`` after one warm-up call."""

    async def body() -> float:
        await call()  # warm up
        start = time.perf_counter()
        for _ in range(number):
            await call()
        return (time.perf_counter() - start) / number * 1e6

    return float(loop.run_until_complete(body()))


def postgres_server() -> str | None:
    """The PostgreSQL server benchmarks use (``LLMSPELL_BENCH_POSTGRES``, else
    ``LLMSPELL_TEST_POSTGRES``, else the local default), or None when none answers or the
    driver is missing."""
    import os

    url = os.environ.get("LLMSPELL_BENCH_POSTGRES") or os.environ.get(
        "LLMSPELL_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception:
        return None
    return url
