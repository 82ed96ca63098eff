"""SessionManager.append_entries: with the record and journal position cached it writes in one
batch without the general write path (_update); when another writer moved the record or the
journal on, that batch fails its conditions and the general path appends after the other
writer's work, exactly as _update alone would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmspell.errors import SessionNotFound
from llmspell.journal import EVENT, Draft
from llmspell.sessions import SessionManager
from llmspell.storage import open_store
from llmspell.storage.base import Store


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two connections to one SQLite store: two writers, as two processes would be."""
    url = f"sqlite:///{tmp_path}/s.db"
    first, second = open_store(url), open_store(url)
    yield first, second
    first.close()
    second.close()


def _kinds(manager: SessionManager, sid: str) -> list[tuple[int, str, object]]:
    return [(e.seq, e.kind, e.data) for e in manager.journal.read(sid)]


def _general(manager: SessionManager, sid: str, drafts: list[Draft]) -> None:
    """What append_entries did before its fast path."""
    from llmspell.sessions.transitions import Update
    manager._update(sid, lambda current, now: Update(current, drafts, record=False),
                    shared=True)


def test_the_fast_path_writes_what_the_general_path_writes(tmp_path: Path) -> None:
    written = []
    for path, append in (("fast", SessionManager.append_entries), ("general", _general)):
        manager = SessionManager(open_store(f"sqlite:///{tmp_path}/{path}.db"))
        session = manager.create("s")
        assert manager.cached(session.id) is not None  # the fast path's condition
        append(manager, session.id, [Draft(EVENT, {"n": 1}, "c1")])
        append(manager, session.id, [Draft(EVENT, {"n": 2}), Draft(EVENT, {"n": 3})])
        manager.add_usage(session, tokens=5)  # a record write after it builds on its position
        append(manager, session.id, [Draft(EVENT, {"n": 4})])
        record = manager.get(session.id)
        written.append(([(seq, kind, data) for seq, kind, data in _kinds(manager, session.id)],
                        record.counters.tokens, manager.journal.last_seq(session.id)))
        manager.store.close()
    assert written[0] == written[1]
    entries, tokens, last = written[0]
    assert [d for _, k, d in entries if k == EVENT] == [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]
    assert tokens == 5 and last == len(entries)


def test_a_record_moved_by_another_writer_is_read_afresh(stores: tuple[Store, Store]) -> None:
    one, two = SessionManager(stores[0]), SessionManager(stores[1])
    session = one.create("s")
    one.append_entries(session.id, [Draft(EVENT, {"n": 1})])
    two.add_usage(session, tokens=7)  # one's cached record is stale now
    one.append_entries(session.id, [Draft(EVENT, {"n": 2})])
    one.append_entries(session.id, [Draft(EVENT, {"n": 3})])  # and cached afresh
    kinds = _kinds(one, session.id)
    assert [d for _, k, d in kinds if k == EVENT] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert [seq for seq, _, _ in kinds] == list(range(1, len(kinds) + 1))
    assert one.get(session.id).counters.tokens == 7


def test_a_journal_moved_on_by_another_writer_is_read_afresh(
        stores: tuple[Store, Store]) -> None:
    one, two = SessionManager(stores[0]), SessionManager(stores[1])
    session = one.create("s")
    two.get(session.id)
    two.append_entries(session.id, [Draft(EVENT, {"by": "two"})])  # one's position is stale
    one.append_entries(session.id, [Draft(EVENT, {"by": "one"})])
    kinds = _kinds(one, session.id)
    assert [d for _, k, d in kinds if k == EVENT] == [{"by": "two"}, {"by": "one"}]
    assert [seq for seq, _, _ in kinds] == list(range(1, len(kinds) + 1))


def test_a_session_deleted_by_another_writer_is_not_found(stores: tuple[Store, Store]) -> None:
    one, two = SessionManager(stores[0]), SessionManager(stores[1])
    session = one.create("s")
    assert two.delete(session.id)
    with pytest.raises(SessionNotFound):
        one.append_entries(session.id, [Draft(EVENT, {"n": 1})])
    assert one.cached(session.id) is None


def test_no_drafts_take_the_general_path(tmp_path: Path) -> None:
    manager = SessionManager(open_store(f"sqlite:///{tmp_path}/s.db"))
    session = manager.create("s")
    before = _kinds(manager, session.id)
    manager.append_entries(session.id, [])
    assert _kinds(manager, session.id) == before
    manager.store.close()
