"""Session handles where rs-llmspell scripts hold an id string: as ``parent_session_id``, in
every function taking a session, with string methods acting on the id; ``custom_metadata``
on ``Session.get/list`` entries."""

from __future__ import annotations

from llmspell.lua import LuaEngine


def test_string_methods_act_on_the_id(engine: LuaEngine) -> None:
    result = engine.run_string("""
        local s = Session.create({name = "notes"})
        return {short = s:sub(1, 8), id = s.id, upper = s:upper(), len = #s,
                found = s:find(s.id:sub(3, 6), 1, true), fmt = string.format("%s", s),
                joined = "id=" .. s}""")
    sid = result["id"]
    assert result["short"] == sid[:8] and result["upper"] == sid.upper()
    assert result["len"] == len(sid) and result["found"] == 3
    assert result["fmt"] == sid and result["joined"] == "id=" + sid


def test_a_handle_is_taken_wherever_an_id_is(engine: LuaEngine) -> None:
    rt = engine.runtime
    result = engine.run_string("""
        local parent = Session.create({name = "trip", metadata = {city = "Oslo"}})
        local child = Session.create({name = "day 1", parent_session_id = parent})
        Artifact.store(child, "plan.txt", "walk")
        Event.publish("trip.planned", {days = 1}, {session_id = child})
        State.save("session:" .. child, "weather", "snow")
        Session.suspend(child)
        return {parent = parent.id, child = child.id, parent_of_child = child.parent_session_id,
                listed = #Artifact.list(child), status = Session.get(child).status}""")
    assert result["parent_of_child"] == result["parent"]
    assert rt.sessions.get(result["child"]).parent_session_id == result["parent"]
    assert result["listed"] == 1 and result["status"] == "suspended"
    assert rt.state.load(f"session:{result['child']}", "weather") == "snow"


def test_custom_metadata_is_the_metadata(engine: LuaEngine) -> None:
    result = engine.run_string("""
        local s = Session.create({name = "q4", metadata = {department = "sales"}})
        local got = Session.get(s.id)
        local listed = Session.list()[1]
        return {got = got.custom_metadata.department, listed = listed.custom_metadata,
                ours = got.metadata.department, same = got == s}""")
    assert result == {"got": "sales", "listed": {"department": "sales"}, "ours": "sales",
                      "same": True}


def test_unknown_methods_are_still_errors(engine: LuaEngine) -> None:
    ok, err = engine.run_string("""
        local s = Session.create({name = "x"})
        return pcall(function() return s:shout() end)""")
    assert ok is False and "attempt to call a nil value (method 'shout')" in err
