"""Clocks for sessions and policies: the system clock, and a manual one for tests.

A clock has ``now()`` (seconds since the epoch) and ``sleep(seconds)``. Timeouts, rate limits
and journal timestamps read the clock they were given, so tests move time with
:class:`ManualClock` instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """``time.time`` and ``time.sleep``."""

    now = staticmethod(time.time)
    sleep = staticmethod(time.sleep)


class ManualClock:
    """A clock that moves only when told: ``advance(s)``, or ``sleep(s)`` (which advances).

    A test double that ships with llmspell, for timeouts and rate limits without sleeping.
    """

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds``; returns the new time."""
        with self._lock:
            self._now += seconds
            return self._now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(0.0, seconds))
