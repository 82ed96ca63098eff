"""The Lua ``Session`` global: the seed's snippets unmodified (examples/sessions.lua), handles
(fields, tostring, concatenation, interning, methods), every function, errors under pcall."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell.errors import ScriptError
from llmspell.lua.engine import LuaEngine
from llmspell.runtime import Runtime

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sessions.lua"


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    with Runtime.memory() as rt:
        yield rt


@pytest.fixture
def lua(runtime: Runtime) -> Iterator[Any]:
    engine = LuaEngine(runtime, script_name="test.lua")
    yield engine.run_string
    engine.close()


def test_the_seed_example_runs_unmodified(runtime: Runtime,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    engine = LuaEngine(runtime, script_name="sessions.lua")
    try:
        session_id = engine.run_file(EXAMPLE)
    finally:
        engine.close()
    out = capsys.readouterr().out
    assert f"session:\t{session_id}\tresearch_session\tactive" in out
    assert "restored is the same handle:\ttrue\tcurrent too:\ttrue" in out
    assert "tags:\tresearch,analysis" in out
    assert "archive refused:\ttrue\tInvalidTransition: cannot archive session" in out
    assert "it is active" in out
    for seq, kind in enumerate(["created", "suspended", "resumed", "saved", "loaded"], 1):
        assert f"{seq}\tsession.{kind}" in out
    assert "status:\tcompleted" in out
    session = runtime.sessions.get(session_id)
    assert session.max_duration == 3600 and session.tags == ["research", "analysis"]


def test_handles(lua: Any) -> None:
    assert lua("""
        local s = Session.create{name = "h", tags = {"a"}, metadata = {owner = "ana"}}
        local same = Session.get(s.id)
        return tostring(s) == s.id, s .. "!" == s.id .. "!", "<" .. s == "<" .. s.id,
               same == s, rawequal(same, s), s.parent_session_id == nil, s.metadata.owner,
               s.counters.operations, type(s.created_at)
    """) == (True, True, True, True, True, True, "ana", 0, "string")


def test_a_handle_is_refreshed_by_every_call(lua: Any) -> None:
    assert lua("""
        local s = Session.create{name = "r"}
        Session.suspend(s.id)
        local status1 = s.status
        s:resume()
        s:fail("broken pipe")
        return status1, s.status, s.reason, Session.archive(s).status
    """) == ("suspended", "failed", "broken pipe", "archived")


def test_every_function(lua: Any, runtime: Runtime) -> None:
    result = lua("""
        local parent = Session.create{name = "parent", tags = {"p"}}
        local child = Session.create{name = "child", parent_session_id = parent.id,
                                     max_idle_time = 60, limits = {tokens = 100}}
        Session.save(child)
        local loaded = Session.load(child.id)
        local listed = Session.list{parent = parent.id}
        local tagged = Session.list{tag = "p", status = "active", limit = 5}
        local none = Session.list{status = "archived"}
        Session.setCurrent(child)
        local current = Session.getCurrent()
        local timeline = Session.timeline(child, {kind = "session", reverse = true, limit = 2})
        Session.complete(parent)
        local deleted = Session.delete(parent)
        local ok = pcall(Session.get, parent.id)
        Session.setCurrent(nil)
        return loaded == child, #listed, listed[1] == child, #tagged, tagged[1] == parent,
               #none, current == child, timeline[1].kind, timeline[2].kind, timeline[1].seq,
               deleted, ok, Session.getCurrent() == nil, child.limits.tokens
    """)
    assert result == (True, 1, True, 1, True, 0, True, "session.loaded", "session.saved", 3,
                      True, False, True, 100)


def test_state_writes_show_in_the_timeline(lua: Any) -> None:
    assert lua("""
        local s = Session.create{name = "t"}
        State.save("session:" .. s.id, "notes", {text = "draft"})
        Session.setCurrent(s)
        State.save("global", "runs", 1)
        Session.setCurrent(nil)
        State.save("global", "runs", 2)
        local writes = Session.timeline(s, {kind = "state"})
        return #writes, writes[1].data.scope, writes[2].data.key, writes[2].seq
    """)[:3] == (2, "session:" + lua("return Session.list()[1].id"), "runs")


@pytest.mark.parametrize(("code", "message"), [
    ('Session.create{nmae = "x"}', "ValidationError: argument 'options' at .nmae: unknown field"),
    ("Session.create{tags = 'solo'}", "ValidationError: argument 'tags': must be a list"),
    ("Session.create{max_duration = -5}", "ValidationError: argument 'max_duration'"),
    ('Session.get("no-such-id")', "SessionNotFound: no session has id 'no-such-id'"),
    ("Session.get(42)", "ValidationError: argument 'session'"),
    ('Session.resume(Session.create{name = "x"})',
     "InvalidTransition: cannot resume session"),
    ('Session.list{status = "sleeping"}', "ValidationError: argument 'status'"),
    ('Session.timeline(Session.create{name = "x"}, {limit = -1})',
     "ValidationError: argument 'limit'"),
])
def test_errors_are_catchable_with_their_class(lua: Any, code: str, message: str) -> None:
    ok, err = lua(f"return pcall(function() return {code} end)")
    assert ok is False
    assert err.startswith(message), err


def test_an_uncaught_error_names_the_script_line(lua: Any) -> None:
    with pytest.raises(ScriptError, match=r"test.lua:2: InvalidTransition"):
        lua('local s = Session.create{name = "x"}\nSession.archive(s)\n', "test.lua")
