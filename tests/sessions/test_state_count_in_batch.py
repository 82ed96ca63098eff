"""A state write made while a session is current is counted in the write's own batch: one
commit holds the record, its journal entry and the session's new counters (issue 18's
leftover from seeds17). Limits stay exact: a count refused on the stored record writes
nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batch_log import record_batches
from llmspell.errors import ResourceLimitExceeded
from llmspell.runtime import Runtime


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one SQLite file, as two processes would be."""
    url = f"sqlite:///{tmp_path}/s.db"
    a = Runtime.memory(storage__url=url)
    b = Runtime.memory(storage__url=url)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def test_a_write_and_its_count_are_one_batch(rt: Runtime) -> None:
    made = rt.sessions.create("one")
    seen = record_batches(rt.store)
    with rt.sessions.current(made.id):
        rt.state.save("global", "a", 1)
        rt.state.compare_and_set("global", "a", 1, 2)
        with rt.state.transaction():
            rt.state.save("global", "b", 1)
            rt.state.save("global", "c", 1)
        rt.state.delete("global", "a")
        rt.state.clear_scope("global")
    assert len(seen) == 5
    record = f"session/{made.id}"
    for ops in seen:
        keys = [op[0] for op in ops]
        assert record in keys and any(k.startswith("state/") for k in keys), keys
    assert rt.sessions.get(made.id).counters.operations == 6
    assert rt.state.list_keys("global") == []


def test_an_operation_that_writes_nothing_is_still_counted(rt: Runtime) -> None:
    made = rt.sessions.create("nothing")
    with rt.sessions.current(made.id):
        assert rt.state.delete("global", "absent") is False
        assert rt.state.compare_and_set("global", "absent", 1, 2) is False
    assert rt.sessions.get(made.id).counters.operations == 2


def test_a_count_refused_on_the_stored_record_writes_nothing(
        two: tuple[Runtime, Runtime]) -> None:
    a, b = two
    made = a.sessions.create("limited", limits={"operations": 2})
    with a.sessions.current(made.id):
        a.state.save("global", "first", 1)  # a now caches operations = 1
    raced: list[int] = []

    def race(changes: Any) -> None:
        # Between a's admission (on operations = 1) and its batch, "another process"
        # takes the last operation.
        if not raced:
            raced.append(1)
            with b.sessions.current(made.id):
                b.state.save("global", "second", 2)

    a.state.add_contributor(race)
    with a.sessions.current(made.id), pytest.raises(ResourceLimitExceeded) as caught:
        a.state.save("global", "third", 3)
    assert raced and "operations 2 + 1" in str(caught.value)
    assert a.state.load("global", "third") is None
    assert b.state.list_keys("global") == ["first", "second"]
    assert b.sessions.get(made.id).counters.operations == 2


def test_a_refused_transaction_writes_nothing(rt: Runtime) -> None:
    made = rt.sessions.create("tx", limits={"operations": 2})
    with rt.sessions.current(made.id):
        rt.state.save("global", "a", 1)
        with pytest.raises(ResourceLimitExceeded), rt.state.transaction():
            rt.state.save("global", "b", 1)
            rt.state.save("global", "c", 1)
    assert rt.state.list_keys("global") == ["a"]
    assert rt.sessions.get(made.id).counters.operations == 1
