"""SessionManager.list: every filter, sort and paging, and proof (by counting what the store
yields) that a status, tag or parent filter walks its index, not every session."""

from __future__ import annotations

import pytest

from backends import Backend
from llmspell.errors import ValidationError
from llmspell.sessions import ManualClock, Session, SessionManager
from llmspell.storage import open_store
from llmspell.testing import CountingStore


def names(sessions: list[Session]) -> list[str]:
    return [s.name for s in sessions]


@pytest.fixture
def populated(backend: Backend) -> tuple[SessionManager, ManualClock, dict[str, Session]]:
    clock = ManualClock(1_000_000.0)
    manager = backend.session_manager(clock=clock)
    made: dict[str, Session] = {}
    for name, tags in (("alpha", ["x", "y"]), ("beta", ["x"]), ("gamma", ["y"]),
                       ("Delta", ["x", "y", "z"]), ("epsilon", [])):
        made[name] = manager.create(name, tags=tags)
        clock.advance(10)
    made["child"] = manager.create("child", parent_session_id=made["alpha"].id)
    for move, name in (("suspend", "beta"), ("complete", "gamma"), ("fail", "Delta"),
                       ("archive", "Delta")):
        clock.advance(1)
        getattr(manager, move)(made[name])
    return manager, clock, made


def test_filters(populated: tuple[SessionManager, ManualClock, dict[str, Session]]) -> None:
    manager, _, made = populated
    assert names(manager.list()) == ["alpha", "beta", "gamma", "Delta", "epsilon", "child"]
    assert names(manager.list(status="active")) == ["alpha", "epsilon", "child"]
    assert names(manager.list(status=["suspended", "archived"])) == ["beta", "Delta"]
    assert names(manager.list(tags=["x"])) == ["alpha", "beta", "Delta"]
    assert names(manager.list(tags=["x", "y"])) == ["alpha", "Delta"]
    assert names(manager.list(tags=["x"], status="active")) == ["alpha"]
    assert names(manager.list(name="ELT")) == ["Delta"]
    assert names(manager.list(name="a", status="active")) == ["alpha"]
    assert names(manager.list(parent=made["alpha"].id)) == ["child"]
    assert names(manager.list(created_after=1_000_010.0, created_before=1_000_030.0)) == [
        "beta", "gamma"]
    assert names(manager.list(created_after="1970-01-12T13:47:20Z")) == ["epsilon", "child"]
    assert names(manager.list(tags=["nope"])) == []


def test_sort_and_paging(populated: tuple[SessionManager, ManualClock,
                                          dict[str, Session]]) -> None:
    manager, _, _ = populated
    assert names(manager.list(descending=True, limit=2)) == ["child", "epsilon"]
    assert names(manager.list(sort="-created_at", offset=2, limit=2)) == ["Delta", "gamma"]
    assert names(manager.list(limit=2, offset=1)) == ["beta", "gamma"]
    assert names(manager.list(sort="name")) == ["alpha", "beta", "child", "Delta", "epsilon",
                                                "gamma"]
    assert names(manager.list(sort="-name", limit=2)) == ["gamma", "epsilon"]
    assert names(manager.list(sort="status", limit=3)) == ["alpha", "epsilon", "child"]
    assert names(manager.list(sort="updated_at", descending=True, limit=1)) == ["Delta"]
    # limit=0 means no limit, as in the CLI (issue 19: one meaning of limit=0)
    assert manager.list(limit=0) == manager.list()


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"status": "running"}, "status"),
    ({"status": 3}, "status"),
    ({"tags": "x"}, "tags"),
    ({"sort": "size"}, "sort"),
    ({"limit": -1}, "limit"),
    ({"offset": None}, "offset"),
    ({"parent": "a/b"}, "parent"),
    ({"name": 5}, "name"),
    ({"created_after": "last week"}, "created_after"),
])
def test_bad_filters_are_named(mem: SessionManager, kwargs: dict, argument: str) -> None:
    with pytest.raises(ValidationError) as caught:
        mem.list(**kwargs)
    assert caught.value.argument == argument


def test_filtered_lists_walk_indexes_not_every_session() -> None:
    store = CountingStore(open_store("memory://"))
    manager = SessionManager(store)
    parent = manager.create("parent")
    for i in range(1000):
        s = manager.create(f"s{i}", tags=["rare"] if i % 250 == 0 else ["common"],
                           parent_session_id=parent.id if i % 200 == 0 else None)
        if i % 100 == 0:
            manager.suspend(s)
    total = store.count("")
    store.reset()
    assert len(manager.list(status="suspended")) == 10
    assert store.scanned <= 10 + 1
    store.reset()
    assert len(manager.list(tags=["rare"])) == 4
    assert store.scanned <= 4 + 1
    store.reset()
    assert len(manager.list(tags=["rare", "common"])) == 0  # driven by the smaller tag
    assert store.scanned <= 4 + 1
    store.reset()
    assert len(manager.list(parent=parent.id)) == 5
    assert store.scanned <= 5 + 1
    store.reset()
    assert len(manager.list(status="active", limit=5)) == 5  # stops once it has enough
    assert store.scanned < 100
    assert all(p.startswith("sessidx/") for p in store.scans)
    assert total > 4000  # the store holds far more than any of those walks read


def test_an_idle_session_is_listed_as_suspended(clock: ManualClock) -> None:
    manager = SessionManager(open_store("memory://"), clock=clock)
    idle = manager.create("idle", max_idle_time=60)
    busy = manager.create("busy")
    clock.advance(61)
    assert names(manager.list(status="active")) == ["busy"]
    assert manager.get(idle).status == "suspended"
    assert busy.status == "active"
