"""Fixtures: every state test that takes ``backend`` or ``state`` runs on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from state_backends import BACKENDS, EMBEDDED, Backend, make_backend

from llmspell.state import StateManager


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = make_backend(request.param, tmp_path)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(params=EMBEDDED)
def embedded_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = make_backend(request.param, tmp_path)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def state(backend: Backend) -> StateManager:
    return backend.manager()


@pytest.fixture
def memory_state() -> Iterator[StateManager]:
    from llmspell.storage import open_store

    store = open_store("memory://")
    yield StateManager(store)
    store.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every postgres-parametrized test with the ``postgres`` marker (for ``-m``)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgres" in callspec.params.values():
            item.add_marker(pytest.mark.postgres)
