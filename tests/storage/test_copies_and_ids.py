"""The cheaper spellings on the create path give exactly what the general ones give: the
memory store's copy of a value written in a batch (``b"%b" % value``, as ``codec.compact``),
a correlation id's digits (``to_bytes(16).hex()``, as ``f"{n:032x}"``) and a full
BoundedCache's eviction (``popitem(False)``)."""

from __future__ import annotations

import random

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmspell import ids
from llmspell.bounded import BoundedCache
from llmspell.codec import compact
from llmspell.storage.base import Put
from llmspell.storage.memory import MemoryStore


class _Bytes(bytes):
    pass


_BIG = orjson.dumps({"text": "é" * 3000})  # an orjson result: kept as a copy


@pytest.mark.parametrize("value", [
    b"x", b"\x00\xff" * 3, _Bytes(b"sub"), bytearray(b"array"), memoryview(b"_view_")[1:-1],
    "ünïcode 🔑 sk-secret".encode(), _BIG, b"%s%b%%"])
def test_a_batch_keeps_a_fresh_plain_copy_like_compact(value: bytes) -> None:
    store = MemoryStore()
    assert store.batch_unchecked([Put("k", value), Put("e", b"")], {})
    kept = store.get("k")
    assert kept == compact(value) and kept.__class__ is bytes
    assert kept is not value or len(value) == 1  # (one byte: CPython's shared object)
    assert store.get("e") == b""


@given(st.binary(min_size=1, max_size=2000))
def test_the_batch_copy_equals_compact_for_any_bytes(value: bytes) -> None:
    store = MemoryStore()
    store.batch_unchecked([Put("k", value)], {})
    assert store.get("k") == compact(value)


def test_correlation_ids_are_the_format_spec_s_digits_of_the_same_draws(
        monkeypatch: pytest.MonkeyPatch) -> None:
    draws = random.Random(18)
    monkeypatch.setattr(ids, "_bits", draws.getrandbits)
    got = [ids.correlation_id() for _ in range(2000)]
    again = random.Random(18)
    assert got == [f"{again.getrandbits(128):032x}" for _ in range(2000)]
    for n in (0, 1, 2**127, 2**128 - 1):
        monkeypatch.setattr(ids, "_bits", lambda _: n)  # noqa: B023 (used at once)
        assert ids.correlation_id() == f"{n:032x}"


def test_a_full_cache_forgets_its_oldest_key() -> None:
    cache: BoundedCache[str, int] = BoundedCache(3)
    for i, key in enumerate("abcd"):
        cache.keep(key, i)
    assert list(cache.items()) == [("b", 1), ("c", 2), ("d", 3)]
    cache.keep("c", 9)  # a key held already: nothing forgotten, its place kept
    assert list(cache.items()) == [("b", 1), ("c", 9), ("d", 3)]
