"""``Event``: publish events and subscribe to them from Lua (DESIGN.md section 8).

``Event.publish(type, data[, {correlation_id=, session_id=, source=, language=,
ttl_seconds=}])`` (alias ``emit``) publishes and returns the event's id (nil when an
``event:before_emit`` hook suppressed it). ``Event.subscribe(pattern[, fn or {language=}])``
returns a subscription id: with ``fn``, ``fn(event)`` is called for each matching event in the
publishing thread; without, events queue up and ``Event.receive(id[, timeout_ms])`` returns the
next one as a table (``id``, ``type`` and rs-llmspell's ``event_type``, ``data``,
``timestamp``, ``sequence``, ``correlation_id``, ``session_id``, ``source``, ``language``,
``ttl`` and rs-llmspell's ``metadata = {correlation_id, source, target, tags, priority,
ttl}``) or nil when none arrives in time (default 5000 ms, as rs-llmspell; 0: return at once).
An event this script published with ``ttl_seconds`` that has waited longer than that in a
queue is dropped instead of received. ``Event.unsubscribe(id)`` -> true when it was
subscribed; ``Event.list_subscriptions()``; ``Event.stats()`` (the bus's counters);
``Event.get_stats()`` (rs-llmspell's shape: ``{event_bus_stats = {events_processed,
rate_limit_violations, buffer_size}, bridge_stats = {active_subscriptions,
subscriptions_by_language}}``).
Patterns match dot-separated segments: ``*`` one segment, ``**`` any number (``*.error``,
``session.*``, ``agent.*.done``, ``**``). Subscriptions a script makes end with its engine.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from llmspell.errors import ValidationError
from llmspell.lua import checks
from llmspell.validation import check_known_keys

if TYPE_CHECKING:
    from llmspell.events import Event, Subscription
    from llmspell.lua.engine import LuaEngine

PUBLISH_KEYS = ("correlation_id", "session_id", "source", "language", "ttl_seconds")
SUBSCRIBE_KEYS = ("language",)
#: What Event.receive waits when given no timeout (rs-llmspell's default), in ms.
RECEIVE_TIMEOUT_MS = 5000
#: How many of this script's published events keep their language and ttl for receivers.
_EXTRAS_KEPT = 10000


class ScriptEvents:
    """The Python half of ``Event`` for one engine: remembers the script's subscriptions."""

    def __init__(self, engine: LuaEngine) -> None:
        self.engine = engine
        self.bus = engine.runtime.events
        self.mine: dict[str, Subscription] = {}
        self.languages: dict[str, str] = {}  # subscription id -> language
        #: event id -> (language, ttl seconds or None), for the events this script published.
        self.extras: dict[str, tuple[str, float | None]] = {}

    def publish(self, type: Any, data: Any = None, opts: Any = None) -> str | None:
        options = checks.mapping(opts, "opts")
        check_known_keys(options, PUBLISH_KEYS, "opts")
        language = checks.text(options.pop("language", "lua"), "opts.language").lower()
        ttl = options.pop("ttl_seconds", None)
        if ttl is not None:
            ttl = checks.number(ttl, "opts.ttl_seconds", minimum=0)
        for key, value in options.items():
            options[key] = checks.text(checks.handle_id(value), f"opts.{key}")
        options.setdefault("source", f"lua:{self.engine.script_name}")
        event = self.bus.publish(checks.text(type, "type"), data, **options)
        if event is None:
            return None
        if ttl is not None or language != "lua":
            if len(self.extras) >= _EXTRAS_KEPT:
                self.extras.pop(next(iter(self.extras)))
            self.extras[event.id] = (language, ttl)
        return event.id

    def subscribe(self, pattern: Any, fn: Any = None) -> str:
        pattern = checks.text(pattern, "pattern")
        language = "lua"
        if isinstance(fn, dict):  # rs-llmspell: subscribe(pattern, {language = ...})
            check_known_keys(fn, SUBSCRIBE_KEYS, "opts")
            language = checks.text(fn.get("language", "lua"), "opts.language").lower()
            fn = None
        if fn is not None and not callable(fn):
            raise ValidationError("fn", "must be a function, an options table or nil", got=fn)
        callback = None if fn is None else (lambda event: fn(self._table(event)))
        sub = self.bus.subscribe(pattern, callback)
        self.mine[sub.id] = sub
        self.languages[str(sub.id)] = language
        return str(sub.id)

    def receive(self, sub_id: Any, timeout_ms: Any = None) -> dict[str, Any] | None:
        sub = self._mine(sub_id)
        waited = RECEIVE_TIMEOUT_MS if timeout_ms is None else timeout_ms
        timeout = checks.number(waited, "timeout_ms", minimum=0) / 1000
        remaining = self.engine.limits.remaining()  # never wait past the wall-time limit
        if remaining is not None:
            timeout = min(timeout, remaining)
        deadline = time.monotonic() + timeout
        while True:
            event: Event | None = sub.receive(max(0.0, deadline - time.monotonic()))
            if event is None:
                return None
            if not self._expired(event):
                return self._table(event)

    def _expired(self, event: Event) -> bool:
        ttl = self.extras.get(event.id, ("", None))[1]
        return ttl is not None and time.time() - event.timestamp > ttl

    def _table(self, event: Event) -> dict[str, Any]:
        """An event for Lua: ours, plus rs-llmspell's ``event_type``, ``language``, ``ttl``
        and ``metadata``; absent values are left out (nil)."""
        language, ttl = self.extras.get(event.id, ("lua", None))
        table = {k: v for k, v in event.as_dict().items() if v is not None}
        table.update(event_type=event.type, language=language)
        metadata: dict[str, Any] = {"tags": [], "priority": 0}
        for key in ("correlation_id", "source"):
            if table.get(key) is not None:
                metadata[key] = table[key]
        if ttl is not None:
            table["ttl"] = metadata["ttl"] = ttl
        table["metadata"] = metadata
        return table

    def get_stats(self) -> dict[str, Any]:
        """rs-llmspell's shape of :meth:`stats`."""
        totals = self.bus.stats()
        by_language: dict[str, int] = {}
        for sub_id in self.mine:
            name = self.languages.get(str(sub_id), "lua").capitalize()
            by_language[name] = by_language.get(name, 0) + 1
        others = totals["subscriptions"] - len(self.mine)
        if others > 0:
            by_language["Native"] = others
        return {"event_bus_stats": {
                    "events_processed": totals["published"], "rate_limit_violations": 0,
                    "buffer_size": self.engine.runtime.config.setting(
                        "runtime.events.event_buffer_size")},
                "bridge_stats": {"active_subscriptions": totals["subscriptions"],
                                 "subscriptions_by_language": by_language}}

    def unsubscribe(self, sub_id: Any) -> bool:
        sub_id = checks.text(sub_id, "id")
        sub = self.mine.pop(sub_id, None)
        self.languages.pop(sub_id, None)
        if sub is None:
            return False
        return bool(self.bus.unsubscribe(sub))

    def list_subscriptions(self) -> list[dict[str, Any]]:
        """The bus's subscriptions, each with its ``language`` (as this script subscribed
        it; ``native`` for subscriptions made outside the script)."""
        return [{**s, "language": self.languages.get(str(s["id"]), "native")}
                for s in self.bus.list_subscriptions()]

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
        "get_stats": events.get_stats,
    }, takes_functions=("subscribe",))
