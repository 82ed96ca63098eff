"""Lua's shapes (one empty table, handles) are normalised in lua/globals, never in the core.

From Lua: a session handle inside an options table counts as its id, and an empty table counts
as an empty list where a list is expected. From Python: the core takes Python shapes only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.artifacts.query import check_filters
from llmspell.errors import ValidationError
from llmspell.lua import LuaEngine
from llmspell.runtime import Runtime
from llmspell.state.migration.plan import MigrationPlan
from llmspell.state.selection import check_globs


def test_a_session_handle_is_accepted_as_parent_session_id_and_parent() -> None:
    with Runtime.memory() as rt, LuaEngine(rt) as engine:
        parent_id, child_parent, listed = engine.run_string("""
            local p = Session.create{name = 'parent'}
            local c = Session.create{name = 'child', parent_session_id = p}
            local alias = Session.create{name = 'other', parent = p}
            local found = Session.list{parent = p}
            return p.id, c.parent_session_id, #found""")
    assert child_parent == parent_id
    assert listed == 2


def test_a_session_handle_is_accepted_as_an_events_session_id() -> None:
    with Runtime.memory() as rt, LuaEngine(rt) as engine:
        sid, got = engine.run_string("""
            local s = Session.create{name = 'x'}
            local sub = Event.subscribe('job.*')
            Event.publish('job.done', {n = 1}, {session_id = s})
            return s.id, Event.receive(sub).session_id""")
    assert got == sid


def test_a_session_handle_is_accepted_as_a_query_session() -> None:
    with Runtime.memory() as rt, LuaEngine(rt) as engine:
        assert engine.run_string("""
            local s = Session.create{name = 'x'}
            Artifact.store(s, 'a.txt', 'hello')
            return #Artifact.query{session = s}""") == 1


def test_empty_tables_where_lists_are_expected(tmp_path: Path) -> None:
    # backups under tmp_path: the default backup_dir is under the current directory
    with Runtime.memory(state__backup_dir=str(tmp_path)) as rt, LuaEngine(rt) as engine:
        stored, listed, applied, backup = engine.run_string("""
            local s = Session.create{name = 'x', tags = {}}
            local id = Artifact.store(s, 'a.txt', 'hello', {tags = {}})
            local listed = #Artifact.list(s, {tags = {}})
            local report = State.migrate{from_version = 1, to_version = 2,
                                         transformations = {}}
            local backup = State.backup{include_patterns = {'agent:*'}, exclude_patterns = {}}
            return id ~= nil, listed, report.to_version, backup ~= nil""")
    assert (stored, listed, applied, backup) == (True, 1, 2, True)


def test_a_plan_with_lua_functions_has_the_same_id_in_every_script() -> None:
    plan = """return State.register_migration{from_version = 1, to_version = 2,
        transformations = {{field = 'a', transform = 'custom', fn = function(v) return v end}},
        validate_after = {check = function(v) return true end}}"""
    ids = []
    for _ in range(2):
        with Runtime.memory() as rt, LuaEngine(rt) as engine:
            ids.append(engine.run_string(plan))
    assert ids[0] == ids[1]


# -- the core takes Python shapes only ----------------------------------------------------


def test_the_core_refuses_a_dict_where_it_wants_a_list() -> None:
    with pytest.raises(ValidationError, match="argument 'tags'"):
        check_filters(tags={})
    with pytest.raises(ValidationError, match="argument 'transformations'"):
        MigrationPlan.from_spec({"from_version": 1, "to_version": 2, "transformations": {}})
    with pytest.raises(ValidationError, match="argument 'include'"):
        check_globs({}, "include")
    with Runtime.memory() as rt:
        session = rt.sessions.create("x")
        with pytest.raises(ValidationError, match=r"argument 'metadata\.tags'"):
            rt.artifacts.store(session, "a.txt", b"x", metadata={"tags": {}})


def test_the_core_refuses_a_dict_as_an_artifact_or_a_session() -> None:
    with Runtime.memory() as rt:
        session = rt.sessions.create("x")
        artifact = rt.artifacts.store(session, "a.txt", b"x")
        with pytest.raises(ValidationError, match="argument 'ref'"):
            rt.artifacts.get({"id": artifact.id})
        with pytest.raises(ValidationError, match="argument 'owner'"):
            rt.artifacts.grants({"id": session.id})
