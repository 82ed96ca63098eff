"""SQLite: a batch binds no None and, up to ``_COPY_MAX`` bytes, no ``bytes`` (an adapter
lookup each; see ``_blob`` in sqlite.py): a condition on an absent key is ``IS NULL`` in the
SQL, and a large value up to ``_COPY_MAX`` is bound as a bytearray copy. Both must give what
the general forms gave: the same conditions held or refused, the same bytes stored."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from llmspell.storage import Delete, Put, open_store
from llmspell.storage.sqlite import (
    _COPY_MAX,
    LARGE_VALUE,
    SqliteStore,
    _check_sql,
    _compare,
    _holds,
    _large_param,
)

SIZES = [LARGE_VALUE + 1, _COPY_MAX, _COPY_MAX + 1, 3 * _COPY_MAX]


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    opened = open_store(f"sqlite:///{tmp_path}/params.db")
    assert isinstance(opened, SqliteStore)
    return opened


def test_a_large_value_is_copied_up_to_the_bound_and_bound_as_it_is_past_it() -> None:
    for size in SIZES:
        value = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        param = _large_param(value)
        assert bytes(param) == value  # type: ignore[call-overload]
        assert (type(param) is bytearray) is (size <= _COPY_MAX)


@pytest.mark.parametrize("size", SIZES)
def test_large_values_either_side_of_the_bound_store_and_compare_alike(
        store: SqliteStore, tmp_path: Path, size: int) -> None:
    value, other = b"a" * size, b"a" * (size - 1) + b"b"
    assert store.batch([Delete("gone"), Put("big", value), Put("s", b"1")])
    assert store.get("big") == value
    with sqlite3.connect(tmp_path / "params.db") as db:  # a BLOB, as bytes bound it
        assert db.execute("SELECT typeof(value) FROM kv_large WHERE key = 'big'").fetchone() \
            == ("blob",)
    for wanted, holds in ((value, True), (other, False), (None, False)):
        assert store.batch([Delete("gone"), Put("s", b"2")], expect={"big": wanted}) is holds
    assert store.batch([Delete("gone"), Put("big", other)], expect={"big": value})
    assert store.get("big") == other


def test_conditions_on_absent_keys_hold_exactly_when_the_key_is_absent(
        store: SqliteStore) -> None:
    store.put("here", b"v")
    store.put("large", b"L" * (LARGE_VALUE + 1))
    store.put("empty", b"")
    cases = [({"absent": None}, True), ({"here": None}, False), ({"large": None}, False),
             ({"empty": None}, False), ({"absent": None, "here": b"v", "other": None}, True),
             ({"absent": None, "here": b"w"}, False), ({"absent": b""}, False),
             ({"empty": b""}, True)]
    for expect, holds in cases:
        with store._lock:
            cursor = store._db.cursor()
            assert _holds(cursor, expect) is _compare(cursor, expect) is holds, expect
        assert store.batch([Delete("x"), Put("y", b"1")], expect=expect) is holds


def test_the_check_sql_binds_absent_keys_last_and_without_a_value() -> None:
    sql = _check_sql(1, 1, 2)
    assert sql.count("?") == 2 + 2 + 2
    assert sql.endswith("(SELECT value FROM kv WHERE key = ?) IS NULL AND "
                        "(SELECT value FROM kv WHERE key = ?) IS NULL")
    assert _check_sql(2, 0) == _check_sql(2, 0, 0)  # the one-statement path's form


def test_one_statement_batches_with_absent_keys_answer_as_the_model(
        store: SqliteStore) -> None:
    """Upserts (conditions on keys put) and guarded inserts (on other keys), in and out of
    a commit group, each condition absent / the bytes there / other bytes, on keys that are
    absent, small, empty or large: applied exactly when every condition holds, and then
    every put is there."""
    start = {"a": b"1", "b": b"", "c": b"L" * (LARGE_VALUE + 1)}
    guesses: list[bytes | None] = [None, b"", b"1", b"2"]
    batches = [[Put("a", b"new")], [Put("d", b"new")], [Put("d", b"new"), Put("a", b"x")]]
    for ops in batches:
        for first, second in itertools.product(["a", "b", "c", "d"], ["d", "e"]):
            for wanted, other in itertools.product(guesses, [None, b"1"]):
                expect = {first: wanted, second: other} if first != second else {first: wanted}
                holds = all(start.get(k) == v for k, v in expect.items())
                for grouped in (False, True):
                    store.batch([Delete(k) for k, _ in store.scan()])
                    store.batch([Put(k, v) for k, v in start.items()])
                    if grouped:
                        with store.one_commit():
                            applied = store.batch(ops, expect=expect)
                    else:
                        applied = store.batch(ops, expect=expect)
                    assert applied is holds, (ops, expect, grouped)
                    model = {**start, **({op.key: op.value for op in ops} if holds else {})}
                    assert dict(store.scan()) == model, (ops, expect, grouped)
