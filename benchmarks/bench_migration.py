"""Migration: per-item cost of applying the seed's plan (copy + remove) to small records, on
memory and sqlite, plus a dry run and a rollback.

Budgets (DESIGN.md section 17): <= 5 us/item on memory and <= 15 us/item on sqlite for small
records. rs-llmspell claims 2.07 us/item (not measurable here). Each round rolls the previous
migration back first (untimed), so every round migrates the same values. 100k records; 10k
with ``--quick``. CPU time is printed beside each figure.

Peak memory (issue 18: under 150 MB at 300k records): a migration of 300k records (30k with
``--quick``) on a SQLite store, in a child process (:mod:`rss`), so the figure is the
migration's own peak. It is written in chunks inside one transaction, so the peak does not
grow with the number of records.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import Bench
from llmspell import Runtime
from llmspell.state.migration.engine import MigrationReport
from rss import in_child

PLAN = {"name": "bench_seed", "from_version": 1, "to_version": 2, "transformations": [
    {"field": "old_field", "transform": "copy", "to": "new_field"},
    {"field": "deprecated", "transform": "remove"}]}


def run(bench: Bench) -> None:
    items = 10_000 if bench.quick else 100_000
    rounds = 3 if bench.quick else 5
    tmp = Path(tempfile.mkdtemp(prefix="llmspell-bench-migration-"))
    try:
        for name, url, budget in (("memory", "memory://", 5.0),
                                  ("sqlite", f"sqlite:///{tmp}/m.db", 15.0)):
            with Runtime.memory(storage__url=url, state__backup_dir=str(tmp / "b")) as rt:
                figures(bench, rt, name, items, rounds, budget)
        peak_memory(bench, tmp, 30_000 if bench.quick else 300_000)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


SETUP = """
from llmspell import Runtime
rt = Runtime.memory(storage__url=args[0])
plan = {"name": "bench_seed", "from_version": 1, "to_version": 2, "transformations": [
    {"field": "old_field", "transform": "copy", "to": "new_field"},
    {"field": "deprecated", "transform": "remove"}]}
rt.migrations  # built before the measure
"""


def peak_memory(bench: Bench, tmp: Path, items: int) -> None:
    url = f"sqlite:///{tmp}/peak.db"
    with Runtime.memory(storage__url=url) as rt:
        fill(rt, items)
    peak = in_child(SETUP, "assert rt.migrations.apply(plan).examined == int(args[1])", url,
                    str(items))
    result = bench.record(f"sqlite migration of {items:,} records, own process (per item)",
                          [peak.seconds / items * 1e6], note=peak.note())
    result.cpu_us = peak.cpu_seconds / items * 1e6


def fill(rt: Runtime, items: int) -> None:
    """``items`` small records at version 1, in 100 agent scopes, a transaction per 10k."""
    state = rt.state
    for start in range(0, items, 10_000):
        with state.transaction():
            for i in range(start, min(items, start + 10_000)):
                state.save(f"agent:a{i % 100}", f"k{i:06d}",
                           {"old_field": i, "deprecated": "x", "n": str(i)})


def figures(bench: Bench, rt: Runtime, name: str, items: int, rounds: int,
            budget: float) -> None:
    fill(rt, items)
    size = sum(len(v) for _, v in rt.store.scan("state/")) / items
    migrations = rt.migrations
    times: dict[str, tuple[list[float], list[float]]] = {
        k: ([], []) for k in ("apply", "dry", "rollback")}

    def timed(what: str, call: Callable[[], object]) -> object:
        started, cpu = time.perf_counter(), time.process_time()
        done = call()
        wall, used = times[what]
        wall.append((time.perf_counter() - started) / items * 1e6)
        used.append((time.process_time() - cpu) / items * 1e6)
        return done

    for _ in range(rounds):
        timed("dry", lambda: migrations.plan(PLAN))
        report = timed("apply", lambda: migrations.apply(PLAN))
        assert isinstance(report, MigrationReport) and report.examined == items
        timed("rollback", migrations.rollback)
    note = f"{items:,} records of ~{size:.0f} B; chunks in one transaction"
    undone = times["rollback"][0]
    for what, title, extra in (
            ("apply", "apply", dict(budget_us=budget, note=f"{note}; rs-llmspell claims 2.07 us")),
            ("dry", "dry run", dict(note=note)),
            ("rollback", "rollback", dict(note=f"median of "
                                          f"{statistics.median(undone) * items / 1e6:.2f} s "
                                          "per rollback"))):
        wall, used = times[what]
        result = bench.record(f"{name} migration {title} (per item)", wall, **extra)
        result.cpu_us = statistics.median(used)
