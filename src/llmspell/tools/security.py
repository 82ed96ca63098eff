"""What a tool call is allowed to do: the one place ``[runtime.security]`` is applied to tools.

- ``max_security_level`` (``safe`` < ``restricted`` < ``privileged``): a tool above it is
  refused before it runs;
- files: every path a tool touches goes through the scripts' :class:`~llmspell.paths.Confinement`
  (``[runtime] allowed_paths``, ``allow_file_access``, protected data directory), which refuses;
- processes: ``allow_process_spawn`` must be true and the program named in
  ``allowed_executables`` (:meth:`ToolSecurity.check_process`);
- databases: ``database-connector`` opens them read-only unless ``allow_database_writes``;
- a refusal raises :class:`~llmspell.errors.SecurityViolation` naming the setting to change, and
  fires ``security:violation`` with ``{tool, reason}`` first (:func:`report`).

- network: ``allow_network_access`` must be true and the URL's host match ``allowed_hosts``
  (empty: any host); :func:`llmspell.tools.network.check_url` owns that rule and every network
  tool calls it for each URL it opens, redirects included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmspell.errors import SecurityViolation
from llmspell.paths import Confinement
from llmspell.tools.base import LEVELS, Tool

LEVEL_SETTING = "[runtime.security] max_security_level"
SPAWN_SETTING = "[runtime.security] allow_process_spawn"
EXECUTABLES_SETTING = "[runtime.security] allowed_executables"


@dataclass
class ToolSecurity:
    """The security settings tools run under."""

    confinement: Confinement
    max_level: str = "privileged"
    allow_process_spawn: bool = False
    allowed_executables: tuple[str, ...] = ()
    allow_network_access: bool = False
    allowed_hosts: tuple[str, ...] = ()
    allow_database_writes: bool = False

    @classmethod
    def from_config(cls, config: Any) -> ToolSecurity:
        return cls(Confinement.for_scripts(config),
                   str(config.setting("runtime.security.max_security_level")),
                   bool(config.setting("runtime.security.allow_process_spawn")),
                   tuple(config.setting("runtime.security.allowed_executables")),
                   bool(config.setting("runtime.security.allow_network_access")),
                   tuple(config.setting("runtime.security.allowed_hosts")),
                   bool(config.setting("runtime.security.allow_database_writes")))

    def check_process(self, tool: str, executable: str) -> None:
        """Raise SecurityViolation unless ``tool`` may start the program ``executable``."""
        if not self.allow_process_spawn:
            raise SecurityViolation(f"{tool}: starting processes is disabled by "
                                    f"{SPAWN_SETTING} = false (set it to true, and list the "
                                    f"program in {EXECUTABLES_SETTING})")
        if executable not in self.allowed_executables:
            listed = ", ".join(self.allowed_executables) or "(none)"
            raise SecurityViolation(f"{tool}: argument 'executable': {executable!r} is not in "
                                    f"{EXECUTABLES_SETTING} ({listed}); add it there to allow "
                                    "it")

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
