"""``Event``: publish events and subscribe to them from Lua (DESIGN.md section 8).

``Event.publish(type, data[, {correlation_id=, session_id=, source=}])`` (alias ``emit``)
publishes and returns the event's id (nil when an ``event:before_emit`` hook suppressed it).
``Event.subscribe(pattern[, fn])`` returns a subscription id: with ``fn``, ``fn(event)`` is
called for each matching event in the publishing thread; without, events queue up and
``Event.receive(id[, timeout_ms])`` returns the next one as a table (``id``, ``type``,
``data``, ``timestamp``, ``sequence``, ``correlation_id``, ``session_id``, ``source``) or nil
when none arrives in time (no timeout: return at once). ``Event.unsubscribe(id)`` -> true when
it was subscribed; ``Event.list_subscriptions()``; ``Event.stats()`` (the bus's counters).
Patterns match dot-separated segments: ``*`` one segment, ``**`` any number (``*.error``,
``session.*``, ``agent.*.done``, ``**``). Subscriptions a script makes end with its engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.errors import ValidationError
from llmspell.lua import checks
from llmspell.validation import check_known_keys

if TYPE_CHECKING:
    from llmspell.events import Event, Subscription
    from llmspell.lua.engine import LuaEngine

PUBLISH_KEYS = ("correlation_id", "session_id", "source")


class ScriptEvents:
    """The Python half of ``Event`` for one engine: remembers the script's subscriptions."""

    def __init__(self, engine: LuaEngine) -> None:
        self.engine = engine
        self.bus = engine.runtime.events
        self.mine: dict[str, Subscription] = {}

    def publish(self, type: Any, data: Any = None, opts: Any = None) -> str | None:
        options = checks.mapping(opts, "opts")
        check_known_keys(options, PUBLISH_KEYS, "opts")
        for key, value in options.items():
            options[key] = checks.text(checks.handle_id(value), f"opts.{key}")
        options.setdefault("source", f"lua:{self.engine.script_name}")
        event = self.bus.publish(checks.text(type, "type"), data, **options)
        return None if event is None else event.id

    def subscribe(self, pattern: Any, fn: Any = None) -> str:
        pattern = checks.text(pattern, "pattern")
        if fn is not None and not callable(fn):
            raise ValidationError("fn", "must be a function or nil", got=fn)
        callback = None if fn is None else (lambda event: fn(event.as_dict()))
        sub = self.bus.subscribe(pattern, callback)
        self.mine[sub.id] = sub
        return str(sub.id)

    def receive(self, sub_id: Any, timeout_ms: Any = None) -> dict[str, Any] | None:
        sub = self._mine(sub_id)
        timeout = 0.0 if timeout_ms is None else checks.number(timeout_ms, "timeout_ms",
                                                               minimum=0) / 1000
        remaining = self.engine.limits.remaining()  # never wait past the wall-time limit
        if remaining is not None:
            timeout = min(timeout, remaining)
        event: Event | None = sub.receive(timeout)
        return None if event is None else event.as_dict()

    def unsubscribe(self, sub_id: Any) -> bool:
        sub_id = checks.text(sub_id, "id")
        sub = self.mine.pop(sub_id, None)
        if sub is None:
            return False
        return bool(self.bus.unsubscribe(sub))

    def list_subscriptions(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self.bus.list_subscriptions()]

    def stats(self) -> dict[str, Any]:
        return dict(self.bus.stats())

    def close(self) -> None:
        """End every subscription this script made (its callbacks die with the engine)."""
        for sub in self.mine.values():
            self.bus.unsubscribe(sub)
        self.mine.clear()

    def _mine(self, sub_id: Any) -> Subscription:
        sub_id = checks.text(sub_id, "id")
        sub = self.mine.get(sub_id)
        if sub is None:
            raise ValidationError("id", f"is not a subscription of this script ({sub_id!r}); "
                                  "use the id Event.subscribe returned")
        return sub


def install(engine: LuaEngine) -> None:
    events = ScriptEvents(engine)
    engine.on_close(events.close)
    engine.install_global("Event", {
        "publish": events.publish, "emit": events.publish, "subscribe": events.subscribe,
        "receive": events.receive, "unsubscribe": events.unsubscribe,
        "list_subscriptions": events.list_subscriptions, "stats": events.stats,
    }, takes_functions=("subscribe",))
