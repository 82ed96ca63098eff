"""Fixtures that run every storage test against every backend (see storage_backends.py).

``backend`` is parametrized over memory, sqlite, lmdb, rocksdb and postgres; postgres cases
carry the ``postgres`` marker. ``embedded_backend`` leaves postgres out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from storage_backends import BACKENDS, EMBEDDED, Backend, cleanup, make_backend

from llmspell.storage import Store


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = make_backend(request.param, tmp_path)
    try:
        yield b
    finally:
        cleanup(b)


@pytest.fixture(params=EMBEDDED)
def embedded_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = make_backend(request.param, tmp_path)
    try:
        yield b
    finally:
        cleanup(b)


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every postgres-parametrized test with the ``postgres`` marker (for ``-m``)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgres":
            item.add_marker(pytest.mark.postgres)
