"""The Anthropic Messages provider: ``POST {base_url}/v1/messages``.

The system prompt goes apart from the messages; tool calls are ``tool_use`` content blocks and
their results ``tool_result`` blocks in a user turn. Streaming events: ``message_start`` (input
usage), ``content_block_start/delta/stop`` (text and ``input_json_delta`` pieces),
``message_delta`` (stop reason, output usage), ``message_stop`` (the end marker), ``error``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from llmspell.errors import ProviderResponseError, ProviderStreamDropped, ProviderUnavailable
from llmspell.providers.base import (
    ChatRequest,
    ChatResponse,
    Message,
    StreamChunk,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from llmspell.providers.http import HTTPProvider, StreamParser, clip

DEFAULT_BASE_URL = "https://api.anthropic.com"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
API_KEY_ENV = "ANTHROPIC_API_KEY"
API_VERSION = "2023-06-01"
#: The Messages API requires max_tokens; this is sent when neither request nor config set one.
DEFAULT_MAX_TOKENS = 4096
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
           "tool_use": "tool_calls", "refusal": "content_filter"}


class AnthropicProvider(HTTPProvider):
    """The Messages API over httpx; see the module docstring."""

    kind = "anthropic"

    @property
    def endpoint(self) -> str:
        base = self.base_url
        return f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def extra_headers(self) -> dict[str, str]:
        return {"anthropic-version": API_VERSION}

    def body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens or self.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": _messages(request.messages),
        }
        if request.system:
            body["system"] = request.system
        if request.tools:
            body["tools"] = [{"name": t.name, "description": t.description,
                              "input_schema": dict(t.parameters)} for t in request.tools]
        temperature = request.temperature if request.temperature is not None \
            else self.temperature
        if temperature is not None:
            body["temperature"] = temperature
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if stream:
            body["stream"] = True
        body.update(request.extra)
        return body

    def parse(self, data: Any, request: ChatRequest) -> ChatResponse:
        if not isinstance(data, dict) or not isinstance(data.get("content"), list):
            raise ProviderResponseError(f"expected a message with a content list (got "
                                        f"{clip(orjson.dumps(data))!r})", provider=self.name)
        text: list[str] = []
        calls: list[ToolCall] = []
        for block in data["content"]:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                text.append(block.get("text", ""))
            elif kind == "tool_use":
                if not block.get("name") or not isinstance(block.get("input", {}), dict):
                    raise ProviderResponseError(
                        f"a tool_use block needs a name and an object input (got "
                        f"{clip(orjson.dumps(block))!r})", provider=self.name)
                calls.append(ToolCall(block.get("id") or f"toolu_{len(calls)}", block["name"],
                                      block.get("input") or {}))
        usage = data.get("usage")
        return ChatResponse("".join(text), tuple(calls), _usage(usage, usage),
                            _finish(data.get("stop_reason"), calls),
                            data.get("model") or request.model, self.name)

    def stream_parser(self, request: ChatRequest) -> StreamParser:
        return _EventParser(self.name, request.model)


class _EventParser(StreamParser):
    def __init__(self, provider: str, model: str) -> None:
        super().__init__(provider, model)
        self.input_usage: dict[str, Any] = {}
        self.tool_index: dict[int, int] = {}  # content block index -> tool call index

    def feed(self, event: str, data: str) -> list[StreamChunk]:
        payload = self.decode(data) if data else {}
        kind = payload.get("type", event) if isinstance(payload, dict) else event
        if kind == "message_start":
            message = payload.get("message") or {}
            self.input_usage = message.get("usage") or {}
            self.out.model = message.get("model") or self.out.model
        elif kind == "content_block_start":
            block = payload.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self.tool_index.setdefault(payload.get("index", 0), len(self.tool_index))
                return [self.out.tool_call(ToolCallDelta(index, block.get("id"),
                                                         block.get("name")))]
            if block.get("type") == "text" and block.get("text"):
                return [self.out.text(block["text"])]
        elif kind == "content_block_delta":
            delta = payload.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                return [self.out.text(delta["text"])]
            if delta.get("type") == "input_json_delta":
                found = self.tool_index.get(payload.get("index", 0))
                if found is None:
                    raise ProviderResponseError("an input_json_delta came for a block that is "
                                                "not a tool_use", provider=self.provider)
                return [self.out.tool_call(ToolCallDelta(found,
                                                         arguments=delta.get("partial_json", "")))]
        elif kind == "message_delta":
            delta = payload.get("delta") or {}
            self.out.finish_reason = _finish(delta.get("stop_reason"), self.tool_index)
            self.out.usage = _usage(self.input_usage, payload.get("usage"))
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            error = payload.get("error") or {}
            raise ProviderUnavailable(f"the server reported an error mid-stream: "
                                      f"{error.get('type', '')}: {error.get('message', '')}",
                                      provider=self.provider)
        return []

    def end(self) -> StreamChunk:
        if not self.done:
            raise ProviderStreamDropped("the stream ended without its message_stop event",
                                        provider=self.provider)
        return self.out.finish()


def _messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            block = {"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content}
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)  # results of one turn's calls go together
            else:
                out.append({"role": "user", "content": [block]})
        elif m.role == "assistant" and m.tool_calls:
            blocks: list[dict[str, Any]] = [{"type": "text", "text": m.content}] \
                if m.content else []
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name,
                        "input": dict(c.arguments)} for c in m.tool_calls]
            out.append({"role": "assistant", "content": blocks})
        else:
            out.append({"role": m.role, "content": m.content})
    return out


def _usage(start: Any, final: Any) -> Usage:
    if not isinstance(start, dict) and not isinstance(final, dict):
        return Usage(reported=False)
    start, final = start or {}, final or {}
    inputs = sum(int(start.get(k) or 0) for k in ("input_tokens", "cache_read_input_tokens",
                                                  "cache_creation_input_tokens"))
    return Usage(inputs, int(final.get("output_tokens") or start.get("output_tokens") or 0))


def _finish(reason: Any, calls: Any) -> str:
    if not reason:
        return "tool_calls" if calls else "stop"
    return _FINISH.get(reason, str(reason))

