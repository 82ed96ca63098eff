"""Fixtures for the artifact tests.

``rt`` is a Runtime on each backend (the root conftest's ``backend`` fixture), with its data
under ``tmp_path`` and ``tmp_path / "files"`` as the one allowed root; ``session`` is an
active session of it. ``make_runtime(**overrides)`` builds more on the same store (keys as in
``Config.defaults``: ``session__max_artifact_size=...``), closed at the end. ``pair`` is two
runtimes on one store (sqlite and memory), as two processes would share it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import Backend
from llmspell.runtime import Runtime
from llmspell.sessions import Session

MakeRuntime = Callable[..., Runtime]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture
def make_runtime(backend: Backend, files: Path) -> MakeRuntime:
    def make(**overrides: Any) -> Runtime:
        overrides.setdefault("runtime__allowed_paths", [str(files)])
        return backend.runtime(**overrides)

    return make


@pytest.fixture
def rt(make_runtime: MakeRuntime) -> Runtime:
    return make_runtime()


@pytest.fixture
def session(rt: Runtime) -> Session:
    return rt.sessions.create("work")


@pytest.fixture(params=["sqlite", "memory"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    """Two runtimes (two ArtifactManagers, two SessionManagers) on one store."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/shared.db"
    else:
        url = f"memory://known-versions-{tmp_path.name}"
    first = Runtime.memory(storage__url=url, runtime__data_dir=str(tmp_path / "a"))
    second = Runtime.memory(storage__url=url, runtime__data_dir=str(tmp_path / "b"))
    try:
        yield first, second
    finally:
        second.close()
        first.close()
