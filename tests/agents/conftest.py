"""Fixtures for the agent tests: a memory runtime with a scripted provider, a Lua engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llmspell.lua.engine import LuaEngine
from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime


@pytest.fixture
def rt() -> Iterator[Runtime]:
    runtime = Runtime.memory()
    yield runtime
    runtime.close()


@pytest.fixture
def scripted(rt: Runtime) -> ScriptedProvider:
    """The provider ``scripted/...`` models talk to; queue replies with ``add_replies``."""
    provider = ScriptedProvider("scripted")
    rt.providers.add("scripted", provider)
    return provider


@pytest.fixture
def lua(rt: Runtime) -> Iterator[Any]:
    engine = LuaEngine(rt, script_name="test.lua")
    yield engine
    engine.close()


@pytest.fixture
def batches(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The keys of every batch ``rt``'s store writes from now on, one list per batch."""
    seen: list[list[str]] = []
    original = rt.store.batch_unchecked

    def batch(ops: Any, *args: Any, **kwargs: Any) -> bool:
        ops = list(ops)
        seen.append([op[0] for op in ops])  # a Put, or a (key, value): Store.make_put
        return bool(original(ops, *args, **kwargs))

    monkeypatch.setattr(rt.store, "batch_unchecked", batch)
    return seen
