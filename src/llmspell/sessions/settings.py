"""The ``[session]`` settings the session manager and its policies use, read from a Config.

``[session]`` (and rs-llmspell's ``[runtime.sessions]`` aliases) are declared in
:mod:`llmspell.config_schema`; this module turns the effective values into one typed object,
so the manager can also be built without a Config (``SessionSettings(max_active_sessions=5)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmspell.sessions.model import Limits
from llmspell.settings import from_config, setting


@dataclass(frozen=True)
class SessionSettings:
    """Session behaviour. Zero (or None) limits and timeouts mean none. Each field defaults
    to the schema default of the key it is read from (``SessionSettings()`` is what a
    runtime with no config file uses)."""

    enabled: bool = setting("session.enabled")
    max_active_sessions: int = setting("session.max_active_sessions")
    idle_timeout_seconds: float = setting("session.idle_timeout_seconds")
    max_duration_seconds: float = setting("session.max_duration_seconds")
    max_operations: int = setting("session.max_operations")
    max_tokens: int = setting("session.max_tokens")
    max_cost: float = setting("session.max_cost")
    max_artifacts: int = setting("session.max_artifacts_per_session")
    max_artifact_bytes: int = setting("session.max_artifact_bytes")
    rate_limits: tuple[str, ...] = setting("session.rate_limits")
    rate_limit_mode: str = setting("session.rate_limit_mode")
    rate_limit_max_wait_seconds: float = setting("session.rate_limit_max_wait_seconds")
    policy_composition: str = setting("session.policy_composition")
    journal_state_values: bool = setting("session.journal_state_values")
    journal_hooks: bool = setting("session.journal_hooks")
    journal_events: bool = setting("session.journal_events")
    redact_patterns: tuple[str, ...] = setting("state.redact_patterns")

    @classmethod
    def from_config(cls, config: Any) -> SessionSettings:
        """Read ``[session]`` (and ``[state] redact_patterns``) from a :class:`Config`."""
        return from_config(cls, config)

    def default_limits(self) -> Limits:
        """The limits a session gets for what its own ``limits`` leave unset."""
        return Limits(
            operations=self.max_operations or None,
            tokens=self.max_tokens or None,
            cost=self.max_cost or None,
            artifacts=self.max_artifacts or None,
            artifact_bytes=self.max_artifact_bytes or None,
        )
