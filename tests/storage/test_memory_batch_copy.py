"""The memory store's copy of a value written in a batch (``b"%b" % value``, the cheaper
spelling on every write) is what ``codec.compact`` gives: a fresh plain bytes, equal."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
