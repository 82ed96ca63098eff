"""The :class:`Event` record and the rule for event type names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmspell.errors import ValidationError

_TYPE_RULE = (
    "must be dot-separated non-empty segments with no '*' and no whitespace, "
    "such as 'session.created'"
)


@dataclass(slots=True)
class Event:
    """One published event.

    Attributes:
        id: unique for the process's lifetime: ``<bus id>-<sequence>`` (derived on read, so
            publishing does not pay for building the string).
        type: dot-separated name (``session.created``).
        data: whatever the publisher attached (JSON-compatible by convention).
        timestamp: seconds since the epoch when it was published.
        sequence: 1, 2, 3, ... per bus, in publication order.
        correlation_id: ties the events and hooks of one operation together, or None.
        session_id: the session it belongs to, or None.
        source: who published it (``hooks``, an agent name, ...), or None.
        bus_id: the publishing bus's random id.
        redacted_by: the redactor that hid the secrets of ``data`` when it was published
            with ``redact=True`` (a journal with the same rules need not scan it again), or
            None.
        remote: published in another process (delivered here by a relay); ``sequence`` is
            then the publisher's, so events of one publisher arrive in increasing order.
    """

    type: str
    data: Any
    timestamp: float
    sequence: int
    correlation_id: str | None = None
    session_id: str | None = None
    source: str | None = None
    bus_id: str = field(default="", repr=False)
    redacted_by: Any = field(default=None, repr=False, compare=False)
    remote: bool = field(default=False, repr=False)

    @property
    def id(self) -> str:
        """``<bus id>-<sequence>``."""
        return f"{self.bus_id}-{self.sequence}"

    def as_dict(self) -> dict[str, Any]:
        """The event as a plain dict (what Lua receives, what a journal stores)."""
        return {
            "id": self.id, "type": self.type, "data": self.data, "timestamp": self.timestamp,
            "sequence": self.sequence, "correlation_id": self.correlation_id,
            "session_id": self.session_id, "source": self.source,
        }


def validate_type(event_type: object) -> str:
    """Return ``event_type`` if it is a valid event type name.

    Raises:
        ValidationError: not a string, empty, an empty segment, ``*`` or whitespace.
    """
    if (
        isinstance(event_type, str)
        and event_type
        and "*" not in event_type
        and all(event_type.split("."))
        and not any(ch.isspace() for ch in event_type)
    ):
        return event_type
    raise ValidationError("type", _TYPE_RULE, got=event_type)
