"""BoundedCache: at most ``limit`` keys, the oldest forgotten first, in O(1)."""

from __future__ import annotations

import pytest

from llmspell.bounded import BoundedCache
from llmspell.errors import ValidationError


def test_keep_forgets_the_oldest_key_once_full() -> None:
    cache: BoundedCache[str, int] = BoundedCache(3)
    for i in range(5):
        cache.keep(f"k{i}", i)
    assert list(cache.items()) == [("k2", 2), ("k3", 3), ("k4", 4)]
    cache.keep("k3", 30)  # a known key: nothing is forgotten, its place is kept
    assert list(cache) == ["k2", "k3", "k4"] and cache["k3"] == 30


def test_touch_makes_a_key_the_newest() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.touch("a", 1)
    cache.touch("b", 2)
    cache.touch("a", 3)
    cache.touch("c", 4)
    assert list(cache.items()) == [("a", 3), ("c", 4)]


def test_eviction_stays_cheap_far_past_the_limit() -> None:
    cache: BoundedCache[int, int] = BoundedCache(1000)
    for i in range(200_000):  # a dict popped from the front would walk its holes each time
        cache.keep(i, i)
    assert len(cache) == 1000 and next(iter(cache)) == 199_000


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "10", None])
def test_a_bad_limit_is_refused(limit: object) -> None:
    with pytest.raises(ValidationError) as error:
        BoundedCache(limit)  # type: ignore[arg-type]
    assert "limit" in str(error.value) and "int >= 1" in str(error.value)
