"""``Store.batch_stream``: a stream of (ops, expect) chunks applied as ONE atomic batch, on
every backend: all chunks or none, conditions checked against the earlier chunks' writes, an
exception from the iterator or a wrong chunk writes nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from backends import Backend, make_backend
from llmspell.errors import InvalidKey, InvalidValue, ValidationError
from llmspell.storage import Delete, Put, Store
from llmspell.storage.base import Chunk


def chunks_of(n: int, size: int) -> Iterator[Chunk]:
    for start in range(0, n, size):
        yield [Put(f"k{i:05d}", b"%d" % i) for i in range(start, min(n, start + size))], {}


def test_every_chunk_is_applied(store: Store) -> None:
    store.put("gone", b"x")
    assert store.batch_stream([*chunks_of(250, 100), ([Delete("gone")], {"gone": b"x"})])
    assert store.count("k") == 250 and store.get("k00249") == b"249"
    assert store.get("gone") is None


def test_a_condition_sees_what_earlier_chunks_wrote(store: Store) -> None:
    store.put("head", b"1")
    stream = [([Put("head", b"2")], {"head": b"1"}),
              ([Put("head", b"3"), Put("entry/3", b"c")], {"head": b"2", "entry/3": None})]
    assert store.batch_stream(stream)
    assert store.get("head") == b"3" and store.get("entry/3") == b"c"


def test_a_failed_condition_in_a_late_chunk_writes_nothing(store: Store) -> None:
    store.put("guard", b"old")
    pulled: list[int] = []

    def stream() -> Iterator[Chunk]:
        for n, chunk in enumerate(chunks_of(500, 100)):
            pulled.append(n)
            yield chunk
        yield [Put("last", b"1")], {"guard": b"something else"}

    assert store.batch_stream(stream()) is False
    assert pulled == [0, 1, 2, 3, 4]  # the earlier chunks were produced (and applied) first
    assert list(store.scan("")) == [("guard", b"old")]


def test_an_exception_from_the_iterator_writes_nothing(store: Store) -> None:
    store.put("k00003", b"before")

    def stream() -> Iterator[Chunk]:
        yield from chunks_of(300, 100)
        raise RuntimeError("the producer failed at item 301")

    with pytest.raises(RuntimeError, match="item 301"):
        store.batch_stream(stream())
    assert list(store.scan("")) == [("k00003", b"before")]
    assert store.batch_stream(chunks_of(3, 2))  # the store is usable afterwards
    assert store.count("k") == 4 and store.get("k00001") == b"1"


def test_the_iterator_may_read_keys_the_stream_has_not_written(store: Store) -> None:
    for i in range(300):
        store.put(f"src/{i:04d}", b"%d" % i)

    def stream() -> Iterator[Chunk]:  # a migration's shape: read a page, write its result
        for start in range(0, 300, 100):
            page = list(store.scan("src/", start_after=f"src/{start - 1:04d}" if start else None,
                                   limit=100))
            yield [Put(f"dst/{k[4:]}", v + b"!") for k, v in page], {}

    assert store.batch_stream(stream())
    assert store.count("dst/") == 300 and store.get("dst/0299") == b"299!"


@pytest.mark.parametrize(("chunk", "argument", "rule", "error"), [
    (([Put("", b"v")], {}), "chunks[1].ops[0].key", "must not be empty", InvalidKey),
    (([Put("k", "text")], {}), "chunks[1].ops[0].value", "must be bytes", InvalidValue),
    (([], {"k": "text"}), "chunks[1].expect['k']", "must be bytes", InvalidValue),
    (([], [("k", None)]), "chunks[1].expect", "must be a mapping", ValidationError),
    ((["not an op"], {}), "chunks[1].ops[0]", "must be a Put or a Delete", ValidationError),
    ([[], {}, {}], "chunks[1]", "must be an (ops, expect) pair", ValidationError),
])
def test_a_wrong_chunk_is_named_and_nothing_is_written(store: Store, chunk: object,
                                                        argument: str, rule: str,
                                                        error: type) -> None:
    with pytest.raises(error) as info:
        store.batch_stream([([Put("first", b"1")], {}), chunk])  # type: ignore[list-item]
    assert f"argument '{argument}': {rule}" in str(info.value)
    assert store.get("first") is None


@pytest.mark.parametrize("chunks", ["text", b"bytes", {"a": 1}, 5])
def test_chunks_must_be_an_iterable_of_pairs(store: Store, chunks: object) -> None:
    with pytest.raises(ValidationError, match="'chunks': must be an iterable of"):
        store.batch_stream(chunks)  # type: ignore[arg-type]


def test_an_empty_stream_writes_nothing_and_succeeds(store: Store) -> None:
    assert store.batch_stream([])
    assert store.batch_stream([([], {})])
    assert store.count() == 0


@pytest.mark.parametrize("backend", ["sqlite", "lmdb"], indirect=True)
def test_another_thread_waits_for_the_stream_then_writes(backend: Backend) -> None:
    """While a stream runs, other writers wait (they are not refused, nor interleaved)."""
    store = backend.open()
    started, release = threading.Event(), threading.Event()
    seen: list[bytes | None] = []

    def stream() -> Iterator[Chunk]:
        yield [Put("k", b"stream")], {}
        started.set()
        release.wait(5)
        yield [Put("k2", b"stream")], {}

    def writer() -> None:
        started.wait(5)
        store.put("k", b"writer")
        seen.append(store.get("k"))

    thread = threading.Thread(target=writer)
    thread.start()
    streaming = threading.Thread(target=store.batch_stream, args=(stream(),))
    streaming.start()
    started.wait(5)
    time.sleep(0.2)
    assert seen == []  # the writer is still waiting
    release.set()
    streaming.join(5)
    thread.join(5)
    assert seen == [b"writer"] and store.get("k2") == b"stream"


def test_a_stream_on_a_closed_store_is_refused(tmp_path: object) -> None:
    with make_backend("memory", tmp_path) as place:  # type: ignore[arg-type]
        store = place.open()
        store.close()
        with pytest.raises(Exception, match="closed"):
            store.batch_stream(chunks_of(3, 2))


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_postgres_pool_of_one_stages_the_stream(backend: Backend) -> None:
    from llmspell.storage.postgres import PostgresStore

    store = PostgresStore(backend.url, pool_size=1)
    try:
        for i in range(5):
            store.put(f"src/{i}", b"%d" % i)

        def stream() -> Iterator[Chunk]:  # reads between chunks need a second connection
            for key, value in store.scan("src/"):
                yield [Put("dst/" + key[4:], value)], {}

        assert store.batch_stream(stream())
        assert store.count("dst/") == 5
    finally:
        store.close()
