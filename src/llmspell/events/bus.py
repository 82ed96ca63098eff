"""The event bus: publish typed events, subscribe with glob patterns, poll or get called back.

Publishing looks up the subscribers of the event's type and source in a cache (computed once
per pair from the compiled patterns and each subscription's ``exclude_sources``, and updated in
place when someone subscribes or unsubscribes), builds the :class:`Event` and hands it to each:
a callback is called right there, in the publishing thread; a queued subscription gets it in
its bounded queue. An event nobody would receive costs its checks and nothing else: no
redaction, no delivery. A callback that raises is
counted and logged and never breaks the publish. Everything is synchronous and thread-safe.

With a hook registry attached (``bus.hooks = registry``), ``event:before_emit`` fires before
delivery through ``HookRegistry.before`` (``modified`` replaces the data, ``skip``
suppresses the event, ``retry`` fires it again, ``cancel`` makes ``publish`` raise) and
``event:after_emit`` after it (``HookRegistry.after``: cancel only); events published by
those hooks themselves do not fire them again.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from llmspell.codec import check_nesting
from llmspell.config_schema import default
from llmspell.errors import ResourceLimitExceeded, ValidationError
from llmspell.events.event import Event, validate_type
from llmspell.events.patterns import compile_pattern
from llmspell.events.subscription import (
    LOG_EVERY,
    OVERFLOW_POLICIES,
    Callback,
    Subscription,
)
from llmspell.protocols import HookPoints
from llmspell.redact import DEFAULT as DEFAULT_REDACTOR
from llmspell.redact import Redactor
from llmspell.validation import check_texts

logger = logging.getLogger("llmspell.events")

BEFORE_EMIT = "event:before_emit"
AFTER_EMIT = "event:after_emit"
_SUPPRESSED: Any = object()
#: Seconds a replaced route keeps counting the publishes that picked it up before the change.
RETIRE_AFTER = 60.0


class _Route:
    """The subscribers of one event type from one source, what to call for each
    (``delivers``, parallel to ``subs``), and how many such events were published through
    this route."""

    __slots__ = ("count", "delivers", "gated", "subs")

    def __init__(self, subs: tuple[Subscription, ...]) -> None:
        self.subs = subs
        self.delivers = tuple(sub.deliver for sub in subs)
        self.gated = tuple(i for i, sub in enumerate(subs) if sub.accepts is not None)
        self.count = 0

    def open_for(self, session_id: str | None) -> tuple[Callback, ...]:
        """What to call for an event of ``session_id``: the subscribers whose ``accepts``
        (if any) takes it; each one that turns it away counts it as declined."""
        shut: list[int] = []
        for i in self.gated:
            sub = self.subs[i]
            if not sub.accepts(session_id):  # type: ignore[misc]
                sub._declined += 1
                shut.append(i)
        if not shut:
            return self.delivers
        return tuple(d for i, d in enumerate(self.delivers) if i not in shut)


class EventBus:
    """Typed events with glob subscriptions, bounded queues and statistics.

    Args:
        max_queue: default bound of a queued subscription.
        overflow: default overflow policy: ``drop_oldest``, ``drop_newest`` or ``block``.
        block_timeout: seconds a publisher waits for room under the ``block`` policy.
        max_subscriptions: how many subscriptions may exist at once.
        hooks: a hook registry to fire ``event:before_emit`` / ``event:after_emit``, or None;
            also settable later as ``bus.hooks`` (the registry usually needs ``bus.publish``
            first).
        max_cached_types: how many event types' subscriber lists to cache.
        redactor: hides secrets in the data of events published with ``redact=True`` (the
            events llmspell publishes itself); a Runtime gives the one built from ``[state]
            redact_patterns``.
    """

    def __init__(
        self,
        *,
        max_queue: int = default("runtime.events.event_buffer_size"),
        overflow: str = default("runtime.events.overflow"),
        block_timeout: float = 1.0,
        max_subscriptions: int = default("runtime.events.max_subscribers"),
        hooks: HookPoints | None = None,
        max_cached_types: int = 4096,
        redactor: Redactor = DEFAULT_REDACTOR,
    ) -> None:
        self.max_queue = _max_queue(max_queue)
        self.overflow = _overflow(overflow)
        self.block_timeout = block_timeout
        self.max_subscriptions = max_subscriptions
        self.max_cached_types = max_cached_types
        self.redactor = redactor
        #: The hook registry that fires ``event:*`` points; may be set after construction.
        self.hooks = hooks
        self._in_hooks = threading.local()
        self._lock = threading.Lock()
        self._subs: dict[str, Subscription] = {}
        # Keyed by (event type, source): a subscription may exclude sources.
        self._routes: dict[tuple[str, str | None], _Route] = {}
        self._seq = itertools.count(1)
        self._sub_seq = itertools.count(1)
        self._id = uuid.uuid4().hex[:12]
        self._waiting = 0  # receivers blocked in receive(), on any subscription
        self._waiting_lock = threading.Lock()
        # Replaced routes, kept (with the time they were replaced) until no publisher can still
        # be delivering through them, then folded into the counts below.
        self._retired: deque[tuple[float, _Route]] = deque()
        # Counts of routes and subscriptions that no longer exist.
        self._published_before = 0
        self._gone = {"delivered": 0, "dropped": 0, "errors": 0}
        self._suppressed = 0
        #: ``relay(event)`` sends each event published here to other processes (set by the
        #: Runtime on PostgreSQL: :mod:`llmspell.events.pgrelay`); None keeps events here.
        self.relay: Callable[[Event], None] | None = None

    # -- publishing -----------------------------------------------------------------------

    def has_subscribers(self, type: str, source: str | None = None) -> bool:
        """Whether publishing ``type`` from ``source`` now would reach a subscription or an
        emit hook.

        Publishers on hot paths call it to skip building (and redacting) event data nobody
        would see. Cheap: one cached lookup per type and source.

        Raises:
            ValidationError: ``type`` is not dot-separated non-empty segments.
        """
        hooks = self.hooks
        if hooks is not None and (hooks.has(BEFORE_EMIT) or hooks.has(AFTER_EMIT)):
            return True
        try:
            route = self._routes[(type, source)]
        except (KeyError, TypeError):  # not cached, or unhashable (_route says what is wrong)
            route = self._route(type, source)
        return bool(route.delivers)

    def sees_first(self, subscription: Subscription, type: str,
                   source: str | None = None) -> bool:
        """Whether ``subscription`` would be the first code to see an event of ``type`` from
        ``source`` published now: no ``event:before_emit`` hook, and it comes first among
        the subscriptions the event reaches (the session recorder asks, to let a call's
        writes wait for the event's journal entry: ``llmspell.sessions.ride``)."""
        hooks = self.hooks
        if hooks is not None and hooks.has(BEFORE_EMIT):
            return False
        try:
            route = self._routes[(type, source)]
        except (KeyError, TypeError):  # not cached, or unhashable (_route says what is wrong)
            route = self._route(type, source)
        return bool(route.subs) and route.subs[0] is subscription

    def publish(
        self,
        type: str,
        data: Any = None,
        *,
        correlation_id: str | None = None,
        session_id: str | None = None,
        source: str | None = None,
        redact: bool = False,
    ) -> Event | None:
        """Publish an event and deliver it to every matching subscription.

        ``redact=True`` hides secrets in ``data`` (:mod:`llmspell.redact`) before any hook or
        subscriber sees it; it costs nothing when nobody listens (no subscription matches the
        type, or every one that does excludes ``source``, and no emit hook is registered).
        llmspell's own events use it; events published by your code carry ``data`` as given.

        Returns the event, or None if an ``event:before_emit`` hook skipped it.

        Raises:
            ValidationError: ``type`` is not dot-separated non-empty segments.
            InvalidValue: ``data`` nests deeper than the codec's depth limit or holds a NaN
                or infinite float (:func:`llmspell.codec.check_nesting`).
            HookCancelled: an ``event:before_emit`` / ``event:after_emit`` hook cancelled.
        """
        if data is not None:
            check_nesting(data, argument="data")
        try:
            route = self._routes[(type, source)]
        except (KeyError, TypeError):  # not cached, or unhashable (_route says what is wrong)
            route = self._route(type, source)
        delivers = route.open_for(session_id) if route.gated else route.delivers
        hooks = self.hooks
        before = hooks is not None and hooks.has(BEFORE_EMIT)
        redacted_by = None
        if redact and (delivers or before or (hooks is not None and hooks.has(AFTER_EMIT))):
            data = self.redactor.redact(data)
            redacted_by = self.redactor
        if before and hooks is not None:
            redacted = data
            data = self._before_emit(hooks, type, data, correlation_id, session_id, source)
            if data is _SUPPRESSED:
                return None
            if data is not redacted:
                redacted_by = None  # a hook put new data in
            # A hook may have subscribed or unsubscribed: deliver to the route as it is now.
            now = self._routes.get((type, source)) or self._route(type, source)
            if now is not route:
                route = now
                delivers = route.open_for(session_id) if route.gated else route.delivers
        event = Event(
            type, data, time.time(), next(self._seq), correlation_id, session_id, source,
            self._id, redacted_by,
        )
        for deliver in delivers:
            try:
                deliver(event)
            except Exception as exc:
                self._callback_failed(route, deliver, event, exc)
        route.count += 1  # after delivery, so stats never count an event not yet delivered
        if self._waiting:
            for sub in route.subs:
                if sub._receivers:
                    sub._wake()
        relay = self.relay
        if relay is not None:
            relay(event)
        if hooks is not None and hooks.has(AFTER_EMIT):
            self._after_emit(hooks, event)
        return event

    emit = publish

    def deliver(self, event: Event) -> None:
        """Hand ``event``, published by another process's bus (``event.remote``), to the
        matching subscriptions here, under their queue and overflow rules. Emit hooks fired
        where it was published; it is not relayed again."""
        try:
            route = self._routes[(event.type, event.source)]
        except (KeyError, TypeError):
            route = self._route(event.type, event.source)
        delivers = route.open_for(event.session_id) if route.gated else route.delivers
        for deliver in delivers:
            try:
                deliver(event)
            except Exception as exc:
                self._callback_failed(route, deliver, event, exc)
        route.count += 1
        if self._waiting:
            for sub in route.subs:
                if sub._receivers:
                    sub._wake()

    def _before_emit(
        self, hooks: HookPoints, type: str, data: Any, correlation_id: str | None,
        session_id: str | None, source: str | None,
    ) -> Any:
        """Fire ``event:before_emit`` (it has hooks): the data to publish, or ``_SUPPRESSED``
        on skip."""
        if getattr(self._in_hooks, "active", False):
            return data
        validate_type(type)
        decided = self._fire(hooks.before, BEFORE_EMIT, data, type, correlation_id,
                             session_id, source)
        if decided.__class__ is hooks.Skipped:
            with self._lock:
                self._suppressed += 1
            return _SUPPRESSED
        return decided

    def _after_emit(self, hooks: HookPoints, event: Event) -> None:
        # the caller checked hooks.has(AFTER_EMIT)
        if getattr(self._in_hooks, "active", False):
            return
        self._fire(hooks.after, AFTER_EMIT, event.as_dict(), event.type, event.correlation_id,
                   event.session_id, event.source)

    def _fire(
        self, fire: Callable[..., Any], point: str, data: Any, type: str,
        correlation_id: str | None, session_id: str | None, source: str | None,
    ) -> Any:
        """Fire an event hook point (``hooks.before`` or ``hooks.after``); events its hooks
        publish do not fire event hooks."""
        self._in_hooks.active = True
        try:
            return fire(
                point, data, component=source, correlation_id=correlation_id,
                session_id=session_id, metadata={"type": type},
            )
        finally:
            self._in_hooks.active = False

    def _receiver_waiting(self, delta: int) -> None:
        """A receiver starts (+1) or stops (-1) waiting; publishers wake only when some wait."""
        with self._waiting_lock:
            self._waiting += delta

    # -- subscribing ----------------------------------------------------------------------

    def subscribe(
        self,
        pattern: str,
        callback: Callback | None = None,
        *,
        max_queue: int | None = None,
        overflow: str | None = None,
        exclude_sources: Iterable[str] = (),
        accepts: Callable[[str | None], bool] | None = None,
    ) -> Subscription:
        """Subscribe to the event types matching ``pattern``.

        Args:
            pattern: a segment glob: ``*`` one segment, ``**`` any number (zero included),
                otherwise literal (``*.error``, ``session.*``, ``agent.*.done``, ``**``).
            callback: called with each :class:`Event` in the publishing thread; None makes a
                queued subscription read with :meth:`Subscription.receive`.
            max_queue: queue bound (queued only; default the bus's).
            overflow: ``drop_oldest``, ``drop_newest`` or ``block`` (queued only; default the
                bus's). See :mod:`llmspell.events.subscription`.
            exclude_sources: events published with one of these ``source`` values never reach
                this subscription (nor count in its stats). The bus decides it once per type
                and source, so an event whose every matching subscription excludes its source
                costs the publisher no redaction and no delivery.
            accepts: ``accepts(session_id)``, asked at each publish of a matching event, before
                its data is redacted: False turns the event away from this subscription (it
                is not delivered nor counted). It must be cheap and must not raise. The
                session recorder uses it to skip events that belong to no session.

        Raises:
            ValidationError: a bad pattern, a non-callable callback, queue options given with
                a callback, a bad queue option, ``exclude_sources`` not a list of strings, or
                ``accepts`` not callable.
            ResourceLimitExceeded: ``max_subscriptions`` subscriptions exist already.
        """
        matches = compile_pattern(pattern)
        if callback is not None:
            if not callable(callback):
                raise ValidationError("callback", "must be callable or None", got=callback)
            if max_queue is not None or overflow is not None:
                raise ValidationError(
                    "max_queue", "queue options apply to queued subscriptions only; this one "
                    "has a callback", got=max_queue if max_queue is not None else overflow,
                )
        excluded = _sources(exclude_sources)
        if accepts is not None and not callable(accepts):
            raise ValidationError("accepts", "must be callable or None", got=accepts)
        bound = self.max_queue if max_queue is None else _max_queue(max_queue)
        policy = self.overflow if overflow is None else _overflow(overflow)
        with self._lock:
            if len(self._subs) >= self.max_subscriptions:
                raise ResourceLimitExceeded(
                    f"cannot subscribe to '{pattern}': the bus has {len(self._subs)} "
                    "subscriptions, its max_subscriptions limit"
                )
            if callback is not None and any(s.deliver is callback for s in self._subs.values()):
                # The same function subscribed twice: give this subscription its own object
                # to call, so a failure is counted against the right one.
                callback = functools.partial(callback)
            sub = Subscription(
                self, f"sub-{next(self._sub_seq)}", pattern, matches, callback, bound, policy,
                excluded, accepts,
            )
            self._subs[sub.id] = sub
            for key, route in list(self._routes.items()):
                if sub.receives(*key):
                    self._replace(key, route, (*route.subs, sub))
        return sub

    def unsubscribe(self, subscription: Subscription | str) -> bool:
        """Remove a subscription (by object or id); False if it is already gone.

        Waiting receivers wake up; events still queued can be read from the
        :class:`Subscription` object, and then ``receive`` returns None at once.
        """
        if isinstance(subscription, Subscription):
            sub_id = subscription.id
        elif isinstance(subscription, str):
            sub_id = subscription
        else:
            raise ValidationError("subscription", "must be a Subscription or its id",
                                  got=subscription)
        with self._lock:
            sub = self._subs.pop(sub_id, None)
            if sub is None:
                return False
            for route_key, route in list(self._routes.items()):
                if sub in route.subs:
                    self._replace(route_key, route, tuple(s for s in route.subs if s is not sub))
            stats = self._stats_locked(sub)
            for key in self._gone:
                self._gone[key] += stats[key]
        sub._close()
        return True

    def subscription(self, subscription_id: str) -> Subscription:
        """The live subscription with this id.

        Raises:
            ValidationError: no live subscription has this id.
        """
        sub = self._subs.get(subscription_id) if isinstance(subscription_id, str) else None
        if sub is None:
            raise ValidationError(
                "subscription_id", "no subscription has this id (it may have been "
                "unsubscribed)", got=subscription_id,
            )
        return sub

    def receive(self, subscription_id: str, timeout: float | None = None) -> Event | None:
        """``subscription(subscription_id).receive(timeout)``: for scripts that hold an id.

        Raises:
            ValidationError: unknown id, a callback subscription, or a negative timeout.
        """
        return self.subscription(subscription_id).receive(timeout)

    def list_subscriptions(self) -> list[dict[str, Any]]:
        """The stats of every live subscription, oldest first."""
        with self._lock:
            return [self._stats_locked(sub) for sub in self._subs.values()]

    # -- statistics -----------------------------------------------------------------------

    def subscription_stats(self, sub: Subscription) -> dict[str, Any]:
        """``{id, pattern, kind, max_queue, overflow, active, delivered, dropped, pending,
        errors}`` for ``sub``."""
        if not isinstance(sub, Subscription):
            raise ValidationError("sub", "must be a Subscription", got=sub)
        with self._lock:
            return self._stats_locked(sub)

    def stats(self) -> dict[str, int]:
        """Bus totals: ``published``, ``delivered``, ``dropped``, ``errors``, ``pending``,
        ``suppressed`` (skipped by an ``event:before_emit`` hook), ``subscriptions`` (and
        ``published`` counts events delivered from other processes too)."""
        with self._lock:
            totals = dict(self._gone, pending=0)
            for sub in self._subs.values():
                stats = self._stats_locked(sub)
                for key in totals:
                    totals[key] += stats[key]
            published = self._published_before + sum(r.count for r in self._counted_routes())
            return {"published": published, **totals, "suppressed": self._suppressed,
                    "subscriptions": len(self._subs)}

    # -- internals ------------------------------------------------------------------------

    def _route(self, event_type: str, source: str | None) -> _Route:
        """First event of a type and source since the cache last changed: validate the type
        and the source, cache its route."""
        validate_type(event_type)
        if source is not None and not isinstance(source, str):
            raise ValidationError("source", "must be a string (the publisher's name) or None",
                                  got=source)
        key = (event_type, source)
        with self._lock:
            route = self._routes.get(key)
            if route is None:
                if len(self._routes) >= self.max_cached_types:
                    for old_key, old in list(self._routes.items()):
                        self._replace(old_key, old, None)
                route = _Route(tuple(s for s in self._subs.values()
                                     if s.receives(event_type, source)))
                self._routes[key] = route
            return route

    def _replace(
        self, key: tuple[str, str | None], old: _Route, subs: tuple[Subscription, ...] | None
    ) -> None:
        """Swap a route for one with ``subs``, or drop it (lock held).

        A publisher may have picked up ``old`` just before and still be delivering through it
        (its subscribers did subscribe before that event was published), counting the event
        when done; so ``old`` keeps counting for :data:`RETIRE_AFTER` seconds before its count
        is folded into its subscribers' and the bus's totals.
        """
        now = time.monotonic()
        self._retired.append((now, old))
        while self._retired and self._retired[0][0] <= now - RETIRE_AFTER:
            _, done = self._retired.popleft()
            for sub in done.subs:
                sub._matched += done.count
            self._published_before += done.count
        if subs is None:
            del self._routes[key]
        else:
            self._routes[key] = _Route(subs)

    def _counted_routes(self) -> Iterator[_Route]:
        """Every route whose count is not yet folded (lock held)."""
        yield from self._routes.values()
        for _, route in self._retired:
            yield route

    def _stats_locked(self, sub: Subscription) -> dict[str, Any]:
        matched = sub._matched + sum(r.count for r in self._counted_routes()
                                     if sub in r.subs) - sub._declined
        dropped = sub.dropped_since(matched)
        if dropped:
            sub.note_drops(dropped)
        queued = sub.callback is None
        return {
            "id": sub.id, "pattern": sub.pattern, "kind": "queue" if queued else "callback",
            "active": sub.active,
            "max_queue": sub.max_queue if queued else None,
            "overflow": sub.overflow if queued else None,
            "delivered": sub.received if queued else matched - sub.errors,
            "dropped": dropped, "pending": sub.pending, "errors": sub.errors,
        }

    def _callback_failed(
        self, route: _Route, deliver: Callback, event: Event, exc: Exception
    ) -> None:
        # Every live subscription's ``deliver`` is a distinct object (see subscribe).
        sub = next(s for s in route.subs if s.deliver is deliver)
        sub.errors += 1
        now = time.monotonic()
        if sub.errors == 1 or now - sub._logged_at >= LOG_EVERY:
            sub._logged_at = now
            logger.warning(
                "subscriber %s (%s) raised on event %s '%s' (%d error(s) so far): %s",
                sub.id, sub.pattern, event.id, event.type, sub.errors, exc,
                exc_info=sub.errors == 1,
            )


def _max_queue(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValidationError("max_queue", "must be an integer >= 1", got=value)


def _sources(value: object) -> frozenset[str]:
    return frozenset(check_texts(value, "exclude_sources", "source names"))


def _overflow(value: object) -> str:
    if value in OVERFLOW_POLICIES:
        return str(value)
    raise ValidationError("overflow", "must be one of " + ", ".join(OVERFLOW_POLICIES), got=value)
