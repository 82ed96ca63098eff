"""``Agent``: create and call LLM agents from Lua, in rs-llmspell v0.6.0's shapes (docs/agents.md).

``Agent.create{name=, model=, system_prompt=, temperature=, max_tokens=,
max_conversation_length=, max_steps=, base_url=, api_key=, description=, tools={...},
replies={...}}`` (``replies``: canned replies for a ``scripted/...`` model, the offline demo)
(rs-llmspell's ``provider_model`` for ``model`` too) returns an agent handle; ``Agent.builder()``
builds the same table by chained calls. Handle methods: ``invoke{text=}`` / ``execute{prompt=}``
/ a plain string -> ``{text, output, metadata, usage, tool_calls}``; ``invokeStream(input, fn)``
calls ``fn(chunk)`` per chunk and returns ``{success, chunks_received, text, ...}``;
``stream(input)`` returns a Streaming stream of text deltas; lifecycle, state and inspection
methods (see the Lua half). Registry functions: ``list``, ``get``, ``discover``,
``listInstances``, ``getInfo``, ``getDetails``, ``register``, ``listTemplates``,
``remove``/``destroy``. Errors are Lua errors starting with the class name.

The Lua half is ``llmspell/lua/scripts/agent.lua``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from llmspell.agents.lifecycle import DISPLAY, ERROR
from llmspell.errors import ValidationError
from llmspell.lua import checks

if TYPE_CHECKING:
    from llmspell.agents import Agent, AgentChunk
    from llmspell.lua.engine import LuaEngine

CREATE_KEYS = ("name", "model", "provider_model", "system_prompt", "temperature", "max_tokens",
               "max_conversation_length", "max_steps", "base_url", "api_key", "description",
               "tools", "type", "agent_type", "replies")
CONTEXT_KEYS = ("session_id", "session")


def chunk_table(chunk: AgentChunk, agent: Agent) -> dict[str, Any]:
    """A streamed chunk as rs-llmspell's output table (``text``, ``metadata``) plus ``kind``,
    ``index`` and, for tools, ``tool_call``."""
    table: dict[str, Any] = {"kind": chunk.kind, "index": chunk.index, "text": chunk.text,
                             "metadata": {"agent": agent.name,
                                          "model": agent.config.model_name}}
    if chunk.tool_call is not None:
        table["tool_call"] = chunk.tool_call
    return table


def install(engine: LuaEngine) -> None:
    runtime = engine.runtime
    streams: dict[int, tuple[Agent, Iterator[AgentChunk]]] = {}
    mine: list[str] = []  # agents this script created: removed when its engine closes
    ids = itertools.count(1)

    def registry() -> Any:
        return runtime.agents

    def agent(name: Any) -> Agent:
        found = registry().get(checks.text(name, "agent"))
        if found is None:
            raise ValidationError("agent", "no agent of that name (destroyed?); known: "
                                  + (", ".join(registry().list()) or "none"), got=name)
        return found

    def create(opts: Any = None) -> str:
        o = checks.options(opts, "options", CREATE_KEYS)
        kind = o.pop("type", o.pop("agent_type", "llm"))
        if kind != "llm":
            raise ValidationError("options", "only 'llm' agents exist here", path=".type",
                                  got=kind)
        model = o.pop("model", None) or o.pop("provider_model", None)
        o.pop("provider_model", None)
        if model is None:
            raise ValidationError("model", "is required (use the 'model' field, such as "
                                  "'openai/gpt-4o-mini' or 'scripted/demo')", got=None)
        tools = o.pop("tools", None) or ()
        if "replies" in o:
            o["replies"] = checks.as_list(o["replies"])
        if isinstance(tools, dict):
            raise ValidationError("tools", "must be a list of tool tables", got=tools)
        created = registry().create(o.pop("name", None), model, tools=tools, **o)
        mine.append(created.name)
        return created.name

    def invoke(name: Any, input: Any) -> dict[str, Any]:
        return agent(name).invoke(input).to_dict()

    def invoke_text(name: Any, text: Any) -> dict[str, Any]:
        # agent.lua sends a lone {text = "..."} as its string, sparing the table's conversion;
        # this is the dict the converter made of it (text as str, or bytes when not UTF-8).
        return agent(name).invoke({"text": text}).to_dict()

    def execute_with_context(name: Any, input: Any, context: Any = None) -> dict[str, Any]:
        ctx = checks.options(context, "context", CONTEXT_KEYS)
        session = ctx.get("session_id", ctx.get("session"))
        target = agent(name)
        if session is None:
            return target.invoke(input).to_dict()
        with runtime.sessions.current(checks.handle_id(session)):
            return target.invoke(input).to_dict()

    def invoke_stream(name: Any, input: Any, fn: Any) -> dict[str, Any]:
        if not callable(fn):
            raise ValidationError("callback", "must be a function called with each chunk",
                                  got=fn)
        target = agent(name)
        received = 0
        final: dict[str, Any] = {}
        chunks = target.stream(input)
        try:
            for chunk in chunks:
                if chunk.kind == "done":
                    assert chunk.result is not None
                    final = chunk.result.to_dict()
                    continue
                fn(chunk_table(chunk, target))
                received += 1
        finally:
            chunks.close()  # a callback that raised ends the model call now
        return {"success": True, "chunks_received": received, **final}

    def stream_open(name: Any, input: Any) -> int:
        target = agent(name)
        stream_id = next(ids)
        streams[stream_id] = (target, iter(target.stream(input)))
        return stream_id

    def stream_next(stream_id: Any) -> str | None:
        held = streams.get(stream_id)
        if held is None:
            return None
        for chunk in held[1]:
            if chunk.kind == "text":
                return chunk.text
        streams.pop(stream_id, None)
        return None

    def stream_close(stream_id: Any) -> None:
        held = streams.pop(stream_id, None)
        if held is not None:
            close = getattr(held[1], "close", None)
            if close is not None:
                close()

    def get_state(name: Any) -> str:
        return DISPLAY[agent(name).state]

    def lifecycle(operation: str) -> Any:
        def call(name: Any) -> bool:
            getattr(agent(name), operation)()
            return True
        return call

    def set_error(name: Any, message: Any) -> bool:
        agent(name).set_error(checks.text(message, "error_message"))
        return True

    def get_health(name: Any) -> dict[str, Any]:
        target = agent(name)
        healthy = target.state != ERROR and target.state != "terminated"
        return {"status": "healthy" if healthy else "unhealthy",
                "message": target.lifecycle.last_error or f"agent is {target.state}",
                "state": target.state}

    def get_performance(name: Any) -> dict[str, Any]:
        m = agent(name).metrics()
        done = m["requests_total"] - m["requests_active"]
        return {"total_executions": done, "avg_execution_time_ms": m["avg_latency_ms"],
                "success_rate": m["success_rate"], "error_rate": 1.0 - m["success_rate"]}

    def tool_metadata(name: Any, tool: Any) -> dict[str, Any] | None:
        found = agent(name).tools.get(checks.text(tool, "tool_name"))
        return None if found is None else found.metadata()

    def invoke_tool(name: Any, tool: Any, params: Any = None) -> Any:
        return agent(name).invoke_tool(checks.text(tool, "tool_name"),
                                       checks.mapping(params, "parameters"))

    def log_event(name: Any, event_type: Any, data: Any = None) -> bool:
        target = agent(name)
        registry().publish(f"agent.{checks.text(event_type, 'event_type', empty=False)}",
                           {"agent": target.name, "data": data}, None,
                           registry().meter.session_id())
        return True

    def conversation(name: Any) -> list[dict[str, Any]]:
        from llmspell.agents.calls import message_record

        return [message_record(m) for m in agent(name).conversation]

    def clear_conversation(name: Any) -> bool:
        agent(name).clear_conversation()
        return True

    def destroy(name: Any) -> bool:
        return registry().remove(checks.text(name, "agent"))

    def exists(name: Any) -> bool:
        return registry().get(checks.text(name, "name")) is not None

    functions: dict[str, Any] = {
        "create": create, "invoke": invoke, "invokeText": invoke_text,
        "executeWithContext": execute_with_context,
        "invokeStream": invoke_stream, "streamOpen": stream_open, "streamNext": stream_next,
        "streamClose": stream_close, "getState": get_state,
        "getConfig": lambda name: agent(name).config.to_dict(),
        "saveState": lambda name: agent(name).save_state(),
        "loadState": lambda name: agent(name).load_state(),
        "deleteState": lambda name: agent(name).delete_state(),
        "getStateHistory": lambda name: list(agent(name).lifecycle.history),
        "getStateMetrics": lambda name: agent(name).lifecycle.metrics(),
        "getLastError": lambda name: agent(name).lifecycle.last_error,
        "getRecoveryAttempts": lambda name: agent(name).lifecycle.recovery_attempts,
        "getMetrics": lambda name: agent(name).metrics(),
        "getHealth": get_health, "getPerformance": get_performance, "setError": set_error,
        "discoverTools": lambda name: list(agent(name).tools),
        "hasTool": lambda name, tool: checks.text(tool, "tool_name") in agent(name).tools,
        "getToolMetadata": tool_metadata,
        "getAllToolMetadata": lambda name: {n: t.metadata()
                                            for n, t in agent(name).tools.items()},
        "invokeTool": invoke_tool, "logEvent": log_event, "getConversation": conversation,
        "clearConversation": clear_conversation, "destroy": destroy, "exists": exists,
        "list": lambda: registry().list(), "discover": lambda: registry().discover(),
        "getInfo": lambda name: registry().info(checks.text(name, "name")),
    }
    for operation in ("initialize", "start", "pause", "resume", "stop", "terminate",
                      "recover"):
        functions[operation] = lifecycle(operation)
    def close() -> None:
        """Close open streams; remove the agents this script created (their tools may be
        functions of this Lua state, which is going). Their saved state stays."""
        for stream_id in list(streams):
            stream_close(stream_id)
        if not mine or runtime.closed:
            return
        for name in mine:
            runtime.agents.remove(name)

    engine.on_close(close)
    engine.install_global("Agent", functions, "agent.lua",
                          takes_functions=("create", "invokeStream"))

