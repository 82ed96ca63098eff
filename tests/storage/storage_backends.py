"""Where the storage tests' stores live, one place per test, for every backend.

A backend whose package is missing, or (postgres) whose server does not answer at
``LLMSPELL_TEST_POSTGRES`` (default ``postgresql://127.0.0.1:5432/test``), is skipped with the
reason. Each test gets its own location: a temp dir, a fresh memory name, or a fresh postgres
table that is dropped after. (Not in conftest.py, so test modules can import it by a name
that no other test directory uses.)
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llmspell.storage import Store, backend_status, open_store
from llmspell.storage.memory import forget

POSTGRES_URL = os.environ.get("LLMSPELL_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
BACKENDS = ["memory", "sqlite", "lmdb", "rocksdb", "postgres"]
EMBEDDED = ["memory", "sqlite", "lmdb", "rocksdb"]

_postgres_reason: list[str | None] = []  # computed once per run


def postgres_unreachable() -> str | None:
    """Why the test server cannot be used, or None when it can."""
    if not _postgres_reason:
        status = backend_status()["postgres"]
        if status != "available":
            _postgres_reason.append(status)
        else:
            import psycopg

            try:
                psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
                _postgres_reason.append(None)
            except psycopg.Error as exc:
                why = " ".join(str(exc).split())
                _postgres_reason.append(f"no PostgreSQL at {POSTGRES_URL} "
                                        f"(set LLMSPELL_TEST_POSTGRES): {why}")
    return _postgres_reason[0]


def drop_postgres_table(table: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{table}"')


@dataclass
class Backend:
    """Where one test's store lives; ``open()`` opens it (again), the same place each time."""

    name: str
    url: str
    persistent: bool
    opened: list[Store] = field(default_factory=list)

    def open(self, durability: str = "normal") -> Store:
        store = open_store(self.url, durability=durability)
        self.opened.append(store)
        return store

    @property
    def multi_process(self) -> bool:
        return self.name in ("sqlite", "lmdb", "postgres")


def make_backend(name: str, tmp_path: Path) -> Backend:
    """A Backend for ``name`` in ``tmp_path``, or a pytest skip saying why it cannot run."""
    if name == "postgres":
        reason = postgres_unreachable()
        if reason:
            pytest.skip(reason)
        table = f"llmspell_test_{uuid.uuid4().hex[:16]}"
        sep = "&" if "?" in POSTGRES_URL else "?"
        return Backend(name, f"{POSTGRES_URL}{sep}table={table}", True)
    status = backend_status()[name]
    if status != "available":
        pytest.skip(status)
    if name == "memory":
        # A named memory store keeps its contents across close/reopen, like a file would.
        return Backend(name, f"memory://test-{uuid.uuid4().hex}", True)
    if name == "sqlite":
        return Backend(name, f"sqlite:///{tmp_path}/store.db", True)
    return Backend(name, f"{name}:///{tmp_path}/{name}", True)


def cleanup(backend: Backend) -> None:
    for store in backend.opened:
        store.close()
    if backend.name == "postgres":
        drop_postgres_table(backend.url.rsplit("table=", 1)[1])
    elif backend.name == "memory":
        forget(backend.url.removeprefix("memory://"))
