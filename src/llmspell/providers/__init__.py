"""LLM providers: one request/response shape (:mod:`.base`), one implementation module per
API (``openai``, ``anthropic``, ``scripted``), chosen by kind in :mod:`.registry`; one retry
policy (:mod:`.retry`) and one cost rule (:mod:`.pricing`). See docs/providers.md."""

from llmspell.providers.base import (
    ChatRequest,
    ChatResponse,
    Message,
    Provider,
    StreamChunk,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
)
from llmspell.providers.pricing import Price, cost
from llmspell.providers.registry import ProviderRegistry, ProviderSettings
from llmspell.providers.retry import RetryPolicy

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "Message",
    "Price",
    "Provider",
    "ProviderRegistry",
    "ProviderSettings",
    "RetryPolicy",
    "StreamChunk",
    "ToolCall",
    "ToolCallDelta",
    "ToolSpec",
    "Usage",
    "cost",
]
