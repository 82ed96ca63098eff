"""Single-writer sessions: a lease with a fencing token, kept in the store.

A process drives a session alone by holding its lease, the record ``sesslease/<id>``::

    {"token": 7, "holder": "host:pid:1a2b3c4d", "acquired_at": ..., "expires_at": ...}

``token`` grows by one with every new holder and is never reused (a release keeps the record
with ``holder`` null, so the next holder gets the next token). The lease lives in the store, so
it works on every backend, and across machines on PostgreSQL.

The fence: every write of a session carries a condition on the lease record in its own batch
(``Journal.entries_ops`` asks :meth:`Leases.fence`; every session write appends to the journal).
The holder expects exactly the bytes it wrote when it took or renewed the lease; any other
writer expects the bytes it last saw, which must show no live lease of someone else. So a
holder that was stopped past its lease (SIGSTOP, a long GC pause, a lost network) and wakes
after another took the session over finds the record changed: its batch is refused, nothing is
written, and it gets :class:`~llmspell.errors.LeaseLost`. A holder also refuses to write once
its own clock says the lease expired, before asking the store. A second writer while the lease
is live gets :class:`~llmspell.errors.SessionLeased` naming the holder, its token and expiry.

The fence reads nothing on the common path: the holder knows its bytes, and another writer
reuses what it last read. When a batch loses (the caller rebuilds with ``fresh``), the record
is read again and the verdict taken on it.

``acquire(keep=True)`` renews the lease from a daemon thread every third of its length, so a
long script keeps it while it runs; a stopped or crashed process stops renewing, and the
lease expires ``lease_seconds`` (``[session] lease_seconds``) after the last renewal.
Expiry compares wall clocks: machines sharing a database need synchronised clocks (NTP).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from llmspell.errors import (
    CorruptRecord,
    LeaseLost,
    SessionLeased,
    SessionNotFound,
    ValidationError,
)
from llmspell.journal import iso
from llmspell.sessions import index
from llmspell.sessions.model import check_seconds
from llmspell.storage.base import Put, Store
from llmspell.storage.retry import Planned, retry_batch

logger = logging.getLogger("llmspell.sessions")

_UNREAD = object()
_SEEN_MAX = 4096


@dataclass(frozen=True, slots=True)
class Lease:
    """A session's lease as stored: its holder (None once released), fencing token and
    expiry (seconds since the epoch)."""

    session_id: str
    token: int
    holder: str | None
    acquired_at: float
    expires_at: float

    def live(self, now: float) -> bool:
        """Held by someone and not expired at ``now``."""
        return self.holder is not None and now < self.expires_at

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "token": self.token, "holder": self.holder,
                "acquired_at": self.acquired_at, "expires_at": self.expires_at,
                "expires": iso(self.expires_at)}

    def encode(self) -> bytes:
        return orjson.dumps({"token": self.token, "holder": self.holder,
                             "acquired_at": self.acquired_at, "expires_at": self.expires_at})

    @classmethod
    def decode(cls, session_id: str, raw: bytes) -> Lease:
        key = index.lease_key(session_id)
        try:
            data = orjson.loads(raw)
            return cls(session_id, int(data["token"]), data["holder"],
                       float(data["acquired_at"]), float(data["expires_at"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CorruptRecord(key, f"not a lease record ({exc})") from None


def new_holder() -> str:
    """A holder name unique to this process and manager: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leases:
    """The leases one SessionManager holds, and the fence every session write carries.

    Args:
        store: where lease records live.
        now: seconds since the epoch (the manager's clock).
        ttl: the default lease length in seconds (``[session] lease_seconds``).
    """

    def __init__(self, store: Store, now: Callable[[], float], ttl: float) -> None:
        self.store = store
        self.now = now
        self.ttl = ttl
        self.holder = new_holder()
        self._held: dict[str, tuple[Lease, bytes]] = {}
        self._seen: dict[str, bytes | None] = {}
        self._lock = threading.Lock()
        self._keep: set[str] = set()
        self._lengths: dict[str, float] = {}  # each held lease's length (renewals keep it)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the fence ---------------------------------------------------------------------------

    def fence(self, sid: str, fresh: bool) -> dict[str, bytes | None]:
        """The condition a write of ``sid`` carries on its lease record (module doc).

        Raises:
            LeaseLost: this manager held the lease and it expired or was taken over.
            SessionLeased: another holder has a live lease.
        """
        held = self._held.get(sid)
        if held is not None:
            lease, raw = held
            if fresh:
                lease, raw = self._recheck(sid, lease, raw)
            if self.now() >= lease.expires_at:
                self._drop(sid)
                raise LeaseLost(f"the lease on session {sid} (token {lease.token}) expired at "
                                f"{iso(lease.expires_at)}; nothing was written; acquire it "
                                "again")
            return {index.lease_key(sid): raw}
        seen = self._seen.get(sid, _UNREAD)
        key = index.lease_key(sid)  # (not before: a create's batch has no use for it)
        if fresh or seen is _UNREAD:
            seen = self.store.get_unchecked(key)
            if len(self._seen) >= _SEEN_MAX:
                self._seen.clear()
            self._seen[sid] = seen
        if seen is not None:
            other = Lease.decode(sid, seen)  # type: ignore[arg-type]
            if other.live(self.now()):
                raise leased_error(other)
        return {key: seen}  # type: ignore[dict-item]

    def new_session(self, sid: str) -> None:
        """``sid`` was just made (a new id): no lease record exists, so the batch creating it
        carries no fence (``Journal.entries_ops(fenced=False)``: acquire expects the record,
        which that batch makes), and its later writes expect none without reading (the
        batch still checks it)."""
        if len(self._seen) >= _SEEN_MAX:
            self._seen.clear()
        self._seen[sid] = None

    def _recheck(self, sid: str, lease: Lease, raw: bytes) -> tuple[Lease, bytes]:
        """The held lease as the store has it now (a batch carrying it just lost)."""
        stored = self.store.get_unchecked(index.lease_key(sid))
        if stored == raw:
            return lease, raw
        current = None if stored is None else Lease.decode(sid, stored)
        if current is not None and current.holder == self.holder and current.token == lease.token:
            with self._lock:  # the keep-alive thread renewed it meanwhile
                self._held[sid] = (current, stored)  # type: ignore[assignment]
            return current, stored  # type: ignore[return-value]
        self._drop(sid)
        by = ("released" if current is None or current.holder is None
              else f"taken over by {current.holder} (token {current.token})")
        raise LeaseLost(f"the lease on session {sid} (token {lease.token}) was {by}; nothing "
                        "was written")

    # -- taking, renewing and giving back -------------------------------------------------

    def acquire(self, sid: str, ttl: float | None = None, *, keep: bool = False) -> Lease:
        """Take (or, when this manager holds it, renew) the lease of ``sid`` for ``ttl``
        seconds. ``keep``: renew it in the background until released.

        Raises:
            SessionNotFound: no session has that id.
            SessionLeased: another holder has a live lease.
            ValidationError: ``ttl`` is not a positive number.
        """
        length = self.ttl if ttl is None else check_seconds(ttl, "ttl")
        if length is None:
            raise ValidationError("ttl", "must be a positive number of seconds", got=ttl)
        record_key, key = index.record_key(sid), index.lease_key(sid)

        def build(attempt: int) -> Planned[tuple[Lease, bytes]]:
            found = self.store.get_many([record_key, key])
            if record_key not in found:
                raise SessionNotFound(f"no session has id {sid!r}")
            old_raw = found.get(key)
            now = self.now()
            token = 1
            if old_raw is not None:
                old = Lease.decode(sid, old_raw)
                if old.live(now) and old.holder != self.holder:
                    raise leased_error(old)
                mine = old.holder == self.holder and old.live(now)
                token = old.token if mine else old.token + 1
                acquired = old.acquired_at if mine else now
            else:
                acquired = now
            lease = Lease(sid, token, self.holder, acquired, now + length)
            raw = lease.encode()
            return [Put(key, raw)], {key: old_raw, record_key: found[record_key]}, (lease, raw)

        lease, raw = retry_batch(self.store, build, what=f"acquire the lease of session {sid}")
        with self._lock:
            self._held[sid] = (lease, raw)
            self._lengths[sid] = length
            self._seen.pop(sid, None)
            if keep:
                self._keep.add(sid)
                self._start_keeper()
        return lease

    def renew(self, sid: str, ttl: float | None = None) -> Lease:
        """Extend the lease this manager holds on ``sid`` (same token) by ``ttl`` seconds,
        by default the length it was taken for.

        Raises:
            LeaseLost: it expired or another holder took it over.
            SessionLeased / SessionNotFound: as :meth:`acquire`, when it was not held here.
        """
        held = self._held.get(sid)
        if held is None:
            raise LeaseLost(f"this process holds no lease on session {sid}; acquire it first")
        self.fence(sid, fresh=True)  # refuses an expired or taken-over lease
        return self.acquire(sid, self._lengths.get(sid) if ttl is None else ttl)

    def release(self, sid: str) -> bool:
        """Give the lease of ``sid`` back (the record keeps its token); False when this
        manager did not hold it, or no longer did."""
        with self._lock:
            held = self._held.pop(sid, None)
            self._keep.discard(sid)
            self._lengths.pop(sid, None)
        if held is None:
            return False
        lease, raw = held
        freed = Lease(sid, lease.token, None, lease.acquired_at, self.now())
        key = index.lease_key(sid)
        done = self.store.batch_unchecked([Put(key, freed.encode())], {key: raw})
        self._seen.pop(sid, None)
        return done

    def read(self, sid: str) -> Lease | None:
        """The stored lease of ``sid`` (live, expired or released), or None."""
        raw = self.store.get_unchecked(index.lease_key(sid))
        return None if raw is None else Lease.decode(sid, raw)

    def held(self) -> list[Lease]:
        """The leases this manager holds (as last taken or renewed)."""
        return [lease for lease, _ in list(self._held.values())]

    def forget(self, sid: str) -> None:
        """The session is gone: drop what is known of its lease."""
        self._drop(sid)
        self._seen.pop(sid, None)

    def close(self) -> None:
        """Release every lease held (best effort) and stop the keep-alive thread."""
        for sid in list(self._held):
            try:
                self.release(sid)
            except Exception:
                logger.warning("could not release the lease of session %s", sid, exc_info=True)
        self._wake.set()

    def _drop(self, sid: str) -> None:
        with self._lock:
            self._held.pop(sid, None)
            self._keep.discard(sid)
            self._lengths.pop(sid, None)

    # -- keep-alive ---------------------------------------------------------------------------

    def _start_keeper(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._wake.clear()
            self._thread = threading.Thread(target=self._keep_alive, daemon=True,
                                            name="llmspell-lease-keeper")
            self._thread.start()

    def _renew_every(self) -> float:
        """A third of the shortest lease kept alive (at least 50 ms)."""
        with self._lock:
            lengths = [self._lengths.get(sid, self.ttl) for sid in self._keep]
        return max(0.05, min(lengths, default=self.ttl) / 3)

    def _keep_alive(self) -> None:
        while not self._wake.wait(self._renew_every()):
            with self._lock:
                keep = list(self._keep)
            if not keep:
                return
            for sid in keep:
                try:
                    self.renew(sid)
                except Exception as exc:  # lost, deleted or the store failed: say so
                    logger.warning("lease of session %s not renewed: %s", sid, exc)
                    self._drop(sid)


def leased_error(lease: Lease) -> SessionLeased:
    return SessionLeased(f"session {lease.session_id} is leased by {lease.holder} (token "
                         f"{lease.token}) until {iso(lease.expires_at)}; it is driven by one "
                         "process at a time")
