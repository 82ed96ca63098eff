"""web_search against loopback servers speaking SearXNG's, Brave's and Serper's wire formats;
engine fallback; the network rule; the API key kept out of results, journal and events."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from llmspell.errors import ConfigError, SecurityViolation, ToolError, ValidationError

KEY = "brv-test-key-0123456789abcdef"


class _Engines(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, value: Any) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        type(self).seen.append({"path": parts.path, "query": query,
                                "token": self.headers.get("X-Subscription-Token")})
        if parts.path == "/searx/search":
            self._json(200, {"query": query["q"], "results": [
                {"title": f"Result {i}", "url": f"https://example.org/{i}",
                 "content": f"about {query['q']} {i}"} for i in range(1, 6)]})
        elif parts.path == "/empty/search":
            self._json(200, {"results": []})
        elif parts.path == "/down/search":
            self._json(503, {"error": "down"})
        elif parts.path == "/res/v1/web/search":
            if self.headers.get("X-Subscription-Token") != KEY:
                self._json(401, {"error": "bad token"})
                return
            self._json(200, {"type": "search", "web": {"results": [
                {"title": "Brave one", "url": "https://brave.example/1",
                 "description": f"echo {KEY}"}]}})
        else:
            self._json(404, {})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"path": self.path, "body": body,
                                "key": self.headers.get("X-API-KEY")})
        self._json(200, {"organic": [{"title": "Serper", "link": "https://s.example/",
                                      "snippet": body["q"]}]})


@pytest.fixture
def engines(loopback: Callable[[type], str]) -> str:
    _Engines.seen = []
    return loopback(_Engines)


def _rt(make_rt: Any, server: str, **extra: Any) -> Any:
    engines = {"searx": {"kind": "searxng", "url": server + "/searx/search"},
               "empty": {"kind": "searxng", "url": server + "/empty/search"},
               "down": {"kind": "searxng", "url": server + "/down/search"},
               "brave": {"kind": "brave", "url": server + "/res/v1/web/search",
                         "api_key_env": "LLMSPELL_TEST_BRAVE_KEY"},
               "serper": {"kind": "serperdev", "url": server + "/search",
                          "api_key_env": "LLMSPELL_TEST_BRAVE_KEY"}}
    extra.setdefault("runtime__security__allow_network_access", True)
    extra.setdefault("runtime__security__allowed_hosts", ["127.0.0.1"])
    return make_rt(tools__web_search__engines=engines, **extra)


@pytest.mark.slow
def test_searxng_results_have_rs_llmspells_shape(make_rt: Any, engines: str) -> None:
    rt = _rt(make_rt, engines)
    out = rt.tools.invoke("web_search", {"input": "lua tables", "max_results": 3,
                                         "language": "fr"}).result
    assert out["query"] == "lua tables" and out["provider"] == "searx" and out["count"] == 3
    assert out["results"][0] == {"title": "Result 1", "url": "https://example.org/1",
                                 "snippet": "about lua tables 1", "provider": "searx",
                                 "rank": 1}
    assert [r["rank"] for r in out["results"]] == [1, 2, 3]
    sent = _Engines.seen[-1]["query"]
    assert sent == {"q": "lua tables", "format": "json", "safesearch": "2", "language": "fr",
                    "pageno": "1"}
    news = rt.tools.invoke("web_search", {"input": "x", "search_type": "news",
                                          "safe_search": False}).result
    assert news["count"] == 5
    assert _Engines.seen[-1]["query"]["categories"] == "news"
    assert _Engines.seen[-1]["query"]["safesearch"] == "0"


def test_falls_back_past_a_failing_and_an_empty_engine(make_rt: Any, engines: str) -> None:
    rt = _rt(make_rt, engines, tools__web_search__default_engine="down",
             tools__web_search__fallback=["empty", "searx"])
    out = rt.tools.invoke("web_search", {"input": "q"}).result
    assert out["provider"] == "searx"
    assert out["failed"] == ["down: HTTP 503 from http://127.0.0.1:"
                             f"{urlsplit(engines).port}/down/search", "empty: no results"]
    alone = _rt(make_rt, engines, tools__web_search__default_engine="empty")
    with pytest.raises(ToolError, match=r"no engine found results for 'q': empty: no results"):
        alone.tools.invoke("web_search", {"input": "q"})


def test_brave_sends_the_key_and_keeps_it_out_of_results_journal_events(
        make_rt: Any, engines: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSPELL_TEST_BRAVE_KEY", KEY)
    rt = _rt(make_rt, engines)
    seen: list[Any] = []
    rt.events.subscribe("tool.*", lambda event: seen.append(event.data))
    session = rt.sessions.create(name="s").id
    out = rt.tools.invoke("web_search", {"input": "q", "provider": "brave"},
                          session_id=session).result
    assert _Engines.seen[-1]["token"] == KEY and _Engines.seen[-1]["query"]["count"] == "10"
    assert out["results"][0]["snippet"] == "echo [REDACTED]"
    entries = rt.sessions.journal.read(session, kinds="tool.call")
    assert entries[0].data["result"]["success"]
    journal = json.dumps([e.data for e in entries])
    assert KEY not in journal and KEY not in json.dumps(seen) and KEY not in json.dumps(out)


def test_serperdev_posts_json(make_rt: Any, engines: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSPELL_TEST_BRAVE_KEY", KEY)
    out = _rt(make_rt, engines).tools.invoke("web_search", {"input": "hi",
                                                            "provider": "serper"}).result
    assert out["results"] == [{"title": "Serper", "url": "https://s.example/",
                               "snippet": "hi", "provider": "serper", "rank": 1}]
    assert _Engines.seen[-1]["key"] == KEY and _Engines.seen[-1]["body"]["num"] == 10


def test_refusals(make_rt: Any, engines: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SecurityViolation, match="allow_network_access"):
        _rt(make_rt, engines, runtime__security__allow_network_access=False).tools.invoke(
            "web_search", {"input": "q"})
    with pytest.raises(SecurityViolation, match=r"host '127.0.0.1' is not in.*allowed_hosts"):
        _rt(make_rt, engines, runtime__security__allowed_hosts=["search.example"]).tools.invoke(
            "web_search", {"input": "q"})
    rt = _rt(make_rt, engines)
    with pytest.raises(ValidationError, match=r"no engine named 'google'") as info:
        rt.tools.invoke("web_search", {"input": "q", "provider": "google"})
    assert info.value.path == "$.provider"
    with pytest.raises(ValidationError, match=r"\$\.max_results"):
        rt.tools.invoke("web_search", {"input": "q", "max_results": 0})
    monkeypatch.delenv("LLMSPELL_TEST_BRAVE_KEY", raising=False)
    with pytest.raises(ToolError, match=r"LLMSPELL_TEST_BRAVE_KEY.*is not set"):
        rt.tools.invoke("web_search", {"input": "q", "provider": "brave"})


def test_without_engines_it_is_unavailable_and_says_how_to_configure(rt: Any) -> None:
    info = rt.tools.get("web_search").info()
    assert not info["available"] and "[tools.web_search]" in info["unavailable_reason"]
    with pytest.raises(ToolError, match="unavailable on this machine: no search engine"):
        rt.tools.invoke("web_search", {"input": "q"})


@pytest.mark.parametrize(("engines", "rule"), [
    ({"x": {"kind": "google"}}, r"\$\.x\.kind: kind must be one of searxng"),
    ({"x": {"kind": "searxng"}}, r"\$\.x\.url: a searxng engine needs"),
    ({"x": {"kind": "brave", "api_key": "k"}}, r"\$\.x\.api_key: is not a key"),
    ({"x": {"kind": "brave", "url": "ftp://h/"}}, r"\$\.x\.url: must be an http"),
])
def test_bad_engine_tables_are_config_errors(make_rt: Any, engines: Any, rule: str) -> None:
    with pytest.raises(ConfigError, match=rule):
        make_rt(tools__web_search__engines=engines)


@pytest.mark.parametrize(("setting", "value", "reason"), [
    ("default_engine", "nope", "default_engine 'nope' is not one of the engines (searx)"),
    ("fallback", ["searx", "zzz"], "fallback 'zzz' is not one of the engines (searx)"),
])
def test_an_engine_name_not_configured_makes_it_unavailable(make_rt: Any, setting: str,
                                                             value: Any, reason: str) -> None:
    rt = make_rt(tools__web_search__engines={"searx": {"kind": "searxng",
                                                       "url": "http://127.0.0.1:9/search"}},
                 **{f"tools__web_search__{setting}": value})
    info = rt.tools.get("web_search").info()
    assert not info["available"] and reason in info["unavailable_reason"]
    with pytest.raises(ToolError, match="unavailable on this machine"):
        rt.tools.invoke("web_search", {"input": "q"})
