"""The memory backend's block-sorted key index agrees with a sorted list, splits included."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.storage._sortedkeys import SortedKeys
from llmspell.storage._support import KeyRange
from strategies import examples

KEYS = st.text(st.sampled_from("abcd\U0001f600"), min_size=1, max_size=3)
BOUND = st.none() | KEYS


@settings(max_examples=examples(150), deadline=None)
@given(adds=st.lists(KEYS, max_size=60), removes=st.lists(KEYS, max_size=30),
       queries=st.lists(st.tuples(BOUND, st.booleans(), BOUND, st.integers(0, 9),
                                  st.booleans()), max_size=8))
def test_sorted_keys_match_a_sorted_list(adds: list[str], removes: list[str],
                                         queries: list[tuple]) -> None:
    index = SortedKeys(block=2)  # tiny blocks: every path through split and merge is taken
    model: set[str] = set()
    for key in adds:
        if key not in model:
            index.add(key)
            model.add(key)
    for key in removes:
        if key in model:
            index.remove(key)
            model.discard(key)
    ordered = sorted(model)
    assert len(index) == len(ordered)
    assert index.between(KeyRange(None, True, None), 1000, False) == ordered
    for low, inclusive, high, want, reverse in queries:
        rng = KeyRange(low, inclusive, high)
        inside = [k for k in ordered if rng.contains(k)]
        expected = (inside[::-1] if reverse else inside)[:want]
        assert index.between(rng, want, reverse) == expected
        assert index.count(rng) == len(inside)
