"""``manager``: a SessionManager on each backend (the root conftest's ``backend`` fixture);
``mem`` a memory manager with a manual clock (``mem.clock``) for the tests about logic, not
storage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from backends import Backend
from llmspell.sessions import ManualClock, SessionManager, SessionSettings
from llmspell.storage import open_store


@pytest.fixture
def manager(backend: Backend) -> SessionManager:
    return backend.session_manager()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def mem(clock: ManualClock) -> Iterator[SessionManager]:
    store = open_store("memory://")
    yield SessionManager(store, settings=SessionSettings(), clock=clock)
    store.close()
