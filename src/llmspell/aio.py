"""``AsyncRuntime``: the Runtime for asyncio programs.

::

    async with AsyncRuntime.from_config() as rt:
        await rt.state.save("global", "visits", 1)
        agent = await rt.agents.create("helper", "openai/gpt-4o-mini")
        answers = await asyncio.gather(*(agent.invoke(q) for q in questions))

It wraps one :class:`~llmspell.Runtime` (``rt.runtime``) and keeps its rules: every call
checks its input and raises the same errors, writes the same journal, fires the same hooks.
Network work is natively async: an agent's model calls go through the provider's async httpx
client (:meth:`llmspell.agents.agent.Agent.ainvoke`), so a hundred calls wait on the network at
once without a thread each. Store work (state, sessions, artifacts, journal, tools,
workflows) is synchronous and fast (microseconds to a disk sync); it runs on the default
executor's worker threads (``asyncio.to_thread``), never on the event loop.
``docs/async.md`` is the guide; ``examples/async_agents.py`` runs 100 concurrent agent calls.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, ParamSpec, Self, TypeVar

from llmspell.runtime import Runtime

if TYPE_CHECKING:
    from llmspell.agents.agent import Agent
    from llmspell.agents.model import AgentChunk, AgentResult
    from llmspell.artifacts.model import Artifact
    from llmspell.sessions.model import Session
    from llmspell.tools.base import ToolOutput

P = ParamSpec("P")
T = TypeVar("T")

#: What state holds: None, bool, int, float, str, bytes, and lists/dicts of those.
Value = object


async def _off_loop(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run store work on a worker thread (the current context, so the current session, goes
    with it)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


class AsyncRuntime:
    """An asyncio face of a :class:`~llmspell.Runtime`; see the module docstring.

    Args:
        runtime: the Runtime to wrap (closed by :meth:`aclose` / ``async with``).
    """

    def __init__(self, runtime: Runtime) -> None:
        if not isinstance(runtime, Runtime):
            from llmspell.errors import ValidationError

            raise ValidationError("runtime", "must be a llmspell Runtime", got=runtime)
        self.runtime = runtime
        self.state = AsyncState(runtime)
        self.sessions = AsyncSessions(runtime)
        self.artifacts = AsyncArtifacts(runtime)
        self.agents = AsyncAgents(runtime)
        self.tools = AsyncTools(runtime)
        self.workflows = AsyncWorkflows(runtime)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, *,
                    overrides: Mapping[str, object] | None = None,
                    cwd: Path | None = None) -> AsyncRuntime:
        """As :meth:`llmspell.Runtime.from_config`."""
        return cls(Runtime.from_config(path, overrides=overrides, cwd=cwd))

    @classmethod
    def memory(cls, **overrides: object) -> AsyncRuntime:
        """As :meth:`llmspell.Runtime.memory`."""
        return cls(Runtime.memory(**overrides))

    async def aclose(self) -> None:
        """Close the async clients of the agents made here (on this loop, where they were
        opened), then the runtime (its store, its providers) off the loop."""
        for agent in self.agents.made:
            await agent.agent.provider.aclose()
        await _off_loop(self.runtime.close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()


class AsyncState:
    """``runtime.state`` (:class:`~llmspell.state.StateManager`), awaitable."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def save(self, scope: str, key: str, value: Value) -> int | None:
        return await _off_loop(self._runtime.state.save, scope, key, value)

    async def load(self, scope: str, key: str, default: Value = None) -> Value:
        return await _off_loop(self._runtime.state.load, scope, key, default)

    async def delete(self, scope: str, key: str) -> bool:
        return await _off_loop(self._runtime.state.delete, scope, key)

    async def exists(self, scope: str, key: str) -> bool:
        return await _off_loop(self._runtime.state.exists, scope, key)

    async def list_keys(self, scope: str, prefix: str | None = None) -> list[str]:
        return await _off_loop(self._runtime.state.list_keys, scope, prefix)

    async def save_many(self, items: Mapping[str, Mapping[str, Value]]) -> int:
        return await _off_loop(self._runtime.state.save_many, items)

    async def compare_and_set(self, scope: str, key: str, expected: Value,
                              new: Value) -> bool:
        return await _off_loop(self._runtime.state.compare_and_set, scope, key, expected, new)


class AsyncSessions:
    """``runtime.sessions`` (:class:`~llmspell.sessions.SessionManager`), awaitable."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def create(self, name: str = "", *, description: str = "",
                     tags: list[str] | None = None,
                     metadata: Mapping[str, Value] | None = None) -> Session:
        return await _off_loop(lambda: self._runtime.sessions.create(
            name, description=description, tags=tags, metadata=metadata))

    async def get(self, session_id: str) -> Session:
        return await _off_loop(self._runtime.sessions.get, session_id)

    async def list(self, *, status: str | None = None,
                   tags: list[str] | None = None) -> list[Session]:
        return await _off_loop(lambda: self._runtime.sessions.list(status=status, tags=tags))

    async def suspend(self, session_id: str) -> Session:
        return await _off_loop(self._runtime.sessions.suspend, session_id)

    async def resume(self, session_id: str) -> Session:
        return await _off_loop(self._runtime.sessions.resume, session_id)

    async def complete(self, session_id: str) -> Session:
        return await _off_loop(self._runtime.sessions.complete, session_id)

    async def delete(self, session_id: str) -> bool:
        return await _off_loop(self._runtime.sessions.delete, session_id)


class AsyncArtifacts:
    """``runtime.artifacts`` (:class:`~llmspell.artifacts.ArtifactManager`), awaitable."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def store(self, session_id: str, name: str, content: bytes | str | Value, *,
                    mime_type: str | None = None) -> Artifact:
        return await _off_loop(lambda: self._runtime.artifacts.store(
            session_id, name, content, mime_type=mime_type))

    async def read(self, artifact_id: str) -> bytes:
        return await _off_loop(self._runtime.artifacts.read, artifact_id)

    async def versions(self, session_id: str, name: str) -> list[Artifact]:
        return await _off_loop(self._runtime.artifacts.versions, session_id, name)

    async def delete(self, artifact_id: str) -> Artifact | None:
        return await _off_loop(self._runtime.artifacts.delete, artifact_id)


class AsyncAgent:
    """An :class:`~llmspell.agents.agent.Agent` whose calls are awaited; the model calls are
    natively async."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.name = agent.name

    async def invoke(self, input: str | Mapping[str, Value]) -> AgentResult:
        return await self.agent.ainvoke(input)

    async def stream(self, input: str | Mapping[str, Value]) -> AsyncIterator[AgentChunk]:
        async for chunk in self.agent.astream(input):
            yield chunk


class AsyncAgents:
    """``runtime.agents``: create and look up agents (as :class:`AsyncAgent`)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        #: The agents made or looked up here (their async clients close with the runtime).
        self.made: list[AsyncAgent] = []

    async def create(self, name: str | None = None, model: str | None = None, *,
                     system_prompt: str = "", max_steps: int = 10,
                     base_url: str | None = None, api_key: str | None = None) -> AsyncAgent:
        """As ``runtime.agents.create`` (:meth:`llmspell.agents.AgentRegistry.create`)."""
        made = await _off_loop(lambda: self._runtime.agents.create(
            name, model, system_prompt=system_prompt, max_steps=max_steps,
            base_url=base_url, api_key=api_key))
        self.made.append(AsyncAgent(made))
        return self.made[-1]

    async def get(self, name: str) -> AsyncAgent | None:
        found = await _off_loop(self._runtime.agents.get, name)
        if found is None:
            return None
        self.made.append(AsyncAgent(found))
        return self.made[-1]


class AsyncTools:
    """``runtime.tools``: invoke a tool (validated, journaled) off the loop."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def invoke(self, name: str, params: Mapping[str, Value] | None = None) -> ToolOutput:
        return await _off_loop(self._runtime.tools.invoke, name, params)

    async def names(self) -> list[str]:
        return await _off_loop(lambda: [t.name for t in self._runtime.tools.list()])


class AsyncWorkflows:
    """``runtime.workflows``: build a workflow from its spec and run it off the loop."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def run(self, kind: str, spec: Mapping[str, Value],
                  input: Value = None) -> Mapping[str, Value]:
        """Build a ``sequential``, ``parallel``, ``conditional`` or ``loop`` workflow from
        ``spec`` and execute it with ``input``; the result as ``execute()`` returns it."""
        from llmspell.errors import ValidationError

        kinds = ("sequential", "parallel", "conditional", "loop")
        if kind not in kinds:
            raise ValidationError("kind", f"must be one of {', '.join(kinds)}", got=kind)

        def work() -> Mapping[str, Value]:
            flow = getattr(self._runtime.workflows, kind)(dict(spec))
            result: Mapping[str, Value] = flow.execute(input)
            return result

        return await _off_loop(work)


__all__ = ["AsyncAgent", "AsyncRuntime"]
