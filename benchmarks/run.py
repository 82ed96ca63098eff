"""Run the benchmark suite: ``python benchmarks/run.py [--quick] [--only NAME] [--no-save]``.

Discovers ``benchmarks/bench_*.py``, runs each module's ``run(bench)``, prints medians with
budgets and ratios to peers measured in the same run, saves the run to
``benchmarks/results/run-<timestamp>.json`` and flags figures more than 20% worse than the
last saved run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import Bench, Result  # noqa: E402

RESULTS = HERE / "results"
REGRESSION = 0.20


def load_modules(only: str | None) -> list[tuple[str, object]]:
    modules = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if only and only not in name:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # dataclasses and pickling look modules up here
        spec.loader.exec_module(module)
        modules.append((name, module))
    return modules


def last_run() -> dict[str, dict]:
    runs = sorted(RESULTS.glob("run-*.json"))
    if not runs:
        return {}
    data = json.loads(runs[-1].read_text())
    return {f"{r['group']}/{r['name']}": r for r in data["results"]}


def worse_by(result: Result, before: dict) -> float | None:
    """How much worse than ``before`` (0.25 = 25% worse), or None if not comparable."""
    if before.get("unit") != result.unit or not before.get("value"):
        return None
    if result.unit == "ops/s":
        return (before["value"] - result.value) / before["value"]
    return (result.value - before["value"]) / before["value"]


def fmt(result: Result) -> str:
    if result.unit == "ops/s":
        return f"{result.value:,.0f} ops/s"
    v = result.value
    return f"{v:,.2f} us" if v < 1000 else f"{v / 1000:,.2f} ms"


def report(results: list[Result], previous: dict[str, dict]) -> int:
    by_key = {(r.group, r.name): r for r in results}
    regressions = 0
    print("medians per operation; 'Nx vs PEER' = the peer's time / ours (above 1: we are "
          "faster);\nbudgets from DESIGN.md section 17 and the issues")
    group = None
    for r in results:
        if r.group != group:
            group = r.group
            print(f"\n== {group} ==")
        line = f"  {r.name:<44} {fmt(r):>16}"
        if r.cpu_us is not None and r.unit != "ops/s":
            line += f" (cpu {r.cpu_us:,.1f} us)"
        if r.budget is not None:
            limit = f">= {r.budget:,.0f} ops/s" if r.unit == "ops/s" else f"<= {r.budget:g} us"
            line += f"   budget {limit} {'ok' if r.within_budget else 'OVER'}"
        if r.budget_ratio is not None and r.peers and (r.group, r.peers[0]) in by_key:
            floor = by_key[(r.group, r.peers[0])].median_us
            ok = r.median_us <= floor * r.budget_ratio
            line += (f"   budget <= {r.budget_ratio:g}x {r.peers[0]} "
                     f"{'ok' if ok else 'OVER'}")
        for name in r.peers:
            if (r.group, name) in by_key:
                peer = by_key[(r.group, name)]
                ratio = peer.median_us / r.median_us if r.median_us else float("inf")
                line += f"   {ratio:.2f}x vs {name}"
        before = previous.get(f"{r.group}/{r.name}")
        if before:
            delta = worse_by(r, before)
            if delta is not None and delta > REGRESSION:
                regressions += 1
                line += f"   REGRESSION {delta:+.0%} vs last run"
        if r.note:
            line += f"   ({r.note})"
        print(line)
    return regressions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke check")
    parser.add_argument("--only", help="run only bench files whose name contains this")
    parser.add_argument("--no-save", action="store_true", help="do not save this run")
    args = parser.parse_args(argv)

    bench = Bench(quick=args.quick, only=args.only)
    for name, module in load_modules(args.only):
        bench.group = name
        module.run(bench)  # type: ignore[attr-defined]

    previous = last_run()
    regressions = report(bench.results, previous)
    if not args.no_save and not args.quick:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"run-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps({
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "python": sys.version.split()[0],
            "machine": platform.machine(),
            "results": [r.as_dict() for r in bench.results],
        }, indent=1))
        print(f"\nsaved {out.relative_to(HERE.parent)}")
    if regressions:
        print(f"\n{regressions} figure(s) more than {REGRESSION:.0%} worse than the last run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
