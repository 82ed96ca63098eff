"""Network tools: ``http_request``, ``service_checker``, ``url-analyzer``, ``webhook-caller``
and ``graphql_query``. Off unless ``[runtime.security] allow_network_access = true``; every
URL they open (redirects included) is checked by :func:`llmspell.tools.network.check_url`
against ``allowed_hosts``. Bodies are read up to a cap (``max_bytes``, default 10 MiB).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs

from llmspell.errors import ToolError, ValidationError
from llmspell.tools.base import Tool, ToolContext, schema_validator
from llmspell.tools.network import (
    MAX_BODY,
    RETRY_STATUSES,
    Response,
    check_host,
    fetch,
    fetch_retrying,
    parse_url,
)

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
HEADERS = {"type": "object", "additionalProperties": {"type": "string"}}
TIMEOUT = {"type": "number", "exclusiveMinimum": 0, "maximum": 120, "default": 30}
MAX_BYTES = {"type": "integer", "minimum": 0, "maximum": 100 * 1024 * 1024, "default": MAX_BODY}
_TEXT = {"type": "string", "minLength": 1}
_ENV = {"type": "string", "minLength": 1, "description": "an environment variable holding it"}
AUTH = {"description": "credentials (rs-llmspell's shapes); each secret may be named by an "
                       "environment variable instead: password_env, token_env, key_env",
        "oneOf": [
            {"type": "object", "properties": {"type": {"const": "none"}}, "required": ["type"],
             "additionalProperties": False},
            {"type": "object", "properties": {"type": {"const": "basic"}, "username": _TEXT,
                                              "username_env": _ENV, "password": {"type": "string"},
                                              "password_env": _ENV},
             "required": ["type"], "additionalProperties": False},
            {"type": "object", "properties": {"type": {"const": "bearer"}, "token": _TEXT,
                                              "token_env": _ENV},
             "required": ["type"], "additionalProperties": False},
            {"type": "object", "properties": {
                "type": {"const": "api_key"}, "key": _TEXT, "key_env": _ENV,
                "header_name": {"type": "string", "pattern": "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
                                "default": "X-API-Key"}},
             "required": ["type"], "additionalProperties": False},
            {"type": "object", "properties": {"type": {"const": "custom"}, "headers": HEADERS},
             "required": ["type", "headers"], "additionalProperties": False},
        ]}
#: Argument paths holding credentials: hidden in the journal (``Tool.secret_fields``).
SECRET_AUTH = ("auth.password", "auth.token", "auth.key", "auth.username", "auth.headers")
RETRY = {"type": "object", "description": "retry on connection errors and retry statuses "
                                          "(off unless given)",
         "properties": {
             "max_attempts": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
             "initial_delay_ms": {"type": "integer", "minimum": 0, "maximum": 60000,
                                  "default": 1000},
             "max_delay_ms": {"type": "integer", "minimum": 0, "maximum": 300000,
                              "default": 30000},
             "retry_on_status": {"type": "array", "items": {"type": "integer", "minimum": 100,
                                                            "maximum": 599}},
         }, "additionalProperties": False}


def _body_fields(reply: Response) -> dict[str, Any]:
    """The body as text, and as ``json`` when it is JSON."""
    text = reply.text()
    out: dict[str, Any] = {"body": text, "truncated": reply.truncated,
                           "content_type": reply.content_type}
    if reply.content_type.endswith("json") and not reply.truncated:
        with contextlib.suppress(ValueError):
            out["json"] = json.loads(text)
    return out


class HttpRequest(Tool):
    name = "http_request"
    description = ("Send an HTTP request (GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS) and "
                   "return status, headers and body; off unless [runtime.security] "
                   "allow_network_access")
    category = "api"
    security_level = "restricted"
    capabilities = ("network", "http")
    timeout = 125.0
    parameters = {
        "type": "object",
        "properties": {
            "input": {"type": "string", "minLength": 1, "description": "the URL"},
            "method": {"enum": METHODS, "default": "GET"},
            "headers": HEADERS,
            "body": {"description": "a string is sent as it is; anything else as JSON"},
            "timeout": TIMEOUT,
            "max_bytes": MAX_BYTES,
            "follow_redirects": {"type": "boolean", "default": True},
            "auth": AUTH,
            "retry": RETRY,
        },
        "required": ["input"],
        "additionalProperties": False,
    }
    secret_fields = SECRET_AUTH

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        reply = _send(params, ctx, self.name)
        return {**reply.summary(), "headers": reply.headers, **_body_fields(reply),
                "redirects": reply.redirects, **_attempts(reply)}


def _attempts(reply: Response) -> dict[str, Any]:
    tried = getattr(reply, "attempts", None)
    return {} if tried is None else {"attempts": tried[0], "retry_errors": tried[1]}


def _secret(spec: dict[str, Any], name: str, kind: str) -> str:
    """The credential ``name`` of an ``auth`` table: given as it is, or read from the
    environment variable ``<name>_env`` names."""
    if name in spec:
        return str(spec[name])
    variable = spec.get(f"{name}_env")
    if variable is None:
        raise ValidationError("params", f"auth type {kind!r} needs '{name}' or '{name}_env'",
                              path=f"$.auth.{name}")
    value = os.environ.get(variable)
    if not value:
        raise ValidationError("params", f"the environment variable {variable!r} is not set",
                              path=f"$.auth.{name}_env", got=variable)
    return value


def auth_headers(spec: dict[str, Any] | None) -> dict[str, str]:
    """The headers an ``auth`` parameter adds (rs-llmspell's shapes: ``{type = "basic",
    username, password}``, ``{type = "bearer", token}``, ``{type = "api_key", key,
    header_name}``, ``{type = "custom", headers}``; each secret may instead be named by
    ``<field>_env``, an environment variable)."""
    if not spec or spec["type"] == "none":
        return {}
    kind = spec["type"]
    if kind == "basic":
        pair = f"{_secret(spec, 'username', kind)}:{_secret(spec, 'password', kind)}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}
    if kind == "bearer":
        return {"Authorization": "Bearer " + _secret(spec, "token", kind)}
    if kind == "api_key":
        return {spec.get("header_name", "X-API-Key"): _secret(spec, "key", kind)}
    return dict(spec.get("headers", {}))


def _send(params: dict[str, Any], ctx: ToolContext, tool: str) -> Response:
    """The request ``params`` describe (input, method, headers, body, timeout, max_bytes,
    follow_redirects): a string body is sent as it is, anything else as JSON."""
    headers = dict(params.get("headers", {}))
    content = None
    if "body" in params:
        body = params["body"]
        if isinstance(body, str):
            content = body.encode("utf-8")
        else:
            content = json.dumps(body).encode("utf-8")
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
    headers.update(auth_headers(params.get("auth")))
    request = {"tool": tool, "url": params["input"], "method": params.get("method", "GET"),
               "headers": headers, "content": content,
               "timeout": float(params.get("timeout", 30)),
               "max_bytes": int(params.get("max_bytes", MAX_BODY)),
               "follow_redirects": params.get("follow_redirects", True)}
    retry = params.get("retry")
    if retry is None:
        return fetch(ctx.security, **request)
    reply, attempts, errors = fetch_retrying(
        ctx.security, max_retries=int(retry.get("max_attempts", 3)) - 1,
        base_delay=retry.get("initial_delay_ms", 1000) / 1000,
        max_delay=retry.get("max_delay_ms", 30000) / 1000,
        statuses=tuple(retry.get("retry_on_status", RETRY_STATUSES)), **request)
    reply.attempts = (attempts, errors)  # type: ignore[attr-defined]
    return reply


class ApiTester(Tool):
    name = "api-tester"
    description = ("Send an HTTP request and check the answer: expected status, text the body "
                   "contains, a JSON Schema the body satisfies; reports each check")
    category = "data"
    security_level = "restricted"
    capabilities = ("network", "http", "testing")
    timeout = 125.0
    secret_fields = SECRET_AUTH
    parameters = {
        "type": "object",
        "properties": {
            **HttpRequest.parameters["properties"],
            "expected_status": {"oneOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "array", "items": {"type": "integer", "minimum": 100,
                                            "maximum": 599}, "minItems": 1}]},
            "expected_body_contains": {"type": "string"},
            "expected_json_schema": {"type": "object"},
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        schema = params.get("expected_json_schema")
        validator = (schema_validator(schema, "params", "$.expected_json_schema")
                     if schema is not None else None)
        reply = _send(params, ctx, self.name)
        body = _body_fields(reply)
        checks: list[dict[str, Any]] = []
        wanted = params.get("expected_status")
        if wanted is None:
            checks.append({"check": "status", "expected": "2xx", "actual": reply.status_code,
                           "passed": 200 <= reply.status_code < 300})
        else:
            codes = wanted if isinstance(wanted, list) else [wanted]
            checks.append({"check": "status", "expected": codes, "actual": reply.status_code,
                           "passed": reply.status_code in codes})
        if "expected_body_contains" in params:
            needle = params["expected_body_contains"]
            checks.append({"check": "body_contains", "expected": needle,
                           "passed": needle in body["body"]})
        if validator is not None:
            if "json" not in body:
                checks.append({"check": "json_schema", "passed": False,
                               "errors": ["the body is not JSON"]})
            else:
                errors = [f"${''.join(f'.{p}' for p in e.absolute_path)}: {e.message}"
                          for e in validator.iter_errors(body["json"])]
                checks.append({"check": "json_schema", "passed": not errors,
                               "errors": errors[:20]})
        return {**reply.summary(), "passed": all(c["passed"] for c in checks),
                "checks": checks, "response_time_ms": reply.elapsed_ms,
                "headers": reply.headers, **body}


class ServiceChecker(Tool):
    name = "service_checker"
    description = ("Check whether a service answers: a TCP port (host:port) or an HTTP(S) "
                   "URL; off unless [runtime.security] allow_network_access")
    category = "system"
    security_level = "restricted"
    capabilities = ("network", "monitoring")
    timeout = 65.0
    parameters = {
        "type": "object",
        "properties": {
            "target": {"type": "string", "minLength": 1,
                       "description": "host:port for tcp, a URL (or host) for http/https"},
            "check_type": {"enum": ["tcp", "http", "https"]},
            "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 60,
                                "default": 10},
        },
        "required": ["target", "check_type"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        target, kind = params["target"], params["check_type"]
        limit = float(params.get("timeout_seconds", 10))
        started = time.monotonic()
        if kind == "tcp":
            host, port = _host_port(target)
            check_host(host, ctx.security, tool=self.name, argument="target")
            try:
                with socket.create_connection((host, port), timeout=limit):
                    pass
            except OSError as exc:
                return {"target": target, "check_type": kind, "healthy": False,
                        "error": str(exc) or type(exc).__name__}
            return {"target": target, "check_type": kind, "healthy": True,
                    "response_time_ms": round((time.monotonic() - started) * 1000, 3)}
        url = target if "://" in target else f"{kind}://{target}"
        try:
            reply = fetch(ctx.security, tool=self.name, url=url, method="GET",
                          timeout=limit, max_bytes=0, argument="target")
        except ToolError as exc:
            return {"target": target, "check_type": kind, "healthy": False, "error": str(exc)}
        return {"target": target, "check_type": kind, "healthy": reply.status_code < 400,
                "status_code": reply.status_code, "response_time_ms": reply.elapsed_ms}


def _host_port(target: str) -> tuple[str, int]:
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host or not 0 < int(port) < 65536:
        raise ValidationError("params", "check_type 'tcp' needs host:port (port 1-65535)",
                              path="$.target", got=target)
    return host.strip("[]"), int(port)


class _PageParser(HTMLParser):
    """Title, meta tags, links and visible text of an HTML page (stdlib parser, no scripts)."""

    SKIP = ("script", "style", "noscript", "template")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.meta: dict[str, str] = {}
        self.links: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []
        self._in_title = False
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k.lower(): v or "" for k, v in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "meta":
            key = found.get("name") or found.get("property")
            if key and "content" in found:
                self.meta[key.lower()] = found["content"]
        elif tag == "a" and found.get("href"):
            self.links.append(found["href"])
        elif tag == "img" and found.get("src"):
            self.images.append(found["src"])
        elif tag in self.SKIP:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skipping and data.strip():
            self.text.append(data.strip())


def parse_html(html: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser


class UrlAnalyzer(Tool):
    name = "url-analyzer"
    description = ("Parse a URL into its parts and query parameters; with fetch_metadata, "
                   "fetch it for status, content type, title and meta tags (network)")
    category = "web"
    security_level = "safe"
    capabilities = ("network", "url")
    timeout = 65.0
    parameters = {
        "type": "object",
        "properties": {
            "input": {"type": "string", "minLength": 1, "description": "the URL"},
            "fetch_metadata": {"type": "boolean", "default": False},
            "decode_params": {"type": "boolean", "default": True},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 60, "default": 30},
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        url = params["input"]
        parts = parse_url(url)
        host = parts.hostname or ""
        try:
            import ipaddress

            ipaddress.ip_address(host)
            host_type = "ipv6" if ":" in host else "ipv4"
        except ValueError:
            host_type = "domain"
        query: Any = (parse_qs(parts.query, keep_blank_values=True)
                      if params.get("decode_params", True) else parts.query)
        result: dict[str, Any] = {
            "url": url, "scheme": parts.scheme, "host": host, "host_type": host_type,
            "port": parts.port, "path": parts.path or "/", "query": query,
            "fragment": parts.fragment, "username": parts.username,
            "has_password": parts.password is not None}
        if params.get("fetch_metadata"):
            reply = fetch(ctx.security, tool=self.name, url=url,
                          timeout=float(params.get("timeout", 30)), max_bytes=1024 * 1024)
            meta: dict[str, Any] = {**reply.summary(), "content_type": reply.content_type,
                                    "content_length": len(reply.body)}
            if "html" in reply.content_type:
                page = parse_html(reply.text())
                meta.update(title=page.title.strip(), meta=page.meta)
            result["metadata"] = meta
        return result


class WebhookCaller(Tool):
    name = "webhook-caller"
    description = ("Send a JSON payload to a webhook (POST, PUT or PATCH), retrying on "
                   "connection errors, 429 and 5xx; off unless allow_network_access")
    category = "api"
    security_level = "restricted"
    capabilities = ("network", "http", "webhook")
    timeout = None  # each attempt has its own timeout
    parameters = {
        "type": "object",
        "properties": {
            "input": {"type": "string", "minLength": 1, "description": "the webhook URL"},
            "payload": {"default": {}},
            "headers": HEADERS,
            "max_retries": {"type": "integer", "minimum": 0, "maximum": 10, "default": 3},
            "retry_delay": {"type": "number", "minimum": 0, "maximum": 30, "default": 0.5,
                            "description": "seconds before the first retry; doubles after"},
            "timeout": TIMEOUT,
            "method": {"enum": ["POST", "PUT", "PATCH"], "default": "POST"},
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        headers = {"Content-Type": "application/json", **params.get("headers", {})}
        content = json.dumps(params.get("payload", {})).encode("utf-8")
        retries = int(params.get("max_retries", 3))
        reply, attempts, errors = fetch_retrying(
            ctx.security, max_retries=retries, base_delay=float(params.get("retry_delay", 0.5)),
            statuses=(429, *range(500, 600)), tool=self.name, url=params["input"],
            method=params.get("method", "POST"), headers=headers, content=content,
            timeout=float(params.get("timeout", 30)), max_bytes=1024 * 1024)
        if reply.status_code == 429 or reply.status_code >= 500:
            raise ToolError(f"webhook-caller: {params['input']} failed after {attempts} "
                            f"attempts: {'; '.join(errors)}")
        return {**reply.summary(), "attempts": attempts, **_body_fields(reply),
                "errors": errors}


class GraphqlQuery(Tool):
    name = "graphql_query"
    description = ("Send a GraphQL query or mutation (with variables) to an endpoint and "
                   "return data and errors; off unless allow_network_access")
    category = "api"
    security_level = "restricted"
    capabilities = ("network", "graphql")
    timeout = 125.0
    parameters = {
        "type": "object",
        "properties": {
            "endpoint": {"type": "string", "minLength": 1},
            "input": {"type": "string", "minLength": 1, "description": "the query document"},
            "query": {"type": "string", "minLength": 1, "description": "same as input"},
            "operation": {"enum": ["query", "mutation"], "default": "query"},
            "variables": {"type": "object"},
            "operation_name": {"type": "string"},
            "headers": HEADERS,
            "timeout": TIMEOUT,
        },
        "required": ["endpoint"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        query = params.get("query", params.get("input"))
        if query is None:
            raise ValidationError("params", "give the query document as 'input' (or 'query')",
                                  path="$.input")
        document: dict[str, Any] = {"query": query, "variables": params.get("variables", {})}
        if "operation_name" in params:
            document["operationName"] = params["operation_name"]
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   **params.get("headers", {})}
        reply = fetch(ctx.security, tool=self.name, url=params["endpoint"], method="POST",
                      headers=headers, content=json.dumps(document).encode("utf-8"),
                      timeout=float(params.get("timeout", 30)), argument="endpoint")
        try:
            answer = json.loads(reply.text())
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not ({"data", "errors"} & answer.keys()):
            raise ToolError(f"graphql_query: {params['endpoint']} answered HTTP "
                            f"{reply.status_code} without a GraphQL result: "
                            f"{reply.text()[:200]!r}")
        return {"status_code": reply.status_code, "data": answer.get("data"),
                "errors": answer.get("errors", []), "success": not answer.get("errors")}


__all__ = ["ApiTester", "GraphqlQuery", "HttpRequest", "ServiceChecker", "UrlAnalyzer",
           "WebhookCaller", "parse_html"]
