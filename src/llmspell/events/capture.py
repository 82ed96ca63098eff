"""``capture_events``: collect the events a block of code publishes (a shipped test helper)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from llmspell.events.bus import EventBus
from llmspell.events.event import Event


class CapturedEvents(list[Event]):
    """The events captured so far, in publication order, with a few conveniences."""

    @property
    def types(self) -> list[str]:
        """The type of each captured event."""
        return [event.type for event in self]

    def of_type(self, event_type: str) -> list[Event]:
        """The captured events whose type is exactly ``event_type``."""
        return [event for event in self if event.type == event_type]


@contextmanager
def capture_events(bus: EventBus, pattern: str = "**") -> Iterator[CapturedEvents]:
    """Capture every event matching ``pattern`` published inside the ``with`` block::

        with capture_events(rt.events, "hook.*") as events:
            rt.hooks.fire("custom:x", {})
        assert events.types == ["hook.error"]

    Raises:
        ValidationError: a bad pattern.
    """
    captured = CapturedEvents()
    sub = bus.subscribe(pattern, captured.append)
    try:
        yield captured
    finally:
        bus.unsubscribe(sub)
