"""The shortcuts a collected store (and every store) takes must refuse and give exactly what
the general path does: each test plants the case a shortcut must not take, or compares the
shortcut with the general path over many inputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.artifacts import BlobStore, content_hash
from llmspell.artifacts.blobs.records import CHUNKS, FILE, INLINE, Meta, chunk_count, meta_key
from llmspell.errors import IntegrityError
from llmspell.storage import open_store
from strategies import examples

_COUNT = st.integers(0, 2**53)


@st.composite
def metas(draw: st.DrawFn) -> Meta:
    """Valid meta records of each location."""
    loc = draw(st.sampled_from((INLINE, CHUNKS, FILE)))
    stored = draw(_COUNT)
    return Meta(draw(_COUNT), stored, draw(st.sampled_from(("none", "zstd", "lz4"))), loc,
                draw(st.text(min_size=1, max_size=20)) if loc == FILE else None, draw(_COUNT),
                draw(_COUNT), draw(st.text("0123456789abcdef", min_size=32, max_size=32))
                if loc == CHUNKS else None, chunk_count(stored) if loc == CHUNKS else 0)


@settings(max_examples=examples(200))
@given(meta=metas())
def test_a_remembered_meta_record_is_what_decoding_its_bytes_gives(meta: Meta) -> None:
    blobs = BlobStore(open_store("memory://"))
    writer, blob_hash = blobs._writer, "a" * 64
    raw = writer.encoded(blob_hash, meta)
    remembered = writer.decoded(blob_hash, raw)
    decoded = Meta.decode(blob_hash, raw)
    assert remembered == (decoded, decoded.ref(blob_hash))


def test_a_meta_record_changed_since_it_was_remembered_is_read_from_the_store() -> None:
    store = open_store("memory://")
    mine, other = BlobStore(store), BlobStore(store)
    mine.put(b"content", ref=True)
    blob_hash = content_hash(b"content")
    other.incref(blob_hash)  # another writer: the bytes mine remembers are stale
    assert mine.put(b"content", ref=True).hash == blob_hash
    assert mine.refcount(blob_hash) == 3
    store.put(meta_key(blob_hash), b'{"size": "damaged"}')
    with pytest.raises(IntegrityError, match="is malformed"):
        mine.put(b"content", ref=True)
