"""retry_batch (the one optimistic-write loop), the Store's unchecked fast path, the paged
scan every backend shares, and the callers that now go through them.

Races are forced, not hoped for: two threads read the same value, meet at a barrier, and only
then write, so one of them must lose and retry. Lost races in the callers' tests come from a
store whose batches are made to fail.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import llmspell.storage.retry as retry
from backends import Backend
from llmspell.config import Config
from llmspell.errors import (
    ArtifactNotFound,
    StorageError,
    ValidationError,
    WriteContention,
)
from llmspell.runtime import Runtime
from llmspell.state.bulk import ATTEMPTS, BulkPlan, RecordChange, write_bulk
from llmspell.storage import Delete, Op, Put, Store, open_store, retry_batch
from llmspell.testing import CountingStore

KEY = "counter"


def increment(store: Store, *, meet: threading.Barrier | None = None,
              lost: list[int] | None = None) -> int:
    """Add one to KEY with retry_batch; ``meet`` holds the first attempt after its read."""

    def build(attempt: int) -> retry.Planned[int]:
        raw = store.get(KEY)
        if meet is not None and attempt == 0:
            meet.wait()
        value = int(raw or b"0") + 1
        return [Put(KEY, b"%d" % value)], {KEY: raw}, value

    return retry_batch(store, build, what="increment the counter",
                       lost=None if lost is None else lambda: lost.append(1))


def writers(backend: Backend, count: int) -> list[Store]:
    """``count`` handles: separate ones where processes may share the store, else one."""
    if backend.multi_process:
        return [backend.open() for _ in range(count)]
    store = backend.open()
    return [store] * count


def run_threads(targets: list[Any]) -> None:
    errors: list[BaseException] = []

    def run(target: Any) -> None:
        try:
            target()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


# -- the loop -------------------------------------------------------------------------------


def test_two_writers_racing_lose_no_update(backend: Backend) -> None:
    first, second = writers(backend, 2)
    meet = threading.Barrier(2, timeout=60)
    lost: list[int] = []
    results: list[int] = []
    run_threads([lambda s=s: results.append(increment(s, meet=meet, lost=lost))
                 for s in (first, second)])
    # Both read 0; one wrote 1, the other lost, read 1 and wrote 2.
    assert sorted(results) == [1, 2]
    assert lost == [1]
    assert first.get(KEY) == b"2"


def test_many_increments_from_threads_all_count(backend: Backend) -> None:
    stores = writers(backend, 2)
    per_thread, threads = 25, 4

    def work(store: Store) -> None:
        for _ in range(per_thread):
            increment(store)

    run_threads([lambda s=stores[i % 2]: work(s) for i in range(threads)])
    assert stores[0].get(KEY) == str(per_thread * threads).encode()


def test_exhausted_attempts_raise_write_contention_and_write_nothing() -> None:
    store = open_store("memory://")
    calls: list[int] = []
    lost: list[int] = []

    def build(attempt: int) -> retry.Planned[None]:
        calls.append(attempt)
        return [Put("written", b"x")], {"guard": b"never there"}, None

    with pytest.raises(WriteContention) as caught:
        retry_batch(store, build, what="write the thing", attempts=3,
                    lost=lambda: lost.append(1))
    assert caught.value.what == "write the thing"
    assert caught.value.attempts == 3
    assert str(caught.value) == ("could not write the thing: 3 attempts lost to other "
                                 "writers; nothing was written")
    assert isinstance(caught.value, StorageError)
    assert calls == [0, 1, 2]
    assert lost == [1, 1, 1]
    assert store.get("written") is None


def test_the_limit_is_max_attempts_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "MAX_ATTEMPTS", 2)
    store = open_store("memory://")
    with pytest.raises(WriteContention, match="2 attempts"):
        retry_batch(store, lambda _: ([Put("k", b"v")], {"k": b"other"}, None), what="w")


def test_a_writer_that_keeps_losing_backs_off(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(retry.time, "sleep", slept.append)
    store = open_store("memory://")
    with pytest.raises(WriteContention):
        retry_batch(store, lambda _: ([Put("k", b"v")], {"k": b"other"}, None), what="w",
                    attempts=retry.BACKOFF_AFTER + 4)
    # Back to back for the first BACKOFF_AFTER attempts, then growing waits; none after the
    # last attempt (there is nothing left to wait for).
    step = retry.BACKOFF_STEP
    assert slept == pytest.approx([step * 8, step * 9, step * 10])


def test_nothing_to_write_returns_without_touching_the_store() -> None:
    store = CountingStore()
    store.fail_batches = True  # any batch would raise
    assert retry_batch(store, lambda _: ([], {}, "unchanged"), what="w") == "unchanged"
    assert retry_batch(store, lambda _: ([], {}, "x"), what="w", checked=False) == "x"


def test_conditions_alone_are_still_checked() -> None:
    store = open_store("memory://")
    store.put("k", b"v")
    assert retry_batch(store, lambda _: ([], {"k": b"v"}, "held"), what="w") == "held"
    with pytest.raises(WriteContention):
        retry_batch(store, lambda _: ([], {"k": b"w"}, None), what="w", attempts=2)


def test_an_error_from_build_ends_the_loop_and_writes_nothing() -> None:
    store = open_store("memory://")
    calls: list[int] = []

    def build(attempt: int) -> retry.Planned[None]:
        calls.append(attempt)
        if attempt == 1:
            raise ArtifactNotFound("gone meanwhile")
        return [Put("k", b"v")], {"guard": b"never there"}, None

    with pytest.raises(ArtifactNotFound):
        retry_batch(store, build, what="w")
    assert calls == [0, 1]
    assert store.get("k") is None


def test_checked_batches_refuse_bad_ops_by_index() -> None:
    store = open_store("memory://")
    with pytest.raises(ValidationError) as caught:
        retry_batch(store, lambda _: ([Put("ok", b"v"), Put("", b"v")], {}, None), what="w")
    assert caught.value.argument == "ops[1].key"
    assert store.get("ok") is None


def test_unchecked_batches_go_through_the_fast_path() -> None:
    store = CountingStore()
    seen: list[tuple[list[Op], dict[str, bytes | None]]] = []
    fast = store.batch_unchecked

    def record(ops: list[Op], expect: dict[str, bytes | None]) -> bool:
        seen.append((ops, expect))
        return fast(ops, expect)

    store.batch_unchecked = record  # type: ignore[method-assign]
    assert retry_batch(store, lambda _: ([Put("k", b"v")], {"k": None}, 7), what="w",
                       checked=False) == 7
    assert seen == [([Put("k", b"v")], {"k": None})]
    assert store.get("k") == b"v"


# -- the fast path and the shared scan, on every backend --------------------------------------


def test_unchecked_fast_path_matches_the_checked_calls(store: Store) -> None:
    assert store.get_unchecked("k") is None
    assert store.batch_unchecked([Put("k", b"1"), Put("j", b"2")], {"k": None})
    assert store.get_unchecked("k") == store.get("k") == b"1"
    assert not store.batch_unchecked([Delete("k")], {"k": b"other"})
    assert store.get("k") == b"1"
    assert store.batch_unchecked([], {"k": b"1"})
    assert not store.batch_unchecked([], {"k": None})
    assert store.batch_unchecked([], {})
    assert store.batch_unchecked([Delete("k")], {"k": b"1", "j": b"2"})
    assert store.get("k") is None


def test_the_fast_path_of_a_closed_store_raises(store: Store) -> None:
    store.close()
    with pytest.raises(StorageError, match=r"^store is closed$"):
        store.get_unchecked("k")
    with pytest.raises(StorageError, match=r"^store is closed$"):
        store.batch_unchecked([Put("k", b"v")], {})


def test_a_scan_of_a_closed_store_fails_at_the_call(store: Store) -> None:
    store.close()
    with pytest.raises(StorageError, match=r"^store is closed$"):
        store.scan()  # not only once a pair is asked for


def test_a_store_that_serves_no_pages_says_so() -> None:
    class NoPages(Store):
        def _get(self, key: str) -> bytes | None:
            return None

        def _put(self, key: str, value: bytes) -> None:
            pass

        def _delete(self, key: str) -> bool:
            return False

        def _batch(self, ops: list[Op], expect: dict[str, bytes | None]) -> bool:
            return True

        def _close(self) -> None:
            pass

    with pytest.raises(NotImplementedError, match="NoPages implements neither _fetch nor "
                                                  "_scan"):
        list(NoPages().scan())


# -- the callers: every optimistic write now ends the same way ---------------------------------


class LosingStore(CountingStore):
    """A memory store whose batches lose their race while ``losing`` is set; past ``cap``
    lost batches it raises, so a loop without a limit fails instead of spinning forever."""

    def __init__(self, cap: int = 200) -> None:
        super().__init__()
        self.losing = False
        self.lost = 0
        self.cap = cap

    def _batch(self, ops: list[Op], expect: dict[str, bytes | None]) -> bool:
        if not self.losing:
            return super()._batch(ops, expect)
        self.lost += 1
        if self.lost > self.cap:
            raise RuntimeError("a write kept retrying past any limit")
        return False


@pytest.fixture
def losing(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime, LosingStore]]:
    monkeypatch.setattr(retry, "MAX_ATTEMPTS", 3)
    store = LosingStore()
    with Runtime(Config.defaults(), store=store) as rt:
        yield rt, store


def test_a_state_write_that_keeps_losing_raises_write_contention(
        losing: tuple[Runtime, LosingStore]) -> None:
    rt, store = losing
    rt.state.save("global", "a", 1)
    store.losing = True
    with pytest.raises(WriteContention) as caught:  # was a StateError after 10000 attempts
        rt.state.save("global", "a", 2)
    assert caught.value.what == "commit a state change"
    assert store.lost == 3
    with pytest.raises(WriteContention):  # the general commit (a delete) ends the same way
        rt.state.delete("global", "a")
    store.losing = False
    assert rt.state.load("global", "a") == 1


def test_session_writes_that_keep_losing_raise_write_contention(
        losing: tuple[Runtime, LosingStore]) -> None:
    rt, store = losing
    session = rt.sessions.create(name="s")
    store.losing = True
    with pytest.raises(WriteContention, match=f"could not write session {session.id}: 3 "):
        rt.sessions.suspend(session)
    with pytest.raises(WriteContention, match="could not create session "):
        rt.sessions.create(name="t")
    with pytest.raises(WriteContention, match=f"could not delete session {session.id}: "):
        rt.sessions.delete(session)
    with pytest.raises(WriteContention, match="could not append to the journal of session "):
        rt.sessions.journal.append(session.id, "note")
    store.losing = False
    assert rt.sessions.get(session).status == "active"


def test_session_writes_back_off_while_losing(monkeypatch: pytest.MonkeyPatch,
                                              losing: tuple[Runtime, LosingStore]) -> None:
    rt, store = losing
    monkeypatch.setattr(retry, "MAX_ATTEMPTS", retry.BACKOFF_AFTER + 2)
    slept: list[float] = []
    monkeypatch.setattr(retry.time, "sleep", slept.append)
    session = rt.sessions.create(name="s")
    store.losing = True
    with pytest.raises(WriteContention):
        rt.sessions.suspend(session)  # used to spin through its attempts without a pause
    assert slept == pytest.approx([retry.BACKOFF_STEP * retry.BACKOFF_AFTER])


def test_artifact_writes_that_keep_losing_raise_write_contention(
        losing: tuple[Runtime, LosingStore]) -> None:
    rt, store = losing
    owner, other = rt.sessions.create(name="o"), rt.sessions.create(name="g")
    artifact = rt.artifacts.store(owner, "a.txt", b"content")
    store.losing = True
    with pytest.raises(WriteContention, match=r"could not store artifact 'b.txt' in session "):
        rt.artifacts.store(owner, "b.txt", b"more")
    with pytest.raises(WriteContention, match=f"could not delete artifact {artifact.id}: "):
        rt.artifacts.delete(artifact)
    with pytest.raises(WriteContention, match="could not change the grant of session "):
        rt.artifacts.grant(owner, other)
    assert rt.artifacts.revoke(owner, other) is False  # nothing to revoke: nothing written


def test_deleting_a_sessions_artifacts_gives_up_instead_of_spinning(
        losing: tuple[Runtime, LosingStore]) -> None:
    rt, store = losing
    owner = rt.sessions.create(name="o")
    rt.artifacts.store(owner, "a.txt", b"content")
    store.losing = True
    # It used to retry a lost page forever (here: until LosingStore's cap raised).
    with pytest.raises(WriteContention, match="could not delete the artifacts of session "):
        rt.artifacts.delete_session(owner.id)
    assert store.lost == 3


def test_a_bulk_write_tries_its_own_number_of_times(
        losing: tuple[Runtime, LosingStore]) -> None:
    rt, store = losing
    rt.state.save("global", "a", 1)
    plans: list[int] = []

    def build(current: int) -> BulkPlan:
        plans.append(current)
        return BulkPlan([([RecordChange("global", "b", "state/global/b", None)], [])])

    # A delete of an absent key still takes a change number: the plan has a batch to write.
    store.losing = True
    with pytest.raises(WriteContention, match=f"could not apply a bulk write: {ATTEMPTS} "):
        write_bulk(rt.state, build)
    assert len(plans) == ATTEMPTS
