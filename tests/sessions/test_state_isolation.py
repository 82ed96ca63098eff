"""Session isolation of state: while session B is current, the ``session:<A>`` scope of another
session A is refused unless A granted B (the artifact grant covers it) (issue 17, item 5)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmspell import Runtime
from llmspell.errors import SecurityViolation
from llmspell.hooks import HookContext
from llmspell.lua import LuaEngine


@pytest.fixture
def one() -> Iterator[Runtime]:
    with Runtime.memory() as runtime:
        yield runtime


def test_another_sessions_scope_needs_a_grant(rt: Runtime) -> None:
    a = rt.sessions.create(name="a").id
    b = rt.sessions.create(name="b").id
    state = rt.state
    state.save(f"session:{a}", "notes", ["host wrote this"])  # the host may do anything
    with rt.sessions.current(b):
        state.save(f"session:{b}", "mine", 1)  # its own scope
        for refused in (lambda: state.load(f"session:{a}", "notes"),
                        lambda: state.exists(f"session:{a}", "notes"),
                        lambda: state.list_keys(f"session:{a}"),
                        lambda: state.get_record(f"session:{a}", "notes"),
                        lambda: state.save(f"session:{a}", "notes", []),
                        lambda: state.delete(f"session:{a}", "notes"),
                        lambda: state.clear_scope(f"session:{a}"),
                        lambda: state.compare_and_set(f"session:{a}", "n", None, 1)):
            with pytest.raises(SecurityViolation) as caught:
                refused()
            assert f"session {b} may not" in str(caught.value)
            assert f"the state scope of session {a}" in str(caught.value)
        with pytest.raises(SecurityViolation), state.transaction() as tx:
            tx.save(f"session:{a}", "notes", [])
    assert state.load(f"session:{a}", "notes") == ["host wrote this"]  # unchanged
    assert state.list_keys(f"session:{b}") == ["mine"]
    rt.artifacts.grant(a, b, "read", as_session=a)
    with rt.sessions.current(b):
        assert state.load(f"session:{a}", "notes") == ["host wrote this"]
        with pytest.raises(SecurityViolation, match="it grants only read"):
            state.save(f"session:{a}", "notes", [])
    rt.artifacts.grant(a, b, "write", as_session=a)
    with rt.sessions.current(b):
        state.save(f"session:{a}", "notes", ["b wrote this"])
    assert state.load(f"session:{a}", "notes") == ["b wrote this"]
    rt.artifacts.revoke(a, b, as_session=a)
    with rt.sessions.current(b), pytest.raises(SecurityViolation):
        state.load(f"session:{a}", "notes")


def test_a_refusal_fires_security_violation(one: Runtime) -> None:
    a = one.sessions.create().id
    b = one.sessions.create().id
    seen: list[dict[str, object]] = []

    def watch(ctx: HookContext) -> None:
        seen.append(dict(ctx.data))

    one.hooks.register("security:violation", watch)
    with one.sessions.current(b), pytest.raises(SecurityViolation):
        one.state.save(f"session:{a}", "k", 1)
    assert seen and seen[0]["owner"] == a and seen[0]["access"] == "write"


def test_isolation_from_lua(one: Runtime) -> None:
    lua = LuaEngine(one, script_name="isolation.lua")
    try:
        out = lua.run_string("""
            local a = Session.create({name = "a"})
            local b = Session.create({name = "b"})
            State.save("session:" .. a.id, "secret", "for a only")
            Session.setCurrent(b)
            local ok, err = pcall(State.load, "session:" .. a.id, "secret")
            local ok_write = pcall(State.save, "session:" .. a.id, "secret", "overwritten")
            State.save("session:" .. b.id, "own", 1)
            Session.setCurrent(a)
            Artifact.grant(a, b, "read")
            Session.setCurrent(b)
            local granted = State.load("session:" .. a.id, "secret")
            local ok_after = pcall(State.save, "session:" .. a.id, "secret", "overwritten")
            Session.setCurrent(nil)
            return ok, err, ok_write, granted, ok_after, State.load("session:" .. a.id, "secret")
        """)
    finally:
        lua.close()
    ok, err, ok_write, granted, ok_after, final = out
    assert ok is False and err.startswith("SecurityViolation: session ")
    assert "may not read the state scope of session" in err
    assert ok_write is False and ok_after is False
    assert granted == "for a only" and final == "for a only"
