"""The LMDB backend (``pip install 'llmspell[lmdb]'``): a memory-mapped B+tree in a directory.

Reads run in their own read transaction and never block; LMDB lets one writer at a time in,
across threads and processes, through the lock file beside the data file. A batch reads
``expect`` and applies its ops inside one write transaction, so it is atomic across processes.

Durability ``normal`` opens the environment with ``metasync=False``: each commit flushes the
data pages (one ``fdatasync``) but not the meta page, so a power cut may undo the last commit
but never corrupts the file. ``full`` flushes both. (LMDB's ``sync=False`` is not used: on
filesystems that reorder writes a power cut could then corrupt the database.)

LMDB forbids opening one environment twice in a process, so handles on the same directory in
one process share one environment, closed when the last handle closes. The map size (the
largest the file may grow) is reserved address space only; the file stays sparse. It can be
set with ``lmdb:///dir?map_size=BYTES``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import lmdb

from llmspell.config_schema import default
from llmspell.errors import StorageError, ValidationError
from llmspell.storage._support import (
    Closed,
    KeyRange,
    check_durability,
    make_dir,
    prefix_end,
    raise_closed,
    take,
)
from llmspell.storage.base import Chunk, Op, Put, Store

#: 1 TiB of address space: far more than a store should need, and costs nothing until used.
DEFAULT_MAP_SIZE = 1 << 40


class _Env:
    """One open LMDB environment and the handles that use it."""

    def __init__(self, env: Any, durability: str, key: tuple[int, str]) -> None:
        self.env = env
        self.durability = durability
        self.key = key
        self.users = 0
        self.main = env.open_db()  # the unnamed database, for its entry count
        # Threads of this process queue here; only the one holding this lock then waits on
        # LMDB's cross-process writer mutex, so writers in one process never contend there.
        self.write_lock = threading.Lock()


_ENVS: dict[tuple[int, str], _Env] = {}
_ENVS_LOCK = threading.Lock()


def _acquire(path: str, durability: str, map_size: int) -> _Env:
    key = (os.getpid(), os.path.realpath(path))  # a forked child must not reuse the parent's
    with _ENVS_LOCK:
        shared = _ENVS.get(key)
        if shared is None:
            make_dir(path, f"lmdb store {path}")
            try:
                env = lmdb.open(path, map_size=map_size, subdir=True, max_dbs=0,
                                metasync=durability == "full", sync=True, readahead=False,
                                max_spare_txns=4)
            except lmdb.Error as exc:
                raise StorageError(f"lmdb store {path}: cannot open: {exc}") from exc
            try:
                env.reader_check()  # free reader slots left by processes that died
                shared = _ENVS[key] = _Env(env, durability, key)
            except lmdb.Error as exc:
                env.close()
                raise StorageError(f"lmdb store {path}: cannot open: {exc}") from exc
        elif shared.durability != durability:
            raise StorageError(
                f"lmdb store {path}: already open in this process with durability "
                f"{shared.durability!r}; cannot open it again with {durability!r}")
        shared.users += 1
        return shared


def _release(shared: _Env) -> None:
    with _ENVS_LOCK:
        shared.users -= 1
        if shared.users == 0:
            _ENVS.pop(shared.key, None)
            with shared.write_lock:
                shared.env.close()


class LmdbStore(Store):
    """A store in an LMDB environment directory."""

    multi_process = True

    def __init__(self, path: str | os.PathLike[str], *,
                 durability: str = default("storage.durability"),
                 map_size: int = DEFAULT_MAP_SIZE, url: str = "") -> None:
        check_durability(durability)
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise ValidationError("path", "must be a non-empty directory path", got=path)
        if isinstance(map_size, bool) or not isinstance(map_size, int) or map_size < 1 << 20:
            raise ValidationError("map_size", "must be an int of at least 1 MiB (1048576)",
                                  got=map_size)
        self.path = os.fspath(path)
        self.url = url or f"lmdb:///{self.path}"
        self.durability = durability
        self._shared: _Env | None = _acquire(self.path, durability, map_size)
        self._env: Any = self._shared.env
        self._write_lock = self._shared.write_lock
        self._main = self._shared.main

    def _failed(self, doing: str, exc: lmdb.Error) -> StorageError:
        if isinstance(exc, lmdb.MapFullError):
            return StorageError(f"lmdb store {self.path}: could not {doing}: the map is full; "
                                "reopen with a larger lmdb:///dir?map_size=BYTES")
        return StorageError(f"lmdb store {self.path}: could not {doing}: {exc}")

    def _get(self, key: str) -> bytes | None:
        try:
            with self._env.begin() as txn:
                value: bytes | None = txn.get(key.encode())
                return value
        except lmdb.Error as exc:
            raise self._failed(f"get {key!r}", exc) from exc

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        found = {}
        try:
            with self._env.begin() as txn:
                for key in keys:
                    value = txn.get(key.encode())
                    if value is not None:
                        found[key] = value
        except lmdb.Error as exc:
            raise self._failed(f"get {len(keys)} keys", exc) from exc
        return found

    def _put(self, key: str, value: bytes) -> None:
        with self._write_lock:
            try:
                with self._env.begin(write=True) as txn:
                    txn.put(key.encode(), value)
            except lmdb.Error as exc:
                raise self._failed(f"put {key!r}", exc) from exc

    def _delete(self, key: str) -> bool:
        with self._write_lock:
            try:
                with self._env.begin(write=True) as txn:
                    return bool(txn.delete(key.encode()))
            except lmdb.Error as exc:
                raise self._failed(f"delete {key!r}", exc) from exc

    def _check_open(self) -> None:
        if isinstance(self._env, Closed):
            raise_closed()

    def _fetch(self, rng: KeyRange, want: int,
               reverse: bool) -> tuple[list[tuple[str, bytes]], bool]:
        try:
            with self._env.begin() as txn:
                return take(_walk(txn.cursor(), rng, reverse), want)
        except lmdb.Error as exc:
            raise self._failed("scan", exc) from exc

    def _count(self, prefix: str) -> int:
        try:
            with self._env.begin() as txn:
                if not prefix:
                    return int(txn.stat(self._main)["entries"])
                end = prefix_end(prefix)
                cursor = txn.cursor()
                return sum(1 for _ in _walk(cursor, KeyRange(prefix, True, end), False,
                                            values=False))
        except lmdb.Error as exc:
            raise self._failed(f"count {prefix!r}", exc) from exc

    def _batch(self, ops: list[Op], expect: dict[str, bytes | None]) -> bool:
        with self._write_lock:
            try:
                txn = self._env.begin(write=True)
                try:
                    for key, wanted in expect.items():
                        if txn.get(key.encode()) != wanted:
                            txn.abort()
                            return False
                    _apply(txn, ops)
                except BaseException:
                    txn.abort()
                    raise
                txn.commit()
            except lmdb.Error as exc:
                raise self._failed(f"apply a batch of {len(ops)} ops", exc) from exc
        return True

    def _batch_stream(self, chunks: Iterator[Chunk]) -> bool:
        """One write transaction around every chunk, each applied as it is pulled (LMDB keeps
        the transaction's dirty pages in memory until the commit, spilling past about 512 MB:
        memory is the stream's size up to that). Other writers (threads and processes) wait
        for it; readers do not, and see the store as it was until the commit, the iterator's
        reads included."""
        applied = 0
        with self._write_lock:
            try:
                txn = self._env.begin(write=True)
                try:
                    for ops, expect in chunks:
                        for key, wanted in expect.items():
                            if txn.get(key.encode()) != wanted:
                                txn.abort()
                                return False
                        _apply(txn, ops)
                        applied += len(ops)
                except BaseException:
                    txn.abort()
                    raise
                txn.commit()
            except lmdb.Error as exc:
                raise self._failed(f"apply a stream of batches (after {applied} ops)",
                                   exc) from exc
        return True

    def _close(self) -> None:
        shared, self._shared = self._shared, None
        self._env = Closed()
        if shared is not None:
            _release(shared)


def _apply(txn: Any, ops: list[Op]) -> None:
    for op in ops:
        if isinstance(op, Put):
            txn.put(op.key.encode(), op.value)
        else:
            txn.delete(op.key.encode())


def _walk(cursor: Any, rng: KeyRange, reverse: bool,
          values: bool = True) -> Iterator[tuple[str, bytes]]:
    """Pairs of ``rng`` in scan order from an LMDB cursor (values empty if not ``values``)."""
    low = None if rng.low is None else rng.low.encode()
    high = None if rng.high is None else rng.high.encode()
    if not reverse:
        ok = cursor.set_range(low) if low is not None else cursor.first()
        if ok and low is not None and not rng.low_inclusive and cursor.key() == low:
            ok = cursor.next()
        while ok:
            key = cursor.key()
            if high is not None and key >= high:
                return
            yield key.decode(), cursor.value() if values else b""
            ok = cursor.next()
    else:
        if high is not None:
            ok = cursor.prev() if cursor.set_range(high) else cursor.last()
        else:
            ok = cursor.last()
        while ok:
            key = cursor.key()
            if low is not None and (key < low or (key == low and not rng.low_inclusive)):
                return
            yield key.decode(), cursor.value() if values else b""
            ok = cursor.prev()
