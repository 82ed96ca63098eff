"""The session lifecycle: which operation moves a session from which status to which.

The table of DESIGN.md section 9, exactly::

    from \\ op     suspend    resume   complete   fail     archive
    active         suspended  error    completed  failed   error
    suspended      error      active   completed  failed   error
    completed      error      error    error      error    archived
    failed         error      error    error      error    archived
    archived       error      error    error      error    error

:func:`target` returns the new status or raises :class:`InvalidTransition` naming the
session, its current status, the operation and the status it would have led to.

How a record moves: :func:`moved` computes the moved session, :class:`Update` is what one
write attempt produces, :func:`position_after` the journal position after its batch, and
:func:`created_entry` the data of ``session.created``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from llmspell.errors import InvalidTransition, ValidationError
from llmspell.journal import Draft, Position
from llmspell.sessions.model import ACTIVE, ARCHIVED, COMPLETED, FAILED, SUSPENDED, Session
from llmspell.storage.base import Delete, Op

OPERATIONS = ("suspend", "resume", "complete", "fail", "archive")

#: What each operation leads to when it is allowed.
TARGETS = {
    "suspend": SUSPENDED,
    "resume": ACTIVE,
    "complete": COMPLETED,
    "fail": FAILED,
    "archive": ARCHIVED,
}

#: status -> operation -> new status; a missing cell is an error.
TABLE: dict[str, dict[str, str]] = {
    ACTIVE: {"suspend": SUSPENDED, "complete": COMPLETED, "fail": FAILED},
    SUSPENDED: {"resume": ACTIVE, "complete": COMPLETED, "fail": FAILED},
    COMPLETED: {"archive": ARCHIVED},
    FAILED: {"archive": ARCHIVED},
    ARCHIVED: {},
}


def allowed_from(operation: str) -> list[str]:
    """The statuses from which ``operation`` is allowed, in table order."""
    return [status for status, cells in TABLE.items() if operation in cells]


def target(session_id: str, status: str, operation: str) -> str:
    """The status ``operation`` moves a session in ``status`` to.

    Raises:
        InvalidTransition: the table has no such move; the message names the session, both
            statuses, the operation and where the operation is allowed from.
        ValidationError: ``operation`` is not one of OPERATIONS.
    """
    if operation not in TARGETS:
        raise ValidationError("operation", "must be one of " + ", ".join(OPERATIONS),
                              got=operation)
    new = TABLE.get(status, {}).get(operation)
    if new is None:
        sources = allowed_from(operation)
        exc = InvalidTransition(
            f"cannot {operation} session {session_id}: it is {status}, and {operation} "
            f"(-> {TARGETS[operation]}) is allowed only from {' or '.join(sources)}"
        )
        exc.session_id = session_id  # type: ignore[attr-defined]
        exc.status = status  # type: ignore[attr-defined]
        exc.operation = operation  # type: ignore[attr-defined]
        exc.target = TARGETS[operation]  # type: ignore[attr-defined]
        raise exc
    return new



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
    assert not isinstance(last, Delete)  # a Put, or the (key, value) a store's make_put took
    return position[0] + len(ops), last[1]


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
    lim = session.limits
    if (lim.operations is not None or lim.tokens is not None or lim.cost is not None
            or lim.artifacts is not None or lim.artifact_bytes is not None
            or lim.memory is not None):
        entry["limits"] = lim.to_dict()
    return entry
