"""What the SessionManager offers the code that must not build session keys itself: id
prefixes for the CLI, and the artifact counters artifact writes carry in their batches."""

from __future__ import annotations

import pytest

from llmspell.errors import ResourceLimitExceeded, SessionNotFound, ValidationError
from llmspell.sessions import SessionManager
from llmspell.storage.retry import retry_batch


def test_ids_starting_with_lists_matching_ids_in_order(manager: SessionManager) -> None:
    ids = sorted(manager.create(f"s{i}").id for i in range(3))
    assert manager.ids_starting_with("") == ids
    assert manager.ids_starting_with(ids[0]) == [ids[0]]
    assert manager.ids_starting_with("", limit=2) == ids[:2]
    assert manager.ids_starting_with("zzz-no-such") == []


def test_ids_starting_with_names_a_bad_prefix(mem: SessionManager) -> None:
    with pytest.raises(ValidationError, match="prefix"):
        mem.ids_starting_with(3)  # type: ignore[arg-type]


def test_artifact_counters_join_the_callers_batch(manager: SessionManager) -> None:
    session = manager.create("counted")
    counters = manager.artifact_counters

    def build(attempt: int):  # type: ignore[no-untyped-def]
        view = counters.read(session.id, fresh=attempt > 0)
        view = counters.admit_store(view, 10, manager.clock.now(), "artifact 'x'")
        ops, expect, written = counters.ops(view, 1, 10, manager.clock.now())
        return ops, expect, written

    written = retry_batch(manager.store, build, what="count",
                          lost=lambda: counters.invalidate(session.id))
    counters.committed(written, [])
    got = manager.get(session.id).counters
    assert (got.artifacts, got.artifact_bytes) == (1, 10)
    assert counters.exists(session.id)


def test_a_view_guard_fails_a_batch_once_the_session_changed(manager: SessionManager) -> None:
    session = manager.create("guarded")
    view = manager.artifact_counters.read(session.id, fresh=True)
    assert manager.store.batch([], expect=view.guard())
    manager.suspend(session.id)
    assert not manager.store.batch([], expect=view.guard())


def test_artifact_counters_refuse_over_the_limit(manager: SessionManager) -> None:
    session = manager.create("small", limits={"artifact_bytes": 5})
    counters = manager.artifact_counters
    with pytest.raises(ResourceLimitExceeded, match="artifact_bytes 0 \\+ 10 = 10 > limit 5"):
        counters.admit_store(counters.read(session.id), 10, manager.clock.now(), "artifact 'x'")


def test_artifact_counters_read_a_missing_session(mem: SessionManager) -> None:
    with pytest.raises(SessionNotFound):
        mem.artifact_counters.read("0" * 32)
    assert not mem.artifact_counters.exists("0" * 32)
