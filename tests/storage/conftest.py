"""``store``: a store on each backend, opened on the root conftest's ``backend`` fixture."""

from __future__ import annotations

import pytest

from backends import Backend
from llmspell.storage import Store


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()
