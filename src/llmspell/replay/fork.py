"""Fork: a new session whose state and artifacts are those of another at a sequence number.

The fork is a child of the source (``parent_session_id``; ``metadata.forked_from`` and
``forked_at``). Its own scope ``session:<fork id>`` gets the source's ``session:<id>`` scope
as rebuilt at that seq (:meth:`SessionManager.state_at`), in one batch; each artifact alive
then is stored again in the fork under its name from the same content, which the blob store
keeps once by content address (the fork adds a reference, never the bytes). Keys the source
wrote in other scopes are shared scopes, not the session's: they are not copied.

From then on the two sessions are independent: writes in either do not reach the other. A
fork can run a changed script (``llmspell run --session FORK changed.lua``).
"""

from __future__ import annotations

from typing import Any

from llmspell.errors import ArtifactNotFound

SESSION_SCOPE = "session:"


def fork_session(runtime: Any, session: Any, at_seq: int | None = None, *,
                 name: str | None = None, metadata: dict[str, Any] | None = None,
                 tags: Any = None) -> Any:
    """Fork ``session`` at ``at_seq`` (default: its newest entry); the new Session.

    Raises:
        SessionNotFound: no such session.
        ValidationError: ``at_seq`` is not one of its sequence numbers; a bad name.
        StateError: its state at ``at_seq`` cannot be rebuilt (values not journaled).
        ArtifactNotFound: an artifact alive at ``at_seq`` was deleted since, with its
            content. Nothing is left behind when the fork fails.
    """
    sessions = runtime.sessions
    source = sessions.get(session)
    snap = sessions.state_at(source.id, at_seq)
    fork = sessions.create(
        source.name if name is None else name,
        tags=list(source.tags) if tags is None else tags, parent_session_id=source.id,
        metadata={"forked_from": source.id, "forked_at": snap.seq, **(metadata or {})})
    try:
        if snap.state:
            runtime.state.save_many({SESSION_SCOPE + fork.id: snap.state})
        for item in snap.artifacts:
            share_artifact(runtime, item, fork.id, snap.seq)
    except BaseException:
        sessions.delete(fork.id)
        raise
    return sessions.get(fork.id)


def share_artifact(runtime: Any, item: dict[str, Any], fork_id: str, seq: int) -> None:
    """Store the artifact version ``item`` (as a journal entry names it) in ``fork_id`` from
    the same content: the blob gains a reference, not a copy."""
    artifacts = runtime.artifacts
    try:
        record = artifacts.get(item["id"], as_session=None)
        content = artifacts.read(item["id"], as_session=None)
    except ArtifactNotFound:
        raise ArtifactNotFound(f"artifact {item['name']!r} (version {item['version']}) was "
                               f"alive at seq {seq} but has been deleted since, with its "
                               "content: the fork cannot have it") from None
    artifacts.store(fork_id, record.name, content, artifact_type=record.artifact_type,
                    mime_type=record.mime_type, tags=list(record.tags),
                    description=record.description, custom=dict(record.custom),
                    created_by=record.created_by, as_session=None)
