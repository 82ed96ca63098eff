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
"""

from __future__ import annotations

from llmspell.errors import InvalidTransition, ValidationError
from llmspell.sessions.model import ACTIVE, ARCHIVED, COMPLETED, FAILED, SUSPENDED

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
