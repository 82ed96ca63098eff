"""``Store.make_put``: the form of a Put ``batch_unchecked`` takes. Every backend takes a Put
(``new_put``); the memory store also takes the plain ``(key, value)`` tuple itself, so its
writers skip building Puts (a session create's seven)."""

from __future__ import annotations

from llmspell.sessions import SessionManager, SessionSettings
from llmspell.storage import open_store
from llmspell.storage.base import Delete, Put, new_put
from llmspell.testing import CountingStore


def test_the_memory_store_takes_a_tuple_for_a_put() -> None:
    store = open_store("memory://")
    assert store.make_put is tuple
    pair = ("a", b"1")
    assert store.make_put(pair) is pair
    assert store.batch_unchecked([("a", b"1"), Put("b", b"2"), ("c", b"")], {"a": None})
    assert (store.get("a"), store.get("b"), store.get("c")) == (b"1", b"2", b"")
    assert list(store.keys("")) == ["a", "b", "c"]


def test_a_delete_and_its_subclass_still_delete() -> None:
    class MyDelete(Delete):  # a subclass of Delete, as check_ops lets through
        pass

    store = open_store("memory://")
    store.batch_unchecked([("a", b"1"), ("b", b"2"), ("c", b"3")], {})
    assert store.batch_unchecked([Delete("a"), MyDelete("b")], {})
    assert list(store.keys("")) == ["c"]
    store.batch_unchecked([("a", b"x"), Delete("a")], {})  # put, then deleted in one batch
    assert store.get("a") is None and list(store.keys("")) == ["c"]


def test_other_stores_take_puts_and_create_writes_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for store in (open_store(f"sqlite://{tmp_path}/s.db"), CountingStore()):
        assert store.make_put is new_put
        manager = SessionManager(store, settings=SessionSettings())
        session = manager.create("a", tags=["x"])
        assert manager.get(session.id).tags == ["x"]
        assert store.get(f"session/{session.id}") == session.encode()
        store.close()
