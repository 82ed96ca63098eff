"""Migration: per-item cost of applying the seed's plan (copy + remove) to small records, on
memory and sqlite, plus a dry run and a rollback.

Budgets (DESIGN.md section 17): <= 5 us/item on memory and <= 15 us/item on sqlite for small
records. rs-llmspell claims 2.07 us/item (not measurable here). Each round rolls the previous
migration back first (untimed), so every round migrates the same values. 100k records; 10k
with ``--quick``.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from harness import Bench
from llmspell import Runtime

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
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def figures(bench: Bench, rt: Runtime, name: str, items: int, rounds: int,
            budget: float) -> None:
    state = rt.state
    with state.transaction():
        for i in range(items):
            state.save(f"agent:a{i % 100}", f"k{i:06d}",
                       {"old_field": i, "deprecated": "x", "n": str(i)})
    size = sum(len(v) for _, v in rt.store.scan("state/")) / items
    migrations = rt.migrations
    applied, dry, undone = [], [], []
    for _ in range(rounds):
        started = time.perf_counter()
        report = migrations.plan(PLAN)
        dry.append((time.perf_counter() - started) / items * 1e6)
        started = time.perf_counter()
        report = migrations.apply(PLAN)
        applied.append((time.perf_counter() - started) / items * 1e6)
        assert report.examined == items
        started = time.perf_counter()
        migrations.rollback()
        undone.append((time.perf_counter() - started) / items * 1e6)
    note = f"{items:,} records of ~{size:.0f} B; one atomic batch"
    bench.record(f"{name} migration apply (per item)", applied, budget_us=budget,
                 note=f"{note}; rs-llmspell claims 2.07 us")
    bench.record(f"{name} migration dry run (per item)", dry, note=note)
    bench.record(f"{name} migration rollback (per item)", undone,
                 note=f"median of {statistics.median(undone) * items / 1e6:.2f} s per rollback")
