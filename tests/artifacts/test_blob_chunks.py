"""Artifact content over the inline limit lives in the store (chunk keys) on every backend.

Bug 10: on PostgreSQL, content over 64 KB was written to files under the data directory, so
a second machine sharing the database could not read it. These tests run on all five
backends (a backend that cannot run here is skipped with the reason): content stored by one
runtime reads from another with a different data directory; a store written before chunk
keys (blob files) still reads, and ``migrate_files`` moves its files into the store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from backends import Backend
from llmspell.artifacts.blobs.records import CHUNK_BYTES
from llmspell.cli.main import cli
from llmspell.errors import IntegrityError
from llmspell.runtime import Runtime
from llmspell.storage import Delete, Put

KB = 1024
MB = 1024 * KB
#: Backends on which two runtimes of one process may have the same store open at once.
SHARED_OPEN = ("memory", "sqlite", "lmdb", "postgres")


@pytest.fixture
def store_url(backend: Backend) -> str:
    """A fresh store on each backend (the root conftest's ``backend``)."""
    return backend.url


def runtime(url: str, data_dir: Path) -> Runtime:
    return Runtime.memory(storage__url=url, runtime__data_dir=str(data_dir))


def content(size: int) -> bytes:
    """Incompressible bytes (so the stored form is as large as the content)."""
    import random

    return random.Random(size).randbytes(size)


def test_content_stored_by_one_runtime_reads_from_another(store_url: str,
                                                          tmp_path: Path) -> None:
    data = content(200 * KB)
    first = runtime(store_url, tmp_path / "machine-a")
    session = first.sessions.create("shared")
    art = first.artifacts.store(session, "report.bin", data)
    assert first.artifacts.blobs.stat(art.content_hash).location == "chunks"
    shared = store_url.split("://")[0] in SHARED_OPEN
    if not shared:  # rocksdb: one process at a time
        first.close()
    second = runtime(store_url, tmp_path / "machine-b")  # another machine: its own data dir
    try:
        shutil.rmtree(tmp_path / "machine-a", ignore_errors=True)
        assert second.artifacts.read(art.id) == data
        with second.artifacts.open(art.id) as reader:
            assert b"".join(reader) == data
    finally:
        second.close()
        if shared:
            first.close()
    assert not (tmp_path / "machine-b" / "blobs").exists()


def test_a_streamed_artifact_is_chunks_in_bounded_batches(store_url: str,
                                                          tmp_path: Path) -> None:
    data = content(5 * MB + 17)  # over one batch: the chunks are written ahead
    with runtime(store_url, tmp_path / "data") as rt:
        session = rt.sessions.create("s")
        art = rt.artifacts.store_stream(session, "big.bin", iter([data[:MB], data[MB:]]))
        chunks = dict(rt.store.scan("blob/c/"))
        assert len(chunks) == 11 and max(map(len, chunks.values())) == CHUNK_BYTES
        assert list(rt.store.scan("blob/p/")) == []  # the pending record went with the commit
        assert rt.artifacts.read(art.id) == data
        rt.artifacts.delete(art)
        assert rt.artifacts.gc(grace=0).blobs.blobs_removed == 1
        assert list(rt.store.scan("blob/")) == []


def make_file_blob(rt: Runtime, blob_hash: str) -> Path:
    """Turn a chunked blob into the layout of a store written before chunk keys: a file under
    the blob directory named by its record. Returns the file."""
    key = f"blob/m/{blob_hash}"
    meta = orjson.loads(rt.store.get(key) or b"")
    gen = meta.pop("gen")
    keys = [f"blob/c/{gen}/{i:08d}" for i in range(meta.pop("chunks"))]
    payload = b"".join(rt.store.get(k) or b"" for k in keys)
    name = f"{blob_hash}.00000000000000aa"
    path = rt.config.session.blob_dir / blob_hash[:2] / blob_hash[2:4] / name
    path.parent.mkdir(parents=True)
    path.write_bytes(payload)
    rt.store.batch([Put(key, orjson.dumps({**meta, "loc": "file", "file": name})),
                    *(Delete(k) for k in keys)])
    return path


def test_a_store_with_blob_files_still_reads_and_migrates(store_url: str,
                                                          tmp_path: Path) -> None:
    data, other = content(300 * KB), content(100 * KB)
    with runtime(store_url, tmp_path / "data") as rt:
        session = rt.sessions.create("old")
        art = rt.artifacts.store(session, "old.bin", data)
        gone = rt.artifacts.store(session, "gone.bin", other)
        path = make_file_blob(rt, art.content_hash)
        gone_path = make_file_blob(rt, gone.content_hash)
        assert list(rt.store.scan("blob/c/")) == []
        blobs = rt.artifacts.blobs
        assert blobs.stats().file_blobs == 2
        assert rt.artifacts.read(art.id) == data  # an older store still reads
        with rt.artifacts.open(art.id, verify_first=True) as reader:
            assert reader.read() == data

        rt.artifacts.delete(gone)  # gc unlinks the file of a collected file blob
        report = rt.artifacts.gc(grace=0).blobs
        assert (report.blobs_removed, report.files_removed) == (1, 1)
        assert not gone_path.exists()

        assert blobs.migrate_files() == 1
        assert not path.exists() and blobs.stats().file_blobs == 0
        assert blobs.stat(art.content_hash).location == "chunks"
        assert blobs.refcount(art.content_hash) == 1
        assert rt.artifacts.read(art.id) == data
        assert blobs.migrate_files() == 0  # a second run has nothing to do


def test_migrating_a_damaged_blob_file_changes_nothing(tmp_path: Path) -> None:
    with runtime("memory://", tmp_path / "data") as rt:
        art = rt.artifacts.store(rt.sessions.create("s"), "a.bin", content(100 * KB))
        path = make_file_blob(rt, art.content_hash)
        raw = bytearray(path.read_bytes())
        raw[50_000] ^= 1
        path.write_bytes(bytes(raw))
        with pytest.raises(IntegrityError, match=f"blob {art.content_hash}.*content hash"):
            rt.artifacts.blobs.migrate_files()
        assert path.exists() and rt.artifacts.blobs.stats().file_blobs == 1
        assert list(rt.store.scan("blob/c/")) == [] and list(rt.store.scan("blob/p/")) == []
        path.unlink()
        with pytest.raises(IntegrityError, match=f"blob {art.content_hash}: file .* missing"):
            rt.artifacts.read(art.id)


def test_a_file_blob_without_a_blob_directory_names_what_is_missing(tmp_path: Path) -> None:
    from llmspell.artifacts import BlobStore

    with runtime("memory://", tmp_path / "data") as rt:
        art = rt.artifacts.store(rt.sessions.create("s"), "a.bin", content(100 * KB))
        make_file_blob(rt, art.content_hash)
        with pytest.raises(IntegrityError, match="no blob directory was given"):
            BlobStore(rt.store).get(art.content_hash)


def test_cli_migrate_blobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = content(100 * KB)
    with Runtime.from_config() as rt:
        art = rt.artifacts.store(rt.sessions.create("s"), "a.bin", data)
        path = make_file_blob(rt, art.content_hash)
    result = CliRunner().invoke(cli, ["artifact", "migrate-blobs"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "moved 1 blob files into the store" in result.output
    assert not path.exists()
    with Runtime.from_config() as rt:
        assert rt.artifacts.read(art.id) == data
