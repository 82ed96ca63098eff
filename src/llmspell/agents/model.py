"""What an agent takes and gives: its config, the input forms, a result, a streamed chunk."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmspell.agents.tools import result_text
from llmspell.errors import ValidationError

INPUT_KEYS = ("text", "prompt", "input", "message", "parameters")


@dataclass(frozen=True)
class AgentConfig:
    """What an agent was created with (never its API key)."""

    name: str
    model: str
    provider: str
    model_name: str
    system_prompt: str = ""
    description: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    max_conversation_length: int = 100
    max_steps: int = 10
    base_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "provider": self.provider,
                "model_name": self.model_name, "system_prompt": self.system_prompt,
                "description": self.description, "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "max_conversation_length": self.max_conversation_length,
                "max_steps": self.max_steps, "base_url": self.base_url}


@dataclass
class AgentResult:
    """An answer: ``text``, ``metadata`` (model, provider, agent, latency_ms, finish_reason,
    steps, cost, ...), ``usage`` (input_tokens, output_tokens, total) and ``tool_calls``
    (``{id, name, arguments, result: {success, output, error}}`` plus rs-llmspell's
    ``tool_id``/``tool_name``/``parameters``)."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def output(self) -> str:
        """The text (the seed's name for it)."""
        return self.text

    def to_dict(self) -> dict[str, Any]:
        """The result as plain values; ``output`` is an alias of ``text``."""
        return {"text": self.text, "output": self.text, "metadata": dict(self.metadata),
                "usage": dict(self.usage), "tool_calls": list(self.tool_calls)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentResult:
        text = data.get("text", data.get("output", ""))
        return cls(text if isinstance(text, str) else result_text(text),
                   dict(data.get("metadata") or {}), dict(data.get("usage") or {}),
                   list(data.get("tool_calls") or []))


@dataclass(frozen=True)
class AgentChunk:
    """One piece of a streamed answer: ``kind`` is ``text`` (``text`` is a delta),
    ``tool_call`` (``tool_call`` is the call, arguments parsed), ``tool_result``
    (``tool_call`` is ``{id, name, result: {success, output, error}}``) or ``done``
    (``result`` is the whole :class:`AgentResult`). ``index`` counts chunks from 0."""

    kind: str
    index: int
    text: str = ""
    tool_call: dict[str, Any] | None = None
    result: AgentResult | None = None


def parse_input(value: Any) -> tuple[str, Any]:
    """``(text, parameters)`` from a string or ``{text= | prompt= | input= | message=,
    parameters=}``; ValidationError naming ``input`` otherwise."""
    if isinstance(value, str):
        return value, None
    if type(value) is dict and len(value) == 1:
        # {text = "..."} alone, the usual table, answered as the checks below would: past an
        # ABC isinstance, a sort and a key loop (9.5k -> 2.7k instructions, callgrind).
        text = value.get("text")
        if type(text) is str:
            return text, None
    if isinstance(value, Mapping):
        unknown = sorted(k for k in value if k not in INPUT_KEYS)
        if unknown:
            raise ValidationError("input", f"unknown field(s) {', '.join(map(str, unknown))}; "
                                  f"known: {', '.join(INPUT_KEYS)}", got=dict(value))
        for key in INPUT_KEYS[:4]:
            if key in value:
                text = value[key]
                if not isinstance(text, str):
                    raise ValidationError("input", "must be a string", path=f".{key}",
                                          got=text)
                return text, value.get("parameters")
        raise ValidationError("input", "needs the text to send: {text = \"...\"} or "
                              "{prompt = \"...\"}", got=dict(value))
    raise ValidationError("input", "must be a string or a table {text = \"...\"}", got=value)


def take_text(data: Any) -> str:
    """The text to send from the (possibly hook-modified) before-execution data."""
    if isinstance(data, str):
        return data
    if isinstance(data, Mapping) and isinstance(data.get("text"), str):
        return data["text"]
    raise ValidationError("text", "a hook at agent:before_execution modified the data; it "
                          "must keep a string 'text'", got=data)


def hook_view(result: AgentResult) -> dict[str, Any]:
    """The result as after-hooks see it: ``text`` only (no ``output`` alias to fall out of
    step when a hook changes the text)."""
    return {"text": result.text, "metadata": result.metadata, "usage": result.usage,
            "tool_calls": result.tool_calls}
