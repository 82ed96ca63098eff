"""Fixtures for the tool tests: a memory runtime whose allowed root is a fresh directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell import Runtime

MakeRuntime = Callable[..., Runtime]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def make_rt(root: Path) -> Iterator[MakeRuntime]:
    made: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        overrides.setdefault("runtime__allowed_paths", [str(root)])
        rt = Runtime.memory(**overrides)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


@pytest.fixture
def rt(make_rt: MakeRuntime) -> Runtime:
    return make_rt()
