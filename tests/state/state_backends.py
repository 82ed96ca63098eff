"""Where the state tests' stores live: one fresh place per test, on every backend.

The places, skip reasons and clean-up come from :mod:`llmspell.testing`; this adds a
StateManager on the place. (Not in conftest.py, so test modules can import it by a name no
other test directory uses.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmspell.state import StateManager
from llmspell.testing import StoreLocation, backend_unavailable, fresh_store_url


class Backend(StoreLocation):
    """One test's store location; ``manager()`` opens the store (again) and a manager on it."""

    def manager(self, **options: Any) -> StateManager:
        return StateManager(self.open(), **options)

    def reopen(self, manager: StateManager, **options: Any) -> StateManager:
        """Close ``manager``'s store and open a new manager on the same place."""
        manager.store.close()
        return self.manager(**options)


def make_backend(name: str, tmp_path: Path) -> Backend:
    """A Backend for ``name`` under ``tmp_path``, or a pytest skip saying why it cannot run."""
    if reason := backend_unavailable(name):
        pytest.skip(reason)
    return Backend(name, fresh_store_url(name, tmp_path, label="state"))
