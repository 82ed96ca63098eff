"""Where the change sequence lives: ``chg~seq`` next to the change log's tail, and stores
written before it existed (``meta/state_seq``) carried on without losing or reusing a number."""

from __future__ import annotations

import pytest

from backends import Backend
from llmspell.errors import StateError
from llmspell.state import StateManager
from llmspell.state.scopes import CHANGE_PREFIX, LEGACY_SEQ_KEY, SEQ_KEY, change_key
from llmspell.storage import Put

#: A record as a store written before would hold it.
OLD_RECORD = b'{"v":1,"s":1,"c":1.0,"u":1.0,"q":41}'


def test_the_sequence_key_sorts_right_after_the_change_log() -> None:
    assert not SEQ_KEY.startswith(CHANGE_PREFIX)  # scans of the log never see it
    assert change_key(10**20 - 1) < SEQ_KEY  # after the largest entry
    # Nothing llmspell writes sorts between the log and it: "chg" then a byte above "/".
    assert SEQ_KEY.startswith(CHANGE_PREFIX[:-1]) and SEQ_KEY[3] > "9"


def test_a_write_moves_only_the_new_key(backend: Backend) -> None:
    state = backend.state_manager()
    assert state.save("global", "a", 1) == 1
    assert state.store.get(SEQ_KEY) == b"1"
    assert state.store.get(LEGACY_SEQ_KEY) is None


def _legacy(state: StateManager) -> None:
    """Make the store look written by a version before SEQ_KEY: 41 changes, the last kept."""
    state.store.batch([Put(LEGACY_SEQ_KEY, b"41"), Put("state/global/old", OLD_RECORD),
                       Put(change_key(41), b'{"s":"global","k":"old","o":"put"}')])
    state.invalidate()


def test_a_store_written_before_continues_its_sequence(backend: Backend) -> None:
    state = backend.state_manager()
    _legacy(state)
    assert state.seq == 41
    assert state.save("global", "old", 2) == 42
    record = state.get_record("global", "old")
    assert record is not None and record.created_at == 1.0 and record.seq == 42
    assert state.store.get(SEQ_KEY) == b"42"
    assert state.store.get(LEGACY_SEQ_KEY) == b"41"  # read, never written again
    again = backend.reopen_state(state)
    assert again.seq == 42
    assert again.save("global", "next", 3) == 43


def test_two_managers_moving_a_store_written_before_take_distinct_numbers(
        backend: Backend) -> None:
    if not backend.multi_process:
        pytest.skip("one process per store: its managers share one counter")
    one = backend.state_manager()
    _legacy(one)
    two = backend.state_manager(shared_sequence=True)  # its own view, as another process has
    assert two.seq == 41
    assert one.save("global", "x", 1) == 42  # moves SEQ_KEY from absent to 42
    assert two.save("global", "y", 1) == 43  # lost its race on SEQ_KEY absent, read again
    assert one.save("global", "z", 1) == 44
    keys = [k for k, _ in one.store.scan(CHANGE_PREFIX)]
    assert keys == [change_key(n) for n in (41, 42, 43, 44)]


def test_a_damaged_legacy_sequence_is_named(backend: Backend) -> None:
    state = backend.state_manager()
    state.store.put(LEGACY_SEQ_KEY, b"forty")
    with pytest.raises(StateError, match="meta/state_seq holds b'forty'"):
        state.invalidate()
    state.store.put(SEQ_KEY, b"41")  # the new key wins: the old one is not read any more
    state.invalidate()
    assert state.seq == 41
