"""The RocksDB backend (``pip install 'llmspell[rocksdb]'``), through ``rocksdict`` in raw mode.

RocksDB lets one process open a database directory at a time: it holds a lock on the
directory's ``LOCK`` file. A second open, from this process or another, raises
:class:`~llmspell.errors.StoreLocked`; use sqlite, lmdb or postgres when several processes
must share a store. Within the process, every operation runs under one lock, which makes
reading ``expect`` and applying a batch (one RocksDB ``WriteBatch``) atomic.

Durability ``normal`` writes each commit to RocksDB's write-ahead log without syncing it: a
crash of the process loses nothing, a power cut may lose the last writes. ``full`` syncs the
log on every write.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import rocksdict

from llmspell.config_schema import default
from llmspell.errors import StorageError, StoreLocked, ValidationError
from llmspell.storage._support import (
    Closed,
    KeyRange,
    check_durability,
    make_dir,
    prefix_end,
    raise_closed,
    take,
)
from llmspell.storage.base import Op, Put, Store

_OPEN: set[str] = set()  # real paths of the directories this process has open
_OPEN_LOCK = threading.Lock()


def _locked_message(path: str, holder: str) -> str:
    return (f"rocksdb store {path} is already open in {holder}; RocksDB allows one process "
            "(and one handle) per directory. Close the other handle, or use sqlite, lmdb or "
            "postgres for a store shared by several processes")


class RocksStore(Store):
    """A store in a RocksDB directory, held exclusively by this handle."""

    multi_process = False

    def __init__(self, path: str | os.PathLike[str], *,
                 durability: str = default("storage.durability"),
                 url: str = "") -> None:
        check_durability(durability)
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise ValidationError("path", "must be a non-empty directory path", got=path)
        self.path = os.fspath(path)
        self.url = url or f"rocksdb:///{self.path}"
        self.durability = durability
        self._lock = threading.Lock()
        self._real = os.path.realpath(self.path)
        with _OPEN_LOCK:
            if self._real in _OPEN:
                raise StoreLocked(_locked_message(self.path, "this process"))
            self._db: Any = self._open()
            _OPEN.add(self._real)
        write = rocksdict.WriteOptions()
        write.sync = durability == "full"
        self._db.set_write_options(write)

    def _open(self) -> Any:
        make_dir(self.path, f"rocksdb store {self.path}")
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        try:
            return rocksdict.Rdict(self.path, options)
        except Exception as exc:  # rocksdict raises plain Exception for RocksDB errors
            text = str(exc)
            if "LOCK" in text and ("lock" in text.lower()):
                raise StoreLocked(_locked_message(self.path, "another process")) from exc
            raise StorageError(f"rocksdb store {self.path}: cannot open: {text}") from exc

    def _failed(self, doing: str, exc: Exception) -> StorageError:
        return StorageError(f"rocksdb store {self.path}: could not {doing}: {exc}")

    def _get(self, key: str) -> bytes | None:
        with self._lock:
            try:
                value: bytes | None = self._db.get(key.encode())
            except StorageError:
                raise
            except Exception as exc:
                raise self._failed(f"get {key!r}", exc) from exc
        return value

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        with self._lock:
            try:
                values = self._db.get([key.encode() for key in keys])
            except StorageError:
                raise
            except Exception as exc:
                raise self._failed(f"get {len(keys)} keys", exc) from exc
        return {key: value for key, value in zip(keys, values, strict=True)
                if value is not None}

    def _put(self, key: str, value: bytes) -> None:
        with self._lock:
            try:
                self._db.put(key.encode(), value)
            except StorageError:
                raise
            except Exception as exc:
                raise self._failed(f"put {key!r}", exc) from exc

    def _delete(self, key: str) -> bool:
        raw = key.encode()
        with self._lock:
            try:
                if self._db.get(raw) is None:
                    return False
                self._db.delete(raw)
            except StorageError:
                raise
            except Exception as exc:
                raise self._failed(f"delete {key!r}", exc) from exc
        return True

    def _check_open(self) -> None:
        if isinstance(self._db, Closed):
            raise_closed()

    def _fetch(self, rng: KeyRange, want: int,
               reverse: bool) -> tuple[list[tuple[str, bytes]], bool]:
        with self._lock:
            try:
                iterator = self._db.iter()
                try:
                    return take(_walk(iterator, rng, reverse), want)
                finally:
                    del iterator  # before the lock is released: close() may follow
            except StorageError:
                raise
            except Exception as exc:
                raise self._failed("scan", exc) from exc

    def _count(self, prefix: str) -> int:
        rng = KeyRange(prefix or None, True, prefix_end(prefix) if prefix else None)
        with self._lock:
            try:
                iterator = self._db.iter()
                try:
                    return sum(1 for _ in _walk(iterator, rng, False, values=False))
                finally:
                    del iterator
            except StorageError:
                raise
            except Exception as exc:
                raise self._failed(f"count {prefix!r}", exc) from exc

    def _batch(self, ops: list[Op], expect: dict[str, bytes | None]) -> bool:
        with self._lock:
            try:
                for key, wanted in expect.items():
                    if self._db.get(key.encode()) != wanted:
                        return False
                batch = rocksdict.WriteBatch(raw_mode=True)
                for op in ops:
                    if isinstance(op, Put):
                        batch.put(op.key.encode(), op.value)
                    else:
                        batch.delete(op.key.encode())
                self._db.write(batch)
            except StorageError:
                raise
            except Exception as exc:
                raise self._failed(f"apply a batch of {len(ops)} ops", exc) from exc
        return True

    def _close(self) -> None:
        with self._lock:
            db, self._db = self._db, Closed()
            if isinstance(db, Closed):
                return
            try:
                db.close()
            finally:
                with _OPEN_LOCK:
                    _OPEN.discard(self._real)


def _walk(iterator: Any, rng: KeyRange, reverse: bool,
          values: bool = True) -> Iterator[tuple[str, bytes]]:
    """Pairs of ``rng`` in scan order from a RocksDB iterator (values empty if not ``values``).

    An iterator also stops being valid on an error (a block that fails its checksum):
    ``status()`` raises it, so damage ends a scan with an error, never as a short scan."""
    low = None if rng.low is None else rng.low.encode()
    high = None if rng.high is None else rng.high.encode()
    if not reverse:
        if low is None:
            iterator.seek_to_first()
        else:
            iterator.seek(low)
            if not rng.low_inclusive and iterator.valid() and iterator.key() == low:
                iterator.next()
        while iterator.valid():
            key = iterator.key()
            if high is not None and key >= high:
                return
            yield key.decode(), iterator.value() if values else b""
            iterator.next()
        iterator.status()
    else:
        if high is None:
            iterator.seek_to_last()
        else:
            iterator.seek_for_prev(high)
            if iterator.valid() and iterator.key() == high:
                iterator.prev()
        while iterator.valid():
            key = iterator.key()
            if low is not None and (key < low or (key == low and not rng.low_inclusive)):
                return
            yield key.decode(), iterator.value() if values else b""
            iterator.prev()
        iterator.status()
