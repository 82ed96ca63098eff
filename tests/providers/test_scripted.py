"""The ``scripted`` test double: canned replies in order, tool calls, errors, streaming."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from llmspell.errors import ProviderRateLimited, ProviderScriptExhausted, ValidationError
from llmspell.providers import ChatRequest, Message, ToolCall
from llmspell.providers.scripted import ScriptedProvider


def ask(text: str) -> ChatRequest:
    return ChatRequest("scripted", [Message("user", text)])


def test_replies_come_in_order_with_word_usage() -> None:
    provider = ScriptedProvider(replies=["first answer", {"text": "second", "usage": {
        "input_tokens": 10, "output_tokens": 1}}])
    one = provider.complete(ask("hello there you"))
    assert one.text == "first answer" and one.finish_reason == "stop"
    assert (one.usage.input_tokens, one.usage.output_tokens) == (3, 2)
    two = provider.complete(ask("again"))
    assert two.text == "second" and two.usage.total == 11
    assert [r.messages[-1].content for r in provider.requests] == ["hello there you", "again"]


def test_exhausted_replies_are_an_error_naming_what_it_got() -> None:
    provider = ScriptedProvider(replies=["only one"])
    provider.complete(ask("first"))
    with pytest.raises(ProviderScriptExhausted) as info:
        provider.complete(ask("what is the weather?"))
    text = str(info.value)
    assert "had 1" in text and "call 2" in text and "what is the weather?" in text


def test_tool_calls_and_errors_are_scripted() -> None:
    provider = ScriptedProvider(replies=[
        {"tool_calls": [{"name": "add", "arguments": {"a": 1}, "id": "c1"}]},
        {"error": "rate_limited", "message": "scripted 429"},
    ])
    answer = provider.complete(ask("1+?"))
    assert answer.tool_calls == (ToolCall("c1", "add", {"a": 1}),)
    assert answer.finish_reason == "tool_calls"
    with pytest.raises(ProviderRateLimited, match="scripted 429"):
        provider.complete(ask("again"))


def test_stream_gives_the_text_in_word_chunks_then_done() -> None:
    provider = ScriptedProvider(replies=[{"text": "one two three", "tool_calls": [
        {"name": "t", "arguments": {"x": [1, 2]}}]}])
    chunks = list(provider.stream(ask("go")))
    assert [c.text for c in chunks if c.kind == "text"] == ["one ", "two ", "three"]
    assert [c.kind for c in chunks][-2:] == ["tool_call", "done"]
    done = chunks[-1].response
    assert done is not None and done.text == "one two three"
    assert done.tool_calls == (ToolCall("call_0", "t", {"x": [1, 2]}),)


def test_async_forms() -> None:
    provider = ScriptedProvider(replies=["a", "b c"])

    async def run() -> tuple[str, list[str]]:
        whole = await provider.acomplete(ask("x"))
        chunks = [c.text async for c in provider.astream(ask("y")) if c.kind == "text"]
        return whole.text, chunks

    assert asyncio.run(run()) == ("a", ["b ", "c"])


def test_replies_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "replies.json"
    path.write_bytes(orjson.dumps({"replies": ["from a file"]}))
    assert ScriptedProvider("demo", path).complete(ask("?")).text == "from a file"
    path.write_bytes(orjson.dumps(["as a list"]))
    assert ScriptedProvider("demo", str(path)).complete(ask("?")).text == "as a list"


@pytest.mark.parametrize(("replies", "where"), [
    ([42], "[0]"),
    (["ok", {"txt": "typo"}], "[1].txt"),
    ([{"error": "explode"}], "[0].error"),
    ([{"tool_calls": [{"arguments": {}}]}], "[0].tool_calls[0]"),
    ([{"tool_calls": [{"name": "t", "arguments": [1]}]}], "[0].tool_calls[0].arguments"),
])
def test_bad_replies_are_refused_naming_the_path(replies: list[object], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        ScriptedProvider(replies=replies)
    assert info.value.argument == "replies" and info.value.path == where


def test_a_bad_replies_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ValidationError, match=r"bad\.json"):
        ScriptedProvider(replies=bad)
    with pytest.raises(ValidationError, match="cannot read"):
        ScriptedProvider(replies=tmp_path / "missing.json")
