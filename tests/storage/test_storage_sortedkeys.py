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


@settings(max_examples=examples(150), deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["add", "remove", "read"]), KEYS,
                                BOUND, st.booleans()), max_size=120),
       pending_max=st.sampled_from([1, 3, 1024]))
def test_interleaved_adds_removes_and_reads_match_a_sorted_list(
        steps: list[tuple], pending_max: int) -> None:
    """Adds wait unsorted until a read or PENDING_MAX; removes of waiting keys, reads in
    between and merges into existing blocks (split included) all agree with a sorted list."""
    import llmspell.storage._sortedkeys as sortedkeys

    saved = sortedkeys.PENDING_MAX
    sortedkeys.PENDING_MAX = pending_max
    try:
        index = SortedKeys(block=2)
        model: set[str] = set()
        for action, key, high, reverse in steps:
            if action == "add" and key not in model:
                index.add(key)
                model.add(key)
            elif action == "remove" and key in model:
                index.remove(key)
                model.discard(key)
            elif action == "read":
                rng = KeyRange(key, False, high)
                inside = [k for k in sorted(model) if rng.contains(k)]
                assert index.between(rng, 5, reverse) == (inside[::-1] if reverse
                                                          else inside)[:5]
            assert len(index) == len(model)
        assert index.between(KeyRange(None, True, None), 1000, False) == sorted(model)
        assert index.count(KeyRange(None, True, None)) == len(model)
    finally:
        sortedkeys.PENDING_MAX = saved


def test_a_large_merge_splits_blocks_and_keeps_order() -> None:
    index = SortedKeys(block=4)
    first = [f"a{i:03d}" for i in range(0, 200, 2)]
    for key in first:
        index.add(key)
    assert index.between(KeyRange(None, True, None), 3, False) == first[:3]  # merged
    later = [f"a{i:03d}" for i in range(1, 200, 2)] + ["b", "0"]
    index.add_many(later)
    everything = sorted(first + later)
    assert len(index) == len(everything)
    assert index.between(KeyRange(None, True, None), 1000, False) == everything
    assert index.between(KeyRange("a050", True, "a060"), 100, True) == everything[51:61][::-1]
    assert index.count(KeyRange("a", True, "b")) == 200


@settings(max_examples=examples(150), deadline=None)
@given(old=st.lists(st.integers(0, 99), max_size=40), runs=st.lists(
    st.tuples(st.sampled_from("abc"), st.integers(0, 120), st.integers(9, 20)), max_size=6))
def test_runs_of_keys_that_follow_their_prefix_merge_in_order(
        old: list[int], runs: list[tuple[str, int, int]]) -> None:
    """A merge puts a group of more than _INSORT_MAX waiting keys that falls between two
    neighbours in place, unsorted with the block (time-ordered ids); one that interleaves
    with the block's keys is sorted into it. Both agree with a sorted list."""
    index = SortedKeys(block=4)
    model = {f"{p}/{i:04d}" for i in old for p in "abc"}
    index.add_many(sorted(model))
    assert index.count(KeyRange(None, True, None)) == len(model)  # merged into blocks
    waiting: set[str] = set()
    for prefix, first, size in runs:  # a run after (or among) its prefix's keys
        waiting.update(f"{prefix}/{i:04d}" for i in range(first, first + size))
    waiting -= model
    index.add_many(sorted(waiting))
    everything = sorted(model | waiting)
    assert index.between(KeyRange(None, True, None), 10_000, False) == everything
    assert len(index) == len(everything)
