"""A state write in a session whose only listener is the session recorder (which leaves out
state events: the journal has its own ``state.write`` entry) builds no ``state.changed``
event; a subscriber of state events still gets every one."""

from __future__ import annotations

from llmspell import Runtime


def test_the_recorder_alone_does_not_make_state_writes_publish() -> None:
    with Runtime.memory() as rt:
        session = rt.sessions.create("quiet")
        rt.sessions.set_current(session.id)
        before = rt.events.stats()["published"]
        rt.state.save("global", "k", {"v": 1})
        assert rt.events.stats()["published"] == before
        kinds = [e.kind for e in rt.sessions.journal.read(session.id)]
        assert "state.write" in kinds


def test_a_state_subscriber_still_hears_every_write() -> None:
    with Runtime.memory() as rt:
        session = rt.sessions.create("heard")
        rt.sessions.set_current(session.id)
        heard: list[str] = []
        rt.events.subscribe("state.*", lambda e: heard.append(e.data["key"]))
        rt.state.save("global", "a", 1)
        rt.state.save("global", "b", 2)
        assert heard == ["a", "b"]
