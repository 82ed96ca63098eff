"""The one owner of the network rule for tools, and the HTTP client they share.

Every network tool calls :func:`check_url` (or :func:`check_host` for a bare TCP target)
before it opens a connection, and :func:`fetch` calls it again for every redirect it follows.
The rule:

1. ``[runtime.security] allow_network_access`` must be true (it is false by default);
2. the URL's scheme must be ``http`` or ``https`` (``file:``, ``ftp:``... are refused);
3. its host must match ``[runtime.security] allowed_hosts``: an exact host name or IP address,
   ``*.example.com`` (any name below example.com, not example.com itself) or ``*`` (any
   host). An empty list allows any host once network access is on.

The host compared is the one the HTTP client reads from the URL (case and a trailing dot
ignored, IP addresses in their normal form, international names in their ``xn--`` form);
names are not resolved first, so list names, not the
addresses they resolve to. A refusal raises :class:`~llmspell.errors.SecurityViolation`
naming the setting to change; the tool service fires ``security:violation`` for it.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

from llmspell.errors import ProviderError, SecurityViolation, ToolError, ValidationError

NETWORK_SETTING = "[runtime.security] allow_network_access"
HOSTS_SETTING = "[runtime.security] allowed_hosts"
SCHEMES = ("http", "https")
#: Bytes of a response body kept by default (the rest is not read).
MAX_BODY = 10 * 1024 * 1024
MAX_REDIRECTS = 5


def _normal_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host.isascii():  # an international name: compared in its IDNA form (xn--...),
        import idna  # the form the HTTP client connects to

        try:
            return idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            return host
    return host


def host_allowed(host: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Whether ``host`` matches one of ``patterns`` (empty: every host matches)."""
    if not patterns:
        return True
    name = _normal_host(host)
    for pattern in patterns:
        wanted = pattern.strip().lower()
        if wanted == "*":
            return True
        if wanted.startswith("*."):
            suffix = _normal_host(wanted[2:])
            if name.endswith("." + suffix):
                return True
        elif name == _normal_host(wanted):
            return True
    return False


def _security(security: Any, tool: str) -> Any:
    if security is None:
        raise ToolError(f"{tool} needs the security settings of a runtime (run it through "
                        "rt.tools)")
    return security


def check_host(host: str, security: Any, *, tool: str, argument: str = "input") -> str:
    """``host`` if ``tool`` may connect to it, else SecurityViolation naming the setting."""
    security = _security(security, tool)
    if not security.allow_network_access:
        raise SecurityViolation(f"{tool}: network access is disabled by {NETWORK_SETTING} = "
                                "false (set it to true, and list the hosts in "
                                f"{HOSTS_SETTING})")
    if not host_allowed(host, security.allowed_hosts):
        listed = ", ".join(security.allowed_hosts)
        raise SecurityViolation(f"{tool}: argument '{argument}': host {host!r} is not in "
                                f"{HOSTS_SETTING} ({listed}); add it there to allow it")
    return host


def check_url(url: Any, security: Any, *, tool: str, argument: str = "input") -> SplitResult:
    """The parts of ``url`` if ``tool`` may open it (the rule in this module's docstring).

    Raises:
        ValidationError: ``url`` is not a URL with a host.
        SecurityViolation: network access is off, the scheme is not http(s), or the host is
            not allowed.
    """
    import httpx

    parts = parse_url(url, argument=argument)
    _security(security, tool)
    if parts.scheme not in SCHEMES:
        raise SecurityViolation(f"{tool}: argument '{argument}': scheme {parts.scheme!r} is "
                                "refused; network tools open only http and https URLs")
    try:  # the host the client will connect to, as the client reads the URL
        host = httpx.URL(url.strip()).raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise ValidationError("params", f"is not a valid URL: {exc}", path=f"$.{argument}",
                              got=url) from None
    check_host(host, security, tool=tool, argument=argument)
    return parts


def parse_url(url: Any, *, argument: str = "input") -> SplitResult:
    """The parts of ``url``; ValidationError unless it has a scheme and a host."""
    if not isinstance(url, str):
        raise ValidationError("params", "must be a URL (a string)", path=f"$.{argument}",
                              got=url)
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise ValidationError("params", f"is not a valid URL: {exc}", path=f"$.{argument}",
                              got=url) from None
    if not parts.scheme or not parts.hostname:
        raise ValidationError("params", "must be an absolute URL with a scheme and a host "
                              "(http://host/path)", path=f"$.{argument}", got=url)
    return parts


@dataclass
class Response:
    """What :func:`fetch` read: the final URL, status, headers and at most ``max_bytes`` of
    the body (``truncated`` says whether more was sent)."""

    url: str
    status_code: int
    headers: dict[str, str]
    body: bytes
    truncated: bool
    elapsed_ms: float
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def summary(self) -> dict[str, Any]:
        return {"url": self.url, "status_code": self.status_code,
                "success": 200 <= self.status_code < 300}


def fetch(security: Any, *, tool: str, url: str, method: str = "GET",
          headers: dict[str, str] | None = None, content: bytes | None = None,
          timeout: float = 30.0, max_bytes: int = MAX_BODY, follow_redirects: bool = True,
          argument: str = "input") -> Response:
    """One HTTP request by ``tool``: every URL (redirects too) checked by :func:`check_url`,
    proxies from the environment ignored, at most ``max_bytes`` of the body read.

    Raises:
        SecurityViolation: a URL (or a redirect's target) is refused.
        ToolError: the connection failed or timed out, or too many redirects.
    """
    import httpx

    url = url.strip()
    check_url(url, security, tool=tool, argument=argument)
    started = time.monotonic()
    redirects: list[str] = []
    with httpx.Client(follow_redirects=False, trust_env=False, timeout=timeout) as client:
        while True:
            try:
                with client.stream(method, url, headers=headers, content=content) as reply:
                    if follow_redirects and reply.is_redirect and "location" in reply.headers:
                        if len(redirects) >= MAX_REDIRECTS:
                            raise ToolError(f"{tool}: more than {MAX_REDIRECTS} redirects "
                                            f"from {redirects[0]!r}")
                        redirects.append(url)
                        url = urljoin(url, reply.headers["location"])
                        check_url(url, security, tool=tool, argument=argument)
                        if reply.status_code in (301, 302, 303) and method != "HEAD":
                            method, content = "GET", None
                        continue
                    body = bytearray()
                    truncated = False
                    for chunk in reply.iter_bytes():
                        room = max_bytes - len(body)
                        body += chunk[:room]
                        if len(chunk) > room:
                            truncated = True
                            break
                    return Response(str(reply.url), reply.status_code,
                                    {k.lower(): v for k, v in reply.headers.items()},
                                    bytes(body), truncated,
                                    round((time.monotonic() - started) * 1000, 3), redirects)
            except httpx.TimeoutException:
                raise ToolError(f"{tool}: {method} {url} timed out after {timeout} s") from None
            except httpx.HTTPError as exc:
                raise ToolError(f"{tool}: {method} {url} failed: {exc}") from None


#: Statuses a retried request tries again (rs-llmspell's ``retry_on_status`` default).
RETRY_STATUSES = (429, 500, 502, 503, 504)


class _Retryable(ProviderError):
    """A failed attempt the retry policy may repeat: an answer with a retry status (kept in
    ``reply``) or a connection error (``reply`` None)."""

    retryable = True

    def __init__(self, message: str, reply: Response | None, retry_after: float | None) -> None:
        super().__init__(message)
        self.reply = reply
        self.retry_after = retry_after


def fetch_retrying(security: Any, *, max_retries: int, base_delay: float = 0.5,
                   max_delay: float = 30.0, statuses: tuple[int, ...] = RETRY_STATUSES,
                   sleep: Callable[[float], None] = time.sleep,
                   **request: Any) -> tuple[Response, int, list[str]]:
    """:func:`fetch`, repeated on connection errors and on ``statuses`` by the one retry
    policy (:class:`llmspell.providers.retry.RetryPolicy`: backoff with jitter, the server's
    Retry-After honoured). Returns the last response, the number of attempts and the errors
    of the failed ones (the last response's status among them when it is a retry status).
    A refused URL is never retried.

    Raises:
        SecurityViolation: a URL is refused.
        ToolError: the last attempt failed to connect (the message lists every error).
    """
    from llmspell.providers.retry import RetryPolicy, parse_retry_after

    attempts: list[str] = []

    def attempt() -> Response:
        try:
            reply = fetch(security, **request)
        except SecurityViolation:
            raise
        except ToolError as exc:
            attempts.append(str(exc))
            raise _Retryable(str(exc), None, None) from None
        if reply.status_code in statuses:
            attempts.append(f"HTTP {reply.status_code}")
            raise _Retryable(f"HTTP {reply.status_code}", reply,
                             parse_retry_after(reply.headers.get("retry-after")))
        return reply

    policy = RetryPolicy(max_retries=max_retries, base_delay=base_delay, max_delay=max_delay,
                         sleep=sleep)
    try:
        reply = policy.call(attempt)
    except _Retryable as last:
        if last.reply is None:
            raise ToolError(f"{request.get('tool')}: {request.get('url')} failed after "
                            f"{len(attempts)} attempts: {'; '.join(attempts)}") from None
        return last.reply, len(attempts), attempts
    return reply, len(attempts) + 1, attempts


__all__ = ["HOSTS_SETTING", "NETWORK_SETTING", "RETRY_STATUSES", "Response", "check_host",
           "check_url", "fetch", "fetch_retrying", "host_allowed", "parse_url"]
