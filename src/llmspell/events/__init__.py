"""Events: typed, timestamped records published on a bus and delivered to glob subscribers.

::

    bus = EventBus()
    bus.subscribe("*.error", lambda event: print(event.type, event.data))
    sub = bus.subscribe("session.*")                 # queued: poll it
    bus.publish("session.created", {"id": "s1"}, session_id="s1")
    event = sub.receive(timeout=1.0)                 # None on time-out

Modules: :mod:`~llmspell.events.event` (the record, type names), :mod:`~.patterns` (globs),
:mod:`~.subscription` (callbacks, bounded queues, overflow policies), :mod:`~.bus` (the bus)
and :mod:`~.capture` (``capture_events`` for tests). ``docs/hooks-and-events.md`` is the guide.
"""

from llmspell.events.bus import EventBus
from llmspell.events.capture import CapturedEvents, capture_events
from llmspell.events.event import Event, validate_type
from llmspell.events.patterns import compile_pattern
from llmspell.events.subscription import BLOCK, DROP_NEWEST, DROP_OLDEST, Subscription

__all__ = [
    "BLOCK",
    "DROP_NEWEST",
    "DROP_OLDEST",
    "CapturedEvents",
    "Event",
    "EventBus",
    "Subscription",
    "capture_events",
    "compile_pattern",
    "validate_type",
]
