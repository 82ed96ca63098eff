"""The ADK session and artifact services on every backend: what an ADK app relies on, in our
words (ADK's own suites were run against these locally; see docs/integrations.md)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytest.importorskip("google.adk")

from google.adk.errors import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.events.event import Event, EventActions
from google.adk.sessions.base_session_service import GetSessionConfig
from google.genai import types

from backends import Backend
from llmspell.errors import SessionError, ValidationError
from llmspell.integrations.adk import LLMSpellArtifactService, LLMSpellSessionService

T = TypeVar("T")
HERE = Path(__file__).resolve().parent


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def second_runtime(backend: Backend, first: Any) -> Any:
    """Another Runtime on the same store, as another process would have (rocksdb allows one
    handle per directory: there, the same one)."""
    return first if backend.name == "rocksdb" else backend.runtime()


def said(text: str, delta: dict[str, Any] | None = None, author: str = "user") -> Event:
    return Event(invocation_id="inv", author=author,
                 content=types.Content(role="user", parts=[types.Part.from_text(text=text)]),
                 actions=EventActions(state_delta=delta or {}))


def test_sessions_keep_events_and_three_kinds_of_state(backend: Backend) -> None:
    rt = backend.runtime()
    service = LLMSpellSessionService(rt)
    made = run(service.create_session(app_name="shop", user_id="ann", session_id="cart",
                                      state={"items": 0, "app:currency": "EUR",
                                             "user:lang": "fr", "temp:draft": "x"}))
    assert made.state == {"items": 0, "app:currency": "EUR", "user:lang": "fr"}
    run(service.append_event(made, said("add tea", {"items": 1, "temp:scratch": 9,
                                                    "user:lang": "de"})))
    run(service.append_event(made, said("add jam", {"items": 2}, author="bot")))

    # A second service on the same store (another process would do the same) sees it all.
    again = LLMSpellSessionService(second_runtime(backend, rt))
    got = run(again.get_session(app_name="shop", user_id="ann", session_id="cart"))
    assert got is not None
    assert [e.content.parts[0].text for e in got.events] == ["add tea", "add jam"]
    assert got.state == {"items": 2, "app:currency": "EUR", "user:lang": "de"}
    assert "temp:scratch" not in got.events[0].actions.state_delta
    other = run(again.create_session(app_name="shop", user_id="bob"))
    assert other.state == {"app:currency": "EUR"}  # app state is shared, user state is not
    assert run(again.get_user_state(app_name="shop", user_id="ann")) == {"lang": "de"}

    last = run(again.get_session(app_name="shop", user_id="ann", session_id="cart",
                                 config=GetSessionConfig(num_recent_events=1)))
    assert last is not None and [e.author for e in last.events] == ["bot"]
    listed = run(again.list_sessions(app_name="shop"))
    assert {(s.user_id, s.id) for s in listed.sessions} == {("ann", "cart"), ("bob", other.id)}
    assert all(not s.events for s in listed.sessions)
    assert [s.id for s in run(again.list_sessions(app_name="shop", user_id="bob")).sessions] \
        == [other.id]

    # ADK sessions are llmspell sessions: inspectable with llmspell's own tools.
    names = sorted(s.name for s in rt.sessions.list(tags=["adk"]))
    assert names == sorted(["adk:shop/ann/cart", f"adk:shop/bob/{other.id}"])

    run(again.delete_session(app_name="shop", user_id="ann", session_id="cart"))
    assert run(service.get_session(app_name="shop", user_id="ann", session_id="cart")) is None
    assert len(rt.sessions.list(tags=["adk"])) == 1


def test_a_stale_copy_cannot_append_and_a_taken_id_cannot_be_created(mem) -> None:  # type: ignore[no-untyped-def]
    service = LLMSpellSessionService(mem)
    first = run(service.create_session(app_name="a", user_id="u", session_id="s"))
    second = run(service.get_session(app_name="a", user_id="u", session_id="s"))
    assert second is not None
    event = said("one")
    event.timestamp = first.last_update_time + 5
    run(service.append_event(first, event))
    with pytest.raises(StaleSessionError, match="changed since it was read"):
        run(service.append_event(second, said("two")))
    run(service.append_event(first, event))  # the same event again: stored once
    stored = run(service.get_session(app_name="a", user_id="u", session_id="s"))
    assert stored is not None and [e.id for e in stored.events] == [event.id]
    with pytest.raises(AlreadyExistsError):
        run(service.create_session(app_name="a", user_id="u", session_id="s"))
    with pytest.raises(ValidationError, match="argument 'app_name'"):
        run(service.create_session(app_name="", user_id="u"))
    with pytest.raises(ValidationError, match="argument 'state'"):
        run(service.create_session(app_name="a", user_id="u", state=[1]))  # type: ignore[arg-type]


def test_artifacts_are_versioned_per_session_and_per_user(backend: Backend) -> None:
    rt = backend.runtime()
    sessions = LLMSpellSessionService(rt)
    service = LLMSpellArtifactService(rt)
    run(sessions.create_session(app_name="app", user_id="u", session_id="s"))
    where = {"app_name": "app", "user_id": "u", "session_id": "s"}
    assert run(service.save_artifact(filename="plot.png", artifact=types.Part.from_bytes(
        data=b"\x89PNG-1", mime_type="image/png"), **where)) == 0
    assert run(service.save_artifact(filename="plot.png", artifact=types.Part.from_bytes(
        data=b"\x89PNG-2", mime_type="image/png"), custom_metadata={"dpi": 300}, **where)) == 1
    assert run(service.save_artifact(filename="user:profile", artifact=types.Part.from_text(
        text="likes tea"), **where)) == 0

    again = LLMSpellArtifactService(second_runtime(backend, rt))
    newest = run(again.load_artifact(filename="plot.png", **where))
    assert newest is not None and newest.inline_data is not None
    assert newest.inline_data.data == b"\x89PNG-2"
    first = run(again.load_artifact(filename="plot.png", version=0, **where))
    assert first is not None and first.inline_data is not None
    assert first.inline_data.data == b"\x89PNG-1"
    assert run(again.load_artifact(filename="plot.png", version=2, **where)) is None
    versions = run(again.list_artifact_versions(filename="plot.png", **where))
    assert [(v.version, v.mime_type, v.custom_metadata) for v in versions] == \
        [(0, "image/png", {}), (1, "image/png", {"dpi": 300})]
    assert run(again.list_versions(filename="plot.png", **where)) == [0, 1]
    assert run(again.list_artifact_keys(**where)) == ["plot.png", "user:profile"]
    # A user artifact is seen from any of the user's sessions, and without one.
    other = {"app_name": "app", "user_id": "u", "session_id": "elsewhere"}
    profile = run(again.load_artifact(filename="user:profile", **other))
    assert profile is not None and profile.text == "likes tea"
    assert run(again.list_artifact_keys(app_name="app", user_id="u")) == ["user:profile"]

    run(again.delete_artifact(filename="plot.png", **where))
    assert run(again.load_artifact(filename="plot.png", **where)) is None
    assert run(again.list_versions(filename="plot.png", **where)) == []
    with pytest.raises(ValidationError, match="argument 'session_id'"):
        run(again.save_artifact(app_name="app", user_id="u", filename="x",
                                artifact=types.Part.from_text(text="y")))
    with pytest.raises(ValidationError, match="argument 'artifact'"):
        run(again.save_artifact(filename="x", artifact=types.Part(), **where))
    assert run(again.list_artifact_keys(**where)) == ["user:profile"]


@pytest.mark.slow
def test_an_adk_runner_keeps_its_session_across_two_processes(tmp_path: Path) -> None:
    def turn(message: str, reply: str) -> list[str]:
        done = subprocess.run([sys.executable, str(HERE / "adk_turn.py"), str(tmp_path),
                               message, reply], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    assert turn("buy milk", "Noted.") == ["user: buy milk", "scribe: Noted.", "state notes=1"]
    assert turn("call bob", "Noted too.") == [
        "user: buy milk", "scribe: Noted.", "user: call bob", "scribe: Noted too.",
        "state notes=2"]
    with runtime_at(tmp_path) as rt:
        note = run(LLMSpellArtifactService(rt).load_artifact(
            app_name="notes", user_id="ada", session_id="s1", filename="note.txt"))
        versions = run(LLMSpellArtifactService(rt).list_versions(
            app_name="notes", user_id="ada", session_id="s1", filename="note.txt"))
    assert note is not None and note.text == "call bob" and versions == [0, 1]


def runtime_at(directory: Path) -> Any:
    from llmspell import Runtime

    return Runtime.memory(storage__url=f"sqlite:///{directory / 'llmspell.db'}",
                          base_dir=directory, runtime__data_dir=str(directory / "data"))


def test_an_artifact_save_resumes_a_suspended_session(mem) -> None:  # type: ignore[no-untyped-def]
    sessions = LLMSpellSessionService(mem)
    service = LLMSpellArtifactService(mem)
    run(sessions.create_session(app_name="a", user_id="u", session_id="s"))
    sid = sessions.sessions.find("a/u/s")
    assert sid is not None
    mem.sessions.suspend(sid)  # as an idle timeout would
    where = {"app_name": "a", "user_id": "u", "session_id": "s"}
    assert run(service.save_artifact(filename="f", artifact=types.Part.from_text(text="x"),
                                     **where)) == 0
    assert mem.sessions.get(sid).status == "active"
    mem.sessions.complete(sid)
    with pytest.raises(SessionError, match="completed"):
        run(service.save_artifact(filename="f", artifact=types.Part.from_text(text="y"),
                                  **where))
    assert run(service.list_versions(filename="f", **where)) == [0]
