"""``state``: a StateManager on each backend (the root conftest's ``backend`` fixture);
``memory_state`` one on memory only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backends import Backend
from llmspell.state import StateManager
from llmspell.storage import open_store


@pytest.fixture
def state(backend: Backend) -> StateManager:
    return backend.state_manager()


@pytest.fixture
def memory_state() -> Iterator[StateManager]:
    store = open_store("memory://")
    yield StateManager(store)
    store.close()
