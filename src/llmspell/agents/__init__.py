"""Agents: a model behind a provider, a system prompt, a bounded conversation, tools and a
lifecycle, woven into hooks, events, the session journal, artifacts and session limits.

``runtime.agents`` is the :class:`AgentRegistry`; ``runtime.agents.create(name=..., model=...)``
returns an :class:`Agent` (``invoke``, ``ainvoke``, ``stream``, ``astream``). See
docs/agents.md.
"""

from llmspell.agents.agent import Agent
from llmspell.agents.model import AgentChunk, AgentConfig, AgentResult
from llmspell.agents.registry import AgentRegistry
from llmspell.agents.tools import AgentTool

__all__ = ["Agent", "AgentChunk", "AgentConfig", "AgentRegistry", "AgentResult", "AgentTool"]
