"""Fixtures that run every storage test against every backend (see storage_backends.py).

``backend`` is parametrized over memory, sqlite, lmdb, rocksdb and postgres; postgres cases
carry the ``postgres`` marker. ``embedded_backend`` leaves postgres out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from storage_backends import Backend, make_backend

from llmspell.storage import Store
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
def store(backend: Backend) -> Store:
    return backend.open()
