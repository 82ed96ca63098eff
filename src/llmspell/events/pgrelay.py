"""Cross-process events on PostgreSQL: LISTEN/NOTIFY between the buses of every process that
opens the same store.

Each Runtime on a postgres store attaches a :class:`PgRelay` to its bus. An event published
there is delivered locally first (as on every backend), then put in the relay's outbox; a
sender thread sends the outbox in order, several events per round trip, as ``NOTIFY`` on the
store's channel (``llmspell_ev_`` and a hash of the table), all in one transaction, so the
events of one publisher reach every listener in the order they were published. A listener
thread (its own connection, ``LISTEN``) hands the events of other processes to the local bus
(:meth:`EventBus.deliver`): subscriptions match them with the same patterns and apply their
own queue bounds and overflow policies. Such events have ``remote`` set and keep the
publisher's ``bus_id`` and ``sequence``.

A payload over :data:`INLINE_LIMIT` bytes (NOTIFY takes at most 8000) travels by reference:
the event's JSON is stored under ``evtbody/<bus>/<sequence>`` and the notification names the
key; listeners read it from the store. Bodies are deleted :data:`BODY_TTL` seconds later; a
listener that comes later (or finds it gone) counts the event as ``missing``.

The outbox is bounded like a subscription queue: ``[runtime.events] event_buffer_size`` and
``overflow`` (``drop_oldest`` / ``drop_newest`` count what they drop; ``block`` makes the
publisher wait up to the bus's block timeout, then drop and count). ``stats()`` gives
``sent``, ``received``, ``dropped``, ``missing`` and ``gaps`` (events a listener knows it
never got: holes in a publisher's sequence). The embedded backends have no relay: their
events stay in the process that published them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from typing import Any

import orjson

from llmspell.codec import from_jsonable, to_jsonable
from llmspell.events.bus import EventBus
from llmspell.events.event import Event
from llmspell.storage.base import Delete, Store
from llmspell.storage.pg_schema import EVENT_BODY_PREFIX

logger = logging.getLogger("llmspell.events")

#: Largest notification payload sent inline, in bytes (PostgreSQL's limit is 8000).
INLINE_LIMIT = 7000
#: Seconds a by-reference body stays in the store.
BODY_TTL = 60.0
BODY_PREFIX = EVENT_BODY_PREFIX
#: Events sent per round trip at most.
SEND_BATCH = 256


def channel_name(table: str) -> str:
    """The NOTIFY channel of the store in ``table``."""
    return "llmspell_ev_" + hashlib.blake2b(table.encode(), digest_size=8).hexdigest()


class PgRelay:
    """Sends this bus's events to the other processes on the store, and theirs to it.

    Args:
        bus: the local EventBus (its ``relay`` is set to :meth:`send`).
        store: the PostgresStore (``connect()``, ``table``; bodies of large payloads).
    """

    def __init__(self, bus: EventBus, store: Any) -> None:
        self.bus = bus
        self.store: Store = store
        self.channel = channel_name(store.table)
        self.max_queue = bus.max_queue
        self.overflow = bus.overflow
        self._outbox: deque[Event] = deque()
        self._inflight = 0
        self._cond = threading.Condition()
        self._closing = False
        self._counts = {"sent": 0, "received": 0, "dropped": 0, "missing": 0, "gaps": 0}
        self._last_seq: dict[str, int] = {}
        self._bodies: deque[tuple[float, str]] = deque()
        self._listen_conn = store.connect()
        self._listen_conn.execute(f"LISTEN {self.channel}")
        self._send_conn = store.connect()
        self._listener = threading.Thread(target=self._listen, daemon=True,
                                          name="llmspell-event-listener")
        self._sender = threading.Thread(target=self._send_loop, daemon=True,
                                        name="llmspell-event-sender")
        self._listener.start()
        self._sender.start()
        bus.relay = self.send

    # -- sending --------------------------------------------------------------------------

    def send(self, event: Event) -> None:
        """Queue a locally published event for the other processes (the bus calls this)."""
        with self._cond:
            if len(self._outbox) >= self.max_queue:
                if self.overflow == "block":  # wait for room, then give up and count it
                    self._cond.wait_for(lambda: len(self._outbox) < self.max_queue
                                        or self._closing, timeout=self.bus.block_timeout)
                if len(self._outbox) >= self.max_queue:
                    self._counts["dropped"] += 1
                    if self.overflow != "drop_oldest":
                        return
                    self._outbox.popleft()
            self._outbox.append(event)
            self._cond.notify_all()

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._outbox or self._closing)
                if not self._outbox and self._closing:
                    return
                batch = [self._outbox.popleft()
                         for _ in range(min(SEND_BATCH, len(self._outbox)))]
                self._inflight = len(batch)
                self._cond.notify_all()
            try:
                self._send(batch)
            except Exception as exc:  # the server went away: say so, count, go on
                with self._cond:
                    self._counts["dropped"] += len(batch)
                logger.warning("could not send %d event(s) to other processes: %s",
                               len(batch), exc)
                self._reconnect_sender()
            with self._cond:
                self._inflight = 0
                self._cond.notify_all()

    def _send(self, batch: list[Event]) -> None:
        payloads = [self._payload(event) for event in batch]
        conn = self._send_conn
        with conn.transaction(), conn.pipeline():
            for payload in payloads:
                conn.execute("SELECT pg_notify(%s, %s)", [self.channel, payload])
        with self._cond:
            self._counts["sent"] += len(batch)
        self._expire_bodies()

    def _payload(self, event: Event) -> str:
        data, binary = to_jsonable(event.data, argument="data")
        body = {"b": event.bus_id, "s": event.sequence, "t": event.type,
                "d": data, "bin": binary, "ts": event.timestamp,
                "c": event.correlation_id, "sid": event.session_id, "src": event.source}
        text = orjson.dumps(body).decode()
        if len(text.encode()) <= INLINE_LIMIT:
            return text
        key = f"{BODY_PREFIX}{event.bus_id}/{event.sequence:020d}"
        self.store.put(key, text.encode())
        self._bodies.append((time.monotonic(), key))
        return orjson.dumps({"b": event.bus_id, "s": event.sequence, "ref": key}).decode()

    def _expire_bodies(self) -> None:
        cutoff = time.monotonic() - BODY_TTL
        old: list[str] = []
        while self._bodies and self._bodies[0][0] < cutoff:
            old.append(self._bodies.popleft()[1])
        if old:
            self.store.batch([Delete(key) for key in old])

    def _reconnect_sender(self) -> None:
        try:
            self._send_conn.close()
            self._send_conn = self.store.connect()  # type: ignore[attr-defined]
        except Exception as exc:
            logger.warning("event sender cannot reconnect: %s", exc)
            time.sleep(1.0)

    # -- receiving ------------------------------------------------------------------------

    def _listen(self) -> None:
        conn = self._listen_conn
        own = self.bus._id
        while not self._closing:
            try:
                for note in conn.notifies(timeout=0.1):  # how soon close() is seen
                    self._received(note.payload, own)
            except Exception as exc:
                if self._closing:
                    return
                logger.warning("event listener lost its connection: %s", exc)
                time.sleep(1.0)
                try:
                    conn = self._listen_conn = self.store.connect()  # type: ignore[attr-defined]
                    conn.execute(f"LISTEN {self.channel}")
                except Exception as again:
                    logger.warning("event listener cannot reconnect: %s", again)

    def _received(self, payload: str, own: str) -> None:
        try:
            body = orjson.loads(payload)
            publisher = body["b"]
            if publisher == own:
                return
            if "ref" in body:
                raw = self.store.get(body["ref"])
                if raw is None:
                    with self._cond:
                        self._counts["missing"] += 1
                    return
                body = orjson.loads(raw)
            seq = int(body["s"])
            data = from_jsonable(body["d"], body["bin"]) if body["bin"] else body["d"]
            event = Event(body["t"], data, float(body["ts"]), seq, body["c"],
                          body["sid"], body["src"], publisher, remote=True)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            logger.warning("ignored a notification that is not an llmspell event: %s", exc)
            return
        last = self._last_seq.get(publisher)
        with self._cond:
            self._counts["received"] += 1
            if last is not None and seq > last + 1:
                self._counts["gaps"] += seq - last - 1
        self._last_seq[publisher] = seq
        self.bus.deliver(event)

    # -- the rest -------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """``sent``, ``received``, ``dropped``, ``missing``, ``gaps``, and ``pending`` (the
        outbox)."""
        with self._cond:
            return {**self._counts, "pending": len(self._outbox)}

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the outbox is sent; False if it is not within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            return self._cond.wait_for(lambda: not self._outbox and not self._inflight,
                                       timeout=max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Send what is queued (up to 5 s), stop both threads, close the connections."""
        if self.bus.relay == self.send:
            self.bus.relay = None
        self.flush()
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._sender.join(timeout=5)
        self._listener.join(timeout=5)
        for conn in (self._send_conn, self._listen_conn):
            try:
                conn.close()
            except Exception:
                logger.debug("closing an event relay connection failed", exc_info=True)
