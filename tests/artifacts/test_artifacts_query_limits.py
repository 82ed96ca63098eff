"""Queries with a limit, a creation-time sort or an exact name read in proportion to what they
return (issue 18): they are driven by the ``arts/`` (per session), type or tag index in
creation order and stop early, or by the name's own key prefix. The results are the same as
the full query's, cut to the page, on every backend."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from llmspell.artifacts import ArtifactManager, BlobStore
from llmspell.artifacts import keys as artifact_keys
from llmspell.artifacts.reindex import ensure_session_index
from llmspell.runtime import Runtime
from llmspell.sessions import ManualClock, SessionManager
from llmspell.storage import Delete
from llmspell.testing import CountingStore


def ids(found: list[Any]) -> list[str]:
    return [a.id for a in found]


def test_a_limited_query_is_the_full_query_cut_to_the_page(rt: Runtime) -> None:
    session, other = rt.sessions.create("s"), rt.sessions.create("o")
    arts = rt.artifacts
    for i in range(40):
        kind = "tool_result" if i % 3 else "agent_output"
        arts.store(session, f"n{i % 7}", f"c{i}", artifact_type=kind,
                   tags=["even"] if i % 2 == 0 else ["odd"])
        if i % 5 == 0:
            arts.store(other, f"m{i}", f"o{i}", artifact_type=kind, tags=["even"])
    arts.delete(arts.get("n3", session=session))  # a tombstone among the records
    cases = [dict(session=session), dict(session=session, latest=True),
             dict(session=session, artifact_type="tool_result"),
             dict(session=session, name="n[12]"), dict(artifact_type="agent_output"),
             dict(tags=["even"]), dict(tags=["even"], artifact_type="tool_result")]
    for filters, descending, (offset, limit) in itertools.product(
            cases, (False, True), ((0, 1), (0, 5), (3, 4), (30, 10), (0, 100))):
        everything = arts.query(**filters, descending=descending)
        page = arts.query(**filters, descending=descending, offset=offset, limit=limit)
        assert ids(page) == ids(everything[offset:offset + limit]), (filters, descending)


def test_a_time_range_with_a_limit_keeps_its_bounds() -> None:
    clock = ManualClock(1_750_000_000.0)
    store = CountingStore()
    sessions = SessionManager(store, clock=clock)
    arts = ArtifactManager(store, BlobStore(store, None), sessions)
    session = sessions.create("s")
    for i in range(20):
        clock.advance(1)
        arts.store(session, f"a{i}", f"c{i}")
    start = 1_750_000_000.0
    for descending in (False, True):
        found = arts.list(session, created_after=start + 5, created_before=start + 9,
                          descending=descending, limit=3)
        names = [a.name for a in found]
        assert names == (["a4", "a5", "a6"] if not descending else ["a7", "a6", "a5"])
    store.close()


def _filled(count: int) -> tuple[CountingStore, ArtifactManager, Any]:
    clock = ManualClock(1_750_000_000.0)
    store = CountingStore()
    sessions = SessionManager(store, clock=clock)
    arts = ArtifactManager(store, BlobStore(store, None), sessions)
    session = sessions.create("s")
    for i in range(count):
        clock.advance(0.001)
        arts.store(session, f"item-{i}", b"x%d" % i, artifact_type="tool_result")
    store.reset()
    return store, arts, session


@pytest.mark.slow
def test_reads_do_not_grow_with_the_number_of_artifacts() -> None:
    reads = {}
    for count in (100, 2000):
        store, arts, session = _filled(count)
        queries: dict[str, dict[str, Any]] = {
            "list limit=10": dict(session=session, limit=10),
            "list newest 10": dict(session=session, limit=10, descending=True),
            "exact name": dict(session=session, name="item-42"),
            "type limit=10": dict(artifact_type="tool_result", limit=10),
        }
        for label, filters in queries.items():
            store.reset()
            assert arts.query(**filters)
            reads[(label, count)] = store.scanned + store.fetched
        store.close()
    for label in ("list limit=10", "list newest 10", "exact name", "type limit=10"):
        assert reads[(label, 2000)] == reads[(label, 100)], label
        assert reads[(label, 100)] <= 40, (label, reads[(label, 100)])


def test_an_older_store_gets_the_session_index_on_open(rt: Runtime) -> None:
    session = rt.sessions.create("s")
    stored = [rt.artifacts.store(session, f"a{i}", f"c{i}") for i in range(700)]
    store = rt.store
    # as an older version wrote it: no arts/ keys, no marker
    store.batch([Delete(k) for k in store.keys(artifact_keys.SESSION_TIME_PREFIX)]
                + [Delete(artifact_keys.SESSION_INDEX_DONE)])
    assert rt.artifacts.list(session, limit=5) == []  # the index drives: nothing yet
    assert ensure_session_index(store) == 700
    assert store.get(artifact_keys.SESSION_INDEX_DONE) is not None
    assert ids(rt.artifacts.list(session, limit=5)) == ids(stored[:5])
    assert ensure_session_index(store) == 0  # done once
    assert store.count(artifact_keys.SESSION_TIME_PREFIX) == 700
