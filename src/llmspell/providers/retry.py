"""The one retry policy for provider calls: backoff with jitter, honouring Retry-After.

A call is retried when it raises a :class:`~llmspell.errors.ProviderError` whose
``retryable`` is true (429, 5xx, connection errors, timeouts), at most ``max_retries`` times.
The wait is the server's ``Retry-After`` when it sent one (seconds or an HTTP date), else
exponential backoff from ``base_delay`` with full jitter, never above ``max_delay``. A server
asking for longer than ``max_retry_after`` is not waited for: the error is raised at once, its
``retry_after`` telling the caller when to come back. A stream is retried only until it has
yielded its first chunk (the caller has seen data; repeating it would duplicate it).

``sleep``, ``asleep`` and ``random`` are injectable so tests can see the delays asked for.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from llmspell.errors import ProviderError, ValidationError

T = TypeVar("T")
LOG = logging.getLogger("llmspell.providers")


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP date.

    None when the header is absent or unreadable; never negative.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


def backoff_delay(base_delay: float, attempt: int, max_delay: float,
                  random: Callable[[], float] = _random.random) -> float:
    """The one backoff rule: seconds to wait before retry number ``attempt`` (1-based):
    ``base_delay`` doubled each retry, capped at ``max_delay``, the upper half jittered.
    Provider calls and workflow step retries both wait this long."""
    ceiling = min(max_delay, base_delay * 2 ** (attempt - 1))
    return ceiling * (0.5 + random() / 2)  # jitter: half the backoff is random


@dataclass
class RetryPolicy:
    """How often and how long to wait before trying a failed provider call again."""

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    asleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    random: Callable[[], float] = field(default=_random.random, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValidationError("max_retries", "must be an integer >= 0", got=self.max_retries)
        for name in ("base_delay", "max_delay", "max_retry_after"):
            if getattr(self, name) < 0:
                raise ValidationError(name, "must be >= 0 seconds", got=getattr(self, name))

    def delay(self, error: ProviderError, attempt: int) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based) after ``error``, or None
        when the error must be raised now (not retryable, out of retries, or a Retry-After
        longer than ``max_retry_after``)."""
        if not error.retryable or attempt > self.max_retries:
            return None
        asked = getattr(error, "retry_after", None)
        if asked is not None:
            return asked if asked <= self.max_retry_after else None
        return backoff_delay(self.base_delay, attempt, self.max_delay, self.random)

    def _wait_or_raise(self, error: ProviderError, tries: int) -> float:
        wait = self.delay(error, tries)
        if wait is None:
            raise error
        LOG.info("%s; retry %d of %d in %.2fs", error, tries, self.max_retries, wait)
        return wait

    def call(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it returns or raises an error that is not to be retried."""
        tries = 0
        while True:
            try:
                return attempt()
            except ProviderError as error:
                tries += 1
                wait = self._wait_or_raise(error, tries)
            self.sleep(wait)

    async def acall(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """:meth:`call` for coroutines."""
        tries = 0
        while True:
            try:
                return await attempt()
            except ProviderError as error:
                tries += 1
                wait = self._wait_or_raise(error, tries)
            await self.asleep(wait)

    def stream(self, start: Callable[[], Iterator[T]]) -> Iterator[T]:
        """Yield from ``start()``, starting again on a retryable error until the first item
        has been yielded; after that an error is raised as it is."""
        tries = 0
        while True:
            started = False
            try:
                for item in start():
                    started = True
                    yield item
                return
            except ProviderError as error:
                if started:
                    raise
                tries += 1
                wait = self._wait_or_raise(error, tries)
            self.sleep(wait)

    async def astream(self, start: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
        """:meth:`stream` for async iterators."""
        tries = 0
        while True:
            started = False
            try:
                async for item in start():
                    started = True
                    yield item
                return
            except ProviderError as error:
                if started:
                    raise
                tries += 1
                wait = self._wait_or_raise(error, tries)
            await self.asleep(wait)
