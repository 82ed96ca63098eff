"""An agent: a provider and model, a system prompt, a bounded conversation, tools, a lifecycle.

``invoke(input)`` sends the conversation plus the new user turn, runs the tools the model asks
for (up to ``max_steps`` model calls per invoke; AgentError past that) and returns an
:class:`AgentResult`. ``stream(input)`` does the same and yields :class:`AgentChunk` s in order
(text deltas, tool calls, tool results), the last one ``done`` with the result.
``ainvoke``/``astream`` are the asyncio forms (the call runs on a worker thread, the current
session and other context variables carried over).

Each invoke runs inside the hook points ``agent:before_execution`` (data ``{agent, model,
text, parameters}``: a modified ``text`` is sent instead, skip returns the hook's result as
the answer without calling the model, retry fires again), ``agent:after_execution`` (data: the
result as a dict ``{text, metadata, usage, tool_calls}``: modified data, a table of fields or
a string for the text, is laid over the answer and kept in the conversation; retry calls the
model again) and ``agent:error`` (retry calls again). A stream honours the same
before outcomes and a modified result after; a retry after the first chunk was delivered
cannot be honoured and is reported (``hook.outcome_ignored``). Every model call goes through
:class:`~llmspell.agents.calls.CallMeter` (limits, usage, cost, journal); each tool call is
journaled as ``tool.call``. The conversation keeps only the turns of calls that succeeded.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from llmspell import intercept
from llmspell.agents import lifecycle as lc
from llmspell.agents.after import AfterAnswer, user_hooks_at
from llmspell.agents.calls import (
    LLM_CALL,
    TOOL_CALL,
    call_record,
    fingerprint,
    message_from,
    message_record,
    request_record,
    response_from,
    response_record,
)
from llmspell.agents.model import (
    AgentChunk,
    AgentConfig,
    AgentResult,
    hook_view,
    parse_input,
    take_text,
)
from llmspell.agents.tools import AgentTool, as_tool, result_text
from llmspell.errors import AgentError, ScriptLimitExceeded, ValidationError
from llmspell.hooks import Skipped
from llmspell.hooks.results import RETRY
from llmspell.ids import correlation_id
from llmspell.providers.base import ChatRequest, ChatResponse, Message, Provider, ToolCall
from llmspell.providers.pricing import cost
from llmspell.redact import mask_fields
from llmspell.sessions.ride import Ride, offered

if TYPE_CHECKING:
    from llmspell.agents.registry import AgentRegistry

BEFORE, AFTER, ERROR = "agent:before_execution", "agent:after_execution", "agent:error"
#: The points a call may fire while its writes after the answer share a commit.
GROUPED = (AFTER, ERROR, "resource:limit_exceeded")
#: Where a hook of the user's would run between a call's settlement and its collected
#: artifact's batch: with none, the settlement rides with the artifact.
RIDING = (*GROUPED, "artifact:before_store", "artifact:after_store")
#: The event of a call that answered (its journal entry may carry the collection's batch).
COMPLETED = "agent.execution_completed"
STATE_KEY = "state"
STATE_VERSION = 1


class Agent:
    """One agent; create it with ``runtime.agents.create(...)`` (see the module docstring)."""

    def __init__(self, owner: AgentRegistry, config: AgentConfig, provider: Provider,
                 tools: list[AgentTool], *, own_provider: bool = False) -> None:
        self._owner = owner
        self.config = config
        self.provider = provider
        self._own_provider = own_provider
        self.tools: dict[str, AgentTool] = {t.name: t for t in tools}
        self.conversation: list[Message] = []
        self.lifecycle = lc.Lifecycle(config.name)
        self._lock = threading.Lock()
        self.stats: dict[str, Any] = {
            "requests_total": 0, "requests_failed": 0, "requests_active": 0,
            "tool_invocations": 0, "input_tokens": 0, "output_tokens": 0, "cost": 0.0,
            "total_latency_ms": 0.0}

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def state(self) -> str:
        return self.lifecycle.state

    def __repr__(self) -> str:
        return f"<Agent {self.name!r} {self.config.model} {self.state}>"

    # -- calls ---------------------------------------------------------------------------

    def invoke(self, input: str | Mapping[str, Any]) -> AgentResult:
        """Send ``input`` (a string, or ``{text=}`` / ``{prompt=}``) and return the answer.

        Raises:
            ValidationError: bad input (names the argument).
            AgentError: the agent's state takes no calls, or the tool loop hit ``max_steps``.
            ProviderError: the model call failed (after the provider's retries).
            ResourceLimitExceeded: a session limit or rate limit refused the call.
            HookCancelled: a hook cancelled it.
        """
        text, parameters = parse_input(input)
        self.lifecycle.check_callable()
        owner = self._owner
        cid = correlation_id()
        sid = owner.meter.session_id()
        turns: list[list[Message]] = []
        produced: list[AgentResult] = []
        # One commit for the settlement, the collected artifact and the event's entry; the
        # settlement in the artifact's batch when nothing of the user's runs in between.
        after = owner.meter.after_answer(sid, owner.hooks, GROUPED)
        # The collection waits for the event's entry too when no code sees the event first.
        offer: AbstractContextManager[Ride | None] = (
            offered(sid, later=owner.meter.recorded_first(COMPLETED))
            if sid is not None and not user_hooks_at(owner.hooks, RIDING) else nullcontext())

        def operation(data: Any) -> dict[str, Any]:
            result = None
            for chunk in self._execute(take_text(data), cid, sid, turns, stream=False,
                                       after=after, ride=ride):
                result = chunk.result
            assert result is not None
            produced.append(result)
            return hook_view(result)

        self._begin()
        with after, offer as ride:
            try:
                value = owner.hooks.run(
                    BEFORE, self._hook_data(text, parameters), operation, after=AFTER,
                    error=ERROR, component=self.name, correlation_id=cid, session_id=sid)
            except BaseException as exc:
                if ride is not None:
                    ride.flush()  # a waiting collection is not the failure event's to carry
                self._end(failed=True, error=exc, cid=cid, sid=sid)
                raise
            if produced:
                result = self._modified(value, produced[-1])
                self._commit(turns[-1], result.text)
            else:
                result = self._skipped(value)
            self._end(failed=False, result=result, cid=cid, sid=sid)
        return result

    def execute(self, input: str | Mapping[str, Any]) -> AgentResult:
        """:meth:`invoke` under the seed's name."""
        return self.invoke(input)

    def stream(self, input: str | Mapping[str, Any]) -> Generator[AgentChunk, None, None]:
        """Send ``input`` and yield the answer in order; the last chunk is ``done``.
        Raises as :meth:`invoke`, while iterating."""
        text, parameters, context = self._start_call(input)
        hooks = self._owner.hooks
        cid, sid = context["correlation_id"], context["session_id"]
        inner: Generator[AgentChunk, None, None] | None = None
        # Settlement and collected artifact in one commit; closed before the last chunk is
        # handed over (the consumer's code runs then), so the event's entry is its own.
        after = self._owner.meter.after_answer(sid, hooks, GROUPED)
        self._begin()
        try:
            data = hooks.before(BEFORE, self._hook_data(text, parameters), **context)
            if isinstance(data, Skipped):
                skipped = self._skipped(data.result)
                yield AgentChunk("done", 0, result=skipped)
                self._end(failed=False, result=skipped, cid=cid, sid=sid)
                return
            turns: list[list[Message]] = []
            found: AgentResult | None = None
            last = 0
            inner = self._execute(take_text(data), cid, sid, turns, stream=True, after=after)
            for chunk in inner:
                if chunk.kind == "done":
                    found, last = chunk.result, chunk.index
                else:
                    yield chunk
            assert found is not None
            result = self._after(found, context)
            self._commit(turns[-1], result.text)
        except BaseException as exc:
            if inner is not None:
                inner.close()  # an abandoned stream is journaled as failed now, not at GC
            try:
                self._failed(exc, text, context)
            finally:
                after.close()
            raise
        after.close()
        yield AgentChunk("done", last, result=result)
        self._end(failed=False, result=result, cid=cid, sid=sid)

    async def ainvoke(self, input: str | Mapping[str, Any]) -> AgentResult:
        """:meth:`invoke` for asyncio. The model calls are natively async (the provider's
        ``acomplete``: httpx's async client for the HTTP providers), so many calls can wait on
        the network at once without a thread each; the short store and hook work between them
        (journal, limits, tools) runs on worker threads, never on the event loop. Raises as
        :meth:`invoke`."""
        text, parameters, context = self._start_call(input)
        hooks = self._owner.hooks
        cid, sid = context["correlation_id"], context["session_id"]
        steps: Generator[AgentChunk | _ModelCall, ChatResponse | None, None] | None = None
        await asyncio.to_thread(self._begin)
        try:
            data = await asyncio.to_thread(hooks.before, BEFORE,
                                           self._hook_data(text, parameters), **context)
            if isinstance(data, Skipped):
                result = self._skipped(data.result)
            else:
                turns: list[list[Message]] = []
                steps = self._execute(take_text(data), cid, sid, turns, stream=False,
                                      awaited=True)
                step = await asyncio.to_thread(next, steps)
                while isinstance(step, _ModelCall):
                    try:
                        response = await self.provider.acomplete(step.request)
                    except Exception as exc:
                        step = await asyncio.to_thread(steps.throw, exc)
                    else:
                        step = await asyncio.to_thread(steps.send, response)
                assert step.result is not None
                result = await asyncio.to_thread(self._after, step.result, context)
                await asyncio.to_thread(self._commit, turns[-1], result.text)
        except BaseException as exc:
            if steps is not None:
                steps.close()
            await asyncio.to_thread(self._failed, exc, text, context)
            raise
        await asyncio.to_thread(lambda: self._end(failed=False, result=result, cid=cid,
                                                  sid=sid))
        return result

    async def astream(self, input: str | Mapping[str, Any]) -> AsyncIterator[AgentChunk]:
        """:meth:`stream` for asyncio: chunks arrive as the worker thread gets them."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def pump() -> None:
            try:
                for chunk in self.stream(input):
                    loop.call_soon_threadsafe(queue.put_nowait, ("chunk", chunk))
            except BaseException as exc:  # handed to the consumer
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
            else:
                loop.call_soon_threadsafe(queue.put_nowait, ("end", None))

        worker = loop.run_in_executor(None, _in_context(pump))
        while True:
            tag, value = await queue.get()
            if tag == "chunk":
                yield value
            elif tag == "error":
                await worker
                raise value
            else:
                await worker
                return

    # -- the tool loop -------------------------------------------------------------------

    def _execute(self, text: str, cid: str, sid: str | None, turns: list[list[Message]], *,
                 stream: bool, awaited: bool = False, after: AfterAnswer | None = None,
                 ride: Ride | None = None) -> Generator[Any, ChatResponse | None, None]:
        """One execution: model calls and tool calls until an answer without tool calls.
        ``awaited``: each model call is yielded as a :class:`_ModelCall` and its response
        sent back (:meth:`ainvoke` awaits it), instead of calling the provider here.
        ``after``: opened once the last answer (one without tool calls) is in, before its
        settlement; closed before any model call (a retry of the execution). ``ride``: where
        the last answer's settlement may wait for its artifact (:mod:`llmspell.sessions.ride`)."""
        config, owner = self.config, self._owner
        with self._lock:
            history = list(self.conversation)
        system = [Message("system", config.system_prompt)] if config.system_prompt else []
        new = [Message("user", text)]
        turns.append(new)
        specs = [t.spec() for t in self.tools.values()]
        calls: list[dict[str, Any]] = []
        input_tokens = output_tokens = 0
        spent = 0.0
        index = 0
        started = time.perf_counter()
        price = owner.price(config.provider, config.model_name)
        for step in range(1, config.max_steps + 1):
            request = ChatRequest(config.model_name, [*system, *history, *new], specs,
                                  config.temperature, config.max_tokens)
            record = request_record(request)
            entry: dict[str, Any] = {"agent": self.name, "provider": config.provider,
                                     "model": config.model_name,
                                     "fingerprint": fingerprint(provider=config.provider, **record),
                                     "request": record, "stream": stream, "step": step}
            if after is not None:
                after.close()  # never across a model call
            admitted = owner.meter.admit(sid, request)
            t0 = time.perf_counter()
            response: ChatResponse | None = None
            try:
                if stream and not intercept.active():
                    for piece in self.provider.stream(request):
                        if piece.kind == "text":
                            yield AgentChunk("text", index, text=piece.text)
                            index += 1
                        elif piece.kind == "done":
                            response = piece.response
                elif awaited and not intercept.active():
                    response = yield _ModelCall(request)
                else:  # a replay serves (or compares) the whole answer: one chunk of text
                    response = intercept.through(
                        LLM_CALL, entry["fingerprint"],
                        lambda: self.provider.complete(request),  # noqa: B023 (called now)
                        describe=lambda: entry, restore=response_from)  # noqa: B023
                    if stream and response.text:
                        yield AgentChunk("text", index, text=response.text)
                        index += 1
                if response is None:
                    raise AgentError(f"provider {config.provider!r} ended a stream without "
                                     "its final chunk")
            except BaseException as exc:
                entry.update(latency_ms=_ms(t0), error=str(exc), error_type=type(exc).__name__)
                owner.meter.settle(sid, admitted, None, None, entry, cid)
                raise
            usage = response.usage
            call_cost = cost(usage, price)
            entry.update(response=response_record(response), usage=usage.as_dict(),
                         cost=call_cost, latency_ms=_ms(t0))
            riding = None if response.tool_calls else ride
            # A settlement that waits for the event's entry (sessions.ride, ``later``) is
            # written in one batch with the artifact and that entry: nothing to group.
            if after is not None and not response.tool_calls and not (
                    riding is not None and riding.later
                    and owner.meter.rides(sid, admitted, riding)):
                after.open()
            owner.meter.settle(sid, admitted, response, price, entry, cid, riding)
            input_tokens += usage.input_tokens
            output_tokens += usage.output_tokens
            spent += call_cost
            new.append(response.as_message())
            if not response.tool_calls:
                yield AgentChunk("done", index, result=AgentResult(
                    response.text,
                    {"agent": self.name, "model": config.model_name,
                     "provider": config.provider, "finish_reason": response.finish_reason,
                     "latency_ms": _ms(started), "execution_time_ms": int(_ms(started)),
                     "token_count": input_tokens + output_tokens, "steps": step,
                     "cost": spent, "correlation_id": cid, "session_id": sid},
                    {"input_tokens": input_tokens, "output_tokens": output_tokens,
                     "total": input_tokens + output_tokens, "cost": spent},
                    calls))
                return
            for call in response.tool_calls:
                if stream:
                    yield AgentChunk("tool_call", index, tool_call=call_record(call))
                    index += 1
                done = self._run_tool(call, cid, sid)
                calls.append(done)
                new.append(Message("tool", result_text(done["result"]["output"])
                                   if done["result"]["success"]
                                   else f"error: {done['result']['error']}",
                                   tool_call_id=call.id, name=call.name))
                if stream:
                    yield AgentChunk("tool_result", index, tool_call=done)
                    index += 1
        raise AgentError(f"agent {self.name!r} stopped its tool loop after max_steps = "
                         f"{config.max_steps} model calls that all asked for tools")

    def _run_tool(self, call: ToolCall, cid: str, sid: str | None) -> dict[str, Any]:
        """Run one tool call; an unknown tool or a failing tool becomes an error result the
        model sees (and the journal records), not an exception."""
        tool = self.tools.get(call.name)
        t0 = time.perf_counter()

        def attempt() -> tuple[Any, str | None]:
            if tool is None:
                return None, (f"no tool named {call.name!r}; known: "
                              f"{', '.join(self.tools) or 'none'}")
            if (problem := tool.problem(dict(call.arguments))) is not None:
                return None, f"invalid arguments for {call.name!r}: {problem}"
            try:
                return tool.call(dict(call.arguments)), None
            except ScriptLimitExceeded:
                raise  # the script must stop, not the model hear about it
            except Exception as exc:
                return None, f"{type(exc).__name__}: {exc}"

        print_ = fingerprint(agent=self.name, tool=call.name, arguments=dict(call.arguments))
        output, error = intercept.through(
            TOOL_CALL, print_, attempt,
            describe=lambda: {"agent": self.name, "tool": call.name,
                              "arguments": dict(call.arguments)},
            restore=lambda data: (data["result"]["output"], data["result"]["error"]))
        with self._lock:
            self.stats["tool_invocations"] += 1
        result = {"success": error is None, "output": output, "error": error}
        record = {"id": call.id, "tool_id": call.id, "name": call.name,
                  "tool_name": call.name, "arguments": dict(call.arguments),
                  "parameters": dict(call.arguments), "result": result}
        shown = mask_fields(dict(call.arguments), tool.secret_fields if tool else ())
        self._owner.meter.journal(sid, TOOL_CALL, {"agent": self.name, "tool": call.name,
                                                   "id": call.id,
                                                   "arguments": shown,
                                                   "result": result,
                                                   "latency_ms": _ms(t0),
                                                   "fingerprint": print_}, cid)
        self._owner.publish("agent.tool_called", {"agent": self.name, "tool": call.name,
                                                  "success": error is None}, cid, sid)
        return record

    def invoke_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
        """Run one of this agent's tools directly (journaled as ``tool.call``); the tool's
        result. ValidationError for an unknown tool; the tool's own error if it fails."""
        if not isinstance(name, str) or name not in self.tools:
            raise ValidationError("tool_name", f"agent {self.name!r} has no such tool; known: "
                                  f"{', '.join(self.tools) or 'none'}", got=name)
        if arguments is not None and not isinstance(arguments, Mapping):
            raise ValidationError("parameters", "must be a table of arguments", got=arguments)
        done = self._run_tool(ToolCall(correlation_id()[:12], name, dict(arguments or {})),
                              correlation_id(), self._owner.meter.session_id())
        if not done["result"]["success"]:
            raise AgentError(f"tool {name!r} of agent {self.name!r} failed: "
                             f"{done['result']['error']}")
        return done["result"]["output"]

    def add_tool(self, tool: AgentTool | Mapping[str, Any] | Callable[..., Any]) -> None:
        """Give the agent one more tool, in any form ``tools=`` takes (ValidationError
        otherwise); one of the same name is replaced."""
        made = as_tool(tool, "")
        self.tools[made.name] = made

    # -- bookkeeping ---------------------------------------------------------------------

    def _hook_data(self, text: str, parameters: Any) -> dict[str, Any]:
        return {"agent": self.name, "model": self.config.model, "text": text,
                "parameters": parameters}

    def _start_call(self, input: str | Mapping[str, Any]) -> tuple[str, Any, dict[str, Any]]:
        """The checked input, its parameters and the hook context of a new call."""
        text, parameters = parse_input(input)
        self.lifecycle.check_callable()
        return text, parameters, {"component": self.name, "correlation_id": correlation_id(),
                                  "session_id": self._owner.meter.session_id()}

    def _after(self, result: AgentResult, context: dict[str, Any]) -> AgentResult:
        """The ``agent:after_execution`` outcome applied to ``result`` (stream, ainvoke)."""
        hooks = self._owner.hooks
        if not hooks.has(AFTER):
            return result
        outcome = hooks.decide(AFTER, hook_view(result), **context)
        if outcome.action == RETRY:
            hooks.report_ignored(AFTER, RETRY, outcome, frozenset(),
                                 correlation_id=context["correlation_id"],
                                 session_id=context["session_id"])
        return self._modified(outcome.data, result)

    def _failed(self, exc: BaseException, text: str, context: dict[str, Any]) -> None:
        """Record a failed call and fire ``agent:error`` (stream, ainvoke)."""
        hooks = self._owner.hooks
        cid, sid = context["correlation_id"], context["session_id"]
        self._end(failed=True, error=exc, cid=cid, sid=sid)
        if isinstance(exc, Exception) and hooks.has(ERROR):
            failed = hooks.decide(ERROR, {"error": str(exc), "error_type":
                                          type(exc).__name__, "input": text}, **context)
            if failed.action == RETRY:
                hooks.report_ignored(ERROR, RETRY, failed, frozenset(),
                                     correlation_id=cid, session_id=sid)

    def _skipped(self, value: Any) -> AgentResult:
        if isinstance(value, Mapping):
            result = AgentResult.from_dict(value)
        else:
            result = AgentResult("" if value is None else result_text(value))
        result.metadata.update(agent=self.name, model=self.config.model_name,
                               provider=self.config.provider, skipped=True)
        return result

    def _modified(self, value: Any, produced: AgentResult) -> AgentResult:
        """The result after the after-execution hooks: ``produced`` itself, or what a hook
        made of it (a table of fields laid over it, or a string for the text)."""
        if isinstance(value, Mapping):
            if value.get("text") is produced.text and value.get("metadata") is produced.metadata:
                return produced
            merged = AgentResult.from_dict({**hook_view(produced), **value})
            merged.metadata = {**produced.metadata, **merged.metadata}
            return merged
        return AgentResult(value if isinstance(value, str) else result_text(value),
                           dict(produced.metadata), dict(produced.usage),
                           list(produced.tool_calls))

    def _commit(self, turns: list[Message], answer: str) -> None:
        """Keep the turns of a call that succeeded; the last answer as the caller got it."""
        last = turns[-1]
        if last.role == "assistant" and last.content != answer:
            turns = [*turns[:-1], Message("assistant", answer, last.tool_calls)]
        limit = self.config.max_conversation_length
        with self._lock:
            conversation = self.conversation + turns
            if len(conversation) > limit:
                conversation = conversation[-limit:]
                while conversation and conversation[0].role != "user":
                    conversation.pop(0)  # never start inside a tool exchange
            self.conversation = conversation

    def _begin(self) -> None:
        with self._lock:
            self.stats["requests_total"] += 1
            self.stats["requests_active"] += 1

    def _end(self, *, failed: bool, cid: str, sid: str | None,
             result: AgentResult | None = None, error: BaseException | None = None) -> None:
        with self._lock:
            stats = self.stats
            stats["requests_active"] -= 1
            if failed:
                stats["requests_failed"] += 1
            elif result is not None:
                stats["input_tokens"] += int(result.usage.get("input_tokens", 0))
                stats["output_tokens"] += int(result.usage.get("output_tokens", 0))
                stats["cost"] += float(result.usage.get("cost", 0.0))
                stats["total_latency_ms"] += float(result.metadata.get("latency_ms", 0.0))
        if failed:
            self._owner.publish("agent.execution_failed", {
                "agent": self.name, "error": str(error),
                "error_type": type(error).__name__}, cid, sid)
        elif result is not None:
            self._owner.publish(COMPLETED, {
                "agent": self.name, "model": self.config.model_name,
                "usage": result.usage, "latency_ms": result.metadata.get("latency_ms"),
                "finish_reason": result.metadata.get("finish_reason"),
                "skipped": bool(result.metadata.get("skipped"))}, cid, sid)

    def metrics(self) -> dict[str, Any]:
        """Counters of this agent's calls (rs-llmspell's ``getMetrics`` names and ours)."""
        with self._lock:
            stats: dict[str, Any] = dict(self.stats)
        done = stats["requests_total"] - stats["requests_active"]
        ok = done - stats["requests_failed"]
        stats.update(agent_id=self.name, state=self.state,
                     conversation_length=len(self.conversation),
                     avg_latency_ms=stats["total_latency_ms"] / ok if ok else 0.0,
                     success_rate=ok / done if done else 1.0,
                     tools={n: {"calls": t.calls, "failures": t.failures}
                            for n, t in self.tools.items()})
        return stats

    # -- lifecycle -----------------------------------------------------------------------

    def transition(self, operation: str, reason: str | None = None) -> dict[str, Any]:
        """Apply a lifecycle operation (``lifecycle.TRANSITIONS``); pause and stop save the
        agent's state (when state is enabled). Returns the history entry."""
        entry = self.lifecycle.move(operation, reason)
        self._owner.publish("agent.state_changed", {"agent": self.name, **entry}, None,
                            self._owner.meter.session_id())
        if operation in ("pause", "stop") and self._owner.state_available():
            self.save_state()
        return entry

    def initialize(self) -> dict[str, Any]:
        return self.transition("initialize")

    def start(self) -> dict[str, Any]:
        return self.transition("start")

    def pause(self) -> dict[str, Any]:
        return self.transition("pause")

    def resume(self) -> dict[str, Any]:
        return self.transition("resume")

    def stop(self) -> dict[str, Any]:
        return self.transition("stop")

    def set_error(self, message: str) -> dict[str, Any]:
        if not isinstance(message, str):
            raise ValidationError("error_message", "must be a string", got=message)
        return self.transition("error", message)

    def recover(self) -> dict[str, Any]:
        return self.transition("recover")

    def terminate(self) -> dict[str, Any]:
        """Terminate (``agent:before_shutdown``/``after_shutdown`` fire) and release the
        agent's own provider; the agent stays listed until removed."""
        hooks = self._owner.hooks
        data = {"agent": self.name, "state": self.state}
        if hooks.has("agent:before_shutdown"):
            hooks.after("agent:before_shutdown", data, component=self.name)
        entry = self.transition("terminate")
        if self._own_provider:
            self.provider.close()
        if hooks.has("agent:after_shutdown"):
            hooks.after("agent:after_shutdown", data | {"state": self.state},
                        component=self.name)
        return entry

    # -- saved state ---------------------------------------------------------------------

    @property
    def scope(self) -> str:
        return f"agent:{self.name}"

    def snapshot(self) -> dict[str, Any]:
        """What :meth:`save_state` stores: config, conversation, lifecycle, tool stats."""
        with self._lock:
            conversation = [message_record(m) for m in self.conversation]
        return {"version": STATE_VERSION, "config": self.config.to_dict(),
                "conversation": conversation, "lifecycle": self.lifecycle.to_dict(),
                "tools": {n: {"calls": t.calls, "failures": t.failures}
                          for n, t in self.tools.items()},
                "metrics": {k: v for k, v in self.stats.items() if k != "requests_active"}}

    def save_state(self) -> bool:
        """Save to scope ``agent:<name>`` key ``state``. StateError when state is off."""
        self._owner.state().save(self.scope, STATE_KEY, self.snapshot())
        return True

    def load_state(self) -> bool:
        """Load what :meth:`save_state` stored: the conversation, the lifecycle state and
        history, tool counters. False when nothing is saved."""
        saved = self._owner.state().load(self.scope, STATE_KEY)
        if saved is None:
            return False
        if not isinstance(saved, Mapping) or saved.get("version") != STATE_VERSION:
            raise AgentError(f"the saved state of agent {self.name!r} (scope {self.scope}) "
                             f"is not one this version reads")
        conversation = [message_from(m) for m in saved.get("conversation") or ()]
        self.lifecycle.restore(dict(saved.get("lifecycle") or {}))
        for name, counts in (saved.get("tools") or {}).items():
            if name in self.tools:
                self.tools[name].calls = int(counts.get("calls", 0))
                self.tools[name].failures = int(counts.get("failures", 0))
        with self._lock:
            self.conversation = conversation
            for key, value in (saved.get("metrics") or {}).items():
                if key in self.stats:
                    self.stats[key] = value
        return True

    def delete_state(self) -> bool:
        """Delete the saved state; False when there was none."""
        return bool(self._owner.state().delete(self.scope, STATE_KEY))

    def clear_conversation(self) -> None:
        with self._lock:
            self.conversation = []


class _ModelCall:
    """A model call :meth:`Agent._execute` hands out in ``awaited`` mode."""

    __slots__ = ("request",)

    def __init__(self, request: ChatRequest) -> None:
        self.request = request


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


def _in_context(fn: Any) -> Any:
    import contextvars

    context = contextvars.copy_context()
    return lambda: context.run(fn)
