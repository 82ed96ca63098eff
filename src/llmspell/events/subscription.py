"""A subscription: a callback called in the publishing thread, or a bounded queue polled
with :meth:`Subscription.receive`.

Overflow policies for a full queue (``max_queue`` events waiting):

- ``drop_oldest`` (default): the oldest waiting event is discarded to make room. This path
  takes no lock: the queue is a ``deque(maxlen=max_queue)`` and the drop count is derived
  (events matched - events received - events pending).
- ``drop_newest``: the new event is discarded.
- ``block``: the publisher waits up to the bus's ``block_timeout`` seconds for room; if none
  frees up the new event is discarded (a publisher must not hang forever on a reader that
  went away, or on itself).

Every discarded event is counted in ``dropped`` and logged on ``llmspell.events`` (at most once
per 10 s per subscription; for ``drop_oldest`` when the reader next finds its queue full, or
when stats are read), so an overflow is never silent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.errors import ValidationError
from llmspell.events.event import Event

if TYPE_CHECKING:
    from llmspell.events.bus import EventBus

logger = logging.getLogger("llmspell.events")

DROP_OLDEST = "drop_oldest"
DROP_NEWEST = "drop_newest"
BLOCK = "block"
OVERFLOW_POLICIES = (DROP_OLDEST, DROP_NEWEST, BLOCK)

#: Seconds between two log records about the same subscription's drops or callback errors.
LOG_EVERY = 10.0

Callback = Callable[[Event], Any]


class Subscription:
    """One subscriber of an :class:`~llmspell.events.EventBus` (made by ``bus.subscribe``).

    Attributes:
        id: unique within the bus (``sub-3``).
        pattern: the glob it was subscribed with.
        callback: the function events go to, or None for a queued subscription.
        max_queue: the queue bound (queued subscriptions).
        overflow: the overflow policy (queued subscriptions).
        active: False once unsubscribed.
        exclude_sources: sources whose events this subscription never gets.
        accepts: ``accepts(session_id)`` says at each publish whether the event is for this
            subscription, or None (all are).
    """

    __slots__ = (
        "_bus", "_checked_at", "_declined", "_dropped", "_lock", "_logged_at", "_logged_drops",
        "_matched", "_not_empty", "_not_full", "_queue", "_receivers", "_senders", "accepts",
        "active", "callback", "deliver", "errors", "exclude_sources", "id", "matches",
        "max_queue", "overflow", "pattern", "received",
    )

    def __init__(
        self,
        bus: EventBus,
        sub_id: str,
        pattern: str,
        matches: Callable[[str], bool],
        callback: Callback | None,
        max_queue: int,
        overflow: str,
        exclude_sources: frozenset[str] = frozenset(),
        accepts: Callable[[str | None], bool] | None = None,
    ) -> None:
        self._bus = bus
        self.id = sub_id
        self.pattern = pattern
        self.matches = matches
        self.callback = callback
        self.max_queue = max_queue
        self.overflow = overflow
        self.exclude_sources = exclude_sources
        self.accepts = accepts
        self.active = True
        # Counters. Events matched are counted per event type by the bus (``_matched`` holds
        # what it has folded in); callback errors, events received, explicit drops here.
        self._matched = 0
        self._declined = 0  # events of a matching route that ``accepts`` turned away
        self.errors = 0
        self.received = 0
        self._dropped = 0
        self._logged_at = 0.0
        self._logged_drops = 0
        self._checked_at = 0.0
        lock_free = callback is None and overflow == DROP_OLDEST
        self._queue: deque[Event] = deque(maxlen=max_queue) if lock_free else deque()
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)
        self._receivers = 0  # threads waiting in receive()
        self._senders = 0  # publishers waiting for room (block policy)
        #: What the bus calls with each matching event.
        self.deliver: Callback = (
            callback if callback is not None
            else self._queue.append if lock_free
            else self._offer
        )

    def receives(self, event_type: str, source: str | None) -> bool:
        """Whether an event of ``event_type`` from ``source`` is for this subscription."""
        return source not in self.exclude_sources and self.matches(event_type)

    @property
    def pending(self) -> int:
        """Events waiting in the queue."""
        return len(self._queue)

    def receive(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds (None: until one arrives).

        Returns None when the wait times out, or at once when the subscription was
        unsubscribed and its queue is empty.

        Raises:
            ValidationError: this is a callback subscription (its events go to the callback),
                or ``timeout`` is negative.
        """
        if self.callback is not None:
            raise ValidationError(
                "subscription", "is a callback subscription: its events go to the callback and "
                "cannot be received", got=self.id,
            )
        if timeout is not None and timeout < 0:
            raise ValidationError("timeout", "must be >= 0 seconds, or None", got=timeout)
        queue = self._queue
        if len(queue) >= self.max_queue and self.overflow == DROP_OLDEST:
            # A full queue may be hiding drops: count (and log) them, every LOG_EVERY seconds.
            now = time.monotonic()
            if now - self._checked_at >= LOG_EVERY:
                self._checked_at = now
                self._bus.subscription_stats(self)
        with self._lock:
            if not queue and self.active and timeout != 0:
                self._wait_for_event(timeout)
            if not queue:
                return None
            event = queue.popleft()
            self.received += 1
            if self._senders:
                self._not_full.notify()
            return event

    def unsubscribe(self) -> bool:
        """Stop receiving events; False if already unsubscribed."""
        return self._bus.unsubscribe(self)

    def stats(self) -> dict[str, Any]:
        """``{id, pattern, kind, delivered, dropped, pending, errors, ...}`` for this subscriber.

        ``delivered`` counts callback calls that returned (callback) or events taken by
        :meth:`receive` (queue).
        """
        return self._bus.subscription_stats(self)

    def dropped_since(self, matched: int) -> int:
        """Events dropped by overflow, given how many events matched (the bus knows that)."""
        if self.callback is not None:
            return 0
        if self.overflow != DROP_OLDEST:
            return self._dropped
        return max(0, matched - self.received - len(self._queue))

    def note_drops(self, dropped: int) -> None:
        """Log new drops, at most once per :data:`LOG_EVERY` seconds."""
        now = time.monotonic()
        if dropped > self._logged_drops and now - self._logged_at >= LOG_EVERY:
            self._logged_at = now
            self._logged_drops = dropped
            logger.warning(
                "subscription %s (%s) overflowed its queue of %d (policy %s): %d event(s) "
                "dropped so far", self.id, self.pattern, self.max_queue, self.overflow, dropped,
            )

    def _wait_for_event(self, timeout: float | None) -> None:
        """Wait (lock held) until an event is queued, the deadline passes or we close.

        Registering as a receiver *before* looking at the queue is what makes the lock-free
        publish path safe: a publisher appends, then checks for receivers to wake.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        self._receivers += 1
        self._bus._receiver_waiting(1)
        try:
            while not self._queue and self.active:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                self._not_empty.wait(remaining)
        finally:
            self._receivers -= 1
            self._bus._receiver_waiting(-1)

    def _wake(self) -> None:
        """An event was queued while someone waits in :meth:`receive`."""
        with self._lock:
            self._not_empty.notify()

    def _offer(self, event: Event) -> None:
        """Queue ``event`` under ``drop_newest`` or ``block`` (the bus calls this)."""
        with self._lock:
            if len(self._queue) >= self.max_queue and (
                self.overflow == DROP_NEWEST or not self._wait_for_room()
            ):
                self._dropped += 1
                self.note_drops(self._dropped)
                return
            if self.active:
                self._queue.append(event)

    def _wait_for_room(self) -> bool:
        """Block policy: wait (lock held) until the queue has room; False on time-out."""
        deadline = time.monotonic() + self._bus.block_timeout
        self._senders += 1
        try:
            while len(self._queue) >= self.max_queue and self.active:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._not_full.wait(remaining)
        finally:
            self._senders -= 1
        return True

    def _close(self) -> None:
        """Unsubscribed: wake every waiting receiver and publisher."""
        with self._lock:
            self.active = False
            self._not_empty.notify_all()
            self._not_full.notify_all()

    def __repr__(self) -> str:
        kind = "callback" if self.callback is not None else "queue"
        return f"Subscription({self.id!r}, {self.pattern!r}, {kind})"
