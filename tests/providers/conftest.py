"""Fixtures for provider tests: the loopback server and providers pointed at it whose retry
policy records the delays it asked for instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from provider_support import KEY, Sleeps

from llmspell.providers.anthropic import AnthropicProvider
from llmspell.providers.http import HTTPProvider
from llmspell.providers.openai import OpenAIProvider
from llmspell.providers.retry import RetryPolicy
from llmspell.testing import FakeOpenAIServer


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(params=["openai", "anthropic"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make(server: FakeOpenAIServer, sleeps: Sleeps) -> Iterator[Callable[..., HTTPProvider]]:
    """``make(kind, **options)``: a provider of that kind talking to the loopback server."""
    built: list[HTTPProvider] = []

    def build(kind: str = "openai", *, max_retries: int = 2, **options: Any) -> HTTPProvider:
        cls = OpenAIProvider if kind == "openai" else AnthropicProvider
        env = "OPENAI_API_KEY" if kind == "openai" else "ANTHROPIC_API_KEY"
        options.setdefault("api_key", KEY)
        provider = cls(kind, base_url=server.base_url, api_key_env=env,
                       retry=RetryPolicy(max_retries=max_retries, sleep=sleeps.sleep,
                                         asleep=sleeps.asleep, random=lambda: 1.0),
                       **options)
        built.append(provider)
        return provider

    yield build
    for provider in built:
        provider.close()
