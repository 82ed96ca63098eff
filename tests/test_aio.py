"""AsyncRuntime: the same runtime from asyncio. Model calls are natively async (many wait on
the network at once, no thread each); store work runs off the event loop; errors are the
same typed errors."""

from __future__ import annotations

import asyncio
import runpy
import threading
from pathlib import Path

import pytest

from llmspell import AsyncRuntime
from llmspell.errors import InvalidScope, ValidationError
from llmspell.testing import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # about 1.5 s
def test_many_model_calls_wait_on_the_network_at_once() -> None:
    calls = 40  # far more than the default executor's threads on this machine class

    async def main(server: FakeOpenAIServer) -> None:
        async with AsyncRuntime.memory() as rt:
            agent = await rt.agents.create("waiter", "openai/gpt-4o-mini",
                                           base_url=server.base_url, api_key="sk-test")
            tasks = [asyncio.create_task(agent.invoke(f"q{i}")) for i in range(calls)]
            for _ in range(1000):  # every request reaches the server while none is answered
                if len(server.requests) == calls:
                    break
                await asyncio.sleep(0.01)
            in_flight = len(server.requests)
            # The loop's worker threads (the server's own handler threads do not count).
            threads = sum(t.name.startswith("asyncio_") for t in threading.enumerate())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            assert in_flight == calls
            assert threads < 10  # not a thread per waiting call

    with FakeOpenAIServer() as server:
        for _ in range(calls):
            server.stall()
        asyncio.run(main(server))


@pytest.mark.slow
def test_the_example_runs_100_concurrent_agent_calls(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(ROOT / "examples" / "async_agents.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "100 concurrent agent calls answered" in out and "state: 100" in out


def test_state_sessions_artifacts_tools_and_workflows(tmp_path: Path) -> None:
    async def main() -> None:
        async with AsyncRuntime.memory(storage__url=f"sqlite:///{tmp_path / 'a.db'}",
                                       base_dir=tmp_path) as rt:
            await rt.state.save("global", "n", 1)
            assert await rt.state.load("global", "n") == 1
            assert await rt.state.compare_and_set("global", "n", 1, 2)
            assert await rt.state.list_keys("global") == ["n"]
            session = await rt.sessions.create("aio", tags=["async"])
            assert [s.id for s in await rt.sessions.list(tags=["async"])] == [session.id]
            stored = await rt.artifacts.store(session.id, "notes.txt", "hello")
            assert await rt.artifacts.read(stored.id) == b"hello"
            assert '"result":5' in (await rt.tools.invoke("calculator", {"input": "2+3"})).text
            result = await rt.workflows.run("sequential", {"name": "w", "steps": [
                {"name": "add", "type": "tool", "tool": "calculator",
                 "input": {"input": "1+1"}}]})
            assert result["success"] is True
            with pytest.raises(InvalidScope, match="argument 'scope'"):
                await rt.state.save("agnet:x", "k", 1)
            with pytest.raises(ValidationError, match="argument 'kind'"):
                await rt.workflows.run("zigzag", {})
            assert await rt.state.load("global", "n") == 2  # the failed calls changed nothing

    asyncio.run(main())


def test_a_runtime_is_required() -> None:
    with pytest.raises(ValidationError, match="argument 'runtime'"):
        AsyncRuntime("not a runtime")  # type: ignore[arg-type]


def test_ainvoke_applies_hooks_like_a_stream(mem) -> None:  # type: ignore[no-untyped-def]
    from llmspell.errors import HookCancelled, ProviderScriptExhausted
    from llmspell.hooks.results import HookResult

    ignored = mem.events.subscribe("hook.outcome_ignored")
    mem.hooks.register("agent:after_execution",
                       lambda ctx: HookResult.modified({"text": ctx.data["text"].upper()}))
    mem.hooks.register("agent:error", lambda ctx: HookResult.retry(delay=0, attempts=2))
    agent = mem.agents.create("hooked", "scripted/x", replies=["quiet answer"])

    async def main() -> None:
        assert (await agent.ainvoke("hi")).text == "QUIET ANSWER"
        with pytest.raises(ProviderScriptExhausted, match="no canned reply left"):
            await agent.ainvoke("again")  # fails; the error hook's retry is reported
        mem.hooks.register("agent:before_execution", lambda ctx: HookResult.cancel("closed"))
        with pytest.raises(HookCancelled, match="closed"):
            await agent.ainvoke("third")

    asyncio.run(main())
    assert mem.events.receive(ignored.id, timeout=0) is not None
    assert [m.content for m in agent.conversation][-1] == "QUIET ANSWER"
