"""Network tools against a loopback HTTP server the tests start, and the network rule
(allow_network_access, allowed_hosts, schemes) that refuses them."""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from llmspell.errors import SecurityViolation, ToolError, ValidationError
from llmspell.tools.network import check_url, host_allowed
from llmspell.tools.security import ToolSecurity

PAGE = (b"<html><head><title>Hello page</title><meta name='description' content='a test'>"
        b"<style>p{}</style></head><body><p>Some text</p><a href='/json'>j</a></body></html>")


class _Handler(BaseHTTPRequestHandler):
    flaky_left = 0

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json",
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def do_GET(self) -> None:
        if self.path == "/page":
            self._send(200, PAGE, "text/html; charset=utf-8")
        elif self.path == "/json":
            self._send(200, b'{"ok": true}')
        elif self.path == "/big":
            self._send(200, b"x" * 100_000, "text/plain")
        elif self.path == "/redirect-in":
            self._send(302, b"", extra={"Location": "/json"})
        elif self.path == "/redirect-out":
            self._send(302, b"", extra={"Location": "http://elsewhere.example/"})
        else:
            self._send(404, b'{"error": "none"}')

    do_HEAD = do_GET

    def do_POST(self) -> None:
        body = self._body()
        if self.path == "/flaky":
            cls = type(self)
            if cls.flaky_left > 0:
                cls.flaky_left -= 1
                self._send(503, b"busy", "text/plain")
                return
        if self.path == "/graphql":
            doc = json.loads(body)
            if "broken" in doc["query"]:
                answer: Any = {"errors": [{"message": "syntax"}]}
            else:
                answer = {"data": {"echo": doc["variables"], "op": doc.get("operationName")}}
            self._send(200, json.dumps(answer).encode())
            return
        echo = {"method": self.command, "path": self.path, "body": body.decode(),
                "content_type": self.headers.get("Content-Type"),
                "x_test": self.headers.get("X-Test")}
        self._send(200, json.dumps(echo).encode())

    do_PUT = do_POST


@pytest.fixture
def server(loopback: Any) -> str:
    return str(loopback(_Handler))


# -- the rule ------------------------------------------------------------------------------

def test_network_is_off_by_default_naming_the_setting(rt: Any, server: str) -> None:
    seen: list[Any] = []
    rt.hooks.register("security:violation", lambda ctx: seen.append(ctx.data))
    with pytest.raises(SecurityViolation, match=r"allow_network_access = false"):
        rt.tools.invoke("http_request", {"input": server + "/json"})
    assert seen[0]["tool"] == "http_request"
    assert "allow_network_access" in seen[0]["reason"]


def test_a_host_not_listed_is_refused(make_rt: Any, server: str) -> None:
    rt = make_rt(runtime__security__allow_network_access=True,
                 runtime__security__allowed_hosts=["api.example.com"])
    with pytest.raises(SecurityViolation, match=r"host '127.0.0.1' is not in \[runtime."
                       r"security\] allowed_hosts \(api.example.com\)"):
        rt.tools.invoke("http_request", {"input": server + "/json"})


def test_an_empty_host_list_allows_any_host_once_network_is_on(make_rt: Any,
                                                               server: str) -> None:
    rt = make_rt(runtime__security__allow_network_access=True)
    assert rt.tools.invoke("http_request", {"input": server + "/json"}).result["json"] == {
        "ok": True}


def test_host_patterns() -> None:
    assert host_allowed("api.example.com", ["*.example.com"])
    assert host_allowed("a.b.example.com", ["*.example.com"])
    assert not host_allowed("example.com", ["*.example.com"])
    assert not host_allowed("badexample.com", ["*.example.com"])
    assert host_allowed("API.Example.com.", ["api.example.com"])
    assert host_allowed("::1", ["[::1]"]) and host_allowed("[::1]", ["::1"])
    assert host_allowed("anything", ["*"]) and host_allowed("anything", [])
    assert not host_allowed("127.0.0.2", ["127.0.0.1"])


def test_schemes_other_than_http_are_refused(tmp_path: Any) -> None:
    from llmspell.paths import Confinement

    security = ToolSecurity(Confinement([str(tmp_path)]), allow_network_access=True)
    with pytest.raises(SecurityViolation, match=r"scheme 'file' is refused"):
        check_url("file://localhost/etc/passwd", security, tool="t")
    with pytest.raises(SecurityViolation, match=r"scheme 'ftp' is refused"):
        check_url("ftp://127.0.0.1/x", security, tool="t")
    with pytest.raises(ValidationError, match=r"\$.input.*absolute URL"):
        check_url("/relative/path", security, tool="t")
    with pytest.raises(ValidationError, match=r"\$.input.*not a valid URL"):
        check_url("http://h:99999999/", security, tool="t")
    assert check_url("https://x.org/a", security, tool="t").hostname == "x.org"
    with pytest.raises(ValidationError, match=r"\$.input.*non-printable"):
        check_url("http://api.example.com\t.evil.org/", security, tool="t")


def test_hosts_are_compared_as_the_client_reads_them(tmp_path: Any) -> None:
    from llmspell.paths import Confinement

    security = ToolSecurity(Confinement([str(tmp_path)]), allow_network_access=True,
                            allowed_hosts=("*.example.com", "bücher.de"))
    for url in ("http://api.example.com@127.0.0.1/", "http://api.example.com:80@127.0.0.1/",
                "http://127.0.0.1?@api.example.com/", "http://2130706433/",
                "http://0x7f.1/", "http://127.1/"):
        with pytest.raises(SecurityViolation, match=r"is not in"):
            check_url(url, security, tool="t")
    check_url("http://bücher.de/", security, tool="t")
    check_url("http://xn--bcher-kva.de/", security, tool="t")
    check_url("http://API.Example.COM./x", security, tool="t")


def test_a_redirect_to_a_host_not_allowed_is_refused(net: Any, server: str) -> None:
    out = net.tools.invoke("http_request", {"input": server + "/redirect-in"}).result
    assert out["json"] == {"ok": True} and out["redirects"] == [server + "/redirect-in"]
    with pytest.raises(SecurityViolation, match=r"'elsewhere.example' is not in"):
        net.tools.invoke("http_request", {"input": server + "/redirect-out"})


def test_config_lists_the_setting_as_used() -> None:
    from llmspell.config_schema import SCHEMA

    assert not SCHEMA["runtime.security"]["allow_network_access"].unused
    assert SCHEMA["runtime.security"]["allow_network_access"].default is False
    assert SCHEMA["runtime.security"]["allowed_hosts"].default == []


# -- http_request --------------------------------------------------------------------------

def test_http_request_methods_headers_and_bodies(net: Any, server: str) -> None:
    got = net.tools.invoke("http_request", {"input": server + "/json"}).result
    assert got["status_code"] == 200 and got["success"] and got["json"] == {"ok": True}
    assert got["headers"]["content-type"] == "application/json"
    posted = net.tools.invoke("http_request", {
        "input": server + "/echo", "method": "POST", "body": {"a": [1, 2]},
        "headers": {"X-Test": "yes"}}).result["json"]
    assert posted == {"method": "POST", "path": "/echo", "body": '{"a": [1, 2]}',
                      "content_type": "application/json", "x_test": "yes"}
    raw = net.tools.invoke("http_request", {"input": server + "/echo", "method": "PUT",
                                            "body": "plain"}).result["json"]
    assert raw["method"] == "PUT" and raw["body"] == "plain" and raw["content_type"] is None
    missing = net.tools.invoke("http_request", {"input": server + "/nope"}).result
    assert missing["status_code"] == 404 and not missing["success"]


def test_http_request_caps_the_body(net: Any, server: str) -> None:
    out = net.tools.invoke("http_request", {"input": server + "/big",
                                            "max_bytes": 1000}).result
    assert len(out["body"]) == 1000 and out["truncated"]
    whole = net.tools.invoke("http_request", {"input": server + "/big"}).result
    assert len(whole["body"]) == 100_000 and not whole["truncated"]


def test_http_request_bad_parameters_and_dead_server(net: Any) -> None:
    with pytest.raises(ValidationError, match=r"\$.method"):
        net.tools.invoke("http_request", {"input": "http://127.0.0.1/", "method": "BREW"})
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ToolError, match=r"GET http://127.0.0.1:\d+/ failed"):
        net.tools.invoke("http_request", {"input": f"http://127.0.0.1:{port}/"})


# -- service_checker -----------------------------------------------------------------------

def test_service_checker_tcp_and_http(net: Any, server: str) -> None:
    port = server.rsplit(":", 1)[1]
    tcp = net.tools.invoke("service_checker", {"target": f"127.0.0.1:{port}",
                                               "check_type": "tcp"}).result
    assert tcp["healthy"] is True
    http = net.tools.invoke("service_checker", {"target": server + "/json",
                                                "check_type": "http"}).result
    assert http["healthy"] is True and http["status_code"] == 200
    down = net.tools.invoke("service_checker", {"target": server + "/nope",
                                                "check_type": "http"}).result
    assert down["healthy"] is False and down["status_code"] == 404
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    closed = net.tools.invoke("service_checker", {"target": f"127.0.0.1:{free}",
                                                  "check_type": "tcp"}).result
    assert closed["healthy"] is False and closed["error"]


def test_service_checker_refusals(rt: Any, net: Any) -> None:
    with pytest.raises(SecurityViolation, match=r"allow_network_access = false"):
        rt.tools.invoke("service_checker", {"target": "127.0.0.1:80", "check_type": "tcp"})
    with pytest.raises(SecurityViolation, match=r"argument 'target': host '10.0.0.1'"):
        net.tools.invoke("service_checker", {"target": "10.0.0.1:80", "check_type": "tcp"})
    with pytest.raises(ValidationError, match=r"\$.target.*host:port"):
        net.tools.invoke("service_checker", {"target": "127.0.0.1", "check_type": "tcp"})


# -- url-analyzer --------------------------------------------------------------------------

def test_url_analyzer_parses_without_network(rt: Any) -> None:
    out = rt.tools.invoke("url-analyzer", {
        "input": "https://user:pw@Example.com:8443/a/b?x=1&x=2&y=#frag"}).result
    assert out["scheme"] == "https" and out["host"] == "example.com"
    assert out["port"] == 8443 and out["path"] == "/a/b" and out["fragment"] == "frag"
    assert out["query"] == {"x": ["1", "2"], "y": [""]} and out["username"] == "user"
    assert out["has_password"] and out["host_type"] == "domain"
    assert rt.tools.invoke("url-analyzer", {"input": "http://[::1]/"}).result[
        "host_type"] == "ipv6"
    with pytest.raises(ValidationError, match=r"\$.input"):
        rt.tools.invoke("url-analyzer", {"input": "not a url"})
    with pytest.raises(SecurityViolation, match=r"allow_network_access = false"):
        rt.tools.invoke("url-analyzer", {"input": "http://127.0.0.1/",
                                         "fetch_metadata": True})


def test_url_analyzer_fetches_title_and_meta(net: Any, server: str) -> None:
    meta = net.tools.invoke("url-analyzer", {"input": server + "/page",
                                             "fetch_metadata": True}).result["metadata"]
    assert meta["title"] == "Hello page" and meta["meta"] == {"description": "a test"}
    assert meta["status_code"] == 200 and meta["content_type"] == "text/html"


# -- webhook-caller ------------------------------------------------------------------------

def test_webhook_caller_posts_json_and_retries(net: Any, server: str) -> None:
    _Handler.flaky_left = 2
    out = net.tools.invoke("webhook-caller", {"input": server + "/flaky",
                                              "payload": {"event": "done"},
                                              "retry_delay": 0}).result
    assert out["attempts"] == 3 and out["errors"] == ["HTTP 503", "HTTP 503"]
    assert out["json"]["body"] == '{"event": "done"}' and out["success"]
    _Handler.flaky_left = 5
    with pytest.raises(ToolError, match=r"failed after 2 attempts: HTTP 503; HTTP 503"):
        net.tools.invoke("webhook-caller", {"input": server + "/flaky", "max_retries": 1,
                                            "retry_delay": 0})
    _Handler.flaky_left = 0


def test_webhook_caller_refused(rt: Any) -> None:
    with pytest.raises(SecurityViolation, match=r"webhook-caller: network access is "
                       r"disabled"):
        rt.tools.invoke("webhook-caller", {"input": "http://127.0.0.1/hook"})


# -- graphql_query -------------------------------------------------------------------------

def test_graphql_query_sends_query_and_variables(net: Any, server: str) -> None:
    out = net.tools.invoke("graphql_query", {
        "endpoint": server + "/graphql", "input": "query Q($n: Int) { echo(n: $n) }",
        "variables": {"n": 3}, "operation_name": "Q"}).result
    assert out["data"] == {"echo": {"n": 3}, "op": "Q"} and out["success"]
    bad = net.tools.invoke("graphql_query", {"endpoint": server + "/graphql",
                                             "query": "broken {"}).result
    assert bad["errors"] == [{"message": "syntax"}] and not bad["success"]
    with pytest.raises(ToolError, match=r"without a GraphQL result"):
        net.tools.invoke("graphql_query", {"endpoint": server + "/page", "input": "{a}"})


def test_graphql_query_refusals(make_rt: Any, net: Any) -> None:
    with pytest.raises(ValidationError, match=r"\$.input"):
        net.tools.invoke("graphql_query", {"endpoint": "http://127.0.0.1/graphql"})
    other = make_rt(runtime__security__allow_network_access=True,
                    runtime__security__allowed_hosts=["*.example.com"])
    with pytest.raises(SecurityViolation, match=r"argument 'endpoint': host '127.0.0.1'"):
        other.tools.invoke("graphql_query", {"endpoint": "http://127.0.0.1/graphql",
                                             "input": "{a}"})


def test_a_call_is_journaled_with_its_authorization_header_redacted(net: Any,
                                                                    server: str) -> None:
    session = net.sessions.create("net")
    with net.sessions.current(session):
        net.tools.invoke("http_request", {
            "input": server + "/echo", "method": "POST", "body": "x",
            "headers": {"Authorization": "Bearer sk-abcdefghijklmnopqrstuvwx123456"}})
    entry = net.sessions.journal.read(session.id, kinds="tool.call")[0].data
    assert entry["arguments"]["headers"] == {"Authorization": "[REDACTED]"}
    assert entry["result"]["output"]["json"]["method"] == "POST"
    assert [a.name for a in net.artifacts.list(session, artifact_type="tool_result")] == [
        "tool_result/http_request"]
