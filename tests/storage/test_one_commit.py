"""``Store.one_commit``: batches applied one by one, with their conditions, visible to this
thread's reads, made durable by ONE commit at the exit (SQLite); every other backend commits
each batch itself. On every backend: what a block applied stays when the block raises, a
failed batch leaves nothing of itself, groups nest."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest

from backends import Backend, make_backend
from llmspell.errors import StorageError
from llmspell.storage import Delete, Put, Store
from llmspell.storage.sqlite import LARGE_VALUE, SqliteStore

BIG = b"x" * (LARGE_VALUE + 100)  # a value that takes the general BEGIN/SAVEPOINT path


def test_batches_apply_in_order_and_reads_see_them(store: Store) -> None:
    with store.one_commit():
        store.put("a", b"1")
        assert store.batch([Put("b", b"2"), Put("big", BIG)], expect={"a": b"1"})
        assert store.get("b") == b"2" and store.get("big") == BIG
        assert store.batch([Delete("a")], expect={"b": b"2"})
        assert [k for k, _ in store.scan()] == ["b", "big"]
    assert store.get("a") is None and store.get("big") == BIG


def test_a_failed_batch_leaves_nothing_and_the_others_stay(store: Store) -> None:
    with store.one_commit():
        store.put("guard", b"1")
        assert not store.batch([Put("x", b"1"), Put("y", BIG)], expect={"guard": b"2"})
        assert not store.batch([Put("x", b"1")], expect={"guard": b"2"})  # one-statement path
        assert store.get("x") is None and store.get("y") is None
        assert store.batch([Put("z", b"1")], expect={"guard": b"1"})
    assert store.get("guard") == b"1" and store.get("z") == b"1"
    assert store.get("x") is None and store.get("y") is None


def test_an_exception_in_the_block_keeps_what_was_applied(store: Store) -> None:
    with pytest.raises(KeyError), store.one_commit():
        store.put("kept", b"1")
        assert store.batch([Put("also", BIG)])
        raise KeyError("the caller failed")
    assert store.get("kept") == b"1" and store.get("also") == BIG
    store.put("after", b"2")  # the store works on as before
    assert store.get("after") == b"2"


def test_a_batch_that_raises_inside_leaves_nothing_of_itself(store: Store) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield [Put("half", b"1")], {}
        raise RuntimeError("the producer failed")

    with store.one_commit():
        store.put("before", b"1")
        with pytest.raises(RuntimeError):
            store.batch_stream(chunks())
        assert store.get("half") is None
        store.put("after", b"1")
    assert store.get("before") == b"1" and store.get("after") == b"1"
    assert store.get("half") is None


def test_groups_nest(store: Store) -> None:
    with store.one_commit():
        store.put("outer", b"1")
        with store.one_commit():
            store.put("inner", b"1")
        assert store.get("inner") == b"1"
        store.put("outer2", b"1")
    assert store.count() == 3


# -- SQLite: one commit, seen by nobody else until it ------------------------------------


@pytest.fixture
def lite(tmp_path: Path) -> SqliteStore:
    store = make_backend("sqlite", tmp_path).open()
    assert isinstance(store, SqliteStore)
    return store


def _commits(store: SqliteStore) -> list[str]:
    seen: list[str] = []
    store._db.set_trace_callback(seen.append)
    return seen


def test_sqlite_commits_once(lite: SqliteStore) -> None:
    seen = _commits(lite)
    with lite.one_commit():
        lite.put("a", b"1")
        lite.batch([Put("b", b"2")], expect={"a": b"1"})  # one statement
        lite.batch([Put("c", BIG)], expect={"b": b"2"})  # savepoint
        with lite.one_commit():
            lite.delete("a")
        assert not [s for s in seen if s.startswith("COMMIT")]
    assert [s for s in seen if s.startswith(("BEGIN", "COMMIT"))] == ["BEGIN IMMEDIATE",
                                                                     "COMMIT"]
    seen.clear()
    lite.batch([Put("d", BIG)])  # outside a group: a transaction of its own again
    assert [s for s in seen if s.startswith(("BEGIN", "COMMIT"))] == ["BEGIN IMMEDIATE",
                                                                     "COMMIT"]


def test_another_connection_sees_nothing_until_the_exit(lite: SqliteStore) -> None:
    other = sqlite3.connect(lite.path)
    try:
        with lite.one_commit():
            lite.put("a", b"1")
            lite.batch([Put("b", BIG)])
            assert other.execute("SELECT count(*) FROM kv").fetchone() == (0,)
        assert other.execute("SELECT count(*) FROM kv").fetchone() == (2,)
    finally:
        other.close()


_READER = """
import sys
from llmspell.storage import open_store
store = open_store(sys.argv[1])
print(store.count("k/"), flush=True)
store.close()
"""


def _count_in_another_process(url: str) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", _READER, url], capture_output=True,
                          text=True, timeout=60, env=env, check=True)
    return int(done.stdout.strip())


def test_another_process_sees_all_or_nothing(tmp_path: Path) -> None:
    place = make_backend("sqlite", tmp_path)
    store = place.open()
    with store.one_commit():
        for i in range(20):
            assert store.batch([Put(f"k/{i:02d}", BIG if i % 2 else b"v")])
        assert _count_in_another_process(place.url) == 0
    assert _count_in_another_process(place.url) == 20


def test_other_threads_wait_for_the_group(lite: SqliteStore) -> None:
    entered, seen = threading.Event(), []

    def writer() -> None:
        entered.wait()
        lite.put("theirs", b"1")
        seen.append(lite.get("mine"))

    thread = threading.Thread(target=writer)
    thread.start()
    with lite.one_commit():
        entered.set()
        thread.join(0.2)
        assert thread.is_alive()  # waiting for the store's lock
        lite.put("mine", b"1")
    thread.join(10)
    assert seen == [b"1"] and lite.get("theirs") == b"1"


def test_closing_inside_a_group_keeps_its_writes(tmp_path: Path) -> None:
    place = make_backend("sqlite", tmp_path)
    store = place.open()
    with store.one_commit():
        store.put("a", b"1")
        store.close()
    assert place.open().get("a") == b"1"


def test_a_group_on_a_busy_store_names_what_failed(tmp_path: Path) -> None:
    place = make_backend("sqlite", tmp_path)
    store = SqliteStore(Path(place.url.removeprefix("sqlite:///")), timeout=0)
    with closing(store), closing(sqlite3.connect(store.path, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        with (pytest.raises(StorageError, match=r"could not start a commit group.*locked"),
              store.one_commit()):
            pytest.fail("entered a group without the write lock")
        holder.execute("ROLLBACK")
        with store.one_commit():  # the lock was given back: the store works
            store.put("a", b"1")
        assert store.get("a") == b"1"


def test_other_backends_commit_each_batch(backend: Backend) -> None:
    if backend.name == "sqlite":
        pytest.skip("SQLite groups its commits (the tests above)")
    store = backend.open()
    if not backend.multi_process:
        assert type(store).one_commit is Store.one_commit
        return
    other = backend.open()
    with store.one_commit():
        store.put("a", b"1")
        assert other.get("a") == b"1"  # committed already: no group
