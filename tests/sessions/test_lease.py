"""Single-writer sessions: leases with fencing tokens (sessions.lease), on every backend.

Two managers on one store stand for two processes (each has its own holder name and caches);
tests/sessions/test_lease_processes.py does the same with real processes and SIGSTOP.
"""

from __future__ import annotations

import time

import pytest

from backends import Backend
from llmspell.errors import LeaseLost, SessionLeased, SessionNotFound, ValidationError
from llmspell.lua import LuaEngine
from llmspell.sessions import ManualClock, SessionManager, SystemClock
from llmspell.sessions.index import lease_key


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def pair(backend: Backend, clock: ManualClock) -> tuple[SessionManager, SessionManager]:
    """Two managers on one store sharing one clock, as two processes on one machine."""
    return (backend.session_manager(clock=clock, lease_seconds=10),
            backend.session_manager(clock=clock, lease_seconds=10))


def everything(manager: SessionManager) -> dict[str, bytes]:
    return dict(manager.store.scan(""))


def test_a_second_writer_is_refused_naming_the_holder(pair: tuple[SessionManager, ...]) -> None:
    a, b = pair
    s = a.create("job")
    lease = a.acquire(s)
    assert lease.token == 1 and lease.holder == a.leases.holder
    a.suspend(s)  # the holder writes
    before = everything(a)
    with pytest.raises(SessionLeased) as caught:
        b.resume(s.id)
    assert a.leases.holder in str(caught.value) and "token 1" in str(caught.value)
    with pytest.raises(SessionLeased):
        b.acquire(s.id)
    with pytest.raises(SessionLeased):
        b.delete(s.id)
    assert everything(a) == before  # nothing written by the refused calls
    assert a.resume(s).status == "active"


def test_released_lease_lets_another_take_it_with_the_next_token(
        pair: tuple[SessionManager, ...]) -> None:
    a, b = pair
    s = a.create()
    a.acquire(s)
    assert a.release(s) is True
    assert a.release(s) is False
    stored = b.lease(s.id)
    assert stored is not None and stored.holder is None and stored.token == 1
    assert b.acquire(s.id).token == 2
    b.suspend(s.id)
    with pytest.raises(SessionLeased):
        a.resume(s)


def test_an_expired_holder_cannot_write_after_another_took_over(
        pair: tuple[SessionManager, ...], clock: ManualClock) -> None:
    a, b = pair
    s = a.create()
    a.acquire(s)
    a.save(s)  # caches record and lease bytes: the stale write below reads nothing first
    clock.advance(11)
    taken = b.acquire(s.id)
    assert taken.token == 2
    b.suspend(s.id)
    before = everything(a)
    clock.advance(-5)  # even with a clock that says the old lease is still valid...
    with pytest.raises(LeaseLost, match=r"taken over by .*\(token 2\)"):
        a.save(s)
    assert everything(a) == before  # ...the fence in the batch refuses it
    with pytest.raises(SessionLeased):
        a.resume(s)


def test_a_holder_refuses_itself_once_its_lease_expired(
        pair: tuple[SessionManager, ...], clock: ManualClock) -> None:
    a, _ = pair
    s = a.create()
    a.acquire(s, ttl=2)
    clock.advance(3)
    with pytest.raises(LeaseLost, match="expired"):
        a.suspend(s)
    assert a.get(s).status == "active"
    assert a.acquire(s).token == 2  # taking it again gives a new token


def test_renew_extends_and_keeps_the_token(pair: tuple[SessionManager, ...],
                                          clock: ManualClock) -> None:
    a, b = pair
    s = a.create()
    first = a.acquire(s, ttl=5)
    clock.advance(4)
    renewed = a.renew(s, ttl=5)
    assert renewed.token == first.token and renewed.expires_at > first.expires_at
    clock.advance(4)
    with pytest.raises(SessionLeased):
        b.suspend(s.id)
    with pytest.raises(LeaseLost, match="holds no lease"):
        b.renew(s.id)


def test_state_and_artifact_writes_are_fenced(backend: Backend) -> None:
    if not backend.multi_process:
        pytest.skip("two runtimes on one store need a multi-process backend")
    one, two = backend.runtime(), backend.runtime()
    s = one.sessions.create()
    one.sessions.acquire(s)
    one.state.save(f"session:{s.id}", "k", 1)
    with pytest.raises(SessionLeased):
        two.state.save(f"session:{s.id}", "k", 2)
    with pytest.raises(SessionLeased):
        two.artifacts.store(s.id, "note.txt", b"hi")
    assert two.state.load(f"session:{s.id}", "k") == 1
    one.sessions.release(s)
    two.state.save(f"session:{s.id}", "k", 2)
    assert one.state.load(f"session:{s.id}", "k") == 2


def test_delete_by_the_holder_removes_the_lease(pair: tuple[SessionManager, ...]) -> None:
    a, _ = pair
    s = a.create()
    a.acquire(s)
    assert a.delete(s) is True
    assert a.store.get(lease_key(s.id)) is None


def test_bad_arguments(pair: tuple[SessionManager, ...]) -> None:
    a, _ = pair
    s = a.create()
    for bad in (0, -1, "5", True):
        with pytest.raises(ValidationError, match="ttl"):
            a.acquire(s, ttl=bad)
    with pytest.raises(SessionNotFound):
        a.acquire("no-such-session")
    with pytest.raises(ValidationError, match="session"):
        a.acquire({"id": 1})  # type: ignore[arg-type]
    assert a.lease(s) is None


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_lua_session_lease_functions(backend: Backend) -> None:
    engine = LuaEngine(backend.runtime(), script_name="lease.lua")
    result = engine.run_string("""
        local s = Session.create{name = "leased"}
        local lease = Session.acquire(s, {ttl = 30})
        local renewed = s:renew({ttl = 60})
        local ok, err = pcall(Session.acquire, s, {ttl = -1})
        local ok2, err2 = pcall(Session.acquire, s, {tll = 1})
        local stored = Session.lease(s)
        return {lease.token, renewed.token, ok, tostring(err):match("^ValidationError") ~= nil,
                tostring(err2):match("tll") ~= nil, stored.holder == lease.holder,
                Session.release(s), Session.release(s)}
    """)
    engine.close()
    assert result == [1, 1, False, True, True, True, True, False]


def test_a_runtime_that_never_touched_sessions_journals_session_writes_once(
        backend: Backend) -> None:
    if not backend.multi_process:
        pytest.skip("two runtimes on one store need a multi-process backend")
    one = backend.runtime()
    s = one.sessions.create()
    two = backend.runtime()
    two.state.save("global", "plain", 1)  # not a session write: the hot path
    two.state.save(f"session:{s.id}", "k", 1)  # builds two.sessions, journaled once
    two.state.save(f"session:{s.id}", "k", 2)
    kinds = [e.kind for e in one.sessions.journal.read(s.id)]
    assert kinds.count("state.write") == 2


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_a_kept_lease_is_renewed_for_its_own_length(backend: Backend) -> None:
    manager = backend.session_manager(clock=SystemClock(),  # type: ignore[arg-type]
                                      lease_seconds=60)
    s = manager.create()
    first = manager.acquire(s, ttl=0.3, keep=True)
    time.sleep(0.5)  # past the first expiry: renewed every 0.1 s, each time for 0.3 s
    lease = manager.lease(s)
    assert lease is not None and lease.holder == first.holder and lease.token == 1
    assert time.time() < lease.expires_at <= time.time() + 0.31
    assert manager.release(s) is True
