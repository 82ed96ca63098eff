"""The ``[session]`` settings the session manager and its policies use, read from a Config.

``[session]`` (and rs-llmspell's ``[runtime.sessions]`` aliases) are declared in
:mod:`llmspell.config_schema`; this module turns the effective values into one typed object,
so the manager can also be built without a Config (``SessionSettings(max_active_sessions=5)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmspell.sessions.model import Limits


@dataclass(frozen=True)
class SessionSettings:
    """Session behaviour. Zero (or None) limits and timeouts mean none."""

    enabled: bool = True
    max_active_sessions: int = 1000
    idle_timeout_seconds: float = 0.0
    max_duration_seconds: float = 0.0
    max_operations: int = 0
    max_tokens: int = 0
    max_cost: float = 0.0
    max_artifacts: int = 0
    max_artifact_bytes: int = 0
    rate_limits: tuple[str, ...] = ()
    rate_limit_mode: str = "wait"
    rate_limit_max_wait_seconds: float = 30.0
    policy_composition: str = "sequential"
    journal_state_values: bool = True
    journal_hooks: bool = True
    journal_events: bool = True
    redact_patterns: tuple[str, ...] = ()
    #: The largest encoded metadata of a session: ``[state] max_value_bytes``, the limit of
    #: every stored value.
    max_value_bytes: int = 10 * 1024 * 1024

    @classmethod
    def from_config(cls, config: Any) -> SessionSettings:
        """Read ``[session]`` (and ``[state] redact_patterns``) from a :class:`Config`."""
        values = config.values.get("session", {})
        return cls(
            enabled=config.session.enabled,
            max_active_sessions=config.session.max_active_sessions,
            idle_timeout_seconds=config.session.idle_timeout_seconds,
            max_duration_seconds=float(values.get("max_duration_seconds", 0)),
            max_operations=int(values.get("max_operations", 0)),
            max_tokens=int(values.get("max_tokens", 0)),
            max_cost=float(values.get("max_cost", 0)),
            max_artifacts=config.session.max_artifacts_per_session,
            max_artifact_bytes=int(values.get("max_artifact_bytes", 0)),
            rate_limits=tuple(values.get("rate_limits", ())),
            rate_limit_mode=values.get("rate_limit_mode", "wait"),
            rate_limit_max_wait_seconds=float(values.get("rate_limit_max_wait_seconds", 30)),
            policy_composition=values.get("policy_composition", "sequential"),
            journal_state_values=bool(values.get("journal_state_values", True)),
            journal_hooks=bool(values.get("journal_hooks", True)),
            journal_events=bool(values.get("journal_events", True)),
            redact_patterns=tuple(config.state.redact_patterns),
            max_value_bytes=config.state.max_value_bytes,
        )

    def default_limits(self) -> Limits:
        """The limits a session gets for what its own ``limits`` leave unset."""
        return Limits(
            operations=self.max_operations or None,
            tokens=self.max_tokens or None,
            cost=self.max_cost or None,
            artifacts=self.max_artifacts or None,
            artifact_bytes=self.max_artifact_bytes or None,
        )
