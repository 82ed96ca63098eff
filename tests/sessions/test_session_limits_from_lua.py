"""Resource limits from Lua (issue 17, item 6): state writes and artifact stores are operations
of the current session, a memory limit bounds its stored footprint, rate limits apply to Lua
calls, per-session limits come from Session.create and show in Session.get, and the three
compositions decide as documented. Item 7: a deleted session's handle says so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llmspell import Runtime
from llmspell.lua import LuaEngine
from llmspell.sessions.policies import Refusal, Usage


def run(rt: Runtime, code: str) -> Any:
    lua = LuaEngine(rt, script_name="limits.lua")
    try:
        return lua.run_string(code)
    finally:
        lua.close()


@pytest.fixture
def one() -> Iterator[Runtime]:
    with Runtime.memory() as runtime:
        yield runtime


def test_state_writes_and_artifact_stores_are_counted_operations(one: Runtime) -> None:
    out = run(one, """
        local s = Session.create({name = "ops", limits = {operations = 4}})
        Session.setCurrent(s)
        State.save("session:" .. s.id, "a", 1)          -- 1
        State.save("global", "seen", true)               -- 2: any scope, in the session
        State.delete("global", "seen")                   -- 3
        Artifact.store(s.id, "notes.txt", "hello")       -- 4
        local ok, err = pcall(State.save, "session:" .. s.id, "b", 2)
        local ok2, err2 = pcall(Artifact.store, s.id, "more.txt", "x")
        local read = State.load("session:" .. s.id, "a")  -- reads are not operations
        Session.setCurrent(nil)
        State.save("global", "host", 1)                   -- no current session: not counted
        local got = Session.get(s)
        return ok, err, ok2, err2, read, got.counters.operations, got.limits.operations
    """)
    ok, err, ok2, err2, read, operations, limit = out
    assert ok is False and err.startswith("ResourceLimitExceeded: operation 'state.write'")
    assert "operations 4 + 1 = 5 > limit 4" in err
    assert ok2 is False and "operations 4 + 1 = 5 > limit 4" in err2
    assert (read, operations, limit) == (1, 4, 4)
    assert one.state.load("global", "host") == 1


def test_a_memory_limit_bounds_the_stored_footprint(one: Runtime) -> None:
    out = run(one, """
        local s = Session.create({name = "mem", limits = {memory = 400}})
        Session.setCurrent(s)
        State.save("session:" .. s.id, "small", string.rep("x", 100))
        Artifact.store(s.id, "a.txt", string.rep("y", 100))
        local before = Session.footprint(s)
        local ok, err = pcall(State.save, "session:" .. s.id, "big", string.rep("z", 200))
        local ok2, err2 = pcall(Artifact.store, s.id, "b.txt", string.rep("w", 300))
        -- Overwriting a value is measured with the new value in place of the old one.
        State.save("session:" .. s.id, "small", string.rep("x", 120))
        State.save("global", "elsewhere", string.rep("q", 1000))  -- not the session's scope
        Session.setCurrent(nil)
        return before, ok, err, ok2, err2, Session.get(s).limits.memory,
               State.exists("session:" .. s.id, "big")
    """)
    before, ok, err, ok2, err2, limit, exists = out
    assert before["artifact_bytes"] == 100 and before["state_bytes"] > 100
    assert before["total"] == before["state_bytes"] + 100
    assert ok is False and "memory: its stored footprint would be" in err and "> limit 400" in err
    assert ok2 is False and "memory: its stored footprint would be" in err2
    assert limit == 400 and exists is False


def test_rate_limits_apply_to_lua_calls() -> None:
    with Runtime.memory(session__rate_limits=["session=2/min"],
                        session__rate_limit_mode="fail") as rt:
        out = run(rt, """
            local s = Session.create({name = "rated"})
            Session.setCurrent(s)
            local stores = {}
            for i = 1, 4 do
                stores[i] = (pcall(Artifact.store, s.id, "n" .. i .. ".txt", "x"))
            end
            local t = Session.create({name = "rated too"})
            Session.setCurrent(t)
            local saves = {}
            for i = 1, 4 do
                saves[i] = (pcall(State.save, "session:" .. t.id, "k" .. i, i))
            end
            local _, err = pcall(State.save, "global", "late", 1)
            Session.setCurrent(nil)
            return stores, saves, err
        """)
    stores, saves, err = out
    assert stores == [True, True, False, False]
    assert saves == [True, True, False, False]
    assert err.startswith("RateLimitExceeded: ")


@pytest.mark.parametrize(("mode", "refusing", "allowed"), [
    ("sequential", 1, False),   # the first refusal stops the chain
    ("parallel", 1, False),     # every policy runs; any refusal refuses
    ("voting", 1, True),        # 2 allow (the limits and one more) against 1
    ("voting", 2, True),        # a tie allows
    ("voting", 3, False),       # a majority refuses
])
def test_compositions_decide_a_lua_state_write(mode: str, refusing: int, allowed: bool) -> None:
    with Runtime.memory(session__policy_composition=mode) as rt:
        asked: list[str] = []

        def refuse(name: str) -> Any:
            def policy(session: Any, usage: Usage) -> Refusal | None:
                asked.append(name)
                return Refusal(name, f"{name} says no") if usage.kind == "state.write" else None
            return policy

        rt.sessions.policies.add(lambda session, usage: None)  # one more that allows
        for i in range(refusing):
            rt.sessions.policies.add(refuse(f"no{i}"))
        ok, err = run(rt, """
            Session.setCurrent(Session.create({name = "c"}))
            local ok, err = pcall(State.save, "global", "k", 1)
            return ok, tostring(err)
        """)
    assert ok is allowed
    if not allowed:
        assert err.startswith("ResourceLimitExceeded: operation 'state.write'")
    # sequential stops at the first refusal; the others ask every policy (a refusal is
    # checked again on a fresh read of the session, so a policy may be asked twice)
    assert list(dict.fromkeys(asked)) == (
        ["no0"] if mode == "sequential" else [f"no{i}" for i in range(refusing)])


def test_a_deleted_sessions_handle_reports_deleted(one: Runtime) -> None:
    status, same, deleted_again = run(one, """
        local s = Session.create({name = "gone"})
        local h = Session.get(s.id)
        Session.delete(s)
        return h.status, h == s, (pcall(Session.get, s.id))
    """)
    assert status == "deleted" and same is True and deleted_again is False


def test_a_transaction_is_admitted_once_as_it_commits(one: Runtime) -> None:
    s = one.sessions.create("tx", limits={"operations": 3})
    with one.sessions.current(s):
        with one.state.transaction():
            one.state.save("global", "a", 1)
            one.state.save("global", "b", 2)
        assert one.sessions.get(s).counters.operations == 2
        with pytest.raises(ValueError), one.state.transaction():  # fails: nothing counted
            one.state.save("global", "c", 3)
            raise ValueError("the block failed")
        assert one.sessions.get(s).counters.operations == 2
        with pytest.raises(Exception, match=r"operations 2 \+ 2 = 4 > limit 3"):
            one.state.save_many([("global", "c", 3), ("global", "d", 4)])
    assert not one.state.exists("global", "c")  # refused: nothing written
    assert one.sessions.get(s).counters.operations == 2
