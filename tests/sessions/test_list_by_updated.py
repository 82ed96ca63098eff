"""Lists sorted by updated_at (and by status): the updated index (``sessidx/updated/``) gives
the order, every write that moves updated_at moves its entry in the same batch, a stale entry
is never listed, a limited list reads about what it returns, and an older store is indexed on
open."""

from __future__ import annotations

import random

import pytest

from backends import Backend
from llmspell import Runtime
from llmspell.errors import CorruptRecord
from llmspell.sessions import ManualClock, Session, SessionManager, index
from llmspell.sessions.integrity import SessionScan
from llmspell.sessions.model import STATUSES
from llmspell.sessions.reindex import ensure_updated_index
from llmspell.storage import open_store
from llmspell.storage.base import Store
from llmspell.testing import CountingStore


def ids(sessions: list[Session]) -> list[str]:
    return [s.id for s in sessions]


def by_updated(sessions: list[Session], descending: bool) -> list[str]:
    ordered = sorted(sessions, key=lambda s: (index.micros(s.updated_at), s.id),
                     reverse=descending)
    return ids(ordered)


def entries_agree(store: Store) -> None:
    """The updated index holds exactly the entries the records call for."""
    wanted = {index.updated_key(Session.decode(raw, key)) for key, raw in store.scan("session/")}
    assert set(store.keys("sessidx/updated/")) == wanted


def test_every_write_moves_the_entry_and_lists_match_a_full_sort(backend: Backend) -> None:
    clock = ManualClock(1_800_000_000.0)
    manager = backend.session_manager(clock=clock)
    rng = random.Random(18)
    made = [manager.create(f"s{i}", tags=["t"] if i % 3 else [], max_idle_time=600)
            for i in range(30)]
    for _ in range(120):
        clock.advance(rng.choice([0.000001, 0.5, 3]))
        target = rng.choice(made)
        status = manager.get(target).status
        move = rng.choice(["usage", "save", "suspend", "resume", "complete", "admit"])
        if move == "usage":
            manager.add_usage(target, tokens=5)
        elif move == "admit" and status == "active":
            manager.admit(target)
        elif move == "save":
            manager.save(target)
        elif move == "suspend" and status == "active":
            manager.suspend(target)
        elif move == "resume" and status == "suspended":
            manager.resume(target)
        elif move == "complete" and status in ("active", "suspended"):
            manager.complete(target)
    entries_agree(manager.store)
    everything = manager.list()
    for descending in (False, True):
        want = by_updated(everything, descending)
        assert ids(manager.list(sort="updated_at", descending=descending)) == want
        for limit, offset in ((1, 0), (7, 0), (5, 4), (40, 0), (3, 29)):
            got = manager.list(sort="updated_at", descending=descending, limit=limit,
                               offset=offset)
            assert ids(got) == want[offset:offset + limit]
        for status in ("active", "suspended", ["active", "completed"]):
            chosen = [s for s in everything if s.status in ([status] if isinstance(
                status, str) else status)]
            got = manager.list(sort="updated_at", descending=descending, status=status,
                               limit=4)
            assert ids(got) == by_updated(chosen, descending)[:4]
        by_status = [s.id for s in sorted(everything, key=lambda s: (
            STATUSES.index(s.status), s.created_at, s.id), reverse=descending)]
        assert ids(manager.list(sort="status", descending=descending)) == by_status
        for limit, offset in ((1, 0), (6, 3), (40, 0)):
            got = manager.list(sort="status", descending=descending, limit=limit,
                               offset=offset)
            assert ids(got) == by_status[offset:offset + limit]
        tagged = [s for s in everything if "t" in s.tags]
        got = manager.list(sort="updated_at", descending=descending, tags=["t"], limit=4)
        assert ids(got) == by_updated(tagged, descending)[:4]  # the tag index, then sorted
    deleted = made[0]
    manager.delete(deleted)
    assert deleted.id not in ids(manager.list(sort="-updated_at"))
    entries_agree(manager.store)


def test_an_artifact_write_moves_the_entry(rt: Runtime) -> None:
    older = rt.sessions.create("older")
    newer = rt.sessions.create("newer")
    assert ids(rt.sessions.list(sort="-updated_at", limit=1)) == [newer.id]
    rt.artifacts.store(older.id, "notes.txt", "counted in the session's record")
    assert rt.sessions.get(older).updated_at > rt.sessions.get(newer).updated_at
    assert ids(rt.sessions.list(sort="-updated_at", limit=1)) == [older.id]
    entries_agree(rt.store)


def test_a_limited_list_reads_about_what_it_returns() -> None:
    store = CountingStore(open_store("memory://"))
    clock = ManualClock()
    manager = SessionManager(store, clock=clock)
    made = []
    for i in range(1000):
        clock.advance(1)
        made.append(manager.create(f"s{i}"))
        if i % 100 == 0:
            manager.suspend(made[-1])
    for s in made[:50]:  # the oldest become the most recently updated
        clock.advance(1)
        manager.add_usage(s, tokens=1)
    store.reset()
    newest = manager.list(sort="-updated_at", limit=10)
    assert [s.name for s in newest] == [f"s{i}" for i in range(49, 39, -1)]
    assert store.scanned < 60  # 5 status streams' first pages, not 1,000 sessions
    store.reset()
    oldest = manager.list(sort="updated_at", status="active", limit=10)
    assert [s.name for s in oldest] == [f"s{i}" for i in range(50, 60)]
    assert store.scanned < 40
    assert all(p.startswith("sessidx/updated/") for p in store.scans)
    store.reset()
    assert [s.name for s in manager.list(sort="-status", limit=3)] == ["s900", "s800", "s700"]
    assert store.scanned < 40  # the suspended index, after the empty ones: not 1,000


def test_a_stale_entry_is_never_listed(mem: SessionManager) -> None:
    a = mem.create("a")
    mem.clock.advance(5)  # type: ignore[attr-defined]
    b = mem.create("b")
    # entries no record calls for: an old time of ``a``, a status it does not have, a ghost
    mem.store.put(f"sessidx/updated/active/{index.micros(b.updated_at) + 1:016d}/{a.id}", b"")
    mem.store.put(f"sessidx/updated/archived/{index.micros(b.updated_at) + 2:016d}/{a.id}",
                  b"")
    mem.store.put(f"sessidx/updated/active/{index.micros(b.updated_at) + 3:016d}/"
                  "0190aaaa-0000-7000-8000-000000000000", b"")
    assert ids(mem.list(sort="-updated_at")) == [b.id, a.id]
    assert ids(mem.list(sort="-updated_at", limit=1)) == [b.id]
    assert ids(mem.list(sort="updated_at", limit=2)) == [a.id, b.id]


def test_a_session_a_timeout_moves_while_listed_takes_its_new_place(mem: SessionManager
                                                                     ) -> None:
    idle = mem.create("idle", max_idle_time=60)
    mem.clock.advance(30)  # type: ignore[attr-defined]
    busy = mem.create("busy")
    mem.clock.advance(31)  # type: ignore[attr-defined]
    # read first (the oldest entry), idle is suspended now: its place is after busy
    assert ids(mem.list(sort="updated_at", limit=1)) == [busy.id]
    assert mem.get(idle).status == "suspended"
    assert ids(mem.list(sort="-updated_at")) == [idle.id, busy.id]


def test_a_timeout_while_listed_newest_first(mem: SessionManager) -> None:
    idle = mem.create("idle", max_idle_time=60)
    mem.clock.advance(30)  # type: ignore[attr-defined]
    busy = mem.create("busy")
    mem.clock.advance(31)  # type: ignore[attr-defined]
    # busy's entry comes first and fills the page; idle, not read, keeps its stored place
    assert ids(mem.list(sort="-updated_at", limit=1)) == [busy.id]
    listed = mem.list(sort="-updated_at")  # reading idle suspends it, now: it goes first
    assert [(s.id, s.status) for s in listed] == [(idle.id, "suspended"), (busy.id, "active")]


def test_a_timeout_while_listed_by_status(mem: SessionManager) -> None:
    idle = mem.create("idle", max_idle_time=60)
    busy = mem.create("busy")
    mem.clock.advance(61)  # type: ignore[attr-defined]
    # idle is read first (the active index, oldest first) and suspended: it goes after busy
    assert [(s.id, s.status) for s in mem.list(sort="status")] == [
        (busy.id, "active"), (idle.id, "suspended")]
    assert ids(mem.list(sort="status", limit=1)) == [busy.id]


def _strip_index(store: Store) -> None:
    """Make ``store`` look as a store written before the updated index existed."""
    for key in list(store.keys("sessidx/updated/")):
        store.delete(key)
    store.delete(index.UPDATED_INDEX_DONE)


def test_an_older_store_is_indexed_when_opened(backend: Backend) -> None:
    clock = ManualClock()
    first = backend.session_manager(clock=clock)
    made = []
    for i in range(600):  # more than one page of the reindex
        clock.advance(1)
        made.append(first.create(f"s{i}"))
    clock.advance(1)
    first.add_usage(made[3], tokens=1)  # updated later than every other
    _strip_index(first.store)
    assert first.store.get(index.UPDATED_INDEX_DONE) is None
    reopened = backend.session_manager(clock=clock)
    assert reopened.store.get(index.UPDATED_INDEX_DONE) == b"1"
    entries_agree(reopened.store)
    assert ids(reopened.list(sort="-updated_at", limit=2)) == [made[3].id, made[-1].id]
    assert ensure_updated_index(reopened.store) == 0  # done once


def test_an_empty_store_gets_its_marker_from_the_first_create(mem: SessionManager) -> None:
    assert ensure_updated_index(mem.store) == -1
    assert mem.store.get(index.UPDATED_INDEX_DONE) is None  # an empty store stays empty
    mem.create("first")
    assert mem.store.get(index.UPDATED_INDEX_DONE) == b"1"


def test_a_damaged_record_stops_the_reindex_and_writes_nothing(mem: SessionManager) -> None:
    good = mem.create("good")
    _strip_index(mem.store)
    mem.store.put("session/0190aaaa-0000-7000-8000-000000000000", b"{not json")
    with pytest.raises(CorruptRecord) as caught:
        ensure_updated_index(mem.store)
    assert "session/0190aaaa-0000-7000-8000-000000000000" in str(caught.value)
    assert list(mem.store.keys("sessidx/updated/")) == []
    assert mem.store.get(index.UPDATED_INDEX_DONE) is None
    mem.store.delete("session/0190aaaa-0000-7000-8000-000000000000")
    assert ensure_updated_index(mem.store) == 1
    assert ids(mem.list(sort="-updated_at")) == [good.id]


def test_a_backup_of_an_older_store_is_indexed_when_restored(rt: Runtime) -> None:
    older = rt.sessions.create("older")
    newer = rt.sessions.create("newer")
    rt.sessions.add_usage(older, tokens=1)  # the newest change
    _strip_index(rt.store)  # as a store written before the index existed
    info = rt.backups.backup()
    rt.sessions.create("after the backup")
    rt.backups.restore(info.id)
    assert rt.store.get(index.UPDATED_INDEX_DONE) == b"1"
    entries_agree(rt.store)
    assert ids(rt.sessions.list(sort="-updated_at")) == [older.id, newer.id]


def _index_problems(store: Store) -> list[str]:
    scan = SessionScan()
    for key, raw in store.scan(""):
        scan.feed(key, raw)
    return [entry for entry, _ in scan.index_problems()]


def test_the_deep_check_expects_updated_entries_once_the_store_has_them(
        mem: SessionManager) -> None:
    made = mem.create("s")
    assert _index_problems(mem.store) == []
    mem.store.delete(index.updated_key(made))
    assert _index_problems(mem.store) == [index.updated_key(made)]  # marker: it must be there
    _strip_index(mem.store)
    assert _index_problems(mem.store) == []  # an older store, not indexed yet: not damage
    assert ensure_updated_index(mem.store) == 1
    assert _index_problems(mem.store) == []
