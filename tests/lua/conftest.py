"""Fixtures for the Lua bridge tests: engines on a memory runtime with chosen config.

``make_engine(**overrides)`` builds a LuaEngine on ``Runtime.memory(**overrides)`` (keys as in
``Config.defaults``: ``engines__lua__max_instructions=...``) and closes both afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backends import MakeEngine
from llmspell import Runtime
from llmspell.lua import LuaEngine


@pytest.fixture
def make_engine() -> Iterator[MakeEngine]:
    made: list[tuple[Runtime, LuaEngine]] = []

    def make(*, args: tuple[str, ...] = (), script_name: str = "test.lua",
             **overrides: Any) -> LuaEngine:
        runtime = Runtime.memory(**overrides)
        engine = LuaEngine(runtime, args=args, script_name=script_name)
        made.append((runtime, engine))
        return engine

    yield make
    for runtime, engine in made:
        engine.close()
        runtime.close()


@pytest.fixture
def engine(make_engine: MakeEngine) -> LuaEngine:
    return make_engine()
