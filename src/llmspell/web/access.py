"""Who may talk to ``llmspell web``: the token, the Host header and the action guard.

- Bound to a loopback address (127.0.0.0/8, ::1, ``localhost``) the app needs no token, but
  it answers only requests whose ``Host`` header names a loopback host: a web page elsewhere
  cannot reach it through a DNS name that resolves to 127.0.0.1 (DNS rebinding).
- Bound anywhere else it requires the token printed at start: ``Authorization: Bearer TOKEN``,
  the ``llmspell_web`` cookie, or ``?token=TOKEN`` once (a page then sets the cookie). No
  token: 401; a wrong one: 403. Every path is guarded, static files and the API included.
- A POST (an action) must also carry the app's form key (``csrf`` form field or
  ``X-LLMSpell-Form-Key`` header), which only pages of the app itself can read.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

import orjson

from llmspell.errors import ValidationError

COOKIE = "llmspell_web"
FORM_KEY_HEADER = "x-llmspell-form-key"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name, without port) is this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: object) -> str:
    """``host`` if it is a usable bind address (a non-empty string without spaces)."""
    if not isinstance(host, str) or not host or any(c.isspace() for c in host):
        raise ValidationError("host", "must be a host name or an IP address", got=host)
    return host


MIN_TOKEN = 16


def check_token(token: object) -> str | None:
    """``token`` if it is None or a string of at least MIN_TOKEN characters."""
    if token is not None and (not isinstance(token, str) or len(token) < MIN_TOKEN
                              or any(c.isspace() for c in token)):
        raise ValidationError("token", f"must be at least {MIN_TOKEN} characters without "
                              "spaces", got="[REDACTED]" if isinstance(token, str) else token)
    return token


def new_token() -> str:
    """A fresh random token (32 bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


def same_secret(given: str | None, expected: str) -> bool:
    """Whether ``given`` is ``expected`` (compared in constant time)."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _host_name(header: str) -> str:
    """The host part of a ``Host`` header (``[::1]:8000`` -> ``::1``)."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class AccessGuard:
    """ASGI middleware applying the module's rules around ``app``.

    Args:
        app: the application.
        token: the required token, or None (loopback binding only).
        loopback: whether the server is bound to a loopback address.
        form_key: the key every POST must carry.
    """

    def __init__(self, app: ASGIApp, *, token: str | None, loopback: bool,
                 form_key: str) -> None:
        check_token(token)
        if token is None and not loopback:
            raise ValidationError("token", "is required when the host is not a loopback "
                                  "address", got=None)
        self.app, self.token, self.loopback, self.form_key = app, token, loopback, form_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.loopback and not is_loopback(_host_name(headers.get("host", ""))):
            await _refuse(send, 403, "this server answers only requests to a loopback host")
            return
        if self.token is not None:
            given = self._token_of(scope, headers)
            if given is None:
                await _refuse(send, 401, "a token is required (printed when the server "
                              "started): Authorization: Bearer TOKEN or ?token=TOKEN")
                return
            if not same_secret(given, self.token):
                await _refuse(send, 403, "wrong token")
                return
        await self.app(scope, receive, _with_safety_headers(send))

    def _token_of(self, scope: Scope, headers: dict[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("token"):
            return query["token"][0]
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header: as if there were none
            return None
        morsel = cookie.get(COOKIE)
        return morsel.value if morsel is not None else None



#: Sent with every answer: no framing (an action button cannot be clicked through another
#: site's page), no referrer (a ``?token=`` URL does not leak), scripts and styles from the app
#: only, no content-type guessing.
SAFETY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'self'; img-src 'self'; "
                                 b"frame-ancestors 'none'; form-action 'self'"),
)


def _with_safety_headers(send: Send) -> Send:
    async def sending(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in SAFETY_HEADERS if k not in present]
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)
    return sending


async def _refuse(send: Send, status: int, message: str) -> None:
    body = orjson.dumps({"error": message, "status": status})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
