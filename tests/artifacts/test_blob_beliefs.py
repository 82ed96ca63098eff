"""A store's first attempt plans its blob on the writer's belief instead of reading the
blob's meta record (``BlobWriter.belief``): the bytes this writer last wrote or read for the
content, or, for small content it does not know, absent. The batch expects exactly what was
believed, so a wrong belief (another runtime stored the content or changed its count) only
fails that attempt; the retry reads, and no count is lost or content created twice."""

from __future__ import annotations

import os
from typing import Any

import pytest

from llmspell.artifacts.blobs.records import meta_key
from llmspell.runtime import Runtime


def meta_reads(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The blob meta records the artifact writer of ``rt`` reads from now on."""
    seen: list[str] = []
    store = rt.artifacts.writer.blobs._writer.store
    real = store.get_unchecked

    def get(key: str) -> Any:
        if key.startswith("blob/m/"):
            seen.append(key)
        return real(key)

    monkeypatch.setattr(store, "get_unchecked", get)
    return seen


def lost_races(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sessions whose store batches ``rt``'s artifact writer lost from now on."""
    lost: list[str] = []
    writer = rt.artifacts.writer
    real = writer._lost
    monkeypatch.setattr(writer, "_lost", lambda sid: (lost.append(sid), real(sid)))
    return lost


def test_own_content_is_planned_without_reading_its_record(
        rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    session = rt.sessions.create("beliefs")
    reads = meta_reads(rt, monkeypatch)
    lost = lost_races(rt, monkeypatch)
    first = rt.artifacts.store(session, "new.txt", b"new content")  # unknown: absent
    again = rt.artifacts.store(session, "again.txt", b"new content")  # as written
    assert reads == [] and lost == []
    assert rt.artifacts.blobs.refcount(first.content_hash) == 2
    assert rt.artifacts.read(again.id) == b"new content"


def test_large_unknown_content_is_read_first(
        rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    session = rt.sessions.create("beliefs")
    reads = meta_reads(rt, monkeypatch)
    content = os.urandom(rt.artifacts.blobs.inline_max + 1)  # incompressible: chunk keys
    stored = rt.artifacts.store(session, "big.bin", content)
    # a wrong guess would have put the chunks in a batch that fails: read instead
    assert reads == [meta_key(stored.content_hash)]


def test_content_only_another_runtime_stored_costs_one_failed_attempt(
        pair: tuple[Runtime, Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = pair
    session = first.sessions.create("shared")
    mine = first.artifacts.store(session.id, "a.txt", b"shared content")
    lost = lost_races(second, monkeypatch)
    reads = meta_reads(second, monkeypatch)
    theirs = second.artifacts.store(session.id, "b.txt", b"shared content")
    assert lost == [session.id]  # believed new: the batch failed, the retry read
    assert reads == [meta_key(mine.content_hash)]
    assert first.artifacts.blobs.refcount(mine.content_hash) == 2
    assert first.artifacts.stats().blobs == 1  # referenced, not created again
    assert second.artifacts.read(theirs.id) == b"shared content"
    # after a wrong belief the next first attempts read: no failed batch for new content
    second.artifacts.store(session.id, "c.txt", b"other content")
    assert lost == [session.id] and len(reads) == 2


def test_a_count_changed_by_another_runtime_only_fails_an_attempt(
        pair: tuple[Runtime, Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = pair
    session = first.sessions.create("shared")
    other = second.sessions.create("other")
    stored = first.artifacts.store(session.id, "a.txt", b"counted")  # first believes 1
    second.artifacts.store(other.id, "b.txt", b"counted")  # now 2 (second read it)
    second.artifacts.delete(second.artifacts.store(other.id, "c.txt", b"counted"))
    lost = lost_races(first, monkeypatch)
    again = first.artifacts.store(session.id, "a.txt", b"counted")
    assert lost == [session.id]  # the belief (1 reference) was stale
    assert first.artifacts.blobs.refcount(stored.content_hash) == 3
    assert first.artifacts.read(again.id) == b"counted"
