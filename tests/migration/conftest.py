"""``rt``: a runtime on each backend (the root conftest's ``backend`` fixture), data and
backups under the test's directory; ``mem`` one on memory only. Same as tests/backup."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import Backend, make_backend
from llmspell import Runtime


@pytest.fixture
def rt(backend: Backend) -> Runtime:
    return backend.runtime()


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Runtime]:
    with make_backend("memory", tmp_path) as place:
        yield place.runtime()
