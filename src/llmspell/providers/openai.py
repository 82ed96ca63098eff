"""The OpenAI-compatible chat-completions provider (OpenAI, Ollama, vLLM, llama.cpp server,
LM Studio, OpenRouter, Groq...): ``POST {base_url}/chat/completions``.

Streaming is server-sent events ending with ``data: [DONE]``; ``stream_options.include_usage``
asks for the usage chunk. Tool calls stream as argument deltas per index and are parsed when
the stream ends (:class:`~llmspell.providers.base.StreamAssembler`).
"""

from __future__ import annotations

import re
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
    parse_tool_arguments,
)
from llmspell.providers.http import HTTPProvider, StreamParser, clip

DEFAULT_BASE_URL = "https://api.openai.com/v1"
BASE_URL_ENV = "OPENAI_BASE_URL"
API_KEY_ENV = "OPENAI_API_KEY"
# Reasoning models take max_completion_tokens and refuse max_tokens.
_REASONING_MODEL = re.compile(r"^o\d")


class OpenAIProvider(HTTPProvider):
    """Chat completions over httpx; see the module docstring."""

    kind = "openai"

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/chat/completions"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    def body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": request.model,
                                "messages": [_message(m) for m in request.messages]}
        if request.tools:
            body["tools"] = [{"type": "function",
                              "function": {"name": t.name, "description": t.description,
                                           "parameters": dict(t.parameters)}}
                             for t in request.tools]
        temperature = request.temperature if request.temperature is not None \
            else self.temperature
        if temperature is not None:
            body["temperature"] = temperature
        max_tokens = request.max_tokens or self.max_tokens
        if max_tokens:
            key = "max_completion_tokens" if _REASONING_MODEL.match(request.model) \
                else "max_tokens"
            body[key] = max_tokens
        if request.stop:
            body["stop"] = list(request.stop)
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(request.extra)
        return body

    def parse(self, data: Any, request: ChatRequest) -> ChatResponse:
        try:
            choice = data["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise ProviderResponseError(
                f"expected a chat completion with choices[0].message (got "
                f"{clip(orjson.dumps(data))!r})", provider=self.name) from None
        calls = []
        for i, call in enumerate(message.get("tool_calls") or ()):
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not function.get("name"):
                raise ProviderResponseError(f"tool call #{i} has no function name (got "
                                            f"{clip(orjson.dumps(call))!r})", provider=self.name)
            calls.append(ToolCall(call.get("id") or f"call_{i}", function["name"],
                                  parse_tool_arguments(self.name, function["name"],
                                                       function.get("arguments") or "")))
        return ChatResponse(message.get("content") or "", tuple(calls),
                            _usage(data.get("usage")),
                            choice.get("finish_reason") or ("tool_calls" if calls else "stop"),
                            data.get("model") or request.model, self.name)

    def stream_parser(self, request: ChatRequest) -> StreamParser:
        return _ChunkParser(self.name, request.model)


class _ChunkParser(StreamParser):
    def feed(self, event: str, data: str) -> list[StreamChunk]:
        if data.strip() == "[DONE]":
            self.done = True
            return []
        chunk = self.decode(data)
        if not isinstance(chunk, dict):
            raise ProviderResponseError(f"a stream event is not a JSON object (got "
                                        f"{clip(data)!r})", provider=self.provider)
        if "error" in chunk:
            error = chunk["error"]
            said = error.get("message") if isinstance(error, dict) else str(error)
            raise ProviderUnavailable(f"the server reported an error mid-stream: {said}",
                                      provider=self.provider)
        if chunk.get("usage"):
            self.out.usage = _usage(chunk["usage"])
        if chunk.get("model"):
            self.out.model = chunk["model"]
        out: list[StreamChunk] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                out.append(self.out.text(delta["content"]))
            for call in delta.get("tool_calls") or ():
                function = call.get("function") or {}
                out.append(self.out.tool_call(ToolCallDelta(
                    call.get("index", 0), call.get("id"), function.get("name"),
                    function.get("arguments") or "")))
            if choice.get("finish_reason"):
                self.out.finish_reason = choice["finish_reason"]
        return out

    def end(self) -> StreamChunk:
        if not self.done:
            raise ProviderStreamDropped("the stream ended without its [DONE] marker",
                                        provider=self.provider)
        return self.out.finish()


def _message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["content"] = message.content or None
        out["tool_calls"] = [{"id": c.id, "type": "function",
                              "function": {"name": c.name,
                                           "arguments": orjson.dumps(dict(c.arguments)).decode()}}
                             for c in message.tool_calls]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
    if message.name and message.role != "tool":
        out["name"] = message.name
    return out


def _usage(data: Any) -> Usage:
    if not isinstance(data, dict):
        return Usage(reported=False)
    return Usage(int(data.get("prompt_tokens") or 0), int(data.get("completion_tokens") or 0))
