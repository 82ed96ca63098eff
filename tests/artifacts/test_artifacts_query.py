"""Artifact queries: every filter, sort and paging, across sessions, and that a per-type or
per-session query reads only its own index, not every artifact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmspell.artifacts import ArtifactManager, BlobStore
from llmspell.errors import ValidationError
from llmspell.runtime import Runtime
from llmspell.sessions import ManualClock, SessionManager
from llmspell.testing import CountingStore


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_750_000_000.0)


@pytest.fixture
def world(tmp_path: Path, clock: ManualClock) -> Iterator[tuple[ArtifactManager, Any, Any]]:
    """A manager on a counting store with a manual clock, and two sessions full of artifacts:
    one artifact per second of the clock."""
    store = CountingStore()
    sessions = SessionManager(store, clock=clock)
    arts = ArtifactManager(store, BlobStore(store, tmp_path / "blobs"), sessions)
    a, b = sessions.create("a"), sessions.create("b")
    plan = [
        (a, "report-q1.pdf", b"%PDF-q1", "user_input", ["finance", "q1"]),
        (a, "report-q2.pdf", b"%PDF-q2-longer", "user_input", ["finance", "q2"]),
        (a, "calc", "42", "tool_result", ["math"]),
        (a, "calc", "43", "tool_result", ["math"]),
        (b, "answer.txt", "hello", "agent_output", ["finance"]),
        (b, "image.png", b"\x89PNG\r\n\x1a\n....", "user_input", []),
    ]
    for session, name, content, kind, tags in plan:
        clock.advance(1)
        arts.store(session, name, content, artifact_type=kind, tags=tags)
    yield arts, a, b
    store.close()


def names(found: list[Any]) -> list[str]:
    return [f"{a.name}@{a.version}" for a in found]


def test_filters(world: tuple[ArtifactManager, Any, Any], clock: ManualClock) -> None:
    arts, a, b = world
    start = 1_750_000_000.0
    assert names(arts.list(a)) == ["report-q1.pdf@1", "report-q2.pdf@1", "calc@1", "calc@2"]
    assert names(arts.list(a, artifact_type="ToolResult")) == ["calc@1", "calc@2"]
    assert names(arts.list(a, tags=["finance", "q2"])) == ["report-q2.pdf@1"]
    assert names(arts.list(a, name="report-*.pdf")) == ["report-q1.pdf@1", "report-q2.pdf@1"]
    assert names(arts.list(a, name="calc", latest=True)) == ["calc@2"]
    assert names(arts.list(a, mime_type="application/*")) == ["report-q1.pdf@1",
                                                              "report-q2.pdf@1"]
    assert names(arts.list(a, created_after=start + 2, created_before=start + 4)) == [
        "report-q2.pdf@1", "calc@1"]
    assert names(arts.list(a, created_after="2025-06-15T15:06:43Z")) == ["calc@1", "calc@2"]
    assert names(arts.list(a, min_size=7, max_size=7)) == ["report-q1.pdf@1"]
    assert names(arts.query(tags="finance")) == ["report-q1.pdf@1", "report-q2.pdf@1",
                                                 "answer.txt@1"]
    assert names(arts.query(artifact_type="user_input", session=b)) == ["image.png@1"]


def test_sort_and_paging(world: tuple[ArtifactManager, Any, Any]) -> None:
    arts, a, _ = world
    assert names(arts.query(sort="-created_at", limit=2)) == ["image.png@1", "answer.txt@1"]
    assert names(arts.query(sort="name", limit=3, offset=1)) == ["calc@1", "calc@2",
                                                                 "image.png@1"]
    assert names(arts.list(a, sort="size", descending=True, limit=1)) == ["report-q2.pdf@1"]
    assert names(arts.list(a, sort="version", descending=True, limit=1)) == ["calc@2"]
    assert arts.query(limit=0) == arts.query()  # 0 means no limit, as in the CLI
    with pytest.raises(ValidationError, match="argument 'sort': must be one of created_at"):
        arts.query(sort="colour")
    with pytest.raises(ValidationError, match="argument 'limit'"):
        arts.query(limit=-1)
    with pytest.raises(ValidationError, match="argument 'created_after'"):
        arts.query(created_after="yesterday")


def test_a_per_type_query_reads_only_that_type(world: tuple[ArtifactManager, Any, Any]) -> None:
    arts, _, _ = world
    store: CountingStore = arts.kv  # type: ignore[assignment]
    store.scans.clear()
    store.fetched = 0
    found = arts.query(artifact_type="agent_output")
    assert names(found) == ["answer.txt@1"]
    assert store.scans == ["artt/agent_output/"]  # the type index, not every record
    assert store.fetched == 1


def test_a_per_session_query_reads_only_that_session(
        world: tuple[ArtifactManager, Any, Any]) -> None:
    arts, _, b = world
    store: CountingStore = arts.kv  # type: ignore[assignment]
    store.scans.clear()
    assert len(arts.list(b)) == 2
    assert store.scans == [f"art/{b.id}/"]


def test_time_ranges_use_the_index_range(world: tuple[ArtifactManager, Any, Any]) -> None:
    arts, _, _ = world
    start = 1_750_000_000.0
    store: CountingStore = arts.kv  # type: ignore[assignment]
    store.fetched = 0
    found = arts.query(artifact_type="user_input", created_after=start + 6)
    assert names(found) == ["image.png@1"] and store.fetched == 1


def test_query_asks_as_the_current_session(rt: Runtime) -> None:
    a, b, c = (rt.sessions.create(n) for n in "abc")
    for s in (a, b, c):
        rt.artifacts.store(s, f"from-{s.name}", "x", as_session=None)
    assert len(rt.artifacts.query()) == 3  # the host sees everything
    rt.artifacts.grant(b, a, "read")
    with rt.sessions.current(a):
        assert sorted(x.name for x in rt.artifacts.query()) == ["from-a", "from-b"]
    assert sorted(x.name for x in rt.artifacts.query(as_session=c)) == ["from-c"]
