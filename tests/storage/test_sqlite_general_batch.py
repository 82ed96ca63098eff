"""SQLite: the general ``BEGIN IMMEDIATE`` path of a batch checks its conditions in SQL
(``_holds``: one statement comparing in SQLite, ``_compare`` deciding when it says no) and
applies its ops in runs of distinct keys (``_apply``: one DELETE, one multi-row INSERT into
``kv``, one into ``kv_large`` per run). Both must behave exactly as the ops applied one by
one after the conditions read back and compared: all or nothing, in order, large values in
``kv_large`` with no row left behind, the same error for a stub without its large row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends import backend_fixture
from llmspell.errors import StorageError
from llmspell.storage import Delete, Put, open_store
from llmspell.storage.sqlite import _RUN, LARGE_VALUE, SqliteStore, _compare, _holds
from strategies import examples

BIG = b"L" * (LARGE_VALUE + 1)
BIG2 = b"M" * (LARGE_VALUE + 7)

backend = backend_fixture(["sqlite"])  # ``store`` (tests/storage/conftest.py) on sqlite only


@pytest.fixture
def path(store: SqliteStore) -> Path:
    return Path(store.path)


def contents(path: Path) -> dict[str, bytes]:
    """Every key and its value as the file holds them, read with plain sqlite3; fails when a
    ``kv_large`` row has no stub or a stub no ``kv_large`` row."""
    with sqlite3.connect(path) as db:
        rows = dict(db.execute("SELECT key, value FROM kv").fetchall())
        large = dict(db.execute("SELECT key, value FROM kv_large").fetchall())
    assert set(large) == {k for k, v in rows.items() if isinstance(v, int)}
    return {k: large[k] if isinstance(v, int) else v for k, v in rows.items()}


# the general path: a Delete (or a large value, or more than 8 ops) keeps a batch off the
# one-statement path
GENERAL = [Delete("gone"), Put("big", BIG2), Put("small", b"s")]
WRONG = {None: b"there", b"v": b"w", BIG: BIG2}  # expected -> what the key holds instead


@pytest.mark.parametrize("size", [1, 3, 6, _RUN + 3])
def test_conditions_fail_at_each_position(store: SqliteStore, path: Path, size: int) -> None:
    """Each condition of a batch (absent, small, large; past the first statement's _RUN
    too) refuses the batch alone when its key holds something else."""
    kinds = [None, b"v", BIG]
    expect = {f"c/{i:03d}": kinds[i % 3] for i in range(size)}
    for key, wanted in expect.items():
        if wanted is not None:
            store.put(key, wanted)
    store.put("gone", b"1")
    before = contents(path)
    for position, (key, wanted) in enumerate(expect.items()):
        store.put(key, WRONG[wanted])
        assert not store.batch(GENERAL, expect=expect), position
        assert contents(path) == {**before, key: WRONG[wanted]}
        if wanted is None:
            store.delete(key)
        else:
            store.put(key, wanted)
    assert store.batch(GENERAL, expect=expect)
    del before["gone"]
    assert contents(path) == {**before, "big": BIG2, "small": b"s"}


def test_a_large_value_in_the_batch(store: SqliteStore, path: Path) -> None:
    store.put("a", BIG)
    store.put("b", b"small")
    assert store.batch([Put("a", b"now small"), Put("b", BIG), Put("c", BIG2), Delete("d")],
                       expect={"a": BIG, "b": b"small", "c": None})
    assert contents(path) == {"a": b"now small", "b": BIG, "c": BIG2}
    assert store.batch([Put("a", BIG2), Delete("b"), Put("c", BIG)], expect={"c": BIG2})
    assert contents(path) == {"a": BIG2, "c": BIG}
    assert store.get_many(["a", "b", "c"]) == {"a": BIG2, "c": BIG}


@pytest.mark.parametrize(("ops", "left"), [
    ([Put("a", b"1"), Delete("a")], {}),
    ([Delete("a"), Put("a", b"2")], {"a": b"2"}),
    ([Put("a", BIG), Delete("a"), Put("a", b"3")], {"a": b"3"}),
    ([Put("a", b"1"), Delete("a"), Put("a", BIG)], {"a": BIG}),
    ([Put("a", BIG), Put("a", b"4"), Delete("b")], {"a": b"4"}),
    ([Put("a", b"4"), Put("a", BIG2), Delete("b")], {"a": BIG2}),
    ([Put("b", BIG), Delete("a"), Put("a", BIG2), Delete("b")], {"a": BIG2}),
])
def test_a_delete_and_a_put_of_the_same_key_apply_in_order(
        store: SqliteStore, path: Path, ops: list[Put | Delete], left: dict[str, bytes]) -> None:
    store.put("a", BIG)
    assert store.batch(ops, expect={"a": BIG})
    assert contents(path) == left


def test_a_refusal_in_a_commit_group_leaves_the_others(store: SqliteStore, path: Path) -> None:
    store.put("guard", b"1")
    with store.one_commit():
        assert store.batch([Delete("guard"), Put("a", BIG), Put("seq", b"1")])
        assert not store.batch([Put("b", BIG2), Delete("a"), Put("seq", b"2")],
                               expect={"seq": b"1", "a": BIG2})  # the large one fails
        assert not store.batch([Put("b", BIG2), Delete("a")], expect={"seq": b"0"})
        assert store.get("a") == BIG and store.get("b") is None
        assert store.batch([Put("c", BIG2), Delete("seq")], expect={"seq": b"1", "a": BIG})
    assert contents(path) == {"a": BIG, "c": BIG2}


def test_a_missing_large_row_in_a_condition_is_a_storage_error(store: SqliteStore,
                                                               path: Path) -> None:
    """SQL sees a stub without its large row as a mismatch; the answer is still the error
    the comparison in Python gives, whatever the condition expected."""
    store.put("a", BIG)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM kv_large")
    for wanted in (BIG, b"small", None):
        with pytest.raises(StorageError, match="'a': its value is missing from kv_large"):
            store.batch([Delete("x"), Put("y", b"1")], expect={"a": wanted})
    assert store.get("y") is None


def test_an_artifact_store_is_five_statements(store: SqliteStore) -> None:
    """Its nine ops (one large, one delete of a key that is there) and six conditions:
    BEGIN, the DELETE carrying the conditions, one INSERT into kv, one into kv_large,
    COMMIT."""
    store.batch([Put("session", b"s1"), Put("idx/1", b"")])
    seen: list[str] = []
    store._db.set_trace_callback(seen.append)
    ops = [Put("blob/d", BIG), Put("blob/m", b"m"), Delete("idx/1"), Put("idx/2", b""),
           Put("session", b"s2"), Put("art/2", b"a"), Put("artt/2", b""), Put("arts/2", b""),
           Put("journal/2", b"j")]
    assert store.batch(ops, expect={"art/2": None, "blob/m": None, "session": b"s1",
                                    "journal/2": None, "lease": None, "art/1": None})
    heads = [s.split(" (")[0].split(" WHERE")[0] for s in seen]
    # a REPLACE or DELETE of an existing row also reports the row's delete trigger
    assert list(dict.fromkeys(heads)) == [
        "BEGIN IMMEDIATE", "DELETE FROM kv", "INSERT INTO kv",
        "INSERT OR REPLACE INTO kv_large", "COMMIT"]
    assert len(heads) == 6  # the delete's trigger; the upsert replaced "session" without
    assert store.get("idx/1") is None and store.get("idx/2") == b""


@pytest.mark.parametrize("there", [True, False])
@pytest.mark.parametrize("holds", [True, False])
def test_a_delete_carrying_the_conditions_decides_as_the_check_does(
        store: SqliteStore, there: bool, holds: bool) -> None:
    """A first run deleting one key checks the conditions in its DELETE; no row deleted
    (the key absent, or a condition failed) is decided by the check."""
    store.batch([Put("seq", b"1"), Put("big", BIG), *([Put("gone", b"g")] if there else [])])
    expect = {"seq": b"1" if holds else b"0", "big": BIG, "new": None}
    assert store.batch([Delete("gone"), Put("new", b"n")], expect=expect) is holds
    assert store.get("gone") == (b"g" if there and not holds else None)
    assert store.get("new") == (b"n" if holds else None)
    # the deleted key itself expected absent: the DELETE finds it only when it is there
    assert store.batch([Delete("new"), Put("other", b"o")],
                       expect={"new": None}) is not holds
    assert store.get("new") == (b"n" if holds else None)  # there: the batch failed, kept
    assert store.get("other") == (None if holds else b"o")


@pytest.mark.parametrize("new", [b"small", b"", BIG2])
def test_a_run_over_a_large_value_writes_again_with_replace(
        store: SqliteStore, path: Path, new: bytes) -> None:
    """The run's upsert leaves a key holding a large value's stub as it is; the run is then
    written with REPLACE, whose trigger drops the old ``kv_large`` row: the same rows as
    without the upsert, none left behind."""
    store.put("a", BIG)
    store.put("b", b"old")
    seen: list[str] = []
    store._db.set_trace_callback(seen.append)
    assert store.batch([Delete("x"), Put("b", b"new"), Put("a", new), Put("c", b"c")],
                       expect={"b": b"old"})
    store._db.set_trace_callback(None)
    assert any(s.startswith("INSERT OR REPLACE INTO kv (") for s in seen)
    assert contents(path) == {"a": new, "b": b"new", "c": b"c"}


# -- against a model ----------------------------------------------------------------------

KEYS = st.sampled_from([f"k{i}" for i in range(8)]) | st.sampled_from(
    [f"w{i:03d}" for i in range(2 * _RUN)])
VALUES = st.sampled_from([b"", b"v", b"w", BIG, BIG2])
OPS = st.lists(st.one_of(st.builds(Put, KEYS, VALUES), st.builds(Delete, KEYS)),
               max_size=3 * _RUN)
SETTINGS = settings(max_examples=examples(40), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


@SETTINGS
@given(start=st.dictionaries(KEYS, VALUES), ops=OPS, data=st.data())
def test_any_batch_matches_the_ops_applied_one_by_one(
        tmp_path: Path, start: dict[str, bytes], ops: list[Put | Delete],
        data: st.DataObject) -> None:
    with open_store(f"sqlite:///{tmp_path}/model.db") as store:
        store.batch([Delete(k) for k, _ in store.scan()])
        store.batch([Put(k, v) for k, v in start.items()])
        expect = data.draw(st.dictionaries(KEYS, st.none() | VALUES, max_size=4)
                           | st.builds(lambda keys: {k: start.get(k) for k in keys},
                                       st.lists(KEYS, max_size=2 * _RUN)))
        model = dict(start)
        holds = all(start.get(k) == v for k, v in expect.items())
        assert store.batch(ops, expect=expect) is holds
        if holds:
            for op in ops:
                if isinstance(op, Put):
                    model[op.key] = op.value
                else:
                    model.pop(op.key, None)
        assert contents(Path(store.path)) == model
        with store._lock:  # the check alone, in SQL and in Python, on what is there now
            cursor = store._db.cursor()
            assert _holds(cursor, expect) is _compare(cursor, expect) is all(
                model.get(k) == v for k, v in expect.items())
