"""LangGraph's own conformance suite (the ``langgraph-checkpoint-conformance`` package) run
against LLMSpellSaver on every backend: every base capability and every extended one
(delete_for_runs, copy_thread, prune) must pass."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

pytest.importorskip("langgraph.checkpoint.conformance")

from langgraph.checkpoint.conformance import checkpointer_test, validate

from backends import BACKENDS, Backend, slow_on
from llmspell.integrations.langgraph import LLMSpellSaver


@pytest.mark.parametrize("backend", slow_on(BACKENDS, "postgres", "lmdb"), indirect=True)
def test_conformance_suite_passes(backend: Backend) -> None:
    runtime = backend.runtime()

    @checkpointer_test(name=f"LLMSpellSaver[{backend.name}]")
    async def saver() -> AsyncIterator[LLMSpellSaver]:
        yield LLMSpellSaver(runtime)

    report = asyncio.run(validate(saver))
    failures = {name: result.failures for name, result in report.results.items()
                if result.passed is False}
    assert not failures, failures
    assert report.passed_all_base()
    passed = {name for name, result in report.results.items() if result.passed}
    assert {"copy_thread", "prune", "delete_for_runs"} <= passed, report.results
