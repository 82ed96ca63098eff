"""Tools: a contract, a registry, security, and rs-llmspell's built-in tools (DESIGN.md 12).

- :mod:`.base`: :class:`Tool` (name, description, category, JSON Schema parameters, security
  level, timeout, ``execute``), :class:`ToolContext`, :class:`ToolOutput`;
- :mod:`.decorator`: ``@tool`` makes a Tool of a typed Python function;
- :mod:`.registry`: :class:`ToolRegistry` (register, get, list, categories, discover);
- :mod:`.security`: ``[runtime.security]`` applied to tool calls;
- :mod:`.service`: :class:`ToolService` (``rt.tools``), the one way a tool is called: security,
  hooks, events, journal, artifacts;
- :mod:`.builtins`: the built-in tools.
"""

from llmspell.tools.base import LEVELS, Tool, ToolContext, ToolOutput
from llmspell.tools.decorator import tool
from llmspell.tools.registry import ToolNotFound, ToolRegistry
from llmspell.tools.security import ToolSecurity
from llmspell.tools.service import ToolService

__all__ = ["LEVELS", "Tool", "ToolContext", "ToolNotFound", "ToolOutput", "ToolRegistry",
           "ToolSecurity", "ToolService", "tool"]
