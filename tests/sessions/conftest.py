"""Fixtures: ``backend``/``manager`` run on every backend; ``mem`` is a memory manager with a
manual clock (``mem.clock``) for the tests that are about logic, not storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from session_backends import BACKENDS, Backend, make_backend

from llmspell.sessions import ManualClock, SessionManager, SessionSettings
from llmspell.storage import open_store


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with make_backend(request.param, tmp_path) as b:
        yield b


@pytest.fixture
def manager(backend: Backend) -> SessionManager:
    return backend.manager()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def mem(clock: ManualClock) -> Iterator[SessionManager]:
    store = open_store("memory://")
    yield SessionManager(store, settings=SessionSettings(), clock=clock)
    store.close()
