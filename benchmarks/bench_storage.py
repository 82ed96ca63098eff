"""Storage backends: put, get, a 100-key prefix scan and a 100-put batch, next to raw sqlite3.

Every available backend (memory, sqlite at both durabilities, lmdb, rocksdb, and postgres when
``LLMSPELL_BENCH_POSTGRES`` / ``LLMSPELL_TEST_POSTGRES`` / the local default answers) does the
same work on a store pre-filled with 10,000 keys: put a ~100-byte JSON value under a new key,
get an existing key, scan the 100 keys under one prefix, apply a batch of 100 puts. The peer is
the stdlib ``sqlite3`` module doing that work directly on the same schema with the same pragmas,
so the ratio is what the contract (argument checks, locking, error wrapping) costs.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from typing import Any, NamedTuple

from harness import Bench, postgres_server

VALUE = b'{"role": "assistant", "content": "a reply of about a hundred bytes", "tokens": 17}'
GROUPS = 100  # 100 prefixes x 100 keys = the 10,000-key store
SCAN_PREFIX = "s/042/"
GET_KEY = "s/042/17"

#: DESIGN.md section 17 budgets (sqlite, default durability)
BUDGETS = {("sqlite", "put"): 17.0, ("sqlite", "get"): 10.0}


class Target(NamedTuple):
    """One thing to measure: the four operations as plain callables.

    (A NamedTuple, not a dataclass: run.py loads bench files without registering them in
    sys.modules, which dataclasses need.)
    """

    name: str
    put: Callable[[str, bytes], Any]
    get: Callable[[str], Any]
    scan: Callable[[str], Any]
    batch: Callable[[list[tuple[str, bytes]]], Any]
    close: Callable[[], Any]


def raw_sqlite(path: str, synchronous: str) -> Target:
    """Plain sqlite3 on the llmspell schema and pragmas: the peer."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"PRAGMA synchronous = {synchronous}")
    db.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) "
               "WITHOUT ROWID")
    put_sql = "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)"
    cursor = db.cursor()

    def batch(pairs: list[tuple[str, bytes]]) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(put_sql, pairs)
        db.execute("COMMIT")

    def scan(prefix: str) -> list[tuple[str, bytes]]:
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return db.execute("SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key "
                          "LIMIT 1000", (prefix, end)).fetchall()

    return Target(
        f"raw sqlite3 {synchronous.lower()}",
        put=lambda k, v: cursor.execute(put_sql, (k, v)),
        get=lambda k: cursor.execute("SELECT value FROM kv WHERE key = ?", (k,)).fetchone(),
        scan=scan,
        batch=batch,
        close=db.close,
    )


def llmspell_store(name: str, url: str, durability: str = "normal") -> Target:
    from llmspell.storage import Put, open_store

    store = open_store(url, durability=durability)
    return Target(
        name,
        put=store.put,
        get=store.get,
        scan=lambda p: list(store.scan(p)),
        batch=lambda pairs: store.batch([Put(k, v) for k, v in pairs]),
        close=store.close,
    )


def postgres_url() -> str | None:
    """The server to benchmark against, or None when none answers (or no driver)."""
    url = postgres_server()
    if url is None:
        return None
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}table=llmspell_bench_{os.getpid()}"


def targets(tmp: str) -> list[tuple[Target, str | None]]:
    """(target, its peer's name) for every backend available here."""
    from llmspell.storage import backend_status

    status = backend_status()
    found: list[tuple[Target, str | None]] = [
        (raw_sqlite(f"{tmp}/raw-normal.db", "NORMAL"), None),
        (raw_sqlite(f"{tmp}/raw-full.db", "FULL"), None),
        (llmspell_store("sqlite", f"sqlite:///{tmp}/normal.db"), "raw sqlite3 normal"),
        (llmspell_store("sqlite full", f"sqlite:///{tmp}/full.db", "full"), "raw sqlite3 full"),
        (llmspell_store("memory", "memory://"), "raw sqlite3 normal"),
    ]
    for name in ("lmdb", "rocksdb"):
        if status[name] == "available":
            found.append((llmspell_store(name, f"{name}:///{tmp}/{name}"), "raw sqlite3 normal"))
    pg = postgres_url() if status["postgres"] == "available" else None
    if pg:
        found.append((llmspell_store("postgres", pg), "raw sqlite3 normal"))
    return found


def fill(target: Target) -> None:
    target.batch([(f"s/{g:03}/{i:02}", VALUE) for g in range(GROUPS) for i in range(100)])


def run(bench: Bench) -> None:
    tmp = tempfile.mkdtemp(prefix="llmspell-bench-")
    made: list[Target] = []
    try:
        for target, peer in targets(tmp):
            made.append(target)
            fill(target)
            assert len(target.scan(SCAN_PREFIX)) == 100
            measure(bench, target, peer)
    finally:
        for target in made:
            target.close()
        drop_bench_tables()
        shutil.rmtree(tmp, ignore_errors=True)


def measure(bench: Bench, t: Target, peer: str | None) -> None:
    backend = t.name.split()[0] if t.name != "sqlite full" else "sqlite full"
    fresh = itertools.count()
    slow = t.name in ("sqlite full", "raw sqlite3 full", "lmdb", "postgres")  # a sync per put
    bench.measure(f"{t.name} put", lambda: t.put(f"p/{next(fresh):09}", VALUE),
                  number=300 if slow else 2000, budget_us=BUDGETS.get((backend, "put")),
                  peer=peer and f"{peer} put")
    # Alternate two values: SQLite skips writing a row whose bytes did not change.
    values = itertools.cycle([VALUE, VALUE.replace(b"17", b"18")])
    bench.measure(f"{t.name} put, overwrite", lambda: t.put(GET_KEY, next(values)),
                  number=300 if slow else 2000, peer=peer and f"{peer} put, overwrite")
    bench.measure(f"{t.name} get", lambda: t.get(GET_KEY), number=5000,
                  budget_us=BUDGETS.get((backend, "get")), peer=peer and f"{peer} get")
    bench.measure(f"{t.name} scan 100 of 10k", lambda: t.scan(SCAN_PREFIX), number=300,
                  peer=peer and f"{peer} scan 100 of 10k")
    batches = itertools.count()

    def batch() -> None:
        n = next(batches)
        t.batch([(f"b/{n:07}/{i:03}", VALUE) for i in range(100)])

    bench.measure(f"{t.name} batch of 100 puts", batch, number=30 if slow else 100,
                  peer=peer and f"{peer} batch of 100 puts", note="per batch")


def drop_bench_tables() -> None:
    url = postgres_url()
    if url is None:
        return
    from llmspell.testing import discard_store

    discard_store(url)  # the table and its siblings (migrations, jobs)
