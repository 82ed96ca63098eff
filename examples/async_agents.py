"""100 agent calls at once from asyncio, against the loopback OpenAI-compatible test server.

    python examples/async_agents.py

Each call is journaled in its own session like any agent call; the model calls share one
async httpx client and wait on the network together (no thread per call).
"""

from __future__ import annotations

import asyncio
import time

from llmspell import AsyncRuntime
from llmspell.testing import FakeOpenAIServer

CALLS = 100


async def main() -> None:
    with FakeOpenAIServer() as server:
        for i in range(CALLS):
            server.reply(f"answer {i}", usage=(5, 2))
        async with AsyncRuntime.memory() as rt:
            agent = await rt.agents.create("helper", "openai/gpt-4o-mini",
                                           base_url=server.base_url, api_key="sk-test")
            started = time.perf_counter()
            results = await asyncio.gather(*(agent.invoke(f"question {i}")
                                             for i in range(CALLS)))
            took = time.perf_counter() - started
            answers = sorted(r.text for r in results)
            assert answers == sorted(f"answer {i}" for i in range(CALLS)), answers[:3]
            assert len(server.requests) == CALLS
            print(f"{CALLS} concurrent agent calls answered in {took:.2f} s")
            await rt.state.save("global", "last_batch", CALLS)
            print("state:", await rt.state.load("global", "last_batch"))


if __name__ == "__main__":
    asyncio.run(main())
