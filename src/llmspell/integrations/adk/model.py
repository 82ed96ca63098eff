"""An ADK model (``BaseLlm``) that answers through a llmspell provider.

``LlmAgent(model=LLMSpellModel(provider=runtime.providers.get("openai")), ...)`` runs an ADK
agent on any llmspell provider: an OpenAI-compatible server, Anthropic, or the shipped
``ScriptedProvider`` test double. ADK's contents become llmspell messages (text, function
calls and function responses); the reply becomes one non-streamed ``LlmResponse``. The
provider call runs on a worker thread, so the event loop is free while it waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types
from pydantic import ConfigDict

from llmspell.errors import ValidationError
from llmspell.providers.base import ChatRequest, Message, Provider, ToolCall, ToolSpec


class LLMSpellModel(BaseLlm):
    """An ADK model backed by ``provider``; ``model`` is the model name sent to it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    model: str = "llmspell"
    provider: Provider

    async def generate_content_async(self, llm_request: LlmRequest,
                                     stream: bool = False) -> AsyncGenerator[LlmResponse, None]:
        if not isinstance(llm_request, LlmRequest):
            raise ValidationError("llm_request", "must be an ADK LlmRequest", got=llm_request)
        request = ChatRequest(model=llm_request.model or self.model,
                              messages=_messages(llm_request), tools=_tools(llm_request))
        reply = await asyncio.to_thread(self.provider.complete, request)
        parts = [types.Part.from_text(text=reply.text)] if reply.text else []
        parts += [types.Part(function_call=types.FunctionCall(
            id=call.id, name=call.name, args=dict(call.arguments))) for call in reply.tool_calls]
        usage = types.GenerateContentResponseUsageMetadata(
            prompt_token_count=reply.usage.input_tokens,
            candidates_token_count=reply.usage.output_tokens,
            total_token_count=reply.usage.total)
        yield LlmResponse(content=types.Content(role="model", parts=parts),
                          usage_metadata=usage, turn_complete=True)


def _messages(llm_request: LlmRequest) -> list[Message]:
    messages: list[Message] = []
    instruction = llm_request.config.system_instruction if llm_request.config else None
    if isinstance(instruction, str) and instruction:
        messages.append(Message("system", instruction))
    for content in llm_request.contents:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for part in content.parts or ():
            if part.text:
                texts.append(part.text)
            elif part.function_call is not None:
                call = part.function_call
                calls.append(ToolCall(call.id or f"call_{len(calls)}", call.name or "",
                                      dict(call.args or {})))
            elif part.function_response is not None:
                answer = part.function_response
                messages.append(Message("tool", orjson.dumps(answer.response or {}).decode(),
                                        tool_call_id=answer.id or "call_0", name=answer.name))
        role = "assistant" if content.role == "model" else "user"
        if texts or calls:
            messages.append(Message(role, "".join(texts), tool_calls=tuple(calls)))
    return messages


def _tools(llm_request: LlmRequest) -> list[ToolSpec]:
    specs: list[ToolSpec] = []
    config = llm_request.config
    for tool in (config.tools or []) if config else []:
        for declaration in getattr(tool, "function_declarations", None) or []:
            schema: Any = declaration.parameters_json_schema or (
                declaration.parameters.model_dump(mode="json", exclude_none=True)
                if declaration.parameters else {"type": "object", "properties": {}})
            specs.append(ToolSpec(declaration.name or "", declaration.description or "",
                                  schema))
    return specs
