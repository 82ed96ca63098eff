"""How a session record changes: one write's result (:class:`Update`) and the pure functions
that compute a moved session and the journal position after a batch."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from llmspell.journal import Draft, Position
from llmspell.sessions.model import ACTIVE, COMPLETED, FAILED, Session
from llmspell.storage.base import Op, Put


@dataclass
class Update:
    """What one attempt of a write produced: the new record, the journal entries that record
    it, and how the number of active sessions changes (-1, 0, +1). ``record``: False when
    the stored record stays as it is (a checkpoint: only the entries are written, under
    ``expect`` on the record's bytes)."""

    session: Session
    drafts: list[Draft]
    active_delta: int = 0
    record: bool = True


def moved(current: Session, status: str, at: float, now: float,
          reason: str | None) -> Session:
    """``current`` moved to ``status``; the move took effect at ``at`` (a timeout's moment,
    else ``now``) and is recorded ``now``. Active time stops counting at ``at``."""
    new = replace(current, status=status, updated_at=now, reason=reason)
    if current.status == ACTIVE and status != ACTIVE:
        new.active_seconds = current.active_time(at)
        new.resumed_at = None
    if status == ACTIVE:
        new.resumed_at = now
        new.last_activity_at = now
    if status in (FAILED, COMPLETED) and current.ended_at is None:
        new.ended_at = at
    return new


def position_after(position: Position, ops: list[Op]) -> Position:
    """The journal position once ``ops`` (from ``Journal.entries_ops``) committed."""
    if not ops:
        return position
    last = ops[-1]
    assert isinstance(last, Put)
    return position[0] + len(ops), last.value


def created_entry(session: Session) -> dict[str, Any]:
    """The data of a ``session.created`` journal entry: what the session was created with."""
    entry: dict[str, Any] = {"name": session.name, "tags": session.tags,
                             "parent_session_id": session.parent_session_id,
                             "max_duration": session.max_duration,
                             "max_idle_time": session.max_idle_time}
    if session.description:
        entry["description"] = session.description
    if session.metadata:
        entry["metadata"] = session.metadata
    limits = session.limits.to_dict()
    if any(v is not None for v in limits.values()):
        entry["limits"] = limits
    return entry
