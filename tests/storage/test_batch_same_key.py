"""A batch that puts and deletes the same new key, on every backend: the store (values, scans,
counts) ends as the ops in order leave it, with ``batch`` and ``batch_unchecked`` alike (the
memory backend sorts new keys into its index lazily; these orders reach every branch)."""

from __future__ import annotations

import pytest

from llmspell.errors import InvalidKey
from llmspell.storage import Delete, Put, Store


@pytest.mark.parametrize("unchecked", [False, True])
def test_put_then_delete_then_put_in_one_batch(store: Store, unchecked: bool) -> None:
    store.put("m/keep", b"k")
    ops = [Put("m/a", b"1"), Put("m/b", b""), Delete("m/a"), Put("m/c", b"3"),
           Delete("m/keep"), Put("m/a", b"again"), Put("m/b", b"2"), Delete("m/none")]
    applied = store.batch_unchecked(ops, {}) if unchecked else store.batch(ops)
    assert applied
    assert list(store.scan("m/")) == [("m/a", b"again"), ("m/b", b"2"), ("m/c", b"3")]
    assert list(store.keys("m/", reverse=True)) == ["m/c", "m/b", "m/a"]
    assert store.count("m/") == 3
    assert store.batch([Delete("m/b"), Put("m/d", b"")])
    assert list(store.keys("m/")) == ["m/a", "m/c", "m/d"] and store.get("m/d") == b""
    assert store.count("m/") == 3


def test_new_keys_without_a_read_between_are_scanned_in_order(store: Store) -> None:
    for i in range(300, 0, -1):  # descending: each batch lands before the previous ones
        assert store.batch([Put(f"n/{i:04d}", b"v"), Put(f"o/{i:04d}", b"")])
    assert store.count("n/") == 300
    assert list(store.keys("n/", limit=3)) == ["n/0001", "n/0002", "n/0003"]
    assert list(store.keys("o/", limit=2, reverse=True)) == ["o/0300", "o/0299"]


def test_a_refused_batch_leaves_the_store_as_it_was(store: Store) -> None:
    store.put("m/x", b"1")
    assert not store.batch([Put("m/new", b"n"), Delete("m/x")], expect={"m/x": b"other"})
    with pytest.raises(InvalidKey, match=r"ops\[1\]\.key"):
        store.batch([Put("m/new", b"n"), Put("", b"bad")])
    assert list(store.scan("m/")) == [("m/x", b"1")] and store.count("m/") == 1


class _MyPut(Put):
    """A Put subclass: ``batch`` accepts it (check_ops tests isinstance), so a backend's
    exact-class shortcut must still treat it as a Put, not as a Delete."""


class _MyDelete(Delete):
    """A Delete subclass, likewise."""


def test_subclasses_of_put_and_delete_act_as_put_and_delete(store: Store) -> None:
    store.put("s/old", b"o")
    assert store.batch([_MyPut("s/a", b"1"), _MyPut("s/b", b""), _MyDelete("s/old"),
                        _MyPut("s/old", b"again"), _MyDelete("s/b")])
    assert list(store.scan("s/")) == [("s/a", b"1"), ("s/old", b"again")]
    assert store.count("s/") == 2
