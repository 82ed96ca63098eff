"""Fixtures: every state test that takes ``backend`` or ``state`` runs on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from state_backends import Backend, make_backend

from llmspell.state import StateManager
from llmspell.testing import BACKENDS, EMBEDDED_BACKENDS


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with make_backend(request.param, tmp_path) as b:
        yield b


@pytest.fixture(params=EMBEDDED_BACKENDS)
def embedded_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with make_backend(request.param, tmp_path) as b:
        yield b


@pytest.fixture
def state(backend: Backend) -> StateManager:
    return backend.manager()


@pytest.fixture
def memory_state() -> Iterator[StateManager]:
    from llmspell.storage import open_store

    store = open_store("memory://")
    yield StateManager(store)
    store.close()
