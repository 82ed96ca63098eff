"""The shortcuts a collected store (and every store) takes must refuse and give exactly what
the general path does: each test plants the case a shortcut must not take, or compares the
shortcut with the general path over many inputs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.artifacts import ArtifactManager, BlobStore, content_hash
from llmspell.artifacts.blobs.records import CHUNKS, FILE, INLINE, Meta, chunk_count, meta_key
from llmspell.artifacts.model import TYPES, artifact_type
from llmspell.errors import IntegrityError, ValidationError
from llmspell.events import capture_events
from llmspell.hooks import HookResult
from llmspell.runtime import Runtime
from llmspell.sessions import ManualClock, Session, SessionManager
from llmspell.sessions.index import record_key
from llmspell.storage import open_store
from strategies import examples

_COUNT = st.integers(0, 2**53)


@st.composite
def metas(draw: st.DrawFn) -> Meta:
    """Valid meta records of each location."""
    loc = draw(st.sampled_from((INLINE, CHUNKS, FILE)))
    stored = draw(_COUNT)
    return Meta(draw(_COUNT), stored, draw(st.sampled_from(("none", "zstd", "lz4"))), loc,
                draw(st.text(min_size=1, max_size=20)) if loc == FILE else None, draw(_COUNT),
                draw(_COUNT), draw(st.text("0123456789abcdef", min_size=32, max_size=32))
                if loc == CHUNKS else None, chunk_count(stored) if loc == CHUNKS else 0)


@settings(max_examples=examples(200))
@given(meta=metas())
def test_a_remembered_meta_record_is_what_decoding_its_bytes_gives(meta: Meta) -> None:
    blobs = BlobStore(open_store("memory://"))
    writer, blob_hash = blobs._writer, "a" * 64
    raw = writer.encoded(blob_hash, meta)
    remembered = writer.decoded(blob_hash, raw)
    decoded = Meta.decode(blob_hash, raw)
    assert remembered == decoded


def test_a_meta_record_changed_since_it_was_remembered_is_read_from_the_store() -> None:
    store = open_store("memory://")
    mine, other = BlobStore(store), BlobStore(store)
    mine.put(b"content", ref=True)
    blob_hash = content_hash(b"content")
    other.incref(blob_hash)  # another writer: the bytes mine remembers are stale
    assert mine.put(b"content", ref=True).hash == blob_hash
    assert mine.refcount(blob_hash) == 3
    store.put(meta_key(blob_hash), b'{"size": "damaged"}')
    with pytest.raises(IntegrityError, match="is malformed"):
        mine.put(b"content", ref=True)


def test_a_built_in_type_as_spelled_here_is_what_the_general_rule_gives() -> None:
    class Spelled(str):  # a str subclass takes the general path
        pass

    for kind in (*TYPES, "AgentOutput", "tool-result", "custom.kind"):
        assert artifact_type(kind) == artifact_type(Spelled(kind))
        assert type(artifact_type(kind)) is str
    with pytest.raises(ValidationError, match="artifact_type"):
        artifact_type(Spelled("no spaces allowed"))


def test_the_counters_view_auto_collect_reads_is_the_session_managers(
        rt: Runtime, session: Session) -> None:
    counters, sid = rt.sessions.artifact_counters, session.id
    steps = [lambda: rt.artifacts.store(session, "a", b"x"),
             lambda: rt.sessions.add_usage(session, operations=1),
             lambda: rt.sessions.save(session),
             lambda: rt.artifacts.store(session, "a", b"y"),
             lambda: rt.sessions.suspend(session),
             lambda: rt.sessions.resume(session),
             lambda: rt.artifacts.store(session, "b", "z", as_session=sid, collected=True)]
    for step in steps:
        step()
        seen = counters.peek(sid)
        assert seen is not None and seen == rt.sessions.peek(sid)
        assert rt.artifacts.auto_collect(sid)
    quiet = rt.sessions.create("quiet", metadata={"auto_collect_artifacts": False})
    rt.artifacts.store(quiet, "a", b"x")
    assert counters.peek(quiet.id) is not None and not rt.artifacts.auto_collect(quiet.id)


def test_auto_collect_applies_a_passed_timeout_as_the_session_manager_does() -> None:
    clock = ManualClock(1_750_000_000.0)
    store = open_store("memory://")
    sessions = SessionManager(store, clock=clock)
    arts = ArtifactManager(store, BlobStore(store), sessions)
    idle = sessions.create("idle", max_idle_time=10)
    arts.store(idle, "first", b"x")
    clock.advance(60)
    assert arts.auto_collect(idle.id)
    # read from the store, not through a cache: the timeout was applied and written
    assert Session.decode(store.get(record_key(idle.id)), "k").status != "active"


def test_a_collection_refuses_what_a_store_refuses(rt: Runtime, session: Session) -> None:
    def collect(output: object, usage: object = None) -> list[str]:
        with capture_events(rt.events, "artifact.*") as events:
            rt.hooks.fire("agent:after_execution", {"output": output, "usage": usage},
                          component="writer", session_id=session.id)
        return [e.data.get("error_type", e.type) for e in events]

    assert collect("ok", {"tokens": b"binary"}) == ["ValidationError"]  # a bad custom field
    rt.sessions.suspend(session)
    assert collect("ok") == ["SessionError"]
    rt.sessions.resume(session)
    skip = rt.hooks.register("artifact:before_store", lambda ctx: HookResult.skip())
    assert collect("skipped") == []
    skip.unregister()
    seen: list[str] = []
    rt.hooks.register("artifact:after_store", lambda ctx: seen.append(ctx.data["name"]),
                      name="seen")
    assert collect("ok") == ["artifact.stored"] and seen == ["agent_output/writer"]
    assert [rt.artifacts.read(a) for a in rt.artifacts.list(session)] == [b"ok"]


def test_a_collection_over_a_limit_is_refused(make_runtime: Any) -> None:
    rt: Runtime = make_runtime(session__max_artifacts_per_session=1)
    session = rt.sessions.create("small")
    with capture_events(rt.events, "artifact.collect_failed") as events:
        for text in ("one", "two"):
            rt.hooks.fire("agent:after_execution", {"output": text}, component="writer",
                          session_id=session.id)
    assert [e.data["error_type"] for e in events] == ["ResourceLimitExceeded"]
    assert [rt.artifacts.read(a) for a in rt.artifacts.list(session)] == [b"one"]


def test_the_counters_view_is_their_own_copy_of_the_managers_decode() -> None:
    """The counters take the manager's decode of the record it just wrote (no second decode):
    a copy, so a change to one is not seen by the other, and equal to decoding the bytes."""
    manager = SessionManager(open_store("memory://"))
    session = manager.create("s")
    manager.add_usage(session, tokens=5)  # the manager rewrites the record
    counters = manager.artifact_counters
    view = counters.read(session.id)
    assert view.session == Session.decode(view.raw, record_key(session.id))
    view.session.counters.tokens = 99
    view.session.metadata["planted"] = True
    peeked = manager.peek(session.id)
    assert peeked.counters.tokens == 5 and "planted" not in peeked.metadata
    again = manager.decode(session.id, view.raw)
    assert again.counters.tokens == 5 and again is not view.session
