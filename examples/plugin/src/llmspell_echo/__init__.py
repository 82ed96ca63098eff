"""An example llmspell plugin (see docs/plugins.md).

- provider ``echo``: answers every request with the last user message, upper-cased, and
  counts tokens as words. ``Agent.builder():model("echo/any")`` uses it.
- tool ``word_count``: how many words a text holds.
"""

from __future__ import annotations

from collections.abc import Iterator

from llmspell.providers.base import (
    ChatRequest,
    ChatResponse,
    Provider,
    StreamAssembler,
    StreamChunk,
    Usage,
)
from llmspell.tools.decorator import tool


class EchoProvider(Provider):
    """Replies with the last user message, upper-cased."""

    kind = "echo"

    def __init__(self, name: str = "echo") -> None:
        self.name = name

    def complete(self, request: ChatRequest) -> ChatResponse:
        last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        words = sum(len(m.content.split()) for m in request.messages)
        return ChatResponse(last.upper(), usage=Usage(words, len(last.split())),
                            model=request.model, provider=self.name)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        response = self.complete(request)
        out = StreamAssembler(self.name, request.model)
        for word in response.text.split(" "):
            yield out.text(word + " ")
        out.usage = response.usage
        yield out.finish()


def make_provider(name: str) -> EchoProvider:
    """The ``llmspell.providers`` entry point: called with the provider's name."""
    return EchoProvider(name)


@tool(category="utility")
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())
