"""SQLite: a small batch of puts runs as one conditional INSERT statement. It must behave
exactly as the general ``BEGIN IMMEDIATE`` path: all or nothing, conditions compared as
bytes (absent, small, and a large value's stub), the last put of a key winning."""

from __future__ import annotations

import sqlite3

from backends import backend_fixture
from llmspell.storage import Delete, Put
from llmspell.storage.sqlite import (
    LARGE_VALUE,
    SqliteStore,
    _guarded_sql,
    _one_statement,
    _upsert_sql,
)

BIG = b"x" * (LARGE_VALUE + 1)

backend = backend_fixture(["sqlite"])  # ``store`` (tests/storage/conftest.py) on sqlite only


def test_which_batches_take_one_statement() -> None:
    write = [Put("state/g/k", b"{}"), Put("chg/1", b"{}"), Put("chg~seq", b"1")]
    # a key expected absent binds no None: the SQL says absent
    assert _one_statement(write, {"chg~seq": None}) == (_upsert_sql(0, 3, 1), [
        "state/g/k", b"{}", "chg/1", b"{}", "chg~seq", b"1", "chg~seq"], None)
    # a key expected to hold bytes gets its marker row first
    assert _one_statement(write, {"chg~seq": b"0"}) == (_upsert_sql(1, 3, 0), [
        "chg~seq", "state/g/k", b"{}", "chg/1", b"{}", "chg~seq", b"1", "chg~seq", b"0"],
        None)
    # a condition on a key the batch does not put is read by a subquery: conditions on
    # present keys first, then the absent keys
    assert _one_statement(write[:1], {"other": None, "x": b"v"}) == (_guarded_sql(1, 1, 1), [
        "state/g/k", b"{}", "x", b"v", "other"], (1, 1))
    assert _one_statement([], {"k": None}) is None  # a check alone: the general path
    assert _one_statement([Put("a", b"1"), Delete("b")], {}) is None
    assert _one_statement([Put("a", BIG)], {}) is None  # two rows (kv and kv_large)
    assert _one_statement([Put("a", b"1")], {"b": BIG}) is None  # compared with its stub
    assert _one_statement([Put("a", b"1"), Put("a", b"2")], {}) is None  # order matters
    assert _one_statement([Put(f"k{i}", b"1") for i in range(9)], {}) is None
    assert _one_statement([Put("a", b"1")], {f"k{i}": None for i in range(5)}) is None


def test_a_failed_condition_writes_nothing(store: SqliteStore) -> None:
    store.put("seq", b"1")
    assert not store.batch([Put("a", b"1"), Put("seq", b"2")], expect={"seq": b"0"})
    assert not store.batch([Put("a", b"1"), Put("seq", b"2")], expect={"seq": None})
    assert not store.batch([Put("a", b"1")], expect={"seq": b"1", "other": b"x"})
    assert store.get("a") is None and store.get("seq") == b"1"
    assert store.batch([Put("a", b"1"), Put("seq", b"2")], expect={"seq": b"1", "b": None})
    assert store.get_many(["a", "seq"]) == {"a": b"1", "seq": b"2"}


def test_conditions_on_a_large_value_compare_its_bytes(store: SqliteStore) -> None:
    store.put("big", BIG)
    assert not store.batch([Put("a", b"1")], expect={"big": None})  # present, as a stub
    assert not store.batch([Put("a", b"1")], expect={"big": b"0"})  # the stub is not b"0"
    assert store.batch([Put("a", b"1")], expect={"big": BIG})  # the general path
    assert store.get("a") == b"1"


def test_a_small_value_over_a_large_one_removes_its_large_row(store: SqliteStore) -> None:
    store.put("big", BIG)
    assert store.batch([Put("big", b"small"), Put("b", b"2")], expect={"b": None})
    assert store.get("big") == b"small"
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM kv_large").fetchone() == (0,)


def test_a_key_put_twice_keeps_the_last(store: SqliteStore) -> None:
    assert store.batch([Put("a", b"1"), Put("b", b"1"), Put("a", b"2")])
    assert store.get("a") == b"2"


def test_values_bound_as_bytearray_read_back_as_bytes(store: SqliteStore) -> None:
    store.put("one", b"1")  # the single put binds a bytearray too
    assert store.batch([Put("a", b"\x00\xff"), Put("b", b"")], expect={"one": b"1"})
    found = [store.get("one"), store.get("a"), *(v for _, v in store.scan("")), store.get("b")]
    assert all(type(v) is bytes for v in found)
    assert store.get_many(["a", "b"]) == {"a": b"\x00\xff", "b": b""}


def test_an_upsert_checks_each_condition_as_it_writes(store: SqliteStore) -> None:
    """Conditions on keys the batch puts (a state write's sequence): present and equal,
    present and different, absent where bytes were expected, present where absence was."""
    assert store.batch([Put("a", b"1"), Put("seq", b"1")], expect={"seq": None})
    assert not store.batch([Put("a", b"2"), Put("seq", b"2")], expect={"seq": None})
    assert not store.batch([Put("a", b"2"), Put("seq", b"2")], expect={"seq": b"0"})
    assert not store.batch([Put("a", b"2"), Put("new", b"2")], expect={"new": b"1"})
    assert not store.batch([Put("a", b"2"), Put("seq", b"2")],
                           expect={"seq": b"1", "a": b"0"})
    assert store.get_many(["a", "seq", "new"]) == {"a": b"1", "seq": b"1"}  # no marker left
    assert store.batch([Put("a", b"2"), Put("seq", b"2")], expect={"seq": b"1", "a": b"1"})
    assert store.get_many(["a", "seq"]) == {"a": b"2", "seq": b"2"}


def test_an_upsert_over_a_large_value_removes_its_large_row(store: SqliteStore) -> None:
    store.put("big", BIG)
    store.put("seq", b"1")
    assert store.batch([Put("big", b"small"), Put("seq", b"2")], expect={"seq": b"1"})
    assert store.get("big") == b"small" and store.get("seq") == b"2"
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM kv_large").fetchone() == (0,)
    store.put("big", BIG)  # a condition on the large value itself: compared as its bytes
    assert not store.batch([Put("big", b"x")], expect={"big": b"0"})
    assert store.batch([Put("big", b"x")], expect={"big": BIG})
    assert store.get("big") == b"x"


def test_a_refused_upsert_in_a_commit_group_keeps_the_earlier_batches(
        store: SqliteStore) -> None:
    with store.one_commit():
        assert store.batch([Put("a", b"1"), Put("seq", b"1")], expect={"seq": None})
        assert not store.batch([Put("b", b"1"), Put("seq", b"2")], expect={"seq": b"0"})
        assert store.batch([Put("c", b"1"), Put("seq", b"2")], expect={"seq": b"1"})
    assert store.get_many(["a", "b", "c", "seq"]) == {"a": b"1", "c": b"1", "seq": b"2"}


GUARDED = [Put("entry/2", b"e"), Put("index/2", b"")]  # conditions on other keys: guarded


def test_in_a_commit_group_a_guarded_insert_is_a_check_and_an_insert(
        store: SqliteStore) -> None:
    """Inside a group's transaction: no temporary table, no savepoint; a condition that
    fails at any position writes nothing and leaves the group's other batches."""
    store.put("session", b"s")
    expect: dict[str, bytes | None] = {"session": b"s", "entry/2": None, "lease": None,
                                       "entry/1": None}
    seen: list[str] = []
    with store.one_commit():
        store.put("kept", b"1")
        store._db.set_trace_callback(seen.append)
        for key in expect:
            wrong = {**expect, key: b"other"}
            assert not store.batch(GUARDED, expect=wrong), key
            assert store.get("entry/2") is None and store.get("index/2") is None
        seen.clear()
        assert store.batch(GUARDED, expect=expect)
        assert [s.split(" ")[0] for s in seen] == ["SELECT", "INSERT"]
        assert "SELECT column1" not in seen[1]
        assert not store.batch(GUARDED, expect=expect)  # entry/2 is there now
    assert store.get_many(["kept", "entry/2", "index/2"]) == {
        "kept": b"1", "entry/2": b"e", "index/2": b""}


def test_a_guarded_insert_answers_alike_in_and_out_of_a_commit_group(
        store: SqliteStore) -> None:
    """The same batches on the same contents, in a group and in autocommit."""
    contents = {"a": b"1", "b": b"", "c": BIG}
    guesses: list[bytes | None] = [None, b"", b"1", b"2", BIG]
    for key in ("a", "b", "c", "d"):
        for wanted in guesses:
            for grouped in (False, True):
                store.batch([Delete(k) for k, _ in store.scan()])
                store.batch([Put(k, v) for k, v in contents.items()])
                expect = {key: wanted, "e": None}
                if wanted is not None and len(wanted) > LARGE_VALUE:
                    continue  # a large condition takes the general path either way
                if grouped:
                    with store.one_commit():
                        applied = store.batch([Put("e", b"new")], expect=expect)
                else:
                    applied = store.batch([Put("e", b"new")], expect=expect)
                assert applied is (contents.get(key) == wanted), (key, wanted, grouped)
                assert (store.get("e") == b"new") is applied
