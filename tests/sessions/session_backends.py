"""Where the session tests' stores live, and a store wrapper that counts what list() reads.

Backends: memory, sqlite, lmdb and postgres (the multi-process ones plus memory). The places,
skip reasons and clean-up come from :mod:`llmspell.testing`. (Not in conftest.py, so test
modules can import it by a name no other test directory uses.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell.sessions import ManualClock, SessionManager, SessionSettings
from llmspell.storage import Store
from llmspell.storage.base import Op
from llmspell.testing import StoreLocation, backend_unavailable, fresh_store_url

BACKENDS = ["memory", "sqlite", "lmdb", "postgres"]


class Backend(StoreLocation):
    """One test's store location; ``manager()`` opens the store (again) and a manager on it."""

    def manager(self, *, clock: ManualClock | None = None, **settings: Any) -> SessionManager:
        return SessionManager(self.open(), settings=SessionSettings(**settings),
                              clock=clock or ManualClock())


def make_backend(name: str, tmp_path: Path) -> Backend:
    """A Backend for ``name`` under ``tmp_path``, or a pytest skip saying why it cannot run."""
    if reason := backend_unavailable(name):
        pytest.skip(reason)
    return Backend(name, fresh_store_url(name, tmp_path, label="sessions"))


class CountingStore(Store):
    """A store that passes everything to ``inner`` and counts what scans yield.

    ``scanned`` is the number of keys all scans yielded, ``scans`` the prefixes scanned; list
    tests use it to show a filtered list does not walk every session.
    """

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = inner.url
        self.multi_process = inner.multi_process
        self.scanned = 0
        self.scans: list[str] = []
        self.fail_batches = False

    def reset(self) -> None:
        self.scanned = 0
        self.scans = []

    def _get(self, key: str) -> bytes | None:
        return self.inner.get(key)

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        return self.inner.get_many(keys)

    def _put(self, key: str, value: bytes) -> None:
        self.inner.put(key, value)

    def _delete(self, key: str) -> bool:
        return self.inner.delete(key)

    def _scan(self, prefix: str, start_after: str | None, limit: int | None,
              reverse: bool) -> Iterator[tuple[str, bytes]]:
        self.scans.append(prefix)
        for pair in self.inner.scan(prefix, start_after=start_after, limit=limit,
                                    reverse=reverse):
            self.scanned += 1
            yield pair

    def _count(self, prefix: str) -> int:
        return self.inner.count(prefix)

    def _batch(self, ops: list[Op], expect: dict[str, bytes | None]) -> bool:
        if self.fail_batches:
            from llmspell.errors import StorageError

            raise StorageError("the disk is full (a test made this batch fail)")
        return self.inner.batch(ops, expect=expect)

    def _close(self) -> None:
        self.inner.close()
