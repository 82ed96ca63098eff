"""The blob layer: put 1 KB / 100 KB and get 1 KB on sqlite, next to a naive file store.

``BlobStore`` on a sqlite store (default durability) puts content that is
new on every call (the hash must be computed, the record created in one batch), content it
already holds (a dedup hit: hash + one lookup), and reads 1 KB back with its hash verified.
The 100 KB puts come in two kinds: log-like text, which compresses to well under the 64 KB
inline limit and is one record, and random bytes, which cannot be compressed and become
chunk keys (in the same batch as the record). A 5 MB stream is written ahead in bounded
batches of chunk keys, then committed by its record.

The peer is what a naive file artifact store does with the same bytes: name the file by its
SHA-256, write it (no temp file, no fsync), and on read hash it again. The DESIGN.md 17 budgets
are for the full artifact store (metadata included); the blob layer should sit well under them.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness import Bench
from payloads import log_text, unique

KB = 1024
#: DESIGN.md section 17: artifact store 1 KB <= 50 us, 100 KB <= 500 us, load 1 KB <= 25 us
BUDGET_PUT_1K, BUDGET_PUT_100K, BUDGET_GET_1K = 50.0, 500.0, 25.0


def naive_put(root: Path) -> Callable[[bytes], str]:
    def put(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        (root / digest).write_bytes(data)
        return digest

    return put


def naive_get(root: Path) -> Callable[[str], bytes]:
    def get(digest: str) -> bytes:
        data = (root / digest).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise ValueError("corrupt")
        return data

    return get


def run(bench: Bench) -> None:
    from llmspell.artifacts import BlobStore
    from llmspell.storage import Put, open_store

    tmp = Path(tempfile.mkdtemp(prefix="bench-blobs-"))
    try:
        store = open_store(f"sqlite:///{tmp}/blobs.db")
        blobs = BlobStore(store)
        plain = tmp / "plain"
        plain.mkdir()
        put_plain, get_plain = naive_put(plain), naive_get(plain)

        one_k = os.urandom(KB)
        text_100k = log_text(100 * KB)
        random_100k = os.urandom(100 * KB)

        # the floor under a new 1 KB blob: the store's own lookup + create batch, same sizes
        meta = b'{"size":1024,"stored":1024,"codec":"none","loc":"inline","file":null,...}'
        floor_keys = (os.urandom(32).hex() for _ in itertools.count())  # random, like hashes

        def floor() -> None:
            key = next(floor_keys)
            store.get("m/" + key)
            store.batch([Put("d/" + key, one_k), Put("m/" + key, meta)],
                        expect={"m/" + key: None})

        bench.measure("sqlite store alone: get + 2-put batch", floor,
                      note="the floor under a new 1 KB blob")
        new_1k = unique(one_k)
        bench.measure("put 1 KB new, with its reference",
                      lambda: blobs.put(next(new_1k), ref=True), budget_us=BUDGET_PUT_1K,
                      peer="sqlite store alone: get + 2-put batch",
                      note="hash + lookup + one create batch")
        shared_1k = blobs.put(one_k, ref=True)
        bench.measure("put 1 KB known, no new reference", lambda: blobs.put(one_k),
                      budget_us=BUDGET_PUT_1K, peer="plain file + sha256: put 1 KB",
                      note="dedup: hash + lookup, nothing written")
        bench.measure("put 1 KB known, with a reference", lambda: blobs.put(one_k, ref=True),
                      budget_us=BUDGET_PUT_1K, peer="plain file + sha256: put 1 KB",
                      note="dedup: hash + lookup + one count batch")
        plain_1k = unique(one_k)
        bench.measure("plain file + sha256: put 1 KB", lambda: put_plain(next(plain_1k)))

        new_text = unique(text_100k)
        bench.measure("put 100 KB text new (zstd, inline)",
                      lambda: blobs.put(next(new_text), ref=True), number=300,
                      budget_us=BUDGET_PUT_100K, peer="plain file + sha256: put 100 KB")
        new_random = unique(random_100k)
        bench.measure("put 100 KB random new (chunks)",
                      lambda: blobs.put(next(new_random), ref=True), number=100,
                      budget_us=BUDGET_PUT_100K, peer="plain file + sha256: put 100 KB")
        new_5m = unique(os.urandom(5 * 1024 * KB))
        bench.measure("put_stream 5 MB random new (chunks written ahead)",
                      lambda: blobs.put_stream(iter([next(new_5m)]), ref=True), number=20)
        plain_100k = unique(random_100k)
        bench.measure("plain file + sha256: put 100 KB", lambda: put_plain(next(plain_100k)),
                      number=300)

        bench.measure("get 1 KB (verified)", lambda: blobs.get(shared_1k.hash),
                      budget_us=BUDGET_GET_1K, peer="plain file + sha256: get 1 KB")
        data_key = f"blob/d/{shared_1k.hash}"
        bench.measure("sqlite store alone: get 1 KB", lambda: store.get(data_key),
                      note="the floor under a 1 KB blob get")
        digest = put_plain(one_k)
        bench.measure("plain file + sha256: get 1 KB", lambda: get_plain(digest))
        text_ref = blobs.put(text_100k)
        bench.measure("get 100 KB text (inline, zstd)", lambda: blobs.get(text_ref.hash),
                      number=300, peer="plain file + sha256: get 100 KB")
        file_ref = blobs.put(random_100k)
        bench.measure("get 100 KB random (chunks)", lambda: blobs.get(file_ref.hash),
                      number=300, peer="plain file + sha256: get 100 KB")
        digest_100k = put_plain(random_100k)
        bench.measure("plain file + sha256: get 100 KB", lambda: get_plain(digest_100k),
                      number=300)

        with open_store("memory://") as memory:
            in_memory = BlobStore(memory)
            mem_1k = unique(one_k)
            bench.measure("memory store: put 1 KB, new content",
                          lambda: in_memory.put(next(mem_1k)),
                          note="the blob layer's own cost, without sqlite's commit")
            mem_ref = in_memory.put(one_k)
            bench.measure("memory store: get 1 KB", lambda: in_memory.get(mem_ref.hash))
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
