"""The one retry policy: which errors are retried, how long it waits, and never after data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from llmspell.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
    ValidationError,
)
from llmspell.providers.retry import RetryPolicy, parse_retry_after


def policy(waits: list[float], **options: float) -> RetryPolicy:
    return RetryPolicy(sleep=waits.append, random=lambda: 0.0, **options)  # type: ignore[arg-type]


def failing(errors: list[ProviderError], result: str = "ok"):  # type: ignore[no-untyped-def]
    calls = []

    def attempt() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return result

    return attempt, calls


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    # Wed, 21 Oct 2015 07:28:00 GMT is 1445412480; asked 30 s before it.
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412450.0) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412490.0) == 0.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    waits: list[float] = []
    retry = policy(waits, max_retries=5, base_delay=1.0, max_delay=3.0)
    attempt, calls = failing([ProviderUnavailable("down") for _ in range(5)])
    assert retry.call(attempt) == "ok"
    # random() == 0 takes half of each ceiling: ceilings 1, 2, 3 (capped), 3, 3
    assert waits == [0.5, 1.0, 1.5, 1.5, 1.5]
    assert len(calls) == 6


def test_errors_that_are_not_retryable_are_raised_at_once() -> None:
    waits: list[float] = []
    attempt, calls = failing([ProviderAuthError("refused")])
    with pytest.raises(ProviderAuthError):
        policy(waits).call(attempt)
    assert waits == [] and len(calls) == 1


def test_the_last_error_is_raised_when_the_retries_are_spent() -> None:
    waits: list[float] = []
    attempt, calls = failing([ProviderRateLimited(f"429 #{i}", retry_after=2) for i in range(4)])
    with pytest.raises(ProviderRateLimited, match="429 #2"):
        policy(waits, max_retries=2).call(attempt)
    assert waits == [2, 2] and len(calls) == 3


def test_zero_retries_means_one_attempt() -> None:
    waits: list[float] = []
    attempt, calls = failing([ProviderUnavailable("down")])
    with pytest.raises(ProviderUnavailable):
        policy(waits, max_retries=0).call(attempt)
    assert len(calls) == 1


def test_a_stream_is_retried_before_its_first_item_and_never_after() -> None:
    waits: list[float] = []
    starts: list[int] = []

    def start() -> Iterator[str]:
        starts.append(1)
        if len(starts) == 1:
            raise ProviderUnavailable("refused before data")
        yield "first"
        raise ProviderUnavailable("broke after data")

    got: list[str] = []
    with pytest.raises(ProviderUnavailable, match="broke after data"):
        for item in policy(waits).stream(start):
            got.append(item)
    assert got == ["first"] and len(starts) == 2 and len(waits) == 1


def test_async_forms_wait_through_the_async_sleep() -> None:
    waits: list[float] = []

    async def asleep(seconds: float) -> None:
        waits.append(seconds)

    retry = RetryPolicy(asleep=asleep, random=lambda: 0.0)
    errors = [ProviderRateLimited("429", retry_after=5)]

    async def attempt() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    async def start() -> AsyncIterator[int]:
        yield 1
        raise ProviderUnavailable("broke after data")

    async def run() -> list[int]:
        assert await retry.acall(attempt) == "ok"
        got = []
        with pytest.raises(ProviderUnavailable):
            async for item in retry.astream(start):
                got.append(item)
        return got

    assert asyncio.run(run()) == [1]
    assert waits == [5]


@pytest.mark.parametrize("options", [{"max_retries": -1}, {"base_delay": -1.0}])
def test_bad_settings_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValidationError, match=next(iter(options))):
        RetryPolicy(**options)  # type: ignore[arg-type]
