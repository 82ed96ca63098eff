"""An agent's lifecycle: its states, the operations that move it, and the history of moves.

States: ``uninitialized``, ``ready``, ``running``, ``paused``, ``stopped``, ``terminated``,
``error``. :data:`TRANSITIONS` is the one table of which operation moves which state where;
anything else raises AgentError naming the state, the operation and what the state allows.
Calls (``invoke``, ``stream``) are allowed in :data:`CALLABLE` states only.

Every move is kept in the history as ``{from, to, timestamp (ISO 8601, UTC), elapsed (seconds
spent in the state left), reason}``, the shape of rs-llmspell's ``getStateHistory``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from llmspell.errors import AgentError, ValidationError
from llmspell.journal import iso

UNINITIALIZED, READY, RUNNING, PAUSED = "uninitialized", "ready", "running", "paused"
STOPPED, TERMINATED, ERROR = "stopped", "terminated", "error"
STATES = (UNINITIALIZED, READY, RUNNING, PAUSED, STOPPED, TERMINATED, ERROR)

#: operation -> {from state: to state}. ``terminate`` and ``error`` apply from any live state.
_LIVE = (UNINITIALIZED, READY, RUNNING, PAUSED, STOPPED, ERROR)
TRANSITIONS: dict[str, dict[str, str]] = {
    "initialize": {UNINITIALIZED: READY},
    "start": {READY: RUNNING, STOPPED: RUNNING},
    "pause": {READY: PAUSED, RUNNING: PAUSED},
    "resume": {PAUSED: RUNNING},
    "stop": {READY: STOPPED, RUNNING: STOPPED, PAUSED: STOPPED},
    "terminate": dict.fromkeys(_LIVE, TERMINATED),
    "error": {s: ERROR for s in _LIVE if s != ERROR},
    "recover": {ERROR: READY},
}
#: The states in which an agent takes calls.
CALLABLE = frozenset({READY, RUNNING})
#: How rs-llmspell prints each state (``getState`` in Lua).
DISPLAY = {s: s.capitalize() for s in STATES}
MAX_HISTORY = 1000


@dataclass
class Lifecycle:
    """The state of one agent and how it got there."""

    agent: str
    state: str = UNINITIALIZED
    since: float = field(default_factory=time.time)
    history: list[dict[str, Any]] = field(default_factory=list)
    last_error: str | None = None
    recovery_attempts: int = 0
    created: float = field(default_factory=time.time)

    def move(self, operation: str, reason: str | None = None) -> dict[str, Any]:
        """Apply ``operation`` and return the history entry; AgentError when the current
        state does not allow it; ValidationError for an unknown operation or a reason that is
        not a string."""
        table = TRANSITIONS.get(operation) if isinstance(operation, str) else None
        if table is None:
            raise ValidationError("operation", "must be one of " + ", ".join(TRANSITIONS),
                                  got=operation)
        if reason is not None and not isinstance(reason, str):
            raise ValidationError("reason", "must be a string or None", got=reason)
        target = table.get(self.state)
        if target is None:
            allowed = sorted(op for op, moves in TRANSITIONS.items() if self.state in moves)
            raise AgentError(f"agent {self.agent!r} cannot {operation} while {self.state}; "
                             f"a {self.state} agent can: {', '.join(allowed) or 'nothing'}")
        now = time.time()
        entry = {"from": self.state, "to": target, "timestamp": iso(now),
                 "elapsed": round(now - self.since, 6), "reason": reason or operation}
        self.history.append(entry)
        del self.history[:-MAX_HISTORY]
        self.state, self.since = target, now
        if operation == "error":
            self.last_error = reason
        elif operation == "recover":
            self.recovery_attempts += 1
        return entry

    def check_callable(self) -> None:
        """AgentError unless the agent takes calls in its current state."""
        if self.state in CALLABLE:
            return
        hint = {PAUSED: "resume it first", STOPPED: "start it first",
                ERROR: "recover it first", UNINITIALIZED: "initialize it first",
                TERMINATED: "create a new one"}[self.state]
        raise AgentError(f"agent {self.agent!r} is {self.state} and takes no calls; {hint}")

    def metrics(self) -> dict[str, Any]:
        """rs-llmspell's ``getStateMetrics`` shape."""
        now = time.time()
        spent: dict[str, float] = {}
        for entry in self.history:
            spent[entry["from"]] = spent.get(entry["from"], 0.0) + entry["elapsed"]
        spent[self.state] = spent.get(self.state, 0.0) + now - self.since
        return {"current_state": self.state, "total_transitions": len(self.history),
                "error_count": sum(1 for e in self.history if e["to"] == ERROR),
                "recovery_attempts": self.recovery_attempts,
                "uptime": round(now - self.created, 6),
                "last_transition": self.history[-1]["timestamp"] if self.history else None,
                "state_time_distribution": {k: round(v, 6) for k, v in spent.items()}}

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "history": list(self.history),
                "last_error": self.last_error, "recovery_attempts": self.recovery_attempts}

    def restore(self, saved: dict[str, Any]) -> None:
        """Take the state and history of a saved lifecycle (``to_dict``)."""
        state = saved.get("state")
        if state not in STATES or state == TERMINATED:
            raise AgentError(f"saved state of agent {self.agent!r} has lifecycle state "
                             f"{state!r}, which cannot be loaded")
        self.state, self.since = state, time.time()
        self.history = list(saved.get("history") or [])
        self.last_error = saved.get("last_error")
        self.recovery_attempts = int(saved.get("recovery_attempts") or 0)
