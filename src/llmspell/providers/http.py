"""What the HTTP providers share: httpx clients, status -> typed error, SSE, retries, key hygiene.

:class:`HTTPProvider` sends a JSON body to one endpoint with sync and async httpx clients, maps
HTTP statuses and transport failures onto the ProviderError tree (one place: :meth:`_status_error`),
decodes server-sent events, and runs every attempt under the provider's
:class:`~llmspell.providers.retry.RetryPolicy`. A subclass says how to build the body and
headers and how to read a response or a stream of events (:class:`StreamParser`).

The API key lives in private attributes only (its own, and the headers prepared for
requests): it is sent in a header and scrubbed from every error message built here; it is not
in any repr or log record.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import urllib.parse
import urllib.request
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

from llmspell import __version__
from llmspell.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderStreamDropped,
    ProviderTimeout,
    ProviderUnavailable,
)
from llmspell.providers.base import (
    ChatRequest,
    ChatResponse,
    Provider,
    StreamAssembler,
    StreamChunk,
)
from llmspell.providers.retry import RetryPolicy, parse_retry_after
from llmspell.redact import DEFAULT as REDACTOR

LOG = logging.getLogger("llmspell.providers")

#: Headers of every request besides the provider's own: what an httpx client sends by
#: default (requests go straight to a transport, :meth:`HTTPProvider._send`), naming llmspell.
_SENT_HEADERS = {"accept": "*/*", "accept-encoding": "gzip, deflate",
                 "content-type": "application/json", "user-agent": f"llmspell/{__version__}"}


def _environment_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url``, read by the standard library as an
    httpx client with ``trust_env`` reads it (``getproxies``: ``HTTPS_PROXY``, ``HTTP_PROXY``,
    ``ALL_PROXY``, lower case first), unless ``NO_PROXY`` exempts its host."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    if not proxies or urllib.request.proxy_bypass(parts.netloc):
        return None
    return proxies.get(parts.scheme) or proxies.get("all")


class SSEDecoder:
    """Server-sent events from lines: feed each line, get ``(event, data)`` at a blank line."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> tuple[str, str] | None:
        if not line:
            if not self._data and not self._event:
                return None
            found = (self._event or "message", "\n".join(self._data))
            self._event, self._data = "", []
            return found
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


class StreamParser:
    """Reads one stream's events of ``provider`` into chunks assembled by :attr:`out`;
    :attr:`done` turns true at the provider's end marker."""

    done = False
    _sse: SSEDecoder | None = None

    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self.out = StreamAssembler(provider, model)

    def decode(self, data: str) -> Any:
        """An event's ``data`` as JSON; ProviderResponseError when it is not JSON."""
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ProviderResponseError(f"a stream event is not valid JSON (got {clip(data)!r})",
                                        provider=self.provider) from None

    def line(self, text: str) -> list[StreamChunk]:
        """The chunks one line of the event stream completes (maybe none)."""
        if self._sse is None:
            self._sse = SSEDecoder()
        event = self._sse.feed(text)
        return self.feed(*event) if event is not None else []

    @abstractmethod
    def feed(self, event: str, data: str) -> list[StreamChunk]:
        """The chunks one event yields (maybe none)."""

    @abstractmethod
    def end(self) -> StreamChunk:
        """The ``done`` chunk; ProviderStreamDropped when the end marker never came."""


class HTTPProvider(Provider):
    """A provider reached over HTTP with a JSON body."""

    kind = ""

    def __init__(self, name: str, *, base_url: str, api_key: str | None = None,
                 api_key_env: str | None = None, timeout: float = 60.0,
                 retry: RetryPolicy | None = None, max_tokens: int | None = None,
                 temperature: float | None = None,
                 transport: httpx.BaseTransport | None = None,
                 async_transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.__key = api_key or None
        self._transport = transport
        self._async_transport = async_transport
        self._timeouts = httpx.Timeout(timeout or None).as_dict()
        self._fixed: tuple[httpx.URL, httpx.Headers] | None = None
        self._pool: httpx.BaseTransport | None = None
        self._lock = threading.Lock()
        self._apool: tuple[asyncio.AbstractEventLoop, httpx.AsyncBaseTransport] | None = None

    # -- what a subclass says -------------------------------------------------------------

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """The URL the request is posted to."""

    @abstractmethod
    def auth_headers(self, key: str) -> dict[str, str]:
        """The headers that carry ``key``."""

    @abstractmethod
    def body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body for ``request``."""

    @abstractmethod
    def parse(self, data: Any, request: ChatRequest) -> ChatResponse:
        """A whole (non-streamed) JSON answer as a response."""

    @abstractmethod
    def stream_parser(self, request: ChatRequest) -> StreamParser:
        """A fresh parser for one streamed answer."""

    def extra_headers(self) -> dict[str, str]:
        return {}

    # -- the calls --------------------------------------------------------------------------

    def complete(self, request: ChatRequest) -> ChatResponse:
        content = self._encode(request, stream=False)
        with self._scrubbed_errors():
            return self.retry.call(lambda: self._complete_once(content, request))

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        content = self._encode(request, stream=True)
        with self._scrubbed_errors():
            yield from self.retry.stream(lambda: self._stream_once(content, request))

    async def acomplete(self, request: ChatRequest) -> ChatResponse:
        content = self._encode(request, stream=False)
        with self._scrubbed_errors():
            return await self.retry.acall(lambda: self._acomplete_once(content, request))

    async def astream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        content = self._encode(request, stream=True)
        with self._scrubbed_errors():
            async for chunk in self.retry.astream(
                    lambda: self._astream_once(content, request)):
                yield chunk

    @contextmanager
    def _scrubbed_errors(self) -> Iterator[None]:
        """Whatever ProviderError leaves a call, its message is scrubbed of the key (parsers
        quote what the server sent, and a server may echo anything)."""
        try:
            yield
        except ProviderError as exc:
            if exc.args and isinstance(exc.args[0], str):
                exc.args = (self.scrub(exc.args[0]), *exc.args[1:])
            raise

    def _complete_once(self, content: bytes, request: ChatRequest) -> ChatResponse:
        try:
            reply = self._send(content, stream=False)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, started=False) from None
        LOG.debug("%s: POST %s -> %s", self.name, self.endpoint, reply.status_code)
        self._check(reply.status_code, reply.headers, reply.content)
        return self.parse(self._json(reply.content), request)

    async def _acomplete_once(self, content: bytes, request: ChatRequest) -> ChatResponse:
        try:
            reply = await self._asend(content, stream=False)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, started=False) from None
        LOG.debug("%s: POST %s -> %s", self.name, self.endpoint, reply.status_code)
        self._check(reply.status_code, reply.headers, reply.content)
        return self.parse(self._json(reply.content), request)

    def _stream_once(self, content: bytes, request: ChatRequest) -> Iterator[StreamChunk]:
        started = False
        try:
            reply = self._send(content, stream=True)
            try:
                LOG.debug("%s: POST %s (stream) -> %s", self.name, self.endpoint,
                          reply.status_code)
                if reply.status_code >= 400:
                    self._check(reply.status_code, reply.headers, reply.read())
                parser = self.stream_parser(request)
                for line in reply.iter_lines():
                    for chunk in parser.line(line):
                        started = True
                        yield chunk
                    if parser.done:
                        break
                yield parser.end()
            finally:
                reply.close()
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, started=started) from None

    async def _astream_once(self, content: bytes,
                            request: ChatRequest) -> AsyncIterator[StreamChunk]:
        started = False
        try:
            reply = await self._asend(content, stream=True)
            try:
                LOG.debug("%s: POST %s (stream) -> %s", self.name, self.endpoint,
                          reply.status_code)
                if reply.status_code >= 400:
                    self._check(reply.status_code, reply.headers, await reply.aread())
                parser = self.stream_parser(request)
                async for line in reply.aiter_lines():
                    for chunk in parser.line(line):
                        started = True
                        yield chunk
                    if parser.done:
                        break
                yield parser.end()
            finally:
                await reply.aclose()
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, started=started) from None

    # -- errors -----------------------------------------------------------------------------

    def _check(self, status: int, headers: Mapping[str, str], content: bytes) -> None:
        if status >= 400:
            raise self._status_error(status, headers, content)

    def _status_error(self, status: int, headers: Mapping[str, str],
                      content: bytes) -> ProviderError:
        """The typed error for an HTTP error status (the one place statuses are mapped)."""
        said = self.scrub(provider_message(content))
        ms = headers.get("retry-after-ms")
        retry_after = (float(ms) / 1000 if ms and ms.replace(".", "", 1).isdigit()
                       else parse_retry_after(headers.get("retry-after")))
        if status in (401, 403):
            hint = self.key_hint()
            return ProviderAuthError(f"the API key was refused ({status}: {said}); {hint}",
                                     provider=self.name, status=status, env_var=self.api_key_env)
        if status == 429:
            return ProviderRateLimited(f"rate limited (429: {said})", provider=self.name,
                                       retry_after=retry_after)
        if status in (408, 409) or status >= 500:
            return ProviderUnavailable(f"the server failed ({status}: {said})",
                                       provider=self.name, status=status,
                                       retry_after=retry_after)
        return ProviderBadRequest(f"the request was refused ({status}: {said})",
                                  provider=self.name, status=status, provider_message=said)

    def _transport_error(self, exc: httpx.HTTPError, *, started: bool) -> ProviderError:
        text = self.scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeout(f"no answer within {self.timeout:g}s ({text})",
                                   provider=self.name)
        if started:
            return ProviderStreamDropped(f"the stream broke off before its end ({text})",
                                         provider=self.name)
        if isinstance(exc, httpx.TransportError):
            return ProviderUnavailable(f"cannot reach {self.base_url} ({text})",
                                       provider=self.name)
        return ProviderResponseError(f"unusable answer ({text})", provider=self.name)

    def key_hint(self) -> str:
        """How to give this provider a key, naming the environment variable."""
        where = f"set {self.api_key_env} or run" if self.api_key_env else "run"
        return f"{where} `llmspell keys set {self.name}`"

    def scrub(self, text: str) -> str:
        """``text`` with this provider's key and anything secret-shaped removed."""
        if self.__key:
            text = text.replace(self.__key, "[REDACTED]")
        return REDACTOR.redact_text(text)

    def _json(self, content: bytes) -> Any:
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            raise ProviderResponseError(
                f"the answer is not valid JSON (got {self.scrub(clip(content))!r})",
                provider=self.name) from None

    # -- plumbing ---------------------------------------------------------------------------

    def _encode(self, request: ChatRequest, *, stream: bool) -> bytes:
        return orjson.dumps(self.body(request, stream=stream))

    def _headers(self) -> dict[str, str]:
        headers = {**_SENT_HEADERS, **self.extra_headers()}
        if self.__key:
            headers.update(self.auth_headers(self.__key))
        return headers

    def _request(self, content: bytes) -> httpx.Request:
        """The POST of ``content`` to the endpoint, with the headers and the timeouts. The
        endpoint's URL and the headers are the same for every request: made once, on the
        first (parsing them cost ~13 us a request; a Request copies what it is given)."""
        fixed = self._fixed
        if fixed is None:
            fixed = self._fixed = (httpx.URL(self.endpoint), httpx.Headers(self._headers()))
        return httpx.Request("POST", fixed[0], content=content, headers=fixed[1],
                             extensions={"timeout": self._timeouts})

    def _send(self, content: bytes, *, stream: bool) -> httpx.Response:
        """POST ``content`` through the provider's transport (its connection pool).

        No httpx client sits in between: a client's layers are ones no provider call uses
        (authentication flows: the key is a header; redirects: a client follows none by
        default; a cookie jar; event hooks), and going through them cost a third of a call
        (callgrind, a loopback chat call: 1,773k -> 1,258k instructions). What a client
        would give a request it is given here: its default headers (:data:`_SENT_HEADERS`),
        the timeouts, and the proxy the environment names for the endpoint
        (:func:`_environment_proxy`). The response is read whole unless ``stream``; then the
        caller closes it."""
        request = self._request(content)
        response = self._sync_transport().handle_request(request)
        response.request = request
        if not stream:
            try:
                response.read()
            finally:
                response.close()
        return response

    async def _asend(self, content: bytes, *, stream: bool) -> httpx.Response:
        """:meth:`_send` through the async transport of the running loop."""
        request = self._request(content)
        response = await self._async_transport_now().handle_async_request(request)
        response.request = request
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response

    def _sync_transport(self) -> httpx.BaseTransport:
        """The sync transport, made on first use: one connection pool per provider."""
        transport = self._pool
        if transport is None:
            with self._lock:
                if self._pool is None:
                    self._pool = self._transport or httpx.HTTPTransport(
                        proxy=_environment_proxy(self.endpoint))
                transport = self._pool
        return transport

    def _async_transport_now(self) -> httpx.AsyncBaseTransport:
        """The async transport of the running loop (a pool is bound to the loop it first ran
        in; asyncio.run() makes a new loop, and so a new pool)."""
        loop = asyncio.get_running_loop()
        if self._apool is None or self._apool[0] is not loop:
            self._apool = (loop, self._async_transport or httpx.AsyncHTTPTransport(
                proxy=_environment_proxy(self.endpoint)))
        return self._apool[1]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    async def aclose(self) -> None:
        """Close both transports. Call it in the event loop that used the provider (an async
        transport belongs to one loop; a new loop gets a new one)."""
        self.close()
        if self._apool is not None:
            await self._apool[1].aclose()
            self._apool = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.base_url}>"


def provider_message(content: bytes) -> str:
    """The provider's own explanation from an error body (``{"error": {"message": ...}}`` as
    OpenAI and Anthropic send it), else the body's text, clipped."""
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        return clip(content) or "no explanation given"
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail")
            if isinstance(message, str) and message:
                return message
        elif isinstance(error, str) and error:
            return error
    return clip(content)


def clip(content: bytes | str, limit: int = 300) -> str:
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."
