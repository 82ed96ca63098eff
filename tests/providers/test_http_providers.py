"""The OpenAI-compatible and Anthropic providers over real HTTP, against the loopback server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from provider_support import KEY, Sleeps

from llmspell.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderStreamDropped,
    ProviderTimeout,
    ProviderUnavailable,
)
from llmspell.providers import ChatRequest, Message, ToolCall, ToolSpec
from llmspell.providers.http import HTTPProvider
from llmspell.providers.openai import OpenAIProvider
from llmspell.testing import FakeOpenAIServer

Make = Callable[..., HTTPProvider]
ADD = ToolSpec("add", "add two numbers", {"type": "object", "properties": {
    "a": {"type": "number"}, "b": {"type": "number"}}})


def ask(text: str = "Say hello", **options: Any) -> ChatRequest:
    return ChatRequest("fake-model", [Message("system", "Be brief."), Message("user", text)],
                       **options)


def test_complete_returns_text_usage_and_finish_reason(server: FakeOpenAIServer, make: Make,
                                                       kind: str) -> None:
    server.reply("Hello there", usage=(7, 2))
    response = make(kind).complete(ask())
    assert response.text == "Hello there"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (7, 2)
    assert response.usage.total == 9
    assert response.finish_reason == "stop"
    assert response.provider == kind
    sent = server.requests[0]
    if kind == "openai":
        assert sent.path == "/v1/chat/completions"
        assert sent.headers["authorization"] == f"Bearer {KEY}"
        assert sent.json["messages"][0] == {"role": "system", "content": "Be brief."}
    else:
        assert sent.path == "/v1/messages"
        assert sent.headers["x-api-key"] == KEY
        assert sent.headers["anthropic-version"]
        assert sent.json["system"] == "Be brief."
        assert sent.json["messages"] == [{"role": "user", "content": "Say hello"}]
        assert sent.json["max_tokens"] > 0  # required by the Messages API


def test_stream_yields_chunks_in_order_then_done_with_usage(server: FakeOpenAIServer,
                                                            make: Make, kind: str) -> None:
    server.reply("one two three four five", usage=(3, 5))
    chunks = list(make(kind).stream(ask()))
    texts = [c.text for c in chunks if c.kind == "text"]
    assert texts == ["one ", "two ", "three ", "four ", "five"]
    assert [c.kind for c in chunks][-1] == "done"
    done = chunks[-1].response
    assert done is not None and done.text == "one two three four five"
    assert done.usage.total == 8 and done.usage.reported
    body = server.requests[0].json
    assert body["stream"] is True
    if kind == "openai":
        assert body["stream_options"] == {"include_usage": True}


def test_tool_calls_whole_and_streamed(server: FakeOpenAIServer, make: Make, kind: str) -> None:
    call = {"id": "c1", "name": "add", "arguments": {"a": 1, "b": 2}}
    server.reply("", tool_calls=[call])
    server.reply("", tool_calls=[call])
    provider = make(kind)
    request = ask("What is 1+2?", tools=[ADD])
    whole = provider.complete(request)
    assert whole.tool_calls == (ToolCall("c1", "add", {"a": 1, "b": 2}),)
    assert whole.finish_reason == "tool_calls"
    chunks = list(provider.stream(request))
    deltas = [c.tool_call for c in chunks if c.kind == "tool_call"]
    assert len(deltas) >= 2 and deltas[0] is not None and deltas[0].name == "add"
    streamed = chunks[-1].response
    assert streamed is not None and streamed.tool_calls == whole.tool_calls
    tools = server.requests[0].json["tools"]
    if kind == "openai":
        assert tools[0]["function"]["name"] == "add"
    else:
        assert tools[0]["input_schema"]["properties"]["a"] == {"type": "number"}


def test_a_conversation_with_tool_results_is_sent_in_the_providers_shape(
        server: FakeOpenAIServer, make: Make, kind: str) -> None:
    server.reply("3")
    call = ToolCall("c1", "add", {"a": 1, "b": 2})
    make(kind).complete(ChatRequest("m", [Message("user", "1+2?"),
                                          Message("assistant", "", tool_calls=(call,)),
                                          Message("tool", "3", tool_call_id="c1")]))
    messages = server.requests[0].json["messages"]
    if kind == "openai":
        assert messages[1]["tool_calls"][0]["function"] == {"name": "add",
                                                            "arguments": '{"a":1,"b":2}'}
        assert messages[2] == {"role": "tool", "content": "3", "tool_call_id": "c1"}
    else:
        assert messages[1]["content"] == [{"type": "tool_use", "id": "c1", "name": "add",
                                           "input": {"a": 1, "b": 2}}]
        assert messages[2] == {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": "3"}]}


@pytest.mark.parametrize("streamed", [False, True])
def test_a_malformed_tool_call_is_a_typed_error_naming_the_tool(
        server: FakeOpenAIServer, make: Make, kind: str, streamed: bool) -> None:
    server.reply("", tool_calls=[{"id": "c1", "name": "add", "arguments": '{"a": 1,'}])
    provider = make(kind)
    with pytest.raises(ProviderResponseError, match="add"):
        if streamed:
            list(provider.stream(ask()))
        else:
            provider.complete(ask())
    assert len(server.requests) == 1  # not retried


def test_429_with_retry_after_is_retried_after_that_delay(server: FakeOpenAIServer, make: Make,
                                                          sleeps: Sleeps, kind: str) -> None:
    server.error(429, "slow down", headers={"Retry-After": "3"})
    server.reply("ok")
    assert make(kind).complete(ask()).text == "ok"
    assert sleeps == [3.0]
    assert len(server.requests) == 2


def test_429_retry_after_ms_is_honoured(server: FakeOpenAIServer, make: Make,
                                        sleeps: Sleeps) -> None:
    server.error(429, headers={"retry-after-ms": "250", "Retry-After": "9"})
    server.reply("ok")
    make().complete(ask())
    assert sleeps == [0.25]


def test_429_until_the_retries_are_spent_is_rate_limited(server: FakeOpenAIServer, make: Make,
                                                         sleeps: Sleeps, kind: str) -> None:
    for _ in range(3):
        server.error(429, "Rate limit reached", headers={"Retry-After": "2"})
    with pytest.raises(ProviderRateLimited, match="Rate limit reached") as info:
        make(kind, max_retries=2).complete(ask())
    assert info.value.retry_after == 2.0
    assert sleeps == [2.0, 2.0]
    assert len(server.requests) == 3


def test_a_retry_after_longer_than_the_limit_is_not_waited_for(server: FakeOpenAIServer,
                                                               make: Make,
                                                               sleeps: Sleeps) -> None:
    server.error(429, headers={"Retry-After": "3600"})
    with pytest.raises(ProviderRateLimited) as info:
        make().complete(ask())
    assert info.value.retry_after == 3600.0
    assert sleeps == []


def test_401_is_an_auth_error_naming_the_env_var(server: FakeOpenAIServer, make: Make,
                                                 kind: str) -> None:
    server.error(401, "Incorrect API key provided")
    with pytest.raises(ProviderAuthError) as info:
        make(kind).complete(ask())
    env = "OPENAI_API_KEY" if kind == "openai" else "ANTHROPIC_API_KEY"
    assert env in str(info.value) and info.value.env_var == env
    assert "Incorrect API key provided" in str(info.value)
    assert f"llmspell keys set {kind}" in str(info.value)
    assert len(server.requests) == 1  # never retried


def test_500_is_retried_with_backoff_then_unavailable(server: FakeOpenAIServer, make: Make,
                                                      sleeps: Sleeps, kind: str) -> None:
    for _ in range(3):
        server.error(500, "internal error")
    with pytest.raises(ProviderUnavailable, match="500") as info:
        make(kind, max_retries=2).complete(ask())
    assert info.value.status == 500
    assert sleeps == [0.5, 1.0]  # base 0.5 doubling; the jitter source returned its maximum
    assert len(server.requests) == 3


def test_500_then_success_returns_the_answer(server: FakeOpenAIServer, make: Make,
                                             sleeps: Sleeps) -> None:
    server.error(503)
    server.reply("back")
    assert make().complete(ask()).text == "back"
    assert len(sleeps) == 1


def test_400_carries_the_providers_own_message(server: FakeOpenAIServer, make: Make,
                                               kind: str) -> None:
    server.error(400, "max_tokens is too large: 99999999")
    with pytest.raises(ProviderBadRequest) as info:
        make(kind).complete(ask())
    assert info.value.provider_message == "max_tokens is too large: 99999999"
    assert info.value.status == 400
    assert len(server.requests) == 1


@pytest.mark.parametrize("body", [b"{not json", b"", b"<html>gateway</html>"])
def test_malformed_json_is_a_typed_error(server: FakeOpenAIServer, make: Make, kind: str,
                                         body: bytes) -> None:
    server.raw(body)
    with pytest.raises(ProviderResponseError, match="not valid JSON"):
        make(kind).complete(ask())


def test_an_unknown_answer_shape_is_a_typed_error(server: FakeOpenAIServer, make: Make,
                                                  kind: str) -> None:
    server.raw(b'{"unexpected": true}')
    with pytest.raises(ProviderResponseError, match="expected"):
        make(kind).complete(ask())


def test_a_stream_dropped_midway_is_a_typed_error_and_not_retried(
        server: FakeOpenAIServer, make: Make, kind: str, sleeps: Sleeps) -> None:
    server.drop_stream(after_text="Hel")
    got: list[str] = []
    with pytest.raises(ProviderStreamDropped):
        for chunk in make(kind).stream(ask()):
            got.append(chunk.text)
    assert got == ["Hel"]
    assert len(server.requests) == 1 and sleeps == []


def test_a_stream_refused_before_any_data_is_retried(server: FakeOpenAIServer, make: Make,
                                                     sleeps: Sleeps, kind: str) -> None:
    server.error(429, headers={"Retry-After": "1"})
    server.reply("fine")
    chunks = list(make(kind).stream(ask()))
    assert chunks[-1].response is not None and chunks[-1].response.text == "fine"
    assert sleeps == [1.0]


def test_no_answer_within_the_timeout_is_a_timeout_error(server: FakeOpenAIServer,
                                                         make: Make) -> None:
    server.stall()
    with pytest.raises(ProviderTimeout, match=r"no answer within 0\.2s"):
        make(timeout=0.2, max_retries=0).complete(ask())


def test_an_unreachable_server_is_unavailable(sleeps: Sleeps) -> None:
    with FakeOpenAIServer() as gone:
        url = gone.base_url
    provider = OpenAIProvider("local", base_url=url)
    provider.retry.sleep = sleeps.sleep
    with pytest.raises(ProviderUnavailable, match="cannot reach"):
        provider.complete(ask())
    assert len(sleeps) == provider.retry.max_retries


def test_async_complete_and_stream(server: FakeOpenAIServer, make: Make, kind: str,
                                   sleeps: Sleeps) -> None:
    server.error(429, headers={"Retry-After": "4"})
    server.reply("async hello", usage=(1, 2))
    server.reply("a b c")
    server.drop_stream()
    provider = make(kind)

    async def run() -> tuple[Any, list[Any]]:
        whole = await provider.acomplete(ask())
        chunks = [c async for c in provider.astream(ask())]
        with pytest.raises(ProviderStreamDropped):
            async for _ in provider.astream(ask()):
                pass
        await provider.aclose()
        return whole, chunks

    whole, chunks = asyncio.run(run())
    assert whole.text == "async hello" and whole.usage.total == 3
    assert [c.text for c in chunks if c.kind == "text"] == ["a ", "b ", "c"]
    assert chunks[-1].kind == "done"
    assert sleeps == [4.0]


def test_a_provider_works_across_event_loops(server: FakeOpenAIServer, make: Make) -> None:
    server.reply("one")
    server.reply("two")
    provider = make()

    async def once() -> str:
        try:
            return (await provider.acomplete(ask())).text
        finally:
            await provider.aclose()  # an async client belongs to one loop: close it in it

    assert asyncio.run(once()) == "one"
    assert asyncio.run(once()) == "two"


def test_a_planted_key_never_shows_in_errors_logs_or_reprs(
        server: FakeOpenAIServer, make: Make, kind: str,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.error(500, f"upstream choked on {KEY}")  # retried: the retry is logged
    server.reply("ok")
    server.error(401, f"Incorrect API key provided: {KEY}")
    server.error(400, f"bad request for key {KEY}")
    server.raw(f"garbage {KEY}".encode())
    server.raw(b'{"unexpected": "%s"}' % KEY.encode())  # quoted by the shape check
    provider = make(kind)
    texts = [repr(provider), str(vars(provider).get("retry"))]
    assert provider.complete(ask()).text == "ok"
    assert "retry 1 of 2" in caplog.text
    for _ in range(4):
        with pytest.raises(Exception) as info:
            provider.complete(ask())
        texts += [str(info.value), repr(info.value), str(info.value.__cause__)]
    assert len(server.requests) == 6
    assert KEY in str(server.requests[0].headers)  # the key was sent...
    everything = "\n".join([*texts, caplog.text, *(r.getMessage() for r in caplog.records)])
    assert KEY not in everything  # ...but shows nowhere
    assert "[REDACTED]" in texts[2]


def test_an_answer_without_usage_says_its_usage_was_not_reported(server: FakeOpenAIServer,
                                                                  make: Make) -> None:
    server.raw(b'{"choices": [{"message": {"role": "assistant", "content": "hi"}}]}')
    answer = make().complete(ask())
    assert answer.text == "hi" and answer.finish_reason == "stop"
    assert not answer.usage.reported and answer.usage.total == 0


def test_a_zero_timeout_means_no_limit(server: FakeOpenAIServer, make: Make) -> None:
    server.reply("patient")
    assert make(timeout=0).complete(ask()).text == "patient"


SSE = {"content-type": "text/event-stream"}
MIDSTREAM_ERROR = {
    "openai": b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n',
    "anthropic": b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error",'
                 b' "message": "Overloaded"}}\n\n',
}
NO_END_MARKER = {
    "openai": b'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}\n\n',
    "anthropic": b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0,'
                 b' "delta": {"type": "text_delta", "text": "Hi"}}\n\n',
}


def test_an_error_event_before_any_data_is_retried(server: FakeOpenAIServer, make: Make,
                                                   sleeps: Sleeps, kind: str) -> None:
    server.raw(MIDSTREAM_ERROR[kind], headers=SSE)
    server.reply("recovered")
    chunks = list(make(kind).stream(ask()))
    assert chunks[-1].response is not None and chunks[-1].response.text == "recovered"
    assert len(sleeps) == 1


def test_a_stream_closed_cleanly_without_its_end_marker_is_dropped(
        server: FakeOpenAIServer, make: Make, kind: str) -> None:
    server.raw(NO_END_MARKER[kind], headers=SSE)
    got = []
    with pytest.raises(ProviderStreamDropped, match="ended without"):
        for chunk in make(kind).stream(ask()):
            got.append(chunk.text)
    assert got == ["Hi"]


def test_leaving_a_stream_early_leaves_the_provider_usable(server: FakeOpenAIServer,
                                                           make: Make, kind: str) -> None:
    server.reply("many words in this answer")
    server.reply("next")
    provider = make(kind)
    for chunk in provider.stream(ask()):
        if chunk.kind == "text":
            break
    assert provider.complete(ask()).text == "next"
