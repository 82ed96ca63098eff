"""A writer skips the version scan only when its own stores prove the newest version
(artifacts/writer.py, ``_Known``): two runtimes on one store must still number every name's
versions in order, whoever stored or deleted last."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.artifacts.model import name_key
from llmspell.runtime import Runtime


def scans(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name prefixes (``art/<sid>/<name key>/``) the artifact writer of ``rt`` scans
    from now on."""
    seen: list[str] = []
    store = rt.artifacts.writer.store
    real = store.scan

    def scan(prefix: str = "", **kw: Any) -> Any:
        if prefix.startswith("art/") and prefix.count("/") == 3:
            seen.append(prefix)
        return real(prefix, **kw)

    monkeypatch.setattr(store, "scan", scan)
    return seen


def test_a_version_stored_by_another_runtime_is_seen(pair: tuple[Runtime, Runtime]) -> None:
    first, second = pair
    session = first.sessions.create("shared")
    first.artifacts.store(session.id, "report", "v1")
    first.artifacts.store(session.id, "report", "v2")  # first now believes 2 is the newest
    other = second.artifacts.store(session.id, "report", "v3")
    assert (other.version, other.previous_version) == (3, 2)
    mine = first.artifacts.store(session.id, "report", "v4")
    assert (mine.version, mine.previous_version) == (4, 3)
    assert [a.version for a in first.artifacts.versions(session.id, "report")] == [1, 2, 3, 4]


def test_a_name_new_to_this_runtime_but_stored_by_another_is_not_version_1(
        pair: tuple[Runtime, Runtime]) -> None:
    first, second = pair
    session = first.sessions.create("shared")
    first.artifacts.store(session.id, "a", "1")  # an empty session: first knows every name
    second.artifacts.store(session.id, "b", "1")
    stored = first.artifacts.store(session.id, "b", "2")
    assert (stored.version, stored.previous_version) == (2, 1)


def test_a_delete_by_another_runtime_leaves_its_tombstone_to_the_next_store(
        pair: tuple[Runtime, Runtime]) -> None:
    first, second = pair
    session = first.sessions.create("shared")
    first.artifacts.store(session.id, "report", "v1")
    newest = first.artifacts.store(session.id, "report", "v2")
    second.artifacts.delete(newest.id)
    stored = first.artifacts.store(session.id, "report", "v3")
    assert (stored.version, stored.previous_version) == (3, 1)
    assert [a.version for a in first.artifacts.versions(session.id, "report")] == [1, 3]
    assert not list(first.store.scan(f"art/{session.id}/{stored.name_key}/0000000002"))


def test_a_delete_by_this_runtime_is_seen_too(pair: tuple[Runtime, Runtime]) -> None:
    first, _ = pair
    session = first.sessions.create("mine")
    first.artifacts.store(session.id, "report", "v1")
    first.artifacts.delete(first.artifacts.store(session.id, "report", "v2").id)
    stored = first.artifacts.store(session.id, "report", "v3")
    assert (stored.version, stored.previous_version) == (3, 1)


def test_own_stores_skip_the_scan_until_someone_else_writes(
        pair: tuple[Runtime, Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = pair
    session = first.sessions.create("shared")
    seen = scans(first, monkeypatch)
    first.artifacts.store(session.id, "a", "1")
    assert seen == []  # an empty session: one look at its keys, no name scan
    first.artifacts.store(session.id, "a", "2")
    first.artifacts.store(session.id, "b", "1")  # new: the session had no other name
    assert seen == []
    second.artifacts.store(session.id, "c", "1")
    assert first.artifacts.store(session.id, "a", "3").version == 3
    assert seen == [f"art/{session.id}/{name_key('a')}/"]


def test_a_session_whose_artifacts_predate_the_runtime_is_scanned(
        pair: tuple[Runtime, Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = pair
    session = second.sessions.create("older")
    second.artifacts.store(session.id, "a", "1")
    seen = scans(first, monkeypatch)
    # other content than a's: content only the other runtime stored costs a failed first
    # attempt, which scans again (test_blob_beliefs.py)
    assert first.artifacts.store(session.id, "b", "2").version == 1
    assert len(seen) == 1  # b may have existed: its keys were scanned


def test_past_the_bound_dropped_names_are_scanned_and_new_names_still_known(
        pair: tuple[Runtime, Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    import llmspell.artifacts.writer as writer_module

    monkeypatch.setattr(writer_module, "_KNOWN_NAMES", 2)
    first, _ = pair
    session = first.sessions.create("many")
    seen = scans(first, monkeypatch)
    for name in ("a", "b", "c"):  # c drops the versions of a and b
        first.artifacts.store(session.id, name, "1")
    first.artifacts.store(session.id, "d", "1")  # new: the filter of stored names says so
    assert seen == []
    again = first.artifacts.store(session.id, "a", "2")
    assert (again.version, again.previous_version) == (2, 1)
    assert seen == [f"art/{session.id}/{name_key('a')}/"]


def test_the_remembered_records_are_compact_copies() -> None:
    """What the writer remembers of its own stores holds copies, not orjson's results (each
    holds a 4 KB block whatever its length): about 10 KB retained per store before, 2.5 KB
    now, store contents included."""
    import gc
    import tracemalloc

    with Runtime.memory() as rt:
        session = rt.sessions.create("m")
        for i in range(50):
            rt.artifacts.store(session, f"warm{i}", "x" * 100)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(200):
                rt.artifacts.store(session, f"n{i}", f"{i:03d}" + "x" * 100)  # new content each
            gc.collect()
            per_store = (tracemalloc.get_traced_memory()[0] - before) / 200
        finally:
            tracemalloc.stop()
    assert per_store < 6000, per_store


def _note(rt: Runtime, sid: str) -> None:
    """A journal entry that is not an artifact write, appended through the session manager
    (an agent's ``llm.call`` is one)."""
    from llmspell.journal import Draft

    rt.sessions.append_entries(sid, [Draft("note", {"n": 1})])


def test_entries_appended_through_the_manager_keep_what_is_known(
        pair: tuple[Runtime, Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = pair
    session = first.sessions.create("notes")
    seen = scans(first, monkeypatch)
    first.artifacts.store(session.id, "a", "1")
    _note(first, session.id)
    _note(first, session.id)
    again = first.artifacts.store(session.id, "a", "2")
    _note(first, session.id)
    assert first.artifacts.store(session.id, "b", "1").version == 1
    assert (again.version, again.previous_version) == (2, 1)
    assert seen == []


@pytest.mark.parametrize("note_after", [True, False])
def test_another_runtime_s_store_between_own_entries_is_seen(
        pair: tuple[Runtime, Runtime], note_after: bool) -> None:
    first, second = pair
    session = first.sessions.create("shared")
    first.artifacts.store(session.id, "a", "1")
    _note(first, session.id)
    second.artifacts.store(session.id, "a", "2")
    second.artifacts.store(session.id, "c", "1")
    if note_after:  # built on a stale tail: it reads afresh, and the run starts over
        _note(first, session.id)
    mine = first.artifacts.store(session.id, "a", "3")
    assert (mine.version, mine.previous_version) == (3, 2)
    new = first.artifacts.store(session.id, "c", "2")
    assert (new.version, new.previous_version) == (2, 1)
    assert [a.version for a in first.artifacts.versions(session.id, "a")] == [1, 2, 3]


def test_an_agent_s_collected_answers_skip_the_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each call journals its ``llm.call`` and events between two collections; they are
    appended through the manager, so the next version of the answer is known."""
    from llmspell.providers.scripted import ScriptedProvider

    with Runtime.memory() as rt:
        rt.providers.add("scripted", ScriptedProvider("scripted", ["one", "two", "three"]))
        agent = rt.agents.create("bot", "scripted/demo")
        session = rt.sessions.create("chat")
        seen = scans(rt, monkeypatch)
        with rt.sessions.current(session):
            for _ in range(3):
                agent.invoke("hi")
        collected = rt.artifacts.list(session.id)
        assert sorted(a.version for a in collected) == [1, 2, 3]
        assert seen == []


def test_a_journal_read_afresh_is_not_taken_for_the_run_of_own_entries(
        pair: tuple[Runtime, Runtime]) -> None:
    """When the tail is read from the store (the caches dropped), what was known holds only
    if the tail is still the writer's own: here another runtime stored "b" twice and deleted
    version 1, and a name filter that still said "b is new" would write a second version 1."""
    first, second = pair
    session = first.sessions.create("shared")
    first.artifacts.store(session.id, "a", "1")  # an empty session: the name filter is on
    _note(first, session.id)
    oldest = second.artifacts.store(session.id, "b", "1")
    second.artifacts.store(session.id, "b", "2")
    second.artifacts.delete(oldest.id)  # not the newest: its record goes, no tombstone
    first.sessions.forget_cached()
    first.artifacts.writer.counters.invalidate(session.id)
    stored = first.artifacts.store(session.id, "b", "3")
    assert (stored.version, stored.previous_version) == (3, 2)


def test_a_run_started_after_a_store_does_not_vouch_for_it(
        pair: tuple[Runtime, Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    """Another thread's append may land between a store's commit and the writer noting the
    run its store belongs to; if that append had read the tail afresh (another runtime wrote
    in between), the new run says nothing of what came before it."""
    first, second = pair
    session = first.sessions.create("shared")
    first.artifacts.store(session.id, "a", "1")  # an empty session: the name filter is on
    counters = first.artifacts.writer.counters
    real = counters.committed

    def committed(*args: Any) -> Any:
        position = real(*args)
        oldest = second.artifacts.store(session.id, "b", "1")
        second.artifacts.store(session.id, "b", "2")
        second.artifacts.delete(oldest.id)  # not the newest: its record goes
        _note(first, session.id)  # built on a stale tail: read afresh, a new run
        return position

    monkeypatch.setattr(counters, "committed", committed)
    first.artifacts.store(session.id, "x", "1")
    monkeypatch.setattr(counters, "committed", real)
    stored = first.artifacts.store(session.id, "b", "3")
    assert (stored.version, stored.previous_version) == (3, 2)
