"""Where the state tests' stores live: one fresh place per test, on every backend.

A backend whose package is missing, or (postgres) whose server does not answer at
``LLMSPELL_TEST_POSTGRES`` (default ``postgresql://127.0.0.1:5432/test``), is skipped with the
reason. (Not in conftest.py, so test modules can import it by a name no other test directory
uses.)
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llmspell.state import StateManager
from llmspell.storage import Store, backend_status, open_store

POSTGRES_URL = os.environ.get("LLMSPELL_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
BACKENDS = ["memory", "sqlite", "lmdb", "rocksdb", "postgres"]
EMBEDDED = ["memory", "sqlite", "lmdb", "rocksdb"]

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

    def manager(self, **options: Any) -> StateManager:
        return StateManager(self.open(), **options)

    def reopen(self, manager: StateManager, **options: Any) -> StateManager:
        """Close ``manager``'s store and open a new manager on the same place."""
        manager.store.close()
        return self.manager(**options)

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
        return Backend(name, f"{POSTGRES_URL}{sep}table=llmspell_state_{uuid.uuid4().hex[:16]}")
    status = backend_status()[name]
    if status != "available":
        pytest.skip(status)
    if name == "memory":
        return Backend(name, f"memory://state-test-{uuid.uuid4().hex}")
    if name == "sqlite":
        return Backend(name, f"sqlite:///{tmp_path}/state.db")
    return Backend(name, f"{name}:///{tmp_path}/{name}")
