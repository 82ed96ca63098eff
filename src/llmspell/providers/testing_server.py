"""``FakeOpenAIServer``: a test double, a real HTTP server on 127.0.0.1 that answers like an
OpenAI-compatible (``POST /v1/chat/completions``) or Anthropic (``POST /v1/messages``) API.

It runs in a thread on an ephemeral port. Each request takes the next scripted response, in
order; a request whose body says ``"stream": true`` gets it as server-sent events (chunked
transfer), else as one JSON body. Every request is recorded (:attr:`requests`) to assert on::

    with FakeOpenAIServer() as server:
        server.reply("Hello there", usage=(5, 2))
        server.error(429, headers={"Retry-After": "3"})
        server.drop_stream(after_text="Hel")
        provider = OpenAIProvider("fake", base_url=server.base_url, api_key="k")

With nothing left to answer, it replies 500 naming the request it could not serve.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import orjson

_WORD = re.compile(r"\S+\s*|\s+")
_ANTHROPIC_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}


@dataclass(frozen=True)
class RecordedRequest:
    """What the server got: method, path, headers (lower-case names) and the JSON body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


@dataclass
class _Scripted:
    action: str  # reply | error | raw | drop | stall
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: tuple[int, int] | None = None
    finish_reason: str | None = None
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class FakeOpenAIServer:
    """See the module docstring. Start with ``with`` (or :meth:`start`/:meth:`stop`)."""

    def __init__(self) -> None:
        self._script: deque[_Scripted] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.requests: list[RecordedRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        name="FakeOpenAIServer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOpenAIServer is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The base URL to configure (``http://127.0.0.1:PORT/v1``), for either API."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- what to answer ----------------------------------------------------------------------

    def reply(self, text: str = "", *, tool_calls: list[dict[str, Any]] | None = None,
              usage: tuple[int, int] | None = None, finish_reason: str | None = None) -> None:
        """Answer with ``text`` and tool calls ``[{"name", "arguments" (a dict, or a string
        sent as it is: a malformed call), "id"}]``; ``usage`` is (input, output) tokens
        (default: words of the request's messages, words of the text)."""
        self._add(_Scripted("reply", text, list(tool_calls or ()), usage, finish_reason))

    def error(self, status: int, message: str = "", *, headers: dict[str, str] | None = None,
              body: Any = None) -> None:
        """Answer ``status`` with an ``{"error": {"message": ...}}`` body (or ``body``)."""
        payload = body if body is not None else {
            "error": {"message": message or f"scripted {status}", "type": "fake_error"}}
        self._add(_Scripted("raw", status=status, body=orjson.dumps(payload),
                            headers={"content-type": "application/json", **(headers or {})}))

    def raw(self, body: bytes, *, status: int = 200,
            headers: dict[str, str] | None = None) -> None:
        """Answer exactly ``body`` (malformed JSON, say)."""
        self._add(_Scripted("raw", status=status, body=body,
                            headers={"content-type": "application/json", **(headers or {})}))

    def drop_stream(self, after_text: str = "Hel") -> None:
        """Stream ``after_text``, then close the connection mid-body (no end marker)."""
        self._add(_Scripted("drop", after_text))

    def stall(self) -> None:
        """Answer nothing until the server stops (for timeout tests)."""
        self._add(_Scripted("stall"))

    def _add(self, item: _Scripted) -> None:
        with self._lock:
            self._script.append(item)

    def _next(self, request: RecordedRequest) -> _Scripted:
        with self._lock:
            self.requests.append(request)
            if self._script:
                return self._script.popleft()
        return _Scripted("raw", status=500, body=orjson.dumps({"error": {
            "message": f"FakeOpenAIServer: no scripted response left for request "
                       f"{len(self.requests)} ({request.method} {request.path})"}}),
            headers={"content-type": "application/json"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small writes go out at once (no 40 ms delayed-ACK stalls)
    fake: FakeOpenAIServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        recorded = RecordedRequest(self.command, self.path,
                                   {k.lower(): v for k, v in self.headers.items()}, body)
        item = self.fake._next(recorded)
        try:
            request = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            request = {}
        anthropic = self.path.rstrip("/").endswith("/messages")
        if item.action == "stall":
            self.fake._release.wait(30)
            self.close_connection = True
            return
        if item.action == "raw":
            self._send(item.status, item.body, item.headers)
            return
        render: _OpenAI | _Anthropic = (_Anthropic(item, request) if anthropic
                                        else _OpenAI(item, request))
        if item.action == "drop":
            self._start_stream()
            for event in render.events()[:render.drop_after]:
                self._chunk(event)
            self.wfile.flush()
            self.close_connection = True  # the body is never finished
            return
        if request.get("stream"):
            self._start_stream()
            for event in render.events():
                self._chunk(event)
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._send(200, orjson.dumps(render.whole()), {"content-type": "application/json"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _usage(item: _Scripted, request: dict[str, Any]) -> tuple[int, int]:
    if item.usage is not None:
        return item.usage
    said = sum(len(str(m.get("content") or "").split()) for m in request.get("messages") or ())
    return said, len(item.text.split())


def _arguments(call: dict[str, Any]) -> str:
    arguments = call.get("arguments", {})
    return arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()


class _OpenAI:
    drop_after = 2  # events sent before a dropped stream breaks: the role, the first word

    def __init__(self, item: _Scripted, request: dict[str, Any]) -> None:
        self.item, self.model = item, request.get("model", "fake-model")
        self.usage = _usage(item, request)
        self.reason = item.finish_reason or ("tool_calls" if item.tool_calls else "stop")

    def whole(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.item.text or None}
        if self.item.tool_calls:
            message["tool_calls"] = [
                {"id": c.get("id", f"call_{i}"), "type": "function",
                 "function": {"name": c["name"], "arguments": _arguments(c)}}
                for i, c in enumerate(self.item.tool_calls)]
        return {"id": "chatcmpl-fake", "object": "chat.completion", "model": self.model,
                "choices": [{"index": 0, "message": message, "finish_reason": self.reason}],
                "usage": {"prompt_tokens": self.usage[0], "completion_tokens": self.usage[1],
                          "total_tokens": sum(self.usage)}}

    def _event(self, choices: list[Any], **extra: Any) -> bytes:
        data = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": self.model,
                "choices": choices, **extra}
        return b"data: " + orjson.dumps(data) + b"\n\n"

    def events(self) -> list[bytes]:
        out = [self._event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])]
        out += [self._event([{"index": 0, "delta": {"content": w}}])
                for w in _words(self.item.text)]
        for i, call in enumerate(self.item.tool_calls):
            text = _arguments(call)
            half = len(text) // 2
            out.append(self._event([{"index": 0, "delta": {"tool_calls": [
                {"index": i, "id": call.get("id", f"call_{i}"), "type": "function",
                 "function": {"name": call["name"], "arguments": text[:half]}}]}}]))
            out.append(self._event([{"index": 0, "delta": {"tool_calls": [
                {"index": i, "function": {"arguments": text[half:]}}]}}]))
        out.append(self._event([{"index": 0, "delta": {}, "finish_reason": self.reason}]))
        out.append(self._event([], usage={"prompt_tokens": self.usage[0],
                                          "completion_tokens": self.usage[1],
                                          "total_tokens": sum(self.usage)}))
        out.append(b"data: [DONE]\n\n")
        return out


class _Anthropic:
    drop_after = 3  # message_start, the text block's start, the first word

    def __init__(self, item: _Scripted, request: dict[str, Any]) -> None:
        self.item, self.model = item, request.get("model", "fake-model")
        self.usage = _usage(item, request)
        reason = item.finish_reason or ("tool_calls" if item.tool_calls else "stop")
        self.reason = _ANTHROPIC_REASONS.get(reason, reason)

    def whole(self) -> dict[str, Any]:
        content: list[dict[str, Any]] = [{"type": "text", "text": self.item.text}] \
            if self.item.text else []
        for i, call in enumerate(self.item.tool_calls):
            arguments = call.get("arguments", {})
            content.append({"type": "tool_use", "id": call.get("id", f"toolu_{i}"),
                            "name": call["name"], "input": arguments})
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": self.model,
                "content": content, "stop_reason": self.reason,
                "usage": {"input_tokens": self.usage[0], "output_tokens": self.usage[1]}}

    @staticmethod
    def _event(kind: str, **data: Any) -> bytes:
        return f"event: {kind}\n".encode() + b"data: " + orjson.dumps(
            {"type": kind, **data}) + b"\n\n"

    def events(self) -> list[bytes]:
        out = [self._event("message_start", message={
            "id": "msg_fake", "type": "message", "role": "assistant", "model": self.model,
            "content": [], "usage": {"input_tokens": self.usage[0], "output_tokens": 1}})]
        index = 0
        if self.item.text:
            out.append(self._event("content_block_start", index=0,
                                   content_block={"type": "text", "text": ""}))
            out += [self._event("content_block_delta", index=0,
                                delta={"type": "text_delta", "text": w})
                    for w in _words(self.item.text)]
            out.append(self._event("content_block_stop", index=0))
            index = 1
        for i, call in enumerate(self.item.tool_calls):
            text = _arguments(call)
            out.append(self._event("content_block_start", index=index, content_block={
                "type": "tool_use", "id": call.get("id", f"toolu_{i}"), "name": call["name"],
                "input": {}}))
            half = len(text) // 2
            for piece in (text[:half], text[half:]):
                out.append(self._event("content_block_delta", index=index,
                                       delta={"type": "input_json_delta", "partial_json": piece}))
            out.append(self._event("content_block_stop", index=index))
            index += 1
        out.append(self._event("message_delta", delta={"stop_reason": self.reason},
                               usage={"output_tokens": self.usage[1]}))
        out.append(self._event("message_stop"))
        return out
