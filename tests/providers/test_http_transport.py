"""How a provider's request reaches the wire: straight to its httpx transport
(llmspell.providers.http, HTTPProvider._send), with what a client would add: the proxy the
environment names, the timeouts and the default headers."""

from __future__ import annotations

import asyncio

import pytest
from provider_support import KEY

from llmspell import __version__
from llmspell.errors import ProviderUnavailable
from llmspell.providers import ChatRequest, Message
from llmspell.providers.openai import OpenAIProvider
from llmspell.providers.retry import RetryPolicy
from llmspell.testing import FakeOpenAIServer

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                   "all_proxy", "NO_PROXY", "no_proxy")


def ask() -> ChatRequest:
    return ChatRequest("fake-model", [Message("user", "hi")])


def test_a_request_carries_the_headers_a_client_sends_and_names_llmspell(
        server: FakeOpenAIServer) -> None:
    server.reply("one")
    provider = OpenAIProvider("openai", base_url=server.base_url, api_key=KEY)
    try:
        assert provider.complete(ask()).text == "one"
    finally:
        provider.close()
    headers = server.requests[0].headers
    assert headers["user-agent"] == f"llmspell/{__version__}"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "*/*"
    assert headers["accept-encoding"] == "gzip, deflate"
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert int(headers["content-length"]) == len(server.requests[0].body)


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch, server: FakeOpenAIServer) -> FakeOpenAIServer:
    """The loopback server as the environment's HTTP proxy: a proxied request arrives with
    the whole URL as its path."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.port}")
    return server


def _unresolvable() -> OpenAIProvider:
    # a name that never resolves: reached only through the proxy
    return OpenAIProvider("openai", base_url="http://llm.invalid/v1", api_key=KEY,
                          retry=RetryPolicy(max_retries=0))


def _goes_direct_and_fails() -> None:
    """A call to the unresolvable host, not through a proxy: unavailable."""
    provider = _unresolvable()
    try:
        with pytest.raises(ProviderUnavailable, match="cannot reach"):
            provider.complete(ask())
    finally:
        provider.close()


def test_the_environments_proxy_carries_sync_calls_and_streams(
        proxied: FakeOpenAIServer) -> None:
    proxied.reply("through the proxy")
    proxied.reply("a b")
    provider = _unresolvable()
    try:
        assert provider.complete(ask()).text == "through the proxy"
        texts = [c.text for c in provider.stream(ask()) if c.kind == "text"]
    finally:
        provider.close()
    assert texts == ["a ", "b"]
    assert [r.path for r in proxied.requests] == ["http://llm.invalid/v1/chat/completions"] * 2


def test_the_environments_proxy_carries_async_calls(proxied: FakeOpenAIServer) -> None:
    proxied.reply("async, proxied")
    provider = _unresolvable()

    async def run() -> str:
        try:
            return (await provider.acomplete(ask())).text
        finally:
            await provider.aclose()

    assert asyncio.run(run()) == "async, proxied"
    assert proxied.requests[0].path == "http://llm.invalid/v1/chat/completions"


def test_all_proxy_serves_when_no_proxy_is_named_for_the_scheme(
        monkeypatch: pytest.MonkeyPatch, proxied: FakeOpenAIServer) -> None:
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{proxied.port}")
    proxied.reply("via ALL_PROXY")
    provider = _unresolvable()
    try:
        assert provider.complete(ask()).text == "via ALL_PROXY"
    finally:
        provider.close()


@pytest.mark.parametrize("exempt", ["llm.invalid", ".invalid", "*"])
def test_no_proxy_exempts_its_hosts(monkeypatch: pytest.MonkeyPatch,
                                    proxied: FakeOpenAIServer, exempt: str) -> None:
    monkeypatch.setenv("NO_PROXY", exempt)
    _goes_direct_and_fails()
    assert proxied.requests == []


def test_without_a_proxy_the_unresolvable_host_is_unavailable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    _goes_direct_and_fails()


def test_a_closed_provider_opens_a_new_pool_on_its_next_call(
        server: FakeOpenAIServer) -> None:
    server.reply("before")
    server.reply("after")
    provider = OpenAIProvider("openai", base_url=server.base_url, api_key=KEY)
    assert provider.complete(ask()).text == "before"
    provider.close()
    assert provider.complete(ask()).text == "after"
    provider.close()
