"""Fixtures for the artifact tests.

``rt`` is a Runtime on each backend the artifact layer is tested on (memory, sqlite), with
its data under ``tmp_path`` and ``tmp_path / "files"`` as the one allowed root; ``session``
is an active session of it. ``make_runtime(**overrides)`` builds more (keys as in
``Config.defaults``: ``session__max_artifact_size=...``), closed at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell.config import Config
from llmspell.runtime import Runtime
from llmspell.sessions import Session

MakeRuntime = Callable[..., Runtime]


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    root = tmp_path / "files"
    root.mkdir(exist_ok=True)
    return root


@pytest.fixture
def make_runtime(tmp_path: Path, files: Path, backend: str) -> Iterator[MakeRuntime]:
    made: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        url = "memory://" if backend == "memory" else f"sqlite:///{tmp_path}/store.db"
        overrides.setdefault("storage__url", url)
        overrides.setdefault("runtime__data_dir", str(tmp_path / "data"))
        overrides.setdefault("runtime__allowed_paths", [str(files)])
        runtime = Runtime(Config.defaults(base_dir=tmp_path, **overrides))
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


@pytest.fixture
def rt(make_runtime: MakeRuntime) -> Runtime:
    return make_runtime()


@pytest.fixture
def session(rt: Runtime) -> Session:
    return rt.sessions.create("work")
