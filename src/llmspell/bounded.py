"""Bounded in-memory caches with O(1) eviction: :class:`BoundedCache`.

The caches in front of the store (creation times of state keys, change-log entries, session
records) keep at most a fixed number of keys. Evicting with ``del d[next(iter(d))]`` on a
plain dict looks O(1) but is not: every pop from the front leaves a hole that the next
``iter`` walks over, so past the limit each write paid for all the holes so far (+11-13 us
per state write past 16,384 keys, issue 18). An ``OrderedDict`` pops its oldest key in O(1).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

from llmspell.errors import ValidationError

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(OrderedDict[K, V]):
    """A dict of at most ``limit`` keys. :meth:`keep` adds a key, dropping the oldest one
    first when full; :meth:`touch` also makes the key the newest (least recently used goes
    first). Plain ``d[key] = value`` and ``get`` work as on any dict (no bound check: use
    ``keep`` to add keys). Not thread-safe by itself: callers hold their own lock."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError("limit", "must be an int >= 1", got=limit)
        self.limit = limit

    def keep(self, key: K, value: V) -> None:
        """Set ``key``; when it is new and the cache is full, forget the oldest key."""
        if len(self) >= self.limit and key not in self:  # the size first: it is cheaper
            self.popitem(last=False)
        self[key] = value

    def touch(self, key: K, value: V) -> None:
        """Set ``key`` and make it the newest (an LRU's insert)."""
        self.keep(key, value)
        self.move_to_end(key)
