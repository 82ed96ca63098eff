"""Storing and reading artifacts: content kinds, ids, versions, metadata, mime detection,
limits and the errors a user sees, on memory and sqlite."""

from __future__ import annotations

import io

import pytest

from llmspell.artifacts import Artifact
from llmspell.artifacts.model import parse_id
from llmspell.errors import (
    ArtifactError,
    ArtifactNotFound,
    ArtifactTooLarge,
    ResourceLimitExceeded,
    SessionError,
    SessionNotFound,
    ValidationError,
)
from llmspell.runtime import Runtime
from llmspell.sessions import Session

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def test_bytes_text_and_tables_come_back_as_stored(rt: Runtime, session: Session) -> None:
    arts = rt.artifacts
    raw = arts.store(session, "blob", b"\x00\xffbinary")
    text = arts.store(session, "note", "héllo")
    table = arts.store(session, "analysis.json", {"summary": "ok", "revenue": 1000000,
                                                   "growth": 0.15, "items": [1, 2]})
    assert arts.read(raw.id) == b"\x00\xffbinary" and arts.value(raw.id) == b"\x00\xffbinary"
    assert arts.read(text.id) == "héllo".encode()
    assert arts.value(table.id) == {"summary": "ok", "revenue": 1000000, "growth": 0.15,
                                    "items": [1, 2]}
    assert table.encoding == "json" and table.mime_type == "application/json"
    assert text.encoding is None and text.mime_type == "text/plain"
    assert raw.mime_type == "application/octet-stream"
    assert arts.value(arts.store(session, "list", [1, "two"]).id) == [1, "two"]


def test_ids_name_session_name_key_and_version(rt: Runtime, session: Session) -> None:
    a = rt.artifacts.store(session, "report.md", "# Q4")
    parsed = parse_id(a.id)
    assert parsed is not None and parsed.session_id == session.id and parsed.version == 1
    assert a.id == f"{session.id}/{a.name_key}/1" and len(a.name_key) == 16
    assert rt.artifacts.get(a.id) == a  # an id alone finds it, no session needed
    assert rt.artifacts.get("report.md", session=session) == a
    assert rt.artifacts.get(a) == a
    assert len(a.content_hash) == 64 and a.size == 4


def test_the_same_name_again_is_the_next_version(rt: Runtime, session: Session) -> None:
    arts = rt.artifacts
    v1 = arts.store(session, "draft.txt", "one")
    v2 = arts.store(session, "draft.txt", "two")
    v3 = arts.store(session.id, "draft.txt", "three")
    assert (v1.version, v2.version, v3.version) == (1, 2, 3)
    assert (v1.previous_version, v2.previous_version, v3.previous_version) == (None, 1, 2)
    assert v3.previous_id == v2.id
    assert [a.version for a in arts.versions(session, "draft.txt")] == [1, 2, 3]
    assert arts.get("draft.txt", session=session).version == 3  # the latest
    assert arts.read("draft.txt", session=session, version=1) == b"one"
    assert arts.read(v2.id) == b"two"
    assert arts.versions(session, "never.txt") == []
    with pytest.raises(ArtifactNotFound, match=r"no version 7 of 'draft.txt' .*versions: "
                       r"\[1, 2, 3\]"):
        arts.get("draft.txt", session=session, version=7)


def test_version_numbers_are_never_reused(rt: Runtime, session: Session) -> None:
    arts = rt.artifacts
    arts.store(session, "x", "1")
    v2 = arts.store(session, "x", "2")
    arts.delete(v2)
    with pytest.raises(ArtifactNotFound, match="deleted, or never stored"):
        arts.get(v2.id)
    v3 = arts.store(session, "x", "3")
    assert v3.version == 3 and v3.previous_version == 1
    assert [a.version for a in arts.versions(session, "x")] == [1, 3]
    arts.delete("x", session=session, version=1)
    arts.delete(v3)
    assert arts.versions(session, "x") == []
    assert arts.store(session, "x", "4").version == 4


def test_metadata_fields(rt: Runtime, session: Session) -> None:
    a = rt.artifacts.store(session, "summary", "text", metadata={
        "artifact_type": "AgentOutput", "tags": ["q4", "finance", "q4"],
        "description": "the summary", "created_by": "agent:writer", "reviewer": "ana",
        "custom": {"score": 0.9}})
    assert a.artifact_type == "agent_output"
    assert a.tags == ["q4", "finance"]  # duplicates dropped, order kept
    assert a.description == "the summary" and a.created_by == "agent:writer"
    assert a.custom == {"score": 0.9, "reviewer": "ana"}  # unknown keys are custom fields
    shown = a.to_dict()
    assert shown["created_at"].endswith("Z") and shown["previous_id"] is None
    assert shown["stored_size"] == a.stored_size and shown["compression"] == "none"
    # keyword arguments win over the metadata table
    b = rt.artifacts.store(session, "b", "x", metadata={"tags": ["a"]}, tags=["b"],
                           artifact_type="tool_result")
    assert b.tags == ["b"] and b.artifact_type == "tool_result"
    for spelling, canonical in (("UserInput", "user_input"), ("SYSTEM_GENERATED",
                                "system_generated"), ("ToolResult", "tool_result"),
                                ("report-card", "report-card")):
        assert rt.artifacts.store(session, spelling, "x",
                                  artifact_type=spelling).artifact_type == canonical


@pytest.mark.parametrize(("name", "content", "mime"), [
    ("image", PNG, "image/png"),
    ("image.txt", PNG, "image/png"),  # the signature wins over the extension
    ("doc", b"%PDF-1.7 ...", "application/pdf"),
    ("data", '{"a": [1, 2]}', "application/json"),
    ("log", "[INFO] not json", "text/plain"),
    ("table.csv", "a,b\n1,2\n", "text/csv"),
    ("notes.md", "# hi", "text/markdown"),
    ("page", "<!DOCTYPE html><html></html>", "text/html"),
    ("blob", bytes(range(256)), "application/octet-stream"),
    ("archive", b"PK\x03\x04rest", "application/zip"),
])
def test_mime_type_is_detected(rt: Runtime, session: Session, name: str, content: object,
                               mime: str) -> None:
    assert rt.artifacts.store(session, name, content).mime_type == mime


def test_a_given_mime_type_wins(rt: Runtime, session: Session) -> None:
    a = rt.artifacts.store(session, "x.json", PNG, mime_type="application/x-custom")
    assert a.mime_type == "application/x-custom"
    with pytest.raises(ValidationError, match="argument 'mime_type': must be a media type"):
        rt.artifacts.store(session, "y", "z", mime_type="not a type")


def test_name_and_tag_limits(make_runtime: object) -> None:
    rt: Runtime = make_runtime(session__artifact_max_name_length=8,  # type: ignore[operator]
                               session__artifact_max_tag_length=4, session__artifact_max_tags=2)
    s = rt.sessions.create()
    with pytest.raises(ValidationError, match=r"argument 'name': must be at most 8 characters "
                       r"\(\[session\] artifact_max_name_length\), is 9"):
        rt.artifacts.store(s, "123456789", "x")
    with pytest.raises(ValidationError, match=r"argument 'tags' at \[1\]: each tag must be at "
                       "most 4 characters"):
        rt.artifacts.store(s, "n", "x", tags=["ok", "toolong"])
    with pytest.raises(ValidationError, match="at most 2 tags"):
        rt.artifacts.store(s, "n", "x", tags=["a", "b", "c"])
    with pytest.raises(ValidationError, match="control characters"):
        rt.artifacts.store(s, "a\nb", "x")
    assert rt.artifacts.list(s) == []


def test_the_longest_keys_a_store_builds_are_stored(make_runtime: object) -> None:
    """The writer's batch skips the store's key checks (every key is built from checked
    parts): the longest type and tags it can build must still make valid keys."""
    rt: Runtime = make_runtime(session__artifact_max_tag_length=1000)  # type: ignore[operator]
    s = rt.sessions.create()
    kind = "t" * 64
    tags = ["\u00e9/%" * 60, "\U0001f600" * 49, "a/b%c"]
    a = rt.artifacts.store(s, "n" * 255, "x", artifact_type=kind, tags=tags)
    assert rt.artifacts.query(artifact_type=kind) == [a]
    for tag in tags:
        assert rt.artifacts.query(tags=[tag]) == [a]
    with pytest.raises(ValidationError, match="lone surrogate"):
        rt.artifacts.store(s, "m", "x", tags=["\ud800"])
    assert rt.artifacts.list(s) == [a]


def test_artifact_size_limit(make_runtime: object) -> None:
    rt: Runtime = make_runtime(session__max_artifact_size=100)  # type: ignore[operator]
    s = rt.sessions.create()
    with pytest.raises(ArtifactTooLarge, match=r"artifact 'big' is 101 bytes, over the "
                       r"100-byte limit \(\[session\] max_artifact_size\)"):
        rt.artifacts.store(s, "big", b"x" * 101)
    chunks = (b"y" * 4096 for _ in range(100))
    with pytest.raises(ArtifactTooLarge, match="'stream' is more than 100 bytes"):
        rt.artifacts.store_stream(s, "stream", chunks)
    assert rt.artifacts.store(s, "fits", b"x" * 100).size == 100
    assert rt.sessions.get(s).counters.artifacts == 1
    assert rt.artifacts.stats().blobs == 1  # nothing was left behind by the refusals


def test_per_session_count_and_byte_limits(rt: Runtime) -> None:
    s = rt.sessions.create(limits={"artifacts": 2, "artifact_bytes": 10})
    fired = []
    rt.hooks.register("resource:limit_exceeded", lambda ctx: fired.append(ctx.data))
    first = rt.artifacts.store(s, "a", b"12345")
    with pytest.raises(ResourceLimitExceeded, match=r"artifact_bytes 5 \+ 6 = 11 > limit 10"):
        rt.artifacts.store(s, "b", b"123456")
    rt.artifacts.store(s, "b", b"12345")
    with pytest.raises(ResourceLimitExceeded, match=r"artifacts 2 \+ 1 = 3 > limit 2"):
        rt.artifacts.store(s, "c", b"1")
    assert len(fired) == 2 and fired[0]["session_id"] == s.id
    rt.artifacts.delete(first)  # a delete gives its count and bytes back
    assert rt.sessions.get(s).counters.artifacts == 1
    assert rt.artifacts.store(s, "c", b"1").version == 1


def test_counters_follow_stores_and_deletes(rt: Runtime, session: Session) -> None:
    a = rt.artifacts.store(session, "a", b"x" * 10)
    rt.artifacts.store(session, "a", b"y" * 20)
    counters = rt.sessions.get(session).counters
    assert (counters.artifacts, counters.artifact_bytes) == (2, 30)
    rt.artifacts.delete(a)
    counters = rt.sessions.get(session).counters
    assert (counters.artifacts, counters.artifact_bytes) == (1, 20)


def test_errors_say_what_is_wrong(rt: Runtime, session: Session) -> None:
    arts = rt.artifacts
    with pytest.raises(SessionNotFound, match="no session has id 'nope'"):
        arts.store("nope", "x", "y")
    with pytest.raises(ValidationError, match="argument 'session': must be a session id"):
        arts.store("bad id!", "x", "y")
    with pytest.raises(ValidationError, match=r"argument 'content' at \$\.data: a table "
                       "stored as JSON cannot hold binary strings"):
        arts.store(session, "x", {"data": b"\x00"})
    with pytest.raises(ValidationError, match="argument 'content': must be a string, bytes"):
        arts.store(session, "x", object())
    with pytest.raises(ValidationError, match="'readme' is not an artifact id"):
        arts.get("readme")
    with pytest.raises(ArtifactNotFound, match="has no artifact named 'readme'"):
        arts.get("readme", session=session)
    with pytest.raises(ValidationError, match="argument 'artifact_type'"):
        arts.store(session, "x", "y", artifact_type="no spaces allowed")
    rt.sessions.suspend(session)
    with pytest.raises(SessionError, match="is suspended; resume it first"):
        arts.store(session, "x", "y")
    assert arts.list(session) == []


def test_streams_and_file_objects(rt: Runtime, session: Session) -> None:
    data = bytes(range(256)) * 4000  # ~1 MB, a file blob
    a = rt.artifacts.store_stream(session, "stream.bin", io.BytesIO(data), tags=["s"])
    assert isinstance(a, Artifact) and a.size == len(data) and a.tags == ["s"]
    assert rt.artifacts.read(a.id) == data
    with rt.artifacts.open(a.id) as reader:
        assert b"".join(reader) == data
    small = rt.artifacts.store_stream(session, "small.json", [b'{"a":', b" 1}"])
    assert rt.artifacts.read(small.id) == b'{"a": 1}' and small.mime_type == "application/json"
    with pytest.raises(ValidationError, match=r"argument 'options' at \.colour: unknown "
                                              "option 'colour'; known: artifact_type"):
        rt.artifacts.store_stream(session, "x", [b"1"], colour="red")


def test_a_name_key_collision_is_refused_not_mixed(rt: Runtime, session: Session,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import llmspell.artifacts.manager as manager_module
    import llmspell.artifacts.model as model_module
    import llmspell.artifacts.writer as writer_module

    def same(name: str) -> str:
        return "0123456789abcdef"

    for module in (model_module, writer_module, manager_module):
        monkeypatch.setattr(module, "name_key", same)
    rt.artifacts.store(session, "first", "1")
    with pytest.raises(ArtifactError, match="artifact names 'second' and 'first' have the "
                       "same name key 0123456789abcdef in this session"):
        rt.artifacts.store(session, "second", "2")
    with pytest.raises(ArtifactNotFound):
        rt.artifacts.get("second", session=session)
    assert rt.artifacts.read("first", session=session) == b"1"
