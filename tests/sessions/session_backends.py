"""Where the session tests' stores live, and a store wrapper that counts what list() reads.

Backends: memory, sqlite, lmdb and postgres (the multi-process ones plus memory). A backend
whose package is missing, or (postgres) whose server does not answer at
``LLMSPELL_TEST_POSTGRES`` (default ``postgresql://127.0.0.1:5432/test``), is skipped with the
reason. (Not in conftest.py, so test modules can import it by a name no other test directory
uses.)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llmspell.sessions import ManualClock, SessionManager, SessionSettings
from llmspell.storage import Store, backend_status, open_store
from llmspell.storage.base import Op

POSTGRES_URL = os.environ.get("LLMSPELL_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
BACKENDS = ["memory", "sqlite", "lmdb", "postgres"]

_postgres: list[str | None] = []


def postgres_unreachable() -> str | None:
    """Why the test server cannot be used, or None when it can (asked once per run)."""
    if not _postgres:
        status = backend_status()["postgres"]
        if status != "available":
            _postgres.append(status)
        else:
            import psycopg

            try:
                psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
                _postgres.append(None)
            except psycopg.Error as exc:
                _postgres.append(f"no PostgreSQL at {POSTGRES_URL} (set LLMSPELL_TEST_POSTGRES)"
                                 f": {' '.join(str(exc).split())}")
    return _postgres[0]


@dataclass
class Backend:
    """One test's store location; ``manager()`` opens the store (again) and a manager on it."""

    name: str
    url: str
    opened: list[Store] = field(default_factory=list)

    def open(self) -> Store:
        store = open_store(self.url)
        self.opened.append(store)
        return store

    def manager(self, *, clock: ManualClock | None = None, **settings: Any) -> SessionManager:
        return SessionManager(self.open(), settings=SessionSettings(**settings),
                              clock=clock or ManualClock())

    def close(self) -> None:
        for store in self.opened:
            store.close()
        if self.name == "postgres":
            import psycopg

            table = self.url.rsplit("table=", 1)[1]
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP TABLE IF EXISTS "{table}"')


def make_backend(name: str, tmp_path: Path) -> Backend:
    """A Backend for ``name`` under ``tmp_path``, or a pytest skip saying why it cannot run."""
    if name == "postgres":
        reason = postgres_unreachable()
        if reason:
            pytest.skip(reason)
        sep = "&" if "?" in POSTGRES_URL else "?"
        return Backend(name, f"{POSTGRES_URL}{sep}table=llmspell_sess_{uuid.uuid4().hex[:16]}")
    status = backend_status()[name]
    if status != "available":
        pytest.skip(status)
    if name == "memory":
        return Backend(name, f"memory://sessions-{uuid.uuid4().hex}")
    if name == "sqlite":
        return Backend(name, f"sqlite:///{tmp_path}/store.db")
    return Backend(name, f"{name}:///{tmp_path}/{name}")


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
