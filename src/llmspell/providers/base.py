"""What every LLM provider takes and gives back, and the base class they share.

A :class:`ChatRequest` (messages with roles, tool definitions as JSON schema, sampling options)
goes in; a :class:`ChatResponse` (text, tool calls, :class:`Usage`, a finish reason) comes out,
or, when streamed, a sequence of :class:`StreamChunk` (text deltas, tool-call deltas, and a
last ``done`` chunk carrying the assembled response with its usage). :class:`StreamAssembler`
is the one place that turns deltas into a response and parses tool-call arguments.

Implementations (one module each, chosen by kind in :mod:`llmspell.providers.registry`):
``openai`` (chat completions), ``anthropic`` (Messages API), ``scripted`` (a test double).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from llmspell.errors import ProviderResponseError, ValidationError

ROLES = ("system", "user", "assistant", "tool")
#: The finish reasons every provider reports (others are passed through as the provider said).
FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter")


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, and a JSON schema of its arguments."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for; ``arguments`` is the parsed JSON object."""

    id: str
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class Message:
    """One turn of a conversation.

    ``role`` is system, user, assistant or tool. An assistant turn may carry ``tool_calls``; a
    tool turn answers one of them: ``tool_call_id`` names the call and ``content`` is the result.
    """

    role: str
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValidationError("role", f"must be one of {', '.join(ROLES)}", got=self.role)
        if self.role == "tool" and not self.tool_call_id:
            raise ValidationError("tool_call_id", "a tool message must name the call it answers",
                                  got=self.tool_call_id)


@dataclass(frozen=True)
class Usage:
    """Tokens one call used. ``reported`` is False when the provider sent no usage (then the
    counts are 0 and must not be taken as the truth)."""

    input_tokens: int = 0
    output_tokens: int = 0
    reported: bool = True

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    def as_dict(self) -> dict[str, Any]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "total": self.total}


@dataclass(frozen=True)
class ChatRequest:
    """What to send. ``extra`` is merged into the provider's request body as given."""

    model: str
    messages: Sequence[Message]
    tools: Sequence[ToolSpec] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    stop: Sequence[str] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.messages:
            raise ValidationError("messages", "must hold at least one message", got=[])

    @property
    def system(self) -> str:
        """The system messages joined (for providers that take the system prompt apart)."""
        return "\n\n".join(m.content for m in self.messages if m.role == "system")


@dataclass(frozen=True)
class ChatResponse:
    """What came back: the text, the tool calls asked for, usage and why the model stopped."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"
    model: str = ""
    provider: str = ""

    def as_message(self) -> Message:
        """The assistant turn to append to the conversation."""
        return Message("assistant", self.text, tool_calls=self.tool_calls)


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a streamed tool call: ``index`` says which call, ``arguments`` is more of its
    JSON text; ``id`` and ``name`` come with the first piece."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class StreamChunk:
    """One piece of a streamed answer, in order.

    ``kind`` is ``text`` (``text`` holds the delta), ``tool_call`` (``tool_call`` holds a
    delta) or ``done`` (the last chunk: ``response`` is the whole answer, usage included).
    """

    kind: Literal["text", "tool_call", "done"]
    text: str = ""
    tool_call: ToolCallDelta | None = None
    response: ChatResponse | None = None


def parse_tool_arguments(provider: str, name: str, text: str | Mapping[str, Any]) -> dict:
    """A tool call's arguments as a dict; ProviderResponseError naming the tool when the text
    is not a JSON object. Empty text means no arguments."""
    if isinstance(text, Mapping):
        return dict(text)
    if not text.strip():
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ProviderResponseError(
            f"tool call '{name}' has arguments that are not valid JSON "
            f"(got {_clip(text)!r})", provider=provider) from None
    if not isinstance(value, dict):
        raise ProviderResponseError(
            f"tool call '{name}' must have a JSON object of arguments "
            f"(got {type(value).__name__} {_clip(text)!r})", provider=provider)
    return value


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class StreamAssembler:
    """Collects stream deltas into the final :class:`ChatResponse` (one per stream)."""

    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self._text: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def text(self, delta: str) -> StreamChunk:
        self._text.append(delta)
        return StreamChunk("text", text=delta)

    def tool_call(self, delta: ToolCallDelta) -> StreamChunk:
        call = self._calls.setdefault(delta.index, {"id": None, "name": None, "arguments": []})
        if delta.id:
            call["id"] = delta.id
        if delta.name:
            call["name"] = delta.name
        call["arguments"].append(delta.arguments)
        return StreamChunk("tool_call", tool_call=delta)

    def finish(self) -> StreamChunk:
        """The ``done`` chunk; ProviderResponseError when a tool call is incomplete or bad."""
        calls = []
        for index in sorted(self._calls):
            call = self._calls[index]
            if not call["name"]:
                raise ProviderResponseError(f"streamed tool call #{index} has no name",
                                            provider=self.provider)
            arguments = parse_tool_arguments(self.provider, call["name"],
                                             "".join(call["arguments"]))
            calls.append(ToolCall(call["id"] or f"call_{index}", call["name"], arguments))
        reason = self.finish_reason or ("tool_calls" if calls else "stop")
        response = ChatResponse("".join(self._text), tuple(calls),
                                self.usage or Usage(reported=False), reason, self.model,
                                self.provider)
        return StreamChunk("done", response=response)


class Provider(ABC):
    """An LLM provider: sync and async calls, whole or streamed.

    Subclasses implement :meth:`complete` and :meth:`stream`; the async forms default to
    running those on a worker thread, and the HTTP providers override them with real async I/O.
    """

    #: The name this provider was configured under (``openai``, ``local``, ...).
    name: str = ""

    @abstractmethod
    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send ``request`` and return the whole answer. Raises a ProviderError subclass."""

    @abstractmethod
    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        """Send ``request`` and yield the answer in order; the last chunk is ``done``."""

    async def acomplete(self, request: ChatRequest) -> ChatResponse:
        """:meth:`complete` for asyncio."""
        return await asyncio.to_thread(self.complete, request)

    async def astream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        """:meth:`stream` for asyncio."""
        for chunk in await asyncio.to_thread(lambda: list(self.stream(request))):
            yield chunk

    def close(self) -> None:  # noqa: B027 - a provider without connections has nothing to do
        """Release connections."""

    async def aclose(self) -> None:
        """Release connections (async clients too)."""
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
