"""What a tool call is allowed to do: the one place ``[runtime.security]`` is applied to tools.

- ``max_security_level`` (``safe`` < ``restricted`` < ``privileged``): a tool above it is
  refused before it runs;
- files: every path a tool touches goes through the scripts' :class:`~llmspell.paths.Confinement`
  (``[runtime] allowed_paths``, ``allow_file_access``, protected data directory), which refuses;
- a refusal raises :class:`~llmspell.errors.SecurityViolation` naming the setting to change, and
  fires ``security:violation`` with ``{tool, reason, setting}`` first (:meth:`report`).

Network and process settings (``allow_network_access``, ``allow_process_spawn``, allowed hosts)
are not read here yet: no built-in tool opens a connection or starts a process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmspell.errors import SecurityViolation
from llmspell.paths import Confinement
from llmspell.tools.base import LEVELS, Tool

LEVEL_SETTING = "[runtime.security] max_security_level"


@dataclass
class ToolSecurity:
    """The security settings tools run under."""

    confinement: Confinement
    max_level: str = "privileged"

    @classmethod
    def from_config(cls, config: Any) -> ToolSecurity:
        return cls(Confinement.for_scripts(config),
                   str(config.setting("runtime.security.max_security_level")))

    def check(self, tool: Tool) -> None:
        """Raise SecurityViolation when ``tool``'s level is above the maximum."""
        if LEVELS.index(tool.security_level) > LEVELS.index(self.max_level):
            raise SecurityViolation(
                f"tool {tool.name!r}: its security level {tool.security_level!r} is above "
                f"{LEVEL_SETTING} = {self.max_level!r} (raise the setting to "
                f"{tool.security_level!r} to allow it)")


def report(hooks: Any, tool: str, exc: SecurityViolation, *, session_id: str | None,
           correlation_id: str | None) -> None:
    """Fire ``security:violation`` for a refused tool call (nothing registered: no cost)."""
    if hooks is not None and hooks.has("security:violation"):
        hooks.after("security:violation", {"tool": tool, "reason": str(exc)},
                    component=f"tool:{tool}", session_id=session_id,
                    correlation_id=correlation_id)
