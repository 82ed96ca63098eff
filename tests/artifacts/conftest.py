"""Fixtures for the artifact tests.

``rt`` is a Runtime on each backend (the root conftest's ``backend`` fixture), with its data
under ``tmp_path`` and ``tmp_path / "files"`` as the one allowed root; ``session`` is an
active session of it. ``make_runtime(**overrides)`` builds more on the same store (keys as in
``Config.defaults``: ``session__max_artifact_size=...``), closed at the end.
"""

from __future__ import annotations

from collections.abc import Callable
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
