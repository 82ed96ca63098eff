"""What every LLM call of an agent goes through besides the provider: session limits, usage
and cost, the journal.

One :class:`CallMeter` per runtime. For each provider call an agent makes:

1. :meth:`CallMeter.admit` asks the current session (if any) to admit one ``agent.execute``
   operation with an *estimate* of its tokens (:func:`estimate_tokens`: the request's text at
   4 characters a token, plus its ``max_tokens``). Rate limits (``agent.execute=10/s``),
   ``max_operations`` and a ``max_tokens`` the estimate would pass refuse the call before
   anything is sent (ResourceLimitExceeded / RateLimitExceeded, ``resource:limit_exceeded``).
   When the session has an operations, tokens or cost limit (or a policy of the user's runs),
   the operation and the estimate are counted now, so that calls made at the same time see
   each other's share; otherwise nothing is written now and step 3 counts the operation
   (``SessionManager.admit_call``): one write fewer per call.
2. The provider is called.
3. :meth:`CallMeter.settle` replaces the reservation (if any) with the tokens the provider
   reported, counts the operation when step 1 did not, and adds the cost (the provider's
   price table, :func:`llmspell.providers.cost`). When the measured amounts took the session
   past ``max_tokens`` or ``max_cost`` the call's answer is not returned:
   ResourceLimitExceeded is raised (the tokens stay counted: they were spent).
   A failed call gives its reservation back. When step 1 wrote nothing (so no limit can
   refuse it) and ``invoke`` offers it, the settlement of the last answer waits instead for
   the batch of the artifact that collects the answer and is written in it
   (:mod:`llmspell.sessions.ride`): one session-record write per call instead of two.
4. The same batch as the settlement appends an ``llm.call`` entry to the session's journal:
   ``{agent, provider, model, fingerprint, request, response, usage, cost, latency_ms,
   stream, step, error, error_type}``. ``fingerprint`` is the SHA-256 of the canonical JSON of
   what decides the answer (provider, model, messages, tools, temperature, max_tokens), so a
   replay can serve the call from the journal and tell a different call apart. Secrets are
   redacted by the journal's redactor; the API key is never part of a request record.
   A ``tool.call`` entry ``{agent, tool, id, arguments, result, latency_ms, fingerprint}``
   records each tool call the same way.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from llmspell.agents.after import AfterAnswer
from llmspell.errors import SessionNotFound
from llmspell.journal import Draft
from llmspell.providers.base import ChatRequest, ChatResponse, Message, ToolCall, Usage
from llmspell.providers.pricing import Price, cost
from llmspell.redact import Redactor
from llmspell.sessions.ride import Ride

logger = logging.getLogger("llmspell.agents")

KIND = "agent.execute"
LLM_CALL = "llm.call"
TOOL_CALL = "tool.call"


def message_record(message: Message) -> dict[str, Any]:
    """A message as plain values (journal, saved state)."""
    record: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        record["tool_calls"] = [call_record(c) for c in message.tool_calls]
    if message.tool_call_id:
        record["tool_call_id"] = message.tool_call_id
    if message.name:
        record["name"] = message.name
    return record


def message_from(record: dict[str, Any]) -> Message:
    """The inverse of :func:`message_record`."""
    calls = tuple(ToolCall(c["id"], c["name"], c.get("arguments") or {})
                  for c in record.get("tool_calls") or ())
    return Message(record["role"], record.get("content", ""), calls,
                   record.get("tool_call_id"), record.get("name"))


def call_record(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": dict(call.arguments)}


def request_record(request: ChatRequest) -> dict[str, Any]:
    return {"model": request.model,
            "messages": [message_record(m) for m in request.messages],
            "tools": [{"name": t.name, "description": t.description,
                       "parameters": dict(t.parameters)} for t in request.tools],
            "temperature": request.temperature, "max_tokens": request.max_tokens}


def response_record(response: ChatResponse) -> dict[str, Any]:
    return {"text": response.text, "tool_calls": [call_record(c) for c in response.tool_calls],
            "finish_reason": response.finish_reason, "model": response.model}


def not_ours(entry: dict[str, Any]) -> list[Any]:
    """What in the ``llm.call`` entry of an answered call may hold a secret: the names the
    user chose (agent, provider, model), the messages and tools sent, the provider's answer.
    The rest (the entry's field names, the usage, cost, latency, step and flags, the
    fingerprint, the request's temperature and max_tokens) is llmspell's own and never does,
    so the journal's secret check may judge these parts alone (:meth:`CallMeter.settle`)."""
    request = entry["request"]
    return [entry["agent"], entry["provider"], entry["model"], request["model"],
            request["messages"], request["tools"], entry["response"]]


def response_from(entry: dict[str, Any]) -> ChatResponse:
    """The answer an ``llm.call`` entry recorded (its ``response`` and ``usage``), rebuilt:
    what a replay returns instead of calling the provider."""
    record, usage = entry["response"], entry.get("usage") or {}
    calls = tuple(ToolCall(c["id"], c["name"], c.get("arguments") or {})
                  for c in record.get("tool_calls") or ())
    return ChatResponse(record.get("text") or "", calls,
                        Usage(int(usage.get("input_tokens", 0)),
                              int(usage.get("output_tokens", 0))),
                        record.get("finish_reason") or "stop", record.get("model") or "",
                        entry.get("provider") or "")


def fingerprint(**parts: Any) -> str:
    """The stable identity of a call: SHA-256 of the canonical JSON (sorted keys) of what
    decides its result (for a model call: provider and request; for a tool call: agent, tool
    and arguments)."""
    body = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=repr)
    return hashlib.sha256(body).hexdigest()


def estimate_tokens(request: ChatRequest) -> int:
    """Tokens a request may use, estimated before it is sent: its text at 4 characters a
    token (rounded up) plus the output cap it sets."""
    chars = sum(len(m.content) for m in request.messages)
    chars += sum(len(t.name) + len(t.description) for t in request.tools)
    return -(-chars // 4) + (request.max_tokens or 0)


class Admission(NamedTuple):
    """What an admission counted: ``reserved`` tokens, and ``operations`` left to the
    settlement (1 when nothing was written at admission)."""

    reserved: int
    operations: int


NOTHING = Admission(0, 0)


class CallMeter:
    """Admission, settlement and journaling of LLM calls (see the module docstring).

    ``sessions`` gives the SessionManager, or None when sessions are off.
    """

    def __init__(self, sessions: Callable[[], Any | None]) -> None:
        self._sessions = sessions
        self._known: Any | None = None

    def _manager(self) -> Any | None:
        """The SessionManager, asked of ``sessions`` until it gives one, then kept (a
        runtime builds one for its life; every call asked for it four times)."""
        manager = self._known
        if manager is None:
            manager = self._known = self._sessions()
        return manager

    def session_id(self) -> str | None:
        manager = self._manager()
        return None if manager is None else manager.current_id()

    def recorded_first(self, event_type: str) -> bool:
        """Whether the session recorder would be the first to see an ``event_type`` event of
        the agents (nothing of the user's sees it before its journal entry is written)."""
        manager = self._manager()
        recorder = None if manager is None else manager.recorder
        return recorder is not None and recorder.records_first(event_type, "agents")

    def admit(self, sid: str | None, request: ChatRequest) -> Admission:
        """Admit one call in ``sid`` (or with only the global rate limits when None); what
        :meth:`settle` must know of what was counted."""
        manager = self._manager()
        if manager is None:
            return NOTHING
        if sid is None:
            manager.admit(None, KIND)
            return NOTHING
        estimate = estimate_tokens(request)
        if manager.admit_call(sid, KIND, tokens=estimate):
            return Admission(estimate, 0)
        return Admission(0, 1)

    def after_answer(self, sid: str | None, hooks: Any, points: tuple[str, ...]) -> AfterAnswer:
        """The commit group of a call's writes after its answer (:mod:`llmspell.agents.after`):
        on the sessions' store when the call runs in session ``sid`` and no hook of the
        user's is registered at ``points`` of ``hooks``; else one that groups nothing."""
        manager = self._manager()
        return AfterAnswer.for_call(None if manager is None else manager.store, sid, hooks,
                                    points)

    def rides(self, sid: str | None, admitted: Admission, ride: Ride | None) -> bool:
        """Whether :meth:`settle` of an answered call leaves its settlement to ``ride``: one
        that cannot be refused (the admission left the operation to it and reserved no
        tokens: the session has no operations, tokens or cost limit and no policy of the
        user's), in the ride's session, with no settlement waiting there yet."""
        return (ride is not None and ride.session_id == sid and not ride.waiting
                and admitted.operations == 1 and not admitted.reserved)

    def settle(self, sid: str | None, admitted: Admission, response: ChatResponse | None,
               price: Price | None, entry: dict[str, Any] | None = None,
               correlation_id: str | None = None, ride: Ride | None = None) -> float:
        """Count the measured usage (or give the reservation back when ``response`` is None),
        the operation if :meth:`admit` left it, and journal the call's ``llm.call``
        ``entry``, in one batch; the call's cost. ResourceLimitExceeded when it went past a
        limit (the entry and counts are written).

        ``ride``: offered for the call's answer (:mod:`llmspell.sessions.ride`). The
        settlement waits in it for the batch of the artifact collecting the answer when
        :meth:`rides` says so (and with ``later``, for the entries of the journal's next
        append: written with them when no collection took it)."""
        spent = 0.0 if response is None else cost(response.usage, price)
        manager = self._manager()
        if manager is None or sid is None:
            return spent
        tokens = 0 if response is None else response.usage.total
        drafts = None if entry is None else [Draft(LLM_CALL, entry, correlation_id,
                                                   _checked(manager.journal.redactor, entry))]
        if drafts is not None and response is not None and self.rides(sid, admitted, ride):
            assert ride is not None
            ride.wait(1, tokens, spent, drafts, lambda held: manager.settle(
                sid, KIND, tokens=held.tokens, cost=held.cost,
                journal=[*held.drafts, *held.trailing], operations=held.operations))
            return spent
        manager.settle(sid, KIND, reserved_tokens=admitted.reserved, tokens=tokens, cost=spent,
                       journal=drafts, operations=admitted.operations)
        return spent

    def journal(self, sid: str | None, kind: str, data: dict[str, Any],
                correlation_id: str | None) -> None:
        """Append an entry to ``sid``'s journal (nothing without a session, or when the
        session was deleted meanwhile)."""
        manager = self._manager()
        if manager is None or sid is None:
            return
        try:
            manager.append_entries(sid, [Draft(kind, data, correlation_id)])
        except SessionNotFound:
            logger.debug("session %s is gone; its %s entry is not written", sid, kind)


def _checked(redactor: Redactor, entry: dict[str, Any]) -> tuple[str, ...]:
    """The fields of ``entry`` the journal need not check for secrets (``Draft.redacted``):
    all of them when the parts that are not ours (:func:`not_ours`) hold no hint of a
    secret, judged on their JSON as the journal judges the entry's (a third of its text for
    a short chat: the scan of every hint over the whole entry was ~8% of a call); none for a
    failed call or when in doubt, which the journal then checks whole."""
    if "response" not in entry or "error" in entry:
        return ()
    try:
        text = orjson.dumps(not_ours(entry), option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return ()
    return () if redactor.might_hold_secret_json(text.decode("utf-8")) else tuple(entry)
