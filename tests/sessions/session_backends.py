"""Where the session tests' stores live, and a store wrapper that counts what list() reads.

Backends: memory, sqlite, lmdb and postgres (the multi-process ones plus memory). The places,
skip reasons and clean-up come from :mod:`llmspell.testing`. (Not in conftest.py, so test
modules can import it by a name no other test directory uses.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmspell.sessions import ManualClock, SessionManager, SessionSettings
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
