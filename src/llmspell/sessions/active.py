"""The count of active sessions, kept in one store key and enforced against
``max_active_sessions`` atomically: every batch that changes the count carries ``expect`` on
its previous bytes, so two processes can never both take the last slot.

The last value this process saw is cached; a stale one only makes a batch fail, after which
the caller calls :meth:`ActiveCounter.invalidate` and retries. A refusal is only ever made
on a value just read from the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmspell.errors import ResourceLimitExceeded
from llmspell.sessions.index import ACTIVE_COUNT_KEY
from llmspell.storage.base import Op, Put, Store

_UNKNOWN: Any = object()


class ActiveCounter:
    """``limit`` is ``max_active_sessions``; ``refused(count, limit)`` runs before the error."""

    def __init__(self, store: Store, limit: int,
                 refused: Callable[[int, int], Any] | None = None) -> None:
        self.store = store
        self.limit = limit
        self.refused = refused
        self._raw: Any = _UNKNOWN

    def add(self, delta: int, ops: list[Op], expect: dict[str, bytes | None],
            refusing: str) -> bytes:
        """Add the count's update to a batch; returns the new bytes for :meth:`committed`.

        Raises:
            ResourceLimitExceeded: ``delta > 0`` would pass the limit; ``refusing`` starts the
                message ("cannot create session 'x'").
        """
        for fresh in (False, True):
            raw = self._raw
            read = raw is _UNKNOWN or fresh
            if read:
                raw = self._raw = self.store.get(ACTIVE_COUNT_KEY)
            count = int(raw) if raw else 0
            if delta <= 0 or count + delta <= self.limit:
                break
            if read:
                if self.refused is not None:
                    self.refused(count, self.limit)
                raise ResourceLimitExceeded(
                    f"{refusing}: {count} sessions are active, the [session] "
                    f"max_active_sessions limit is {self.limit}; complete, fail or suspend "
                    "one first, or raise the limit")
        new = str(max(0, count + delta)).encode()
        ops.append(Put(ACTIVE_COUNT_KEY, new))
        expect[ACTIVE_COUNT_KEY] = raw
        return new

    def committed(self, new: bytes | None) -> None:
        """The batch holding :meth:`add`'s ops committed (None: it held none)."""
        if new is not None:
            self._raw = new

    def invalidate(self) -> None:
        """A batch failed: read the count again next time."""
        self._raw = _UNKNOWN

    def count(self) -> int:
        """The number of active sessions, read now."""
        raw = self.store.get(ACTIVE_COUNT_KEY)
        return int(raw) if raw else 0
