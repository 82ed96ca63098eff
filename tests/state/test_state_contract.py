"""What a user of StateManager can count on, on every backend."""

from __future__ import annotations

import time

import orjson
import pytest

from backends import EMBEDDED, Backend
from llmspell.errors import HookCancelled, StateError
from llmspell.state import StateManager
from llmspell.state.scopes import SEQ_KEY
from llmspell.storage import Put

VALUES = [None, True, False, 0, -1, 2**63 - 1, 2**64 - 1, 1.5, "", "héllo ✓", b"\x00\xff",
          [], {}, [1, [2, [3]]], {"a": {"b": [None, 1.0, "x", b"raw"]}}]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_saved_value_loads_back_equal(state: StateManager, value: object) -> None:
    state.save("global", "k", value)
    loaded = state.load("global", "k", default="missing")
    assert loaded == value
    assert type(loaded) is type(value)


def test_load_gives_the_default_when_absent(state: StateManager) -> None:
    assert state.load("global", "nope") is None
    assert state.load("global", "nope", {}) == {}


def test_a_tuple_comes_back_as_a_list(state: StateManager) -> None:
    state.save("global", "t", (1, (2, 3)))
    assert state.load("global", "t") == [1, [2, 3]]


def test_scopes_keep_their_own_keys(state: StateManager) -> None:
    state.save("agent:gpt-4", "history", ["a"])
    state.save("agent:claude", "history", ["b"])
    state.save("step:wf:1", "out", 1)
    assert state.load("agent:gpt-4", "history") == ["a"]
    assert state.load("agent:claude", "history") == ["b"]
    assert state.scopes() == ["agent:claude", "agent:gpt-4", "step:wf:1"]


def test_values_survive_reopening_the_store(backend: Backend) -> None:
    state = backend.state_manager()
    seq = state.save("agent:gpt-4", "conversation_history", [{"role": "user", "content": "hi"}])
    state = backend.reopen_state(state)
    assert state.load("agent:gpt-4", "conversation_history") == [
        {"role": "user", "content": "hi"}]
    assert state.seq == seq
    assert state.save("global", "next", 1) == seq + 1


def test_delete_and_exists(state: StateManager) -> None:
    assert state.delete("global", "temp_data") is False
    state.save("global", "temp_data", None)
    assert state.exists("global", "temp_data")  # a stored None exists
    assert state.delete("global", "temp_data") is True
    assert not state.exists("global", "temp_data")
    assert state.load("global", "temp_data", 7) == 7


def test_list_keys_in_key_order_with_prefix(state: StateManager) -> None:
    for key in ["b", "a/2", "a/1", "é", "z"]:
        state.save("workflow:processing", key, 1)
    state.save("workflow:processing2", "other", 1)
    assert state.list_keys("workflow:processing") == ["a/1", "a/2", "b", "z", "é"]
    assert state.list_keys("workflow:processing", "a/") == ["a/1", "a/2"]
    assert state.list_keys("workflow:empty") == []


def test_clear_scope_removes_only_that_scope(state: StateManager) -> None:
    for i in range(5):
        state.save("custom:cache", f"k{i}", i)
    state.save("custom:cache2", "k", 1)
    assert state.clear_scope("custom:cache") == 5
    assert state.list_keys("custom:cache") == []
    assert state.list_keys("custom:cache2") == ["k"]
    assert state.clear_scope("custom:cache") == 0


def test_save_many_both_shapes(state: StateManager) -> None:
    assert state.save_many({"global": {"a": 1, "b": 2}, "user:42": {"name": "x"}}) == 3
    assert state.save_many([("global", "c", 3), ("tool:calc", "n", 4)]) == 2
    assert [state.load("global", k) for k in "abc"] == [1, 2, 3]
    assert state.load("user:42", "name") == "x"


def test_save_many_is_all_or_nothing(state: StateManager) -> None:
    with pytest.raises(ValueError):
        state.save_many([("global", "a", 1), ("global", "b", float("nan"))])
    assert state.list_keys("global") == []


def test_metadata_created_kept_updated_moves(state: StateManager) -> None:
    before = time.time()
    first = state.save("global", "k", 1)
    record = state.get_record("global", "k")
    assert record is not None and record.seq == first and record.schema_version == 1
    assert before <= record.created_at == record.updated_at <= time.time()
    time.sleep(0.01)
    second = state.save("global", "k", 2)
    assert second == first + 1
    again = state.get_record("global", "k")
    assert again is not None
    assert again.created_at == record.created_at
    assert again.updated_at > record.updated_at
    assert again.seq == second


def test_created_at_is_kept_when_another_manager_wrote_first(backend: Backend) -> None:
    one = backend.state_manager()
    one.save("global", "k", 1)
    created = one.get_record("global", "k").created_at  # type: ignore[union-attr]
    # rocksdb allows one handle per directory: reopen instead of opening a second one.
    two = backend.reopen_state(one) if backend.name == "rocksdb" else backend.state_manager()
    two.save("global", "k", 2)
    assert two.get_record("global", "k").created_at == created  # type: ignore[union-attr]


def test_every_change_is_logged_with_its_sequence(state: StateManager) -> None:
    state.save("global", "a", 1)
    state.delete("global", "a")
    state.delete("global", "a")  # nothing there: no change, no number
    with state.transaction():
        state.save("agent:x", "b", 1)
        state.save("agent:x", "c", 1)
    log = [(k, orjson.loads(v)) for k, v in state.store.scan("chg/")]
    assert log == [
        ("chg/00000000000000000001", {"s": "global", "k": "a", "o": "put"}),
        ("chg/00000000000000000002", {"s": "global", "k": "a", "o": "del"}),
        ("chg/00000000000000000003", {"s": "agent:x", "k": "b", "o": "put"}),
        ("chg/00000000000000000004", {"s": "agent:x", "k": "c", "o": "put"}),
    ]
    assert state.store.get(SEQ_KEY) == b"4"
    assert state.seq == 4


def test_the_record_layout(state: StateManager) -> None:
    state.save("agent:gpt-4", "blob", {"data": b"\x01\x02", "n": 1})
    record = orjson.loads(state.store.get("state/agent:gpt-4/blob"))  # type: ignore[arg-type]
    assert record["v"] == {"data": "AQI=", "n": 1}
    assert record["b"] == [["data"]]
    assert record["s"] == 1 and record["q"] == 1
    assert isinstance(record["c"], float) and record["c"] == record["u"]


# -- transactions ----------------------------------------------------------------------------


def test_a_transaction_commits_everything_together(state: StateManager) -> None:
    state.save("global", "gone", 1)
    with state.transaction() as tx:
        tx.save("global", "a", 1)
        state.save("agent:x", "b", 2)  # the manager's own methods join the transaction
        tx.delete("global", "gone")
        assert state.load("global", "a") == 1  # reads see the block's writes
        assert not state.exists("global", "gone")
        assert state.list_keys("global") == ["a"]
        assert state.store.get("state/global/a") is None  # nothing written yet
    assert [c.seq for c in tx.committed] == [2, 3, 4]
    assert state.load("global", "a") == 1
    assert state.load("agent:x", "b") == 2
    assert not state.exists("global", "gone")


def test_a_failed_transaction_leaves_nothing_after_reopening(backend: Backend) -> None:
    state = backend.state_manager()
    state.save("global", "kept", "before")
    with pytest.raises(RuntimeError, match="half-way"), state.transaction():
        state.save("global", "kept", "changed")
        state.save("agent:a", "new", 1)
        state.delete("global", "kept")
        raise RuntimeError("half-way")
    state = backend.reopen_state(state)
    assert state.load("global", "kept") == "before"
    assert state.scopes() == ["global"]
    assert state.seq == 1
    assert [k for k, _ in state.store.scan("chg/")] == ["chg/00000000000000000001"]


def test_a_nested_transaction_joins_and_can_fail_alone(state: StateManager) -> None:
    with state.transaction() as outer:
        state.save("global", "a", 1)
        with state.transaction() as inner:
            assert inner is outer
            state.save("global", "b", 2)
        with pytest.raises(KeyError), state.transaction():
            state.save("global", "c", 3)
            state.save("global", "a", 100)
            raise KeyError("inner only")
        assert state.load("global", "a") == 1
        assert not state.exists("global", "c")
    assert {k: state.load("global", k) for k in state.list_keys("global")} == {"a": 1, "b": 2}


def test_clear_scope_and_save_many_inside_a_transaction(state: StateManager) -> None:
    state.save_many({"custom:c": {"a": 1, "b": 2}})
    with state.transaction():
        state.save("custom:c", "z", 26)
        assert state.clear_scope("custom:c") == 3
        assert state.list_keys("custom:c") == []
        state.save_many({"custom:c": {"new": 1}})
    assert state.list_keys("custom:c") == ["new"]


def test_a_transaction_with_only_reads_writes_nothing(state: StateManager) -> None:
    with state.transaction():
        assert state.load("global", "x") is None
    assert state.seq == 0


# -- compare and set -------------------------------------------------------------------------


def test_compare_and_set(state: StateManager) -> None:
    assert state.compare_and_set("global", "n", None, 1) is True
    assert state.compare_and_set("global", "n", None, 5) is False
    assert state.compare_and_set("global", "n", 2, 5) is False
    assert state.compare_and_set("global", "n", 1, {"x": [1]}) is True
    assert state.compare_and_set("global", "n", {"x": [1]}, 3) is True
    assert state.load("global", "n") == 3


def test_compare_and_set_tells_bools_from_numbers(state: StateManager) -> None:
    state.save("global", "flag", 1)
    assert state.compare_and_set("global", "flag", True, 2) is False
    assert state.compare_and_set("global", "flag", 1.0, 2) is True


def test_compare_and_set_inside_a_transaction_fails_the_commit_on_a_race(
        backend: Backend) -> None:
    state = backend.state_manager()
    if backend.name == "rocksdb":
        pytest.skip("one handle per directory: no second writer to race with")
    other = backend.state_manager()
    state.save("global", "n", 1)
    with pytest.raises(StateError, match="compare_and_set"), state.transaction():
        assert state.compare_and_set("global", "n", 1, 2)
        state.save("global", "side", "effect")
        other.save("global", "n", 10)  # another writer gets there first
    assert state.load("global", "n") == 10
    assert not state.exists("global", "side")


def test_a_hook_cancel_inside_a_transaction_aborts_it(memory_state: StateManager) -> None:
    from llmspell.hooks import HookRegistry

    hooks = HookRegistry()
    state = StateManager(memory_state.store, hooks=hooks)
    hooks.register("state:before_write",
                   lambda ctx: {"action": "cancel", "reason": "no"} if ctx.data["key"] == "bad"
                   else None)
    with pytest.raises(HookCancelled), state.transaction():
        state.save("global", "good", 1)
        state.save("global", "bad", 1)
    assert state.list_keys("global") == []


# -- threads and other writers --------------------------------------------------------------


@pytest.mark.parametrize("backend", EMBEDDED, indirect=True)
def test_threads_counting_with_compare_and_set_lose_nothing(backend: Backend) -> None:
    import threading

    state = backend.state_manager()
    errors: list[BaseException] = []

    def count() -> None:
        try:
            for _ in range(50):
                while True:
                    current = state.load("global", "n")
                    if state.compare_and_set("global", "n", current, (current or 0) + 1):
                        break
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=count) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert state.load("global", "n") == 300
    assert state.seq == 300 == len(list(state.store.scan("chg/")))


def test_a_transaction_belongs_to_its_thread(memory_state: StateManager) -> None:
    import threading

    state = memory_state
    with state.transaction():
        state.save("global", "mine", 1)
        other = threading.Thread(target=lambda: state.save("global", "theirs", 1))
        other.start()
        other.join()
        assert state.store.get("state/global/theirs") is not None  # written at once
        assert state.store.get("state/global/mine") is None  # waits for the commit
    assert state.list_keys("global") == ["mine", "theirs"]


def test_invalidate_after_writing_around_the_manager(memory_state: StateManager) -> None:
    state = memory_state
    state.save("global", "a", 1)
    state.store.batch([Put(SEQ_KEY, b"41"),
                       Put("state/global/b", b'{"v":2,"s":1,"c":1.0,"u":1.0,"q":41}')])
    state.invalidate()
    assert state.seq == 41
    assert state.save("global", "b", 3) == 42
    assert state.get_record("global", "b").created_at == 1.0  # type: ignore[union-attr]


def test_records_and_scopes(memory_state: StateManager) -> None:
    state = memory_state
    state.save_many({"agent:a": {"k": 1, "j": 2}, "agent:a0": {"k": 1}, "global": {"g": 1}})
    assert state.scopes() == ["agent:a", "agent:a0", "global"]
    assert [(s, k) for s, k, _ in state.records(["agent:*"])] == [
        ("agent:a", "j"), ("agent:a", "k"), ("agent:a0", "k")]
    assert [(s, k) for s, k, _ in state.records("agent:a0")] == [("agent:a0", "k")]  # one glob
    with pytest.raises(ValueError, match="must be a glob or a list of globs"):
        list(state.records(b"agent:*"))
