"""Table layout for the SQLite store: rowid vs WITHOUT ROWID at llmspell's value sizes.

Run: ``python benchmarks/layout.py``. Prints, per value size, put and get CPU time (medians
of 5 rounds, ``time.process_time``; wall time too), a prefix scan and the file size after
VACUUM. The figures and the choice they led to are in docs/storage.md ("Table layout"). Not
part of run.py: it writes about 1 GB and takes minutes.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable

SIZES = ((100, 50000), (700, 50000), (1024, 30000), (2048, 20000), (3072, 20000),
         (8192, 10000), (16384, 5000))


def timed(fn: Callable[[], object], count: int) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return ((time.perf_counter() - start) / count * 1e6,
            (time.process_time() - cpu) / count * 1e6)


def run(tmp: str, layout: str, size: int, count: int) -> None:
    path = f"{tmp}/{layout}-{size}.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)"
               + (" WITHOUT ROWID" if layout == "WITHOUT ROWID" else ""))
    keys = [f"state/agent:a{i % 97}/{os.urandom(8).hex()}" for i in range(count)]
    value = os.urandom(size)
    puts = []
    for r in range(5):
        chunk = keys[r * count // 5:(r + 1) * count // 5]
        puts.append(timed(lambda c=chunk: [db.execute(  # type: ignore[misc]
            "INSERT OR REPLACE INTO kv VALUES (?, ?)", (k, value)) for k in c], len(chunk)))
    sample = random.sample(keys, 5000)
    gets = [timed(lambda: [db.execute("SELECT value FROM kv WHERE key = ?", (k,)).fetchone()
                           for k in sample], len(sample)) for _ in range(5)]
    scans = [timed(lambda: db.execute("SELECT key, value FROM kv WHERE key >= "
                                      "'state/agent:a1/' AND key < 'state/agent:a10'")
                   .fetchall(), 1)[1] / 1000 for _ in range(3)]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("VACUUM")
    db.close()
    mb = os.path.getsize(path) / 1e6

    def median(rows: list[tuple[float, float]], i: int) -> float:
        return statistics.median(row[i] for row in rows)

    print(f"{layout:<13} {size:>6} B x {count:>6}: put {median(puts, 1):6.1f} us cpu "
          f"({median(puts, 0):6.1f} wall) | get {median(gets, 1):5.1f} us cpu "
          f"({median(gets, 0):5.1f} wall) | prefix scan {statistics.median(scans):5.2f} ms "
          f"cpu | file {mb:6.1f} MB, {mb * 1e6 / (count * size):.2f}x the data", flush=True)


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="llmspell-layout-")
    try:
        for size, count in SIZES:
            for layout in ("WITHOUT ROWID", "rowid"):
                run(tmp, layout, size, count)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
