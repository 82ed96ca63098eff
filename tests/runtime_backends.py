"""Runtimes on a fresh store, for the tests of work on a whole store's state (backup, migration).

``rt`` runs on memory, sqlite and lmdb (the embedded backends whose contracts differ most) and
postgres; a backend that cannot run here is skipped with the reason. ``mem`` is memory only.
Both fixtures are imported by tests/backup/conftest.py and tests/migration/conftest.py; test
modules import ``runtime_for`` and ``snapshot``. (tests/ is on sys.path because of
tests/conftest.py, as each test directory is because of its own conftest.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmspell import Runtime
from llmspell.testing import backend_unavailable, discard_store, fresh_store_url

BACKENDS = ["memory", "sqlite", "lmdb", "postgres"]


def runtime_for(name: str, tmp_path: Path, **overrides: object) -> Runtime:
    """A runtime on a fresh ``name`` store under ``tmp_path``, backing up to ``tmp_path/backups``
    unless ``state__backup_dir`` says otherwise; a pytest skip when ``name`` cannot run."""
    if reason := backend_unavailable(name):
        pytest.skip(reason)
    overrides.setdefault("state__backup_dir", str(tmp_path / "backups"))
    url = fresh_store_url(name, tmp_path, label="runtime")
    return Runtime.memory(storage__url=url, **overrides)


def snapshot(rt: Runtime) -> dict[str, bytes]:
    """Every state record, as bytes."""
    return dict(rt.store.scan("state/"))


@pytest.fixture(params=BACKENDS)
def rt(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    with runtime_for(request.param, tmp_path) as runtime:
        yield runtime
    discard_store(runtime.config.storage.url)


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Runtime]:
    with runtime_for("memory", tmp_path) as runtime:
        yield runtime
    discard_store(runtime.config.storage.url)
