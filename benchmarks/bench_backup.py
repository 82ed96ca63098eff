"""Backup and restore throughput: entries/s and MB/s for 100k small state records (10k with
``--quick``), per entry format and compression, and a restore into an empty sqlite store.

MB/s counts the records' bytes (what the store holds), not the compressed file. No budget in
DESIGN.md; the figures are printed for comparison between runs.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from harness import Bench
from llmspell import Runtime


def run(bench: Bench) -> None:
    items = 10_000 if bench.quick else 100_000
    rounds = 2 if bench.quick else 3
    tmp = Path(tempfile.mkdtemp(prefix="llmspell-bench-backup-"))
    try:
        with Runtime.memory(state__backup_dir=str(tmp / "b")) as rt:
            with rt.state.transaction():
                for i in range(items):
                    rt.state.save(f"agent:a{i % 100}", f"k{i:06d}",
                                  {"role": "assistant", "content": f"message {i} " * 4,
                                   "tokens": i % 500})
            data = sum(len(v) for _, v in rt.store.scan("state/"))
            ids = {}
            for fmt, comp in (("json", "zstd"), ("binary", "zstd"), ("json", "lz4"),
                              ("binary", "none")):
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    info = rt.backups.backup(format=fmt, compression=comp)
                    times.append(time.perf_counter() - started)
                ids[(fmt, comp)] = info.id
                record(bench, f"backup {fmt}+{comp}", times, items, data,
                       f"file {info.file_bytes / 1e6:.1f} MB, {data / info.file_bytes:.1f}x")
            best = ids[("json", "zstd")]
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                rt.backups.verify_backup(best)
                times.append(time.perf_counter() - started)
            record(bench, "verify json+zstd", times, items, data, "every SHA-256")
            for target in ("memory://", f"sqlite:///{tmp}/restore.db"):
                times = []
                for r in range(rounds):
                    url = target if target == "memory://" else target.replace(".db", f"{r}.db")
                    with Runtime.memory(storage__url=url,
                                        state__backup_dir=str(tmp / "b")) as other:
                        started = time.perf_counter()
                        other.backups.restore(best, safety_backup=False)
                        times.append(time.perf_counter() - started)
                record(bench, f"restore json+zstd into empty {target.split(':')[0]}", times,
                       items, data, "verify + one atomic batch")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def record(bench: Bench, name: str, seconds: list[float], items: int, data: int,
           note: str) -> None:
    per_entry = [s / items * 1e6 for s in seconds]
    median = statistics.median(seconds)
    bench.record(f"{name} ({items // 1000}k entries, per entry)", per_entry,
                 note=f"{items / median:,.0f} entries/s, {data / median / 1e6:.1f} MB/s of "
                 f"records; {note}")
