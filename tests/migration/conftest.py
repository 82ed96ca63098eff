"""Fixtures: ``rt`` is a runtime on each of memory, sqlite, lmdb and postgres (skipped with
the reason when no server answers); ``mem`` on memory only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from migration_helpers import BACKENDS, drop_postgres_table, runtime_for

from llmspell import Runtime


@pytest.fixture(params=[*BACKENDS, "postgres"])
def rt(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    runtime = runtime_for(request.param, tmp_path)
    yield runtime
    runtime.close()
    drop_postgres_table(runtime.config.storage.url)


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Runtime]:
    runtime = runtime_for("memory", tmp_path)
    yield runtime
    runtime.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every postgres-parametrized test with the ``postgres`` marker (for ``-m``)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgres" in callspec.params.values():
            item.add_marker(pytest.mark.postgres)
