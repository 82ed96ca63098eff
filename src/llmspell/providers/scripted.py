"""The ``scripted`` provider: a test double that answers from a list of canned replies.

Replies are consumed in order, one per call, from a list given in code or a JSON file (a list,
or ``{"replies": [...]}``). A reply is a string (the text) or a table::

    {"text": "...", "tool_calls": [{"name": "add", "arguments": {"a": 1}, "id": "c1"}],
     "usage": {"input_tokens": 5, "output_tokens": 2}, "finish_reason": "stop"}
    {"error": "rate_limited" | "auth" | "bad_request" | "unavailable" | "timeout",
     "message": "..."}

Without ``usage`` the tokens are counted as words (deterministic, so limits can be tested
offline). A call after the last reply raises ProviderScriptExhausted naming what it got. A
streamed reply comes word by word, then its tool calls, then the ``done`` chunk.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from llmspell.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderScriptExhausted,
    ProviderTimeout,
    ProviderUnavailable,
    ValidationError,
)
from llmspell.providers.base import (
    ChatRequest,
    ChatResponse,
    Provider,
    StreamAssembler,
    StreamChunk,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from llmspell.validation import check_known_keys

_ERRORS: dict[str, type[ProviderError]] = {
    "auth": ProviderAuthError, "rate_limited": ProviderRateLimited,
    "bad_request": ProviderBadRequest, "unavailable": ProviderUnavailable,
    "timeout": ProviderTimeout,
}
_REPLY_KEYS = {"text", "tool_calls", "usage", "finish_reason", "error", "message"}
_WORD = re.compile(r"\S+\s*|\s+")


class ScriptedProvider(Provider):
    """Answers each call with the next canned reply; see the module docstring."""

    kind = "scripted"

    def __init__(self, name: str = "scripted",
                 replies: Sequence[Any] | str | Path | None = None) -> None:
        self.name = name
        if isinstance(replies, str | Path):
            replies = load_replies(Path(replies))
        self._replies = [_check_reply(r, f"[{i}]") for i, r in enumerate(replies or ())]
        self._next = 0
        self._lock = threading.Lock()
        #: Every request received, in order (for tests to assert on).
        self.requests: list[ChatRequest] = []

    @property
    def remaining(self) -> int:
        return len(self._replies) - self._next

    def add_replies(self, replies: Sequence[Any]) -> None:
        """Queue more replies after the ones left."""
        with self._lock:
            start = len(self._replies)
            self._replies += [_check_reply(r, f"[{start + i}]") for i, r in enumerate(replies)]

    def _take(self, request: ChatRequest) -> dict[str, Any]:
        with self._lock:
            self.requests.append(request)
            if self._next >= len(self._replies):
                last = next((m.content for m in reversed(request.messages)
                             if m.role in ("user", "tool")), "")
                raise ProviderScriptExhausted(
                    f"no canned reply left: it had {len(self._replies)} and all were used; "
                    f"call {len(self.requests)} asked for model {request.model!r} with last "
                    f"message {_clip(last)!r}", provider=self.name)
            reply = self._replies[self._next]
            self._next += 1
        if "error" in reply:
            cls = _ERRORS[reply["error"]]
            raise cls(reply.get("message") or f"scripted {reply['error']} error",
                      provider=self.name)
        return reply

    def complete(self, request: ChatRequest) -> ChatResponse:
        return self._respond(request, self._take(request))

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        reply = self._take(request)
        response = self._respond(request, reply)
        out = StreamAssembler(self.name, request.model)
        for word in _WORD.findall(response.text):
            yield out.text(word)
        for i, call in enumerate(response.tool_calls):
            yield out.tool_call(ToolCallDelta(i, call.id, call.name,
                                              orjson.dumps(dict(call.arguments)).decode()))
        out.usage, out.finish_reason = response.usage, response.finish_reason
        yield out.finish()

    def _respond(self, request: ChatRequest, reply: Mapping[str, Any]) -> ChatResponse:
        calls = tuple(ToolCall(c.get("id") or f"call_{i}", c["name"], c.get("arguments") or {})
                      for i, c in enumerate(reply.get("tool_calls") or ()))
        text = reply.get("text") or ""
        given = reply.get("usage")
        usage = (Usage(int(given.get("input_tokens", 0)), int(given.get("output_tokens", 0)))
                 if given else Usage(sum(_words(m.content) for m in request.messages),
                                     _words(text)))
        reason = reply.get("finish_reason") or ("tool_calls" if calls else "stop")
        return ChatResponse(text, calls, usage, reason, request.model, self.name)


def load_replies(path: Path) -> list[Any]:
    """The replies in a JSON file: a list, or an object with a ``replies`` list."""
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ValidationError("replies", f"cannot read the file {path} ({exc.strerror})",
                              got=str(path)) from None
    except orjson.JSONDecodeError as exc:
        raise ValidationError("replies", f"the file {path} is not valid JSON ({exc})",
                              got=str(path)) from None
    if isinstance(data, dict) and "replies" in data:
        data = data["replies"]
    if not isinstance(data, list):
        raise ValidationError("replies", f"the file {path} must hold a list of replies or "
                              "{\"replies\": [...]}", got=data)
    return data


def _check_reply(reply: Any, path: str) -> dict[str, Any]:
    if isinstance(reply, str):
        return {"text": reply}
    if not isinstance(reply, Mapping):
        raise ValidationError("replies", "each reply must be a string or a table", path=path,
                              got=reply)
    check_known_keys(reply, sorted(_REPLY_KEYS), "replies", noun="reply field", path=path)
    if "error" in reply and reply["error"] not in _ERRORS:
        raise ValidationError("replies", f"error must be one of {sorted(_ERRORS)}",
                              path=f"{path}.error", got=reply["error"])
    if "text" in reply and not isinstance(reply["text"], str):
        raise ValidationError("replies", "must be a string", path=f"{path}.text",
                              got=reply["text"])
    calls = reply.get("tool_calls") or []
    if not isinstance(calls, list | tuple):
        raise ValidationError("replies", "must be a list", path=f"{path}.tool_calls", got=calls)
    for i, call in enumerate(calls):
        where = f"{path}.tool_calls[{i}]"
        if not isinstance(call, Mapping) or not isinstance(call.get("name"), str):
            raise ValidationError("replies", "a tool call needs a string name", path=where,
                                  got=call)
        if not isinstance(call.get("arguments", {}), Mapping):
            raise ValidationError("replies", "must be a table", path=f"{where}.arguments",
                                  got=call.get("arguments"))
    usage = reply.get("usage")
    if usage is not None and not isinstance(usage, Mapping):
        raise ValidationError("replies", "must be a table of input_tokens/output_tokens",
                              path=f"{path}.usage", got=usage)
    return dict(reply)


def _words(text: str) -> int:
    return len(text.split())


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
