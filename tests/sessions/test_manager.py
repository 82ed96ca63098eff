"""SessionManager: create, get, save/load, delete, the current session, max_active_sessions,
atomic writes and concurrent movers, on every backend where storage matters."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from backends import Backend
from llmspell.errors import (
    HookCancelled,
    InvalidTransition,
    ResourceLimitExceeded,
    SessionError,
    SessionNotFound,
    StorageError,
    ValidationError,
)
from llmspell.hooks import HookRegistry, HookResult
from llmspell.sessions import ManualClock, SessionManager, SessionSettings
from llmspell.sessions.index import TOMBSTONE_PREFIX
from llmspell.state import StateManager
from llmspell.storage import open_store
from llmspell.testing import CountingStore


def test_create_get_and_every_field_survive_a_new_manager(backend: Backend) -> None:
    clock = ManualClock(1_700_000_000.0)
    manager = backend.session_manager(clock=clock)
    parent = manager.create("parent")
    made = manager.create("research", description="Q3 market", tags=["research", "q3"],
                          metadata={"owner": "ana", "depth": 2}, parent_session_id=parent.id,
                          max_duration=3600, max_idle_time=120,
                          limits={"tokens": 1000, "max_cost": 2.5})
    again = backend.session_manager(clock=clock).get(made.id)
    assert again == made
    assert (again.status, again.name, again.tags, again.metadata) == (
        "active", "research", ["research", "q3"], {"owner": "ana", "depth": 2})
    assert (again.max_duration, again.max_idle_time) == (3600.0, 120.0)
    assert (again.limits.tokens, again.limits.cost) == (1000, 2.5)
    assert again.parent_session_id == parent.id
    assert again.created_at == again.started_at == 1_700_000_000.0
    shown = again.to_dict()
    assert shown["created_at"] == "2023-11-14T22:13:20Z"
    assert shown["counters"] == {"operations": 0, "artifacts": 0, "tokens": 0, "cost": 0.0,
                                 "artifact_bytes": 0}


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"name": 3}, "name"),
    ({"tags": "solo"}, "tags"),
    ({"tags": ["ok", ""]}, "tags"),
    ({"tags": ["bad\nline"]}, "tags"),
    ({"metadata": ["x"]}, "metadata"),
    ({"metadata": {"b": b"raw"}}, "metadata"),
    ({"max_duration": -1}, "max_duration"),
    ({"max_idle_time": "soon"}, "max_idle_time"),
    ({"max_idle_time": True}, "max_idle_time"),
    ({"max_duration": float("nan")}, "max_duration"),
    ({"max_duration": float("inf")}, "max_duration"),
    ({"save": 1}, "save"),
    ({"limits": {"speed": 3}}, "limits"),
    ({"limits": {"tokens": 1.5}}, "limits"),
    ({"parent_session_id": "no/such"}, "parent_session_id"),
])
def test_bad_create_arguments_are_named(mem: SessionManager, kwargs: dict, argument: str) -> None:
    with pytest.raises(ValidationError) as caught:
        mem.create(**kwargs)
    assert caught.value.argument == argument


def test_unknown_ids_say_so(mem: SessionManager) -> None:
    with pytest.raises(SessionNotFound, match="no session has id 'nope'"):
        mem.get("nope")
    with pytest.raises(SessionNotFound, match="parent_session_id 'nope' names no session"):
        mem.create("x", parent_session_id="nope")
    for operation in ("suspend", "resume", "complete", "archive", "save", "load", "delete"):
        with pytest.raises(SessionNotFound):
            getattr(mem, operation)("nope")
    with pytest.raises(ValidationError, match="argument 'session'"):
        mem.get("a b")


def test_defaults_come_from_settings(clock: ManualClock) -> None:
    manager = SessionManager(open_store("memory://"), clock=clock, settings=SessionSettings(
        idle_timeout_seconds=60, max_duration_seconds=600))
    made = manager.create("x")
    assert (made.max_idle_time, made.max_duration) == (60.0, 600.0)
    assert manager.create("y", max_idle_time=0, max_duration=0).max_idle_time is None


def test_save_and_load_are_journaled_checkpoints(backend: Backend) -> None:
    manager = backend.session_manager()
    made = manager.create("x")
    manager.save(made)
    loaded = backend.session_manager().load(made.id)  # a new process: read fresh from the store
    assert loaded.id == made.id and loaded.status == "active"
    kinds = [e.kind for e in manager.journal.read(made.id)]
    assert kinds == ["session.created", "session.saved", "session.loaded"]


def test_hooks_fire_before_and_a_cancel_writes_nothing(mem: SessionManager) -> None:
    hooks = HookRegistry()
    mem.hooks = hooks
    hooks.register("session:start", lambda ctx: HookResult.cancel("no new sessions today"))
    with pytest.raises(HookCancelled, match="no new sessions today"):
        mem.create("x")
    assert mem.list() == [] and list(mem.store.keys("journal/")) == []
    hooks = HookRegistry()
    mem.hooks = hooks
    made = mem.create("x")
    hooks.register("session:suspend", lambda ctx: HookResult.cancel("busy"))
    with pytest.raises(HookCancelled):
        mem.suspend(made)
    assert mem.get(made).status == "active"
    assert [e.kind for e in mem.journal.read(made.id)] == ["session.created"]
    seen: list[dict] = []
    hooks.register("session:save", lambda ctx: seen.append(ctx.data))
    hooks.register("session:restore", lambda ctx: seen.append(ctx.data))
    mem.save(made)
    mem.load(made)
    assert [d["operation"] for d in seen] == ["saved", "loaded"]
    assert seen[0]["session"]["id"] == made.id


def test_a_failing_batch_leaves_neither_the_change_nor_its_entry() -> None:
    store = CountingStore(open_store("memory://"))
    manager = SessionManager(store)
    made = manager.create("x")
    store.fail_batches = True
    with pytest.raises(StorageError, match="disk is full"):
        manager.suspend(made)
    with pytest.raises(StorageError):
        manager.create("y")
    store.fail_batches = False
    assert manager.get(made).status == "active"
    assert [e.kind for e in manager.journal.read(made.id)] == ["session.created"]
    assert [s.name for s in manager.list()] == ["x"]
    assert manager.suspend(made).status == "suspended"  # and the manager recovers


def test_delete_removes_everything_of_the_session(backend: Backend) -> None:
    manager = backend.session_manager()
    state = StateManager(manager.store)
    manager.clear_state = state.clear_scope
    gone: list[str] = []
    manager.on_delete(gone.append)
    keep = manager.create("keep", tags=["t"])
    made = manager.create("drop", tags=["t"], parent_session_id=keep.id)
    state.save(f"session:{made.id}", "notes", "hello")
    state.save(f"session:{keep.id}", "notes", "stay")
    manager.set_current(made)
    assert manager.delete(made.id) is True
    assert gone == [made.id]
    assert manager.current_id() is None
    assert not manager.exists(made.id)
    assert state.list_keys(f"session:{made.id}") == []
    assert state.load(f"session:{keep.id}", "notes") == "stay"
    assert manager.journal.read(made.id) == []
    assert [s.name for s in manager.list(tags=["t"])] == ["keep"]
    assert manager.list(parent=keep.id) == []
    assert list(manager.store.keys(TOMBSTONE_PREFIX)) == []
    assert manager.active.count() == 1
    with pytest.raises(SessionNotFound):
        manager.delete(made.id)


def test_an_interrupted_delete_is_finished_by_sweep(mem: SessionManager) -> None:
    made = mem.create("x")

    def crash(session_id: str) -> None:
        raise KeyboardInterrupt  # the process dies between the record and the rest

    mem.clear_state = crash
    with pytest.raises(KeyboardInterrupt):
        mem.delete(made)
    assert not mem.exists(made.id)
    assert mem.journal.count(made.id) == 1
    mem.clear_state = None
    mem.sweep()
    assert mem.journal.count(made.id) == 0
    assert list(mem.store.keys(TOMBSTONE_PREFIX)) == []


def test_current_session_is_per_thread_and_per_task(mem: SessionManager) -> None:
    a, b = mem.create("a"), mem.create("b")
    assert mem.get_current() is None
    assert mem.set_current(a.id) == a
    assert mem.get_current() == a
    seen: dict[str, str | None] = {}

    def other_thread() -> None:
        seen["start"] = mem.current_id()
        mem.set_current(b)
        seen["set"] = mem.current_id()

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert seen == {"start": None, "set": b.id}
    assert mem.current_id() == a.id  # untouched by the other thread

    async def task(session_id: str) -> str | None:
        mem.set_current(session_id)
        await asyncio.sleep(0)
        return mem.current_id()

    async def main() -> list[str | None]:
        return list(await asyncio.gather(task(a.id), task(b.id)))

    assert asyncio.run(main()) == [a.id, b.id]
    with mem.current(b) as current:
        assert current == b and mem.current_id() == b.id
    assert mem.current_id() == a.id
    mem.set_current(None)
    assert mem.get_current() is None


def test_current_trusts_what_this_manager_last_saw_and_a_write_finds_out(
        tmp_path: Path) -> None:
    """``current()`` reads no store for a session this manager wrote or read (its cached
    record); one deleted by another process since is found out by the first write in it."""
    url = f"sqlite:///{tmp_path}/s.db"
    mine, other = SessionManager(open_store(url)), SessionManager(open_store(url))
    session = mine.create("gone")
    with pytest.raises(SessionNotFound), other.current("no-such-session"):
        pass  # a session it has not seen: read, and refused
    other.delete(session)
    with mine.current(session) as found:
        assert found is not None and found.id == session.id
        with pytest.raises(SessionNotFound):
            mine.save(session)
    with pytest.raises(SessionNotFound), mine.current(session):
        pass  # no longer cached: read, and refused
    mine.store.close()
    other.store.close()


def test_max_active_sessions_is_enforced(backend: Backend) -> None:
    manager = backend.session_manager(max_active_sessions=2)
    hooks = HookRegistry()
    exceeded: list[dict] = []
    hooks.register("resource:limit_exceeded", lambda ctx: exceeded.append(ctx.data))
    manager.hooks = hooks
    a = manager.create("a")
    manager.create("b")
    with pytest.raises(ResourceLimitExceeded) as caught:
        manager.create("c")
    assert "cannot create session 'c': 2 sessions are active" in str(caught.value)
    assert "max_active_sessions limit is 2" in str(caught.value)
    assert exceeded == [{"limit": "max_active_sessions", "active": 2, "max": 2}]
    manager.suspend(a)
    other = backend.session_manager(max_active_sessions=2)  # another process sees the same count
    c = other.create("c")
    with pytest.raises(ResourceLimitExceeded, match="cannot resume session"):
        manager.resume(a)
    other.complete(c)
    assert manager.resume(a).status == "active"
    assert manager.active.count() == 2


def test_concurrent_creates_never_pass_the_limit() -> None:
    store = open_store("memory://")
    manager = SessionManager(store, settings=SessionSettings(max_active_sessions=10))
    made: list[str] = []
    refused: list[BaseException] = []

    def creator() -> None:
        for _ in range(10):
            try:
                made.append(manager.create("x").id)
            except ResourceLimitExceeded as exc:
                refused.append(exc)

    threads = [threading.Thread(target=creator) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 10 and len(refused) == 30
    assert manager.active.count() == 10 == len(manager.list(status="active"))


def test_two_movers_of_one_session_one_wins(backend: Backend) -> None:
    first, second = backend.session_manager(), backend.session_manager()
    made = first.create("x")
    first.get(made.id)
    second.complete(made.id)  # another process moved it; first's cached view is stale
    with pytest.raises(InvalidTransition, match="it is completed"):
        first.suspend(made.id)
    assert [e.kind for e in first.journal.read(made.id)] == ["session.created",
                                                            "session.completed"]


def test_disabled_sessions_refuse_with_the_setting_named() -> None:
    manager = SessionManager(open_store("memory://"), settings=SessionSettings(enabled=False))
    with pytest.raises(SessionError, match=r"\[session\] enabled = false"):
        manager.create("x")


def test_get_returns_a_fresh_copy_and_sees_changes_made_by_another_manager(
        backend: Backend) -> None:
    manager = backend.session_manager()
    other = backend.session_manager()  # another process, or another handle on the same store
    made = manager.create("x", tags=["a"], metadata={"deep": {"list": [1]}})
    first = manager.get(made.id)
    first.tags.append("mutated")
    first.metadata["deep"]["list"].append(2)
    first.counters.tokens = 99
    again = manager.get(made.id)
    assert (again.tags, again.metadata, again.counters.tokens) == (
        ["a"], {"deep": {"list": [1]}}, 0)
    assert again is not manager.get(made.id)
    other.suspend(made.id)
    assert manager.get(made.id).status == "suspended"
    other.delete(made.id)
    with pytest.raises(SessionNotFound):
        manager.get(made.id)


def test_save_journals_a_checkpoint_and_rewrites_the_record_only_for_idle_timeouts(
        backend: Backend) -> None:
    clock = ManualClock(1_700_000_000.0)
    manager = backend.session_manager(clock=clock)
    plain = manager.create("plain")
    before = manager.store.get(f"session/{plain.id}")
    clock.advance(10)
    saved = manager.save(plain)
    assert manager.store.get(f"session/{plain.id}") == before  # the record is the session
    assert saved == backend.session_manager(clock=clock).get(plain.id)
    assert [e.kind for e in manager.journal.read(plain.id)] == ["session.created",
                                                                "session.saved"]
    idle = manager.create("idle", max_idle_time=60)
    clock.advance(50)
    manager.save(idle)
    clock.advance(50)  # 100 s since create, 50 s since the save: still active everywhere
    assert backend.session_manager(clock=clock).get(idle.id).status == "active"
    assert backend.session_manager(clock=clock).get(idle.id).last_activity_at == 1_700_000_060.0


def test_session_ids_and_a_create_s_correlation_id(mem: SessionManager) -> None:
    import re

    import orjson

    from llmspell.ids import correlation_id
    from llmspell.sessions.model import GENERATED_ID, new_id

    made = {new_id() for _ in range(200)}
    assert len(made) == 200
    for sid in made:
        assert GENERATED_ID.fullmatch(sid) and sid[14] == "7" and sid[19] in "89ab"
    cids = {correlation_id() for _ in range(200)}
    assert len(cids) == 200 and all(re.fullmatch(r"[0-9a-f]{32}", c) for c in cids)
    session = mem.create("x", tags=["a"], max_duration=5)
    entry = mem.journal.read(session.id)[0]
    assert re.fullmatch(r"[0-9a-f]{32}", entry.correlation_id)
    # the record's bytes are to_record's JSON
    assert mem.store.get(f"session/{session.id}") == orjson.dumps(session.to_record())


def test_the_cache_of_written_records_keeps_compact_copies(mem: SessionManager) -> None:
    """orjson's results hold a 4 KB block each: the manager caches copies of the record and
    the journal entry it wrote, not those (14.5 KB retained per create before, 3.2 KB now)."""
    import tracemalloc

    mem.create("warm")
    tracemalloc.start()
    try:
        made = [mem.create("s", tags=["a", "b"], max_duration=60).id for _ in range(200)]
        retained = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert retained / len(made) < 8000
    raw, (seq, entry) = mem.cached(made[-1])  # type: ignore[misc]
    assert raw == mem.store.get(f"session/{made[-1]}") and seq == 1
    assert entry == mem.journal.position(made[-1])[1]
