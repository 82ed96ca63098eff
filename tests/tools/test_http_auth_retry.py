"""http_request's rs-llmspell parameters ``auth`` (basic, bearer, api_key, custom; secrets
from the environment too) and ``retry`` (the one retry policy), against a loopback server."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from llmspell.errors import SecurityViolation, ToolError, ValidationError

SECRET = "s3cr3t-value-for-the-test"


class _Auth(BaseHTTPRequestHandler):
    failures_left = 0
    calls = 0

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        cls = type(self)
        cls.calls += 1
        if self.path == "/flaky" and cls.failures_left > 0:
            cls.failures_left -= 1
            status, body = 503, b"busy"
        else:
            status = 200
            body = json.dumps({"authorization": self.headers.get("Authorization"),
                               "x_key": self.headers.get("X-Key")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 503:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server(loopback: Callable[[type], str]) -> str:
    _Auth.failures_left, _Auth.calls = 0, 0
    return loopback(_Auth)


def _get(net: Any, server: str, **params: Any) -> Any:
    return net.tools.invoke("http_request", {"input": server + "/x", **params}).result


def test_basic_bearer_api_key_and_custom_auth(net: Any, server: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    basic = _get(net, server, auth={"type": "basic", "username": "ann", "password": SECRET})
    assert basic["json"]["authorization"] == "Basic " + base64.b64encode(
        f"ann:{SECRET}".encode()).decode()
    bearer = _get(net, server, auth={"type": "bearer", "token": SECRET})
    assert bearer["json"]["authorization"] == f"Bearer {SECRET}"
    monkeypatch.setenv("LLMSPELL_TEST_HTTP_KEY", SECRET)
    keyed = _get(net, server, auth={"type": "api_key", "key_env": "LLMSPELL_TEST_HTTP_KEY",
                                    "header_name": "X-Key"})
    assert keyed["json"]["x_key"] == SECRET
    custom = _get(net, server, auth={"type": "custom", "headers": {"X-Key": "k"}})
    assert custom["json"]["x_key"] == "k"
    assert _get(net, server, auth={"type": "none"})["json"]["authorization"] is None


def test_auth_secrets_are_not_in_the_journal(net: Any, server: str) -> None:
    session = net.sessions.create(name="auth").id
    for auth in ({"type": "api_key", "key": SECRET, "header_name": "X-Key"},
                 {"type": "basic", "username": "ann", "password": SECRET},
                 {"type": "bearer", "token": SECRET}):
        net.tools.invoke("http_request", {"input": server + "/x", "auth": auth},
                         session_id=session)
    entries = net.sessions.journal.read(session, kinds="tool.call")
    assert len(entries) == 3 and entries[0].data["arguments"]["auth"]["key"] == "[REDACTED]"
    assert entries[0].data["arguments"]["auth"]["header_name"] == "X-Key"
    assert SECRET not in json.dumps([e.data["arguments"] for e in entries])


def test_auth_refusals(net: Any, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match=r"auth type 'bearer' needs 'token'") as info:
        _get(net, server, auth={"type": "bearer"})
    assert info.value.path == "$.auth.token"
    monkeypatch.delenv("LLMSPELL_TEST_NOPE", raising=False)
    with pytest.raises(ValidationError, match=r"'LLMSPELL_TEST_NOPE' is not set"):
        _get(net, server, auth={"type": "basic", "username": "a",
                                "password_env": "LLMSPELL_TEST_NOPE"})
    with pytest.raises(ValidationError, match=r"\$\.auth"):
        _get(net, server, auth={"type": "oauth", "token": "x"})
    with pytest.raises(ValidationError, match=r"\$\.auth"):
        _get(net, server, auth={"type": "api_key", "key": "k", "header_name": "Bad: name\r\n"})


def test_retry_repeats_retry_statuses_then_succeeds(net: Any, server: str) -> None:
    _Auth.failures_left = 2
    out = net.tools.invoke("http_request", {"input": server + "/flaky", "retry": {
        "max_attempts": 3, "initial_delay_ms": 0}}).result
    assert out["status_code"] == 200 and out["attempts"] == 3
    assert out["retry_errors"] == ["HTTP 503", "HTTP 503"]
    _Auth.failures_left = 5
    out = net.tools.invoke("http_request", {"input": server + "/flaky", "retry": {
        "max_attempts": 2, "initial_delay_ms": 0}}).result
    assert out["status_code"] == 503 and out["attempts"] == 2 and not out["success"]
    _Auth.failures_left, _Auth.calls = 1, 0
    out = net.tools.invoke("http_request", {"input": server + "/flaky"}).result
    assert out["status_code"] == 503 and _Auth.calls == 1 and "attempts" not in out


def test_retry_on_connection_errors_and_refusals(net: Any, make_rt: Any) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ToolError, match=r"failed after 2 attempts"):
        net.tools.invoke("http_request", {"input": f"http://127.0.0.1:{port}/",
                                          "retry": {"max_attempts": 2, "initial_delay_ms": 0}})
    with pytest.raises(SecurityViolation, match="allow_network_access"):
        make_rt().tools.invoke("http_request", {"input": "http://127.0.0.1/",
                                                "retry": {"max_attempts": 3}})
    with pytest.raises(ValidationError, match=r"\$\.retry\.max_attempts"):
        net.tools.invoke("http_request", {"input": "http://127.0.0.1/",
                                          "retry": {"max_attempts": 0}})


def test_mask_fields_hides_the_named_paths_only() -> None:
    from llmspell.redact import mask_fields

    given = {"auth": {"type": "api_key", "key": "k", "header_name": "H"}, "input": "u"}
    shown = mask_fields(given, ("auth.key", "auth.token", "nothing.here"))
    assert shown == {"auth": {"type": "api_key", "key": "[REDACTED]", "header_name": "H"},
                     "input": "u"}
    assert given["auth"]["key"] == "k"  # a copy; the arguments are not changed
    assert mask_fields("text", ("a",)) == "text" and mask_fields(given, ()) is given
