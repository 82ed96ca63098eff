"""PostgreSQL: batches far larger than a default server's lock table (issue 11, item 4).

A default server holds max_locks_per_transaction (64) x max_connections (100) locks in all;
one advisory lock per key made batches above ~10-15k keys fail with "out of shared memory".
Keys now share a bounded number of lock slots, so any batch size works, and ``expect`` still
decides the whole batch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import make_backend, runtime_for
from llmspell.storage import Delete, Put
from llmspell.storage.postgres import LOCK_SLOTS, PostgresStore
from llmspell.testing import discard_store

pytestmark = pytest.mark.postgres

BIG = 30_000


def test_a_30k_op_batch_with_expectations_applies_atomically(tmp_path: Path) -> None:
    with make_backend("postgres", tmp_path) as backend:
        store = backend.open()
        keys = [f"big/{i:05d}" for i in range(BIG)]
        assert store.batch([Put(k, b"v1") for k in keys]) is True
        assert store.count("big/") == BIG
        # Every key expected and rewritten in one batch: more keys than the lock table holds.
        expect: dict[str, bytes | None] = {k: b"v1" for k in keys}
        ops = [Put(k, b"v2") for k in keys[: BIG // 2]] + [Delete(k) for k in keys[BIG // 2:]]
        assert store.batch(ops, expect=expect) is True
        assert store.count("big/") == BIG // 2
        assert store.get(keys[0]) == b"v2" and store.get(keys[-1]) is None
        # One stale expectation among 30k refuses the whole batch.
        stale = {k: b"v2" for k in keys[: BIG // 2]} | {keys[-1]: b"v1"}
        assert store.batch([Put(k, b"v3") for k in keys], expect=stale) is False
        assert store.count("big/") == BIG // 2 and store.get(keys[0]) == b"v2"


def test_keys_share_a_bounded_set_of_locks(tmp_path: Path) -> None:
    with make_backend("postgres", tmp_path) as backend:
        store = backend.open()
        assert isinstance(store, PostgresStore)
        locks = {store._lock_id(f"k{i}".encode()) for i in range(BIG)}
        assert len(locks) == LOCK_SLOTS
        # The same key maps to the same lock in every process (no per-process salt).
        other = backend.open()
        assert isinstance(other, PostgresStore)
        assert all(other._lock_id(f"k{i}".encode()) == store._lock_id(f"k{i}".encode())
                   for i in range(100))


def test_restore_of_20k_values(tmp_path: Path) -> None:
    rt = runtime_for("postgres", tmp_path)
    try:
        state = rt.state
        with state.transaction():
            for i in range(20_000):
                state.save("agent:bulk", f"k{i:05d}", i)
        info = rt.backups.backup()
        state.clear_scope("agent:bulk")
        assert state.list_keys("agent:bulk") == []
        done = rt.backups.restore(info.id, safety_backup=False)
        assert done["puts"] == 20_000
        assert len(state.list_keys("agent:bulk")) == 20_000
        assert state.load("agent:bulk", "k19999") == 19_999
    finally:
        rt.close()
        discard_store(rt.config.storage.url)
