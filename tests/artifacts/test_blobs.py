"""The blob store: dedup, compression, inline/chunk placement, streaming, verification,
reference counts and gc, on memory and sqlite (tests/artifacts/test_blob_chunks.py runs the
chunk layer on every backend)."""

from __future__ import annotations

import io
import random
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from blake3 import blake3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends import Backend, backend_fixture
from llmspell.artifacts import BlobStore, content_hash
from llmspell.errors import (
    ArtifactNotFound,
    BlobNotFound,
    IntegrityError,
    StorageError,
    ValidationError,
)
from llmspell.storage import Delete, Op, Put, Store, open_store
from strategies import examples

MB = 1024 * 1024


# The blob layer's own tests run on memory and sqlite; test_blob_chunks.py runs the chunked
# contract on every backend.
backend = backend_fixture(["memory", "sqlite"])


@pytest.fixture
def store_url(backend: Backend) -> str:
    return backend.url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def blob_dir(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def blobs(store: Store, blob_dir: Path) -> BlobStore:
    return BlobStore(store, blob_dir)


def text(size: int, seed: int = 0) -> bytes:
    """Compressible bytes: log-like lines."""
    rng = random.Random(seed)
    words = [b"session", b"agent", b"tool", b"result", b"ok", b"error", b"token", b"cost"]
    lines = [b" ".join(rng.choices(words, k=8)) + b" %d\n" % rng.randrange(1000)
             for _ in range(size // 40 + 1)]
    return b"".join(lines)[:size]


def noise(size: int, seed: int = 0) -> bytes:
    """Incompressible bytes."""
    return random.Random(seed).randbytes(size)


def chunk_keys(store: Store) -> list[str]:
    return [key for key, _ in store.scan("blob/c/")]


def gens(store: Store) -> set[str]:
    """The chunk generations in the store (one per chunked blob, or write in progress)."""
    return {key.split("/")[2] for key in chunk_keys(store)}


def pending(store: Store) -> list[str]:
    return [key for key, _ in store.scan("blob/p/")]


def held(store: Store) -> int:
    """Bytes a memory store holds in this process (tracemalloc sees them); 0 for others."""
    if not store.url.startswith("memory:"):
        return 0
    return sum(len(v) for _, v in store.scan("blob/"))


# -- put, get, dedup -----------------------------------------------------------------------------


def test_put_get_small_inline(blobs: BlobStore) -> None:
    ref = blobs.put(b"hello")
    assert ref.hash == blake3(b"hello").hexdigest() == content_hash(b"hello")
    assert (ref.size, ref.stored_size, ref.compression, ref.location) == (5, 5, "none", "inline")
    assert blobs.get(ref.hash) == b"hello"
    assert blobs.stat(ref.hash) == ref
    assert blobs.exists(ref.hash)
    assert blobs.refcount(ref.hash) == 0
    assert blobs.put(b"").size == 0 and blobs.get(content_hash(b"")) == b""


def test_same_1mb_50_times_is_one_blob_and_gc_frees_it(blobs: BlobStore, store: Store) -> None:
    data = noise(MB)
    refs = {blobs.put(data, ref=i % 2 == 0) for i in range(50)}
    assert len(refs) == 1
    (ref,) = refs
    for _ in range(25):
        blobs.incref(ref.hash)
    assert blobs.refcount(ref.hash) == 50
    stats = blobs.stats()
    assert (stats.blobs, stats.chunked_blobs, stats.references) == (1, 1, 50)
    assert stats.logical_bytes == MB and MB <= stats.stored_bytes < MB * 1.01
    assert len(gens(store)) == 1

    for left in range(49, -1, -1):
        assert blobs.decref(ref.hash) == left
    assert blobs.gc().kept_in_grace == 1  # the default grace period keeps it a while
    report = blobs.gc(grace=0)
    assert (report.blobs_removed, report.bytes_freed) == (1, MB)
    assert chunk_keys(store) == []
    assert blobs.stats().blobs == 0
    with pytest.raises(BlobNotFound, match=ref.hash):
        blobs.get(ref.hash)


@pytest.mark.parametrize("codec", ["zstd", "lz4"])
def test_compressible_content_is_compressed(store: Store, blob_dir: Path, codec: str) -> None:
    blobs = BlobStore(store, blob_dir, compression=codec)
    data = text(200 * 1024)
    ref = blobs.put(data)
    assert ref.compression == codec
    assert ref.stored_size < len(data) / 2
    # placement goes by the stored size: 200 KB of text fits inline once compressed
    assert ref.location == ("inline" if ref.stored_size <= blobs.inline_max else "chunks")
    assert ref.location == "inline" or codec == "lz4"
    assert blobs.get(ref.hash) == data


def test_random_bytes_and_small_content_are_stored_raw(blobs: BlobStore) -> None:
    rnd = blobs.put(noise(100 * 1024))
    assert (rnd.compression, rnd.stored_size, rnd.location) == ("none", 100 * 1024, "chunks")
    small = blobs.put(text(10 * 1024))  # at the threshold, not above it
    assert small.compression == "none"
    assert blobs.put(text(10 * 1024 + 1)).compression == "zstd"


def test_compression_none(store: Store, blob_dir: Path) -> None:
    blobs = BlobStore(store, blob_dir, compression="none")
    ref = blobs.put(text(100 * 1024))
    assert (ref.compression, ref.stored_size) == ("none", 100 * 1024)


def test_inline_up_to_inline_max_then_chunks(store: Store, blob_dir: Path) -> None:
    blobs = BlobStore(store, blob_dir, inline_max=4096, compression="none")
    at = blobs.put(noise(4096, 1))
    over = blobs.put(noise(4097, 2))
    assert (at.location, over.location) == ("inline", "chunks")
    meta = orjson.loads(store.get(f"blob/m/{over.hash}") or b"")
    assert (meta["loc"], meta["chunks"]) == ("chunks", 1)
    assert chunk_keys(store) == [f"blob/c/{meta['gen']}/00000000"]
    assert store.get(f"blob/c/{meta['gen']}/00000000") == noise(4097, 2)
    assert store.get(f"blob/d/{at.hash}") is not None
    assert store.get(f"blob/d/{over.hash}") is None
    assert not blob_dir.exists()  # nothing outside the store
    assert blobs.get(at.hash) == noise(4096, 1) and blobs.get(over.hash) == noise(4097, 2)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=3000) | st.builds(lambda n, b: b * n, st.integers(1, 400),
                                                  st.binary(min_size=1, max_size=8)),
       codec=st.sampled_from(["zstd", "lz4", "none"]))
def test_property_get_after_put(tmp_path_factory: pytest.TempPathFactory, data: bytes,
                                codec: str) -> None:
    root = tmp_path_factory.mktemp("prop")
    with open_store("memory://") as store:
        blobs = BlobStore(store, root, inline_max=512, compress_threshold=64,
                          compression=codec, chunk_size=4096)
        ref = blobs.put(data)
        assert ref.size == len(data) and ref.hash == content_hash(data)
        assert blobs.get(ref.hash) == data
        with blobs.open(ref.hash) as reader:
            assert b"".join(reader) == data
        assert blobs.put_stream([data[i:i + 100] for i in range(0, len(data), 100)]) == ref


# -- streams -------------------------------------------------------------------------------------


def generated(total: int, piece: int, make: Callable[[int], bytes],
              hasher: blake3) -> Iterator[bytes]:
    """``total`` bytes made on the fly, fed to ``hasher`` as they go."""
    for i in range(total // piece):
        chunk = make(i)
        hasher.update(chunk)
        yield chunk


@pytest.mark.parametrize("kind", ["noise", "text"])
def test_large_stream_round_trip_in_bounded_memory(blobs: BlobStore, kind: str) -> None:
    total = 64 * MB
    line = text(MB, 7)
    make = (lambda i: random.Random(i).randbytes(MB)) if kind == "noise" else (
        lambda i: line[i:] + line[:i])
    expected = blake3()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        ref = blobs.put_stream(generated(total, MB, make, expected))
        put_peak = tracemalloc.get_traced_memory()[1]

        tracemalloc.reset_peak()
        got, size = blake3(), 0
        with blobs.open(ref.hash) as reader:
            for chunk in reader:
                assert len(chunk) <= blobs.chunk_size
                got.update(chunk)
                size += len(chunk)
        read_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ref.hash == expected.hexdigest() == got.hexdigest()
    assert ref.size == size == total
    assert ref.location == "chunks"
    if kind == "text":
        assert ref.compression == "zstd" and ref.stored_size < total / 3
    else:
        assert ref.compression == "none"
    # the content is 64 MB; a put holds about a read chunk, the 256 KB probe and one batch of
    # chunk keys at a time (a memory store holds the chunks themselves: not a copy)
    assert put_peak - held(blobs.store) < 8 * MB, put_peak
    assert read_peak - held(blobs.store) < 8 * MB, read_peak


@pytest.mark.slow
def test_500mb_stream_keeps_rss_flat(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import resource, random
        from llmspell.storage import open_store
        from llmspell.artifacts import BlobStore
        blobs = BlobStore(open_store("sqlite:///{tmp_path}/x.db"), "{tmp_path}/blobs")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        chunks = (random.Random(i).randbytes(1 << 20) for i in range(500))
        ref = blobs.put_stream(chunks)
        with blobs.open(ref.hash) as reader:
            n = sum(len(c) for c in reader)
        assert n == ref.size == 500 << 20
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=300)
    assert int(out.stdout.strip()) < 64, out.stdout  # MB of RSS growth for 500 MB of content


def test_huge_but_tiny_when_compressed_is_inline_and_still_streamed(blobs: BlobStore) -> None:
    zeros = bytes(MB)
    expected = blake3()
    ref = blobs.put_stream(generated(128 * MB, MB, lambda i: zeros, expected))
    assert (ref.location, ref.compression) == ("inline", "zstd") and ref.stored_size < 64 * 1024
    tracemalloc.start()
    try:
        with blobs.open(ref.hash) as reader:
            size = sum(len(chunk) for chunk in reader)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size == 128 * MB and peak < 8 * MB, peak


def test_stream_from_file_object_and_short_stream(blobs: BlobStore, tmp_path: Path) -> None:
    data = noise(3 * MB + 17)
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    with path.open("rb") as f:
        ref = blobs.put_stream(f)
    assert ref.hash == content_hash(data) and blobs.get(ref.hash) == data
    short = blobs.put_stream(io.BytesIO(b"tiny"))
    assert short == blobs.put(b"tiny") and short.location == "inline"
    assert blobs.put_stream(iter([])).hash == content_hash(b"")


def test_stream_of_compressible_content_lands_inline_when_small_enough(
        blobs: BlobStore) -> None:
    data = b"abc" * MB  # 3 MB raw, a few hundred bytes compressed
    ref = blobs.put_stream(io.BytesIO(data))
    assert (ref.location, ref.compression) == ("inline", "zstd")
    assert blobs.get(ref.hash) == data


def test_stream_dedups_with_put_and_leaves_no_chunks_behind(blobs: BlobStore,
                                                            store: Store) -> None:
    data = noise(5 * MB)  # over one batch: the stream's chunks are written ahead
    first = blobs.put(data)
    again = blobs.put_stream(io.BytesIO(data))
    assert again == first
    assert len(gens(store)) == 1 and len(chunk_keys(store)) == 10
    assert pending(store) == []


def test_failing_source_stores_nothing(blobs: BlobStore, store: Store) -> None:
    def chunks() -> Iterator[bytes]:
        yield noise(5 * MB)  # some of it written ahead already
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        blobs.put_stream(chunks())
    assert chunk_keys(store) == [] and pending(store) == []
    assert blobs.stats().blobs == 0


def test_reader_read_sizes(store: Store, blob_dir: Path) -> None:
    blobs = BlobStore(store, blob_dir, chunk_size=4096, inline_max=1024)
    data = noise(10_000)
    ref = blobs.put(data)
    with blobs.open(ref.hash) as reader:
        assert reader.size == 10_000
        assert reader.read(10) == data[:10]
        assert reader.read(5000) == data[10:5010]
        assert next(reader) == data[5010:8192]  # the rest of the current piece
        assert reader.read() == data[8192:]
        assert reader.read(1) == b""
    with pytest.raises(ValidationError, match="closed"):
        reader.read(1)


# -- integrity -----------------------------------------------------------------------------------


def flip(store: Store, key: str, offset: int) -> None:
    raw = bytearray(store.get(key) or b"")
    raw[offset] ^= 0x01
    store.put(key, bytes(raw))


def middle_chunk(store: Store) -> str:
    keys = chunk_keys(store)
    return keys[len(keys) // 2]


@pytest.mark.parametrize("codec", ["none", "zstd", "lz4"])
def test_corrupt_chunk_raises_integrity_error(store: Store, blob_dir: Path, codec: str) -> None:
    blobs = BlobStore(store, blob_dir, compression=codec, inline_max=1024)
    data = noise(300_000) if codec == "none" else text(3 * MB)
    ref = blobs.put(data)
    assert (ref.location, ref.compression) == ("chunks", codec)
    key = middle_chunk(store)
    flip(store, key, len(store.get(key) or b"") // 2)
    with pytest.raises(IntegrityError) as err:
        blobs.get(ref.hash)
    assert ref.hash in str(err.value) and "(chunks)" in str(err.value)
    with pytest.raises(IntegrityError, match=ref.hash), blobs.open(ref.hash) as reader:
        b"".join(reader)


def test_corrupt_large_blob_fails_before_the_last_chunk(store: Store, blob_dir: Path) -> None:
    blobs = BlobStore(store, blob_dir, chunk_size=64 * 1024, compression="none")
    data = noise(1_000_000)
    ref = blobs.put(data)
    flip(store, chunk_keys(store)[0], 10)
    seen: list[bytes] = []
    with pytest.raises(IntegrityError, match=ref.hash), blobs.open(ref.hash) as reader:
        seen.extend(reader)
    assert 0 < sum(map(len, seen)) < len(data)  # earlier pieces came, the last one never did
    with pytest.raises(IntegrityError, match=r"\(chunks\)"):
        blobs.open(ref.hash, verify_first=True)


def test_corrupt_or_truncated_compressed_stream(store: Store, blob_dir: Path) -> None:
    blobs = BlobStore(store, blob_dir, chunk_size=64 * 1024, inline_max=1024)
    data = text(2 * MB)
    ref = blobs.put_stream(io.BytesIO(data))
    assert (ref.location, ref.compression) == ("chunks", "zstd")
    (key,) = chunk_keys(store)
    whole = store.get(key) or b""
    for damaged in (whole[: len(whole) // 2], whole + b"trailing garbage"):
        store.put(key, damaged)
        with pytest.raises(IntegrityError, match=f"{ref.hash}: its chunks hold .* bytes, its "
                           "record says"):
            blobs.get(ref.hash)
        with pytest.raises(IntegrityError, match=ref.hash), blobs.open(ref.hash) as reader:
            reader.read()
    store.put(key, whole)
    flip(store, key, len(whole) // 2)
    with pytest.raises(IntegrityError, match=ref.hash):
        blobs.get(ref.hash)
    with pytest.raises(IntegrityError, match=ref.hash), blobs.open(ref.hash) as reader:
        for _ in reader:
            pass


def test_corrupt_inline_record_raises_integrity_error(blobs: BlobStore, store: Store) -> None:
    ref = blobs.put(b"precious words")
    key = f"blob/d/{ref.hash}"
    raw = bytearray(store.get(key) or b"")
    raw[-1] ^= 0x20
    store.put(key, bytes(raw))
    with pytest.raises(IntegrityError, match=ref.hash) as err:
        blobs.get(ref.hash)
    assert key in str(err.value)
    with pytest.raises(IntegrityError, match=key), blobs.open(ref.hash) as reader:
        reader.read()
    store.put(key, b"\x01\x07" + bytes(raw[2:]))  # unknown codec code
    with pytest.raises(IntegrityError, match="compression code"):
        blobs.get(ref.hash)


def test_missing_chunk_and_bad_meta_record(blobs: BlobStore, store: Store) -> None:
    ref = blobs.put(noise(100_000))
    (key,) = chunk_keys(store)
    store.delete(key)
    with pytest.raises(IntegrityError, match=f"blob {ref.hash}: a chunk key is missing"):
        blobs.get(ref.hash)
    with pytest.raises(IntegrityError, match=f"chunk key '{key}' is missing"), blobs.open(
            ref.hash) as reader:
        reader.read()
    store.put(f"blob/m/{ref.hash}", b"{not json")
    with pytest.raises(IntegrityError, match="malformed"):
        blobs.stat(ref.hash)
    assert blobs.gc(grace=0).corrupt_records == (ref.hash,)


# -- references ----------------------------------------------------------------------------------


def test_ref_ops_merge_into_the_callers_batch(blobs: BlobStore, store: Store) -> None:
    a, b = blobs.put(b"first"), blobs.put(b"second")
    change = blobs.ref_ops(a.hash, +1)
    assert store.batch([Put("artifact/1", b"meta"), *change.ops], expect=dict(change.expect))
    assert blobs.refcount(a.hash) == 1 and change.refcounts == {a.hash: 1}
    assert change.blobs == {a.hash: a}

    stale = blobs.ref_ops(a.hash, +1)
    blobs.incref(a.hash)  # someone else moved the count: the stale batch must not apply
    ops: list[Op] = [Put("artifact/2", b"meta"), *stale.ops]
    assert not store.batch(ops, expect=dict(stale.expect))
    assert store.get("artifact/2") is None and blobs.refcount(a.hash) == 2

    both = blobs.ref_ops_many({a.hash: -2, b.hash: +3})
    assert store.batch([Delete("artifact/1"), *both.ops], expect=dict(both.expect))
    assert (blobs.refcount(a.hash), blobs.refcount(b.hash)) == (0, 3)


@pytest.mark.parametrize("size", [100, 200_000, 5 * MB], ids=["inline", "chunks", "ahead"])
def test_staged_content_and_callers_records_commit_in_one_batch(
        blobs: BlobStore, store: Store, size: int) -> None:
    data = noise(size)
    with blobs.stage(data) as staged:
        refs = staged.ref_ops(1)
        assert not blobs.exists(staged.hash)  # nothing is visible before the batch
        assert store.batch([Put("artifact/a", staged.hash.encode()), *refs.ops],
                           expect={"artifact/a": None, **refs.expect})
    ref = refs.blobs[staged.hash]
    assert (ref.size, ref.location) == (size, "inline" if size < 1000 else "chunks")
    assert blobs.refcount(staged.hash) == 1 and blobs.get(staged.hash) == data
    assert len(gens(store)) == (size > 1000) and pending(store) == []

    with blobs.stage(data) as again:  # known content: only the count moves
        refs = again.ref_ops(1)
        assert [op.key for op in refs.ops] == [f"blob/m/{again.hash}"]
        assert store.batch(refs.ops, expect=dict(refs.expect))
    assert blobs.refcount(staged.hash) == 2
    assert len(gens(store)) == (size > 1000)


@pytest.mark.parametrize("size", [100, 200_000, 5 * MB], ids=["inline", "chunks", "ahead"])
def test_a_failed_callers_batch_leaves_nothing_behind(blobs: BlobStore, store: Store,
                                                      size: int) -> None:
    store.put("artifact/a", b"taken")
    with blobs.stage(noise(size)) as staged:
        refs = staged.ref_ops(1)
        assert not store.batch([Put("artifact/a", b"mine"), *refs.ops],
                               expect={"artifact/a": None, **refs.expect})
    assert not blobs.exists(staged.hash) and blobs.stats().blobs == 0
    assert chunk_keys(store) == [] and pending(store) == []  # chunks written ahead: close()
    with pytest.raises(ValidationError, match="closed"):
        staged.ref_ops(1)


@pytest.mark.parametrize("size", [400_000, 5 * MB], ids=["in-batch", "ahead"])
def test_two_writers_staging_the_same_new_content(blobs: BlobStore, store: Store,
                                                  size: int) -> None:
    data = noise(size)  # over the 256 KB probe: the stream goes through the chunk sink
    first, second = blobs.stage(data), blobs.stage_stream(io.BytesIO(data))
    with first, second:
        late = second.ref_ops(1)  # read: absent
        early = first.ref_ops(1)
        assert store.batch(early.ops, expect=dict(early.expect))
        assert not store.batch(late.ops, expect=dict(late.expect))  # created meanwhile
        retry = second.ref_ops(1)
        assert store.batch(retry.ops, expect=dict(retry.expect))
        assert retry.refcounts == {first.hash: 2}
    assert blobs.refcount(first.hash) == 2
    assert len(gens(store)) == 1 and pending(store) == []
    assert blobs.get(first.hash) == data


def test_stage_stream_of_a_large_file_in_one_batch(blobs: BlobStore, store: Store) -> None:
    data = text(3 * MB)
    with blobs.stage_stream(io.BytesIO(data)) as staged:
        refs = staged.ref_ops(1)
        assert store.batch([Put("artifact/big", b"x"), *refs.ops], expect=dict(refs.expect))
    assert refs.blobs[staged.hash].compression == "zstd"
    assert blobs.get(staged.hash) == data
    with pytest.raises(ValidationError) as err:
        blobs.stage(b"x").ref_ops(-1)
    assert err.value.argument == "delta"


def test_refcount_cannot_go_below_zero_or_reference_a_missing_blob(blobs: BlobStore) -> None:
    ref = blobs.put(b"x")
    with pytest.raises(ValidationError, match="below 0") as err:
        blobs.decref(ref.hash)
    assert err.value.argument == "delta"
    missing = content_hash(b"never stored")
    for call in (lambda: blobs.incref(missing), lambda: blobs.ref_ops(missing, 1),
                 lambda: blobs.refcount(missing), lambda: blobs.get(missing),
                 lambda: blobs.open(missing), lambda: blobs.stat(missing)):
        with pytest.raises(BlobNotFound, match=missing) as not_found:
            call()
        assert isinstance(not_found.value, ArtifactNotFound)
        assert not_found.value.blob_hash == missing
    assert not blobs.exists(missing)


def test_concurrent_threads_never_lose_a_count(blobs: BlobStore) -> None:
    hashes = [blobs.put(b"content %d" % i).hash for i in range(3)]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(60):
                h = hashes[(n + i) % 3]
                blobs.incref(h)
                blobs.incref(h)
                blobs.decref(h)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [blobs.refcount(h) for h in hashes] == [120, 120, 120]


def test_concurrent_processes_never_lose_a_count(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    with open_store(url) as store:
        blob_hash = BlobStore(store, tmp_path / "blobs").put(b"shared").hash
    script = textwrap.dedent(f"""
        from llmspell.storage import open_store
        from llmspell.artifacts import BlobStore
        with open_store("{url}") as store:
            blobs = BlobStore(store, "{tmp_path}/blobs")
            for _ in range(100):
                blobs.incref("{blob_hash}")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    with open_store(url) as store:
        assert BlobStore(store, tmp_path / "blobs").refcount(blob_hash) == 300


# -- gc ------------------------------------------------------------------------------------------


class SteppedStore(Store):
    """A real store that runs a callback right before or after one of its batches: a way to
    land another writer exactly inside gc's read-decide-delete window."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = inner.url
        self.before: Callable[[], object] | None = None
        self.after: Callable[[], object] | None = None
        self.after_get_many: Callable[[], object] | None = None

    def _batch(self, ops: list[Op], expect: dict[str, bytes | None]) -> bool:
        before, self.before = self.before, None
        if before is not None:
            before()
        applied = self.inner.batch(ops, expect=expect)
        after, self.after = self.after, None
        if after is not None:
            after()
        return applied

    def _get(self, key: str) -> bytes | None:
        return self.inner.get(key)

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        found = self.inner.get_many(keys)
        after, self.after_get_many = self.after_get_many, None
        if after is not None:
            after()
        return found

    def _put(self, key: str, value: bytes) -> None:
        self.inner.put(key, value)

    def _delete(self, key: str) -> bool:
        return self.inner.delete(key)

    def _scan(self, prefix: str, start_after: str | None, limit: int | None,
              reverse: bool) -> Iterator[tuple[str, bytes]]:
        return self.inner.scan(prefix, start_after=start_after, limit=limit, reverse=reverse)

    def _close(self) -> None:
        pass


@pytest.mark.parametrize("size", [100, 200_000], ids=["inline", "chunks"])
def test_gc_keeps_a_blob_that_is_put_again_while_it_decides(store: Store, blob_dir: Path,
                                                              size: int) -> None:
    stepped = SteppedStore(store)
    collector = BlobStore(stepped, blob_dir)
    writer = BlobStore(store, blob_dir)  # another thread or process
    data = noise(size)
    ref = writer.put(data)
    stepped.before = lambda: writer.put(data, ref=True)  # lands after gc read refs == 0
    report = collector.gc(grace=0)
    assert (report.blobs_removed, report.skipped_changed) == (0, 1)
    assert writer.refcount(ref.hash) == 1 and writer.get(ref.hash) == data


@pytest.mark.parametrize("size", [200_000, 40 * MB], ids=["with-record", "after-record"])
def test_gc_never_deletes_the_chunks_of_a_blob_revived_after_its_delete(
        store: Store, blob_dir: Path, size: int) -> None:
    stepped = SteppedStore(store)
    collector = BlobStore(stepped, blob_dir, compression="none")
    writer = BlobStore(store, blob_dir, compression="none")
    data = noise(size)
    ref = writer.put(data)
    (old_gen,) = gens(store)
    # gc's delete commits; before gc deletes the old chunks, the same content is put again
    stepped.after = lambda: writer.put(data, ref=True)
    report = collector.gc(grace=0)
    assert report.blobs_removed == 1
    (new_gen,) = gens(store)
    assert new_gen != old_gen and pending(store) == []
    assert writer.get(ref.hash) == data and writer.refcount(ref.hash) == 1


def test_gc_racing_puts_from_threads(blobs: BlobStore, store: Store, blob_dir: Path) -> None:
    contents = [noise(100 if i % 2 else 150_000, i) for i in range(4)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def user(n: int) -> None:
        try:
            for i in range(60):
                data = contents[i % 4]
                ref = blobs.put(data, ref=True)  # put + reference, atomic
                assert blobs.get(ref.hash) == data  # referenced: gc must leave it readable
                blobs.decref(ref.hash)
                with blobs.stage(data) as staged:  # content + reference + a record, one batch
                    while True:
                        refs = staged.ref_ops(1)
                        if store.batch([Put(f"artifact/{n}/{i}", b"x"), *refs.ops],
                                       expect=dict(refs.expect)):
                            break
                assert blobs.get(staged.hash) == data
                blobs.decref(staged.hash)
        except BaseException as exc:
            errors.append(exc)

    removed: list[int] = []

    def collector() -> None:
        gc_store = BlobStore(store, blob_dir)
        try:
            while not stop.is_set():
                removed.append(gc_store.gc(grace=0).blobs_removed)  # as aggressive as it gets
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(2)]
    gc_thread = threading.Thread(target=collector)
    gc_thread.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    gc_thread.join()
    assert errors == []
    assert sum(removed) > 0  # gc really did collect content the users then stored again
    blobs.gc(grace=0)
    assert blobs.stats().blobs == 0 and chunk_keys(store) == [] and pending(store) == []


def test_put_restarts_the_grace_period_of_an_unreferenced_blob(blobs: BlobStore,
                                                               store: Store) -> None:
    ref = blobs.put(b"kept while a caller is about to reference it")
    key = f"blob/m/{ref.hash}"
    meta = orjson.loads(store.get(key) or b"")
    store.put(key, orjson.dumps({**meta, "t": meta["t"] - 3_600_000}))  # an hour ago
    assert blobs.gc(grace=60, dry_run=True).blobs_removed == 1
    blobs.put(b"kept while a caller is about to reference it")
    report = blobs.gc(grace=60)
    assert (report.blobs_removed, report.kept_in_grace) == (0, 1)
    blobs.incref(ref.hash)


def age_pending(store: Store, seconds: float) -> None:
    """Make every pending record look last touched ``seconds`` ago."""
    for key, raw in store.scan("blob/p/"):
        fields = orjson.loads(raw)
        store.put(key, orjson.dumps({**fields, "t": fields["t"] - int(seconds * 1000)}))


def test_gc_removes_abandoned_writes_after_their_grace_only(blobs: BlobStore,
                                                            store: Store) -> None:
    kept = blobs.put(noise(5 * MB, 1))
    staged = blobs.stage_stream(io.BytesIO(noise(5 * MB, 2)))  # its writer dies here
    assert len(pending(store)) == 1 and len(gens(store)) == 2
    assert blobs.gc(grace=60).abandoned_writes_removed == 0  # fresh: its writer may be alive
    age_pending(store, 3600)
    dry = blobs.gc(grace=60, dry_run=True)
    assert (dry.abandoned_writes_removed, dry.bytes_freed) == (1, 5 * MB)
    assert len(gens(store)) == 2
    report = blobs.gc(grace=60)
    assert (report.abandoned_writes_removed, report.blobs_removed) == (1, 0)
    assert pending(store) == [] and len(gens(store)) == 1
    assert blobs.get(kept.hash) == noise(5 * MB, 1)
    with pytest.raises(StorageError, match="removed by gc before they were committed"):
        staged.ref_ops(1)  # a writer that comes back after gc took its chunks is told so
    staged.close()


def test_gc_leaves_a_write_whose_writer_touched_it_meanwhile(store: Store,
                                                            blob_dir: Path) -> None:
    stepped = SteppedStore(store)
    collector = BlobStore(stepped, blob_dir)
    writer = BlobStore(store, blob_dir)
    with writer.stage_stream(io.BytesIO(noise(5 * MB))):
        age_pending(store, 3600)
        (key,) = pending(store)
        touched = orjson.dumps({**orjson.loads(store.get(key) or b""), "t": time.time_ns()})
        # the writer writes its next batch right after gc read its record as stale
        stepped.before = lambda: store.put(key, touched)
        assert collector.gc(grace=60).abandoned_writes_removed == 0
        assert pending(store) == [key] and len(chunk_keys(store)) == 10
        assert store.get(key) == touched
    assert chunk_keys(store) == [] and pending(store) == []  # never committed: close() removes


def test_a_crash_between_gc_steps_is_finished_by_the_next_gc(store: Store,
                                                             blob_dir: Path) -> None:
    blobs = BlobStore(store, blob_dir, compression="none")
    ref = blobs.put(noise(40 * MB))  # more chunks than one delete batch with the record

    stepped = SteppedStore(store)
    crashing = BlobStore(stepped, blob_dir)

    def crash() -> None:
        raise KeyboardInterrupt  # after the record's delete committed, before its chunks went

    stepped.after = crash
    with pytest.raises(KeyboardInterrupt):
        crashing.gc(grace=0)
    assert not blobs.exists(ref.hash) and len(chunk_keys(store)) == 80
    assert blobs.gc(grace=60).abandoned_writes_removed == 1  # marked by gc: no grace needed
    assert chunk_keys(store) == [] and pending(store) == []


def test_stats(blobs: BlobStore) -> None:
    a = blobs.put(text(50_000), ref=True)
    b = blobs.put(noise(80_000))
    s = blobs.stats()
    assert (s.blobs, s.inline_blobs, s.chunked_blobs, s.file_blobs, s.unreferenced,
            s.references) == (2, 1, 1, 0, 1, 1)
    assert s.logical_bytes == 130_000
    assert s.stored_bytes == a.stored_size + b.stored_size < 130_000


# -- argument checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "argument"), [
    (lambda b: b.put("text"), "data"),
    (lambda b: b.put(b"x", ref=1), "ref"),
    (lambda b: b.put_stream(b"bytes"), "source"),
    (lambda b: b.stage("text"), "data"),
    (lambda b: b.stage_stream("text"), "source"),
    (lambda b: b.put_stream(42), "source"),
    (lambda b: b.put_stream([b"ok", "text"]), "source"),
    (lambda b: b.put_stream(io.StringIO("text")), "source"),
    (lambda b: b.get("ABC"), "blob_hash"),
    (lambda b: b.get("0" * 63), "blob_hash"),
    (lambda b: b.get(None), "blob_hash"),
    (lambda b: b.open("F" * 64), "blob_hash"),
    (lambda b: b.open("0" * 64, verify_first="yes"), "verify_first"),
    (lambda b: b.incref("x"), "blob_hash"),
    (lambda b: b.ref_ops("0" * 64, 0), "delta"),
    (lambda b: b.ref_ops("0" * 64, True), "delta"),
    (lambda b: b.ref_ops_many({}), "deltas"),
    (lambda b: b.ref_ops_many({"nope": 1}), "deltas"),
    (lambda b: b.gc(grace=-1), "grace"),
    (lambda b: b.gc(dry_run=None), "dry_run"),
    (lambda b: b.exists(b"0" * 64), "blob_hash"),
])
def test_bad_arguments_are_named(blobs: BlobStore, call: Callable[[BlobStore], object],
                                 argument: str) -> None:
    with pytest.raises(ValidationError) as err:
        call(blobs)
    assert err.value.argument == argument


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"store": "memory://"}, "store"),
    ({"blob_dir": ""}, "blob_dir"),
    ({"inline_max": -1}, "inline_max"),
    ({"compression": "gzip"}, "compression"),
    ({"compress_threshold": 1.5}, "compress_threshold"),
    ({"chunk_size": 10}, "chunk_size"),
    ({"grace": float("nan")}, "grace"),
])
def test_bad_constructor_arguments_are_named(store: Store, blob_dir: Path,
                                             kwargs: dict[str, object], argument: str) -> None:
    args: dict[str, object] = {"store": store, "blob_dir": blob_dir, **kwargs}
    with pytest.raises(ValidationError) as err:
        BlobStore(**args)  # type: ignore[arg-type]
    assert err.value.argument == argument
