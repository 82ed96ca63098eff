"""The ``artifact.stored`` journal entry skips the journal's secret check when the writer
judged its words plain (``ArtifactWriter._own_fields``): the entry's stored bytes must be
exactly what the journal's full check gives, for plain and secret-looking names, types, mime
types, session ids and asking sessions, with and without extra redaction patterns."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.artifacts import ArtifactManager, BlobStore
from llmspell.artifacts.writer import StoreRequest
from llmspell.journal import Draft, Journal
from llmspell.sessions import SessionManager
from llmspell.storage import open_store
from strategies import examples

_SECRETS = ("sk-abcdefghijklmnopqrstuvwxyz0123", "api_key=hunter2hunter2", "Bearer abc.def",
            "AKIAABCDEFGHIJKLMNOP", "my token", "tokens", "passphrase", "x://u:pw@host",
            "ghp_" + "a" * 36, "eyJhbGciOi.eyJzdWIiOi.c2ln", "ACME-123456", "naïve ✓")
_NAMES = st.one_of(st.sampled_from(_SECRETS), st.text(
    st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40))
_SESSION_IDS = st.one_of(st.sampled_from(("sk-abcdefghijklmnopqrstuvwx", "token-1", "plain",
                                          "AKIAABCDEFGHIJKLMNOP", "ACME-123456")),
                         st.from_regex(r"[A-Za-z0-9._:\-]{1,30}", fullmatch=True))
_TYPES = st.sampled_from(("agent_output", "user_input", "api_key", "secret.thing", "x"))
_MIMES = st.sampled_from(("text/plain", "application/json", "text/x-token",
                          "application/sk-abcdefghijklmnopqrstuvwxyz"))


def _manager(patterns: tuple[str, ...]) -> tuple[SessionManager, ArtifactManager,
                                                 list[tuple[Journal, Draft]]]:
    store = open_store("memory://")
    sessions = SessionManager(store, journal=Journal(store, redact_patterns=patterns))
    artifacts = ArtifactManager(store, BlobStore(store), sessions)
    drafts: list[tuple[Journal, Draft]] = []
    journal = artifacts.writer.journal
    entries_ops = journal.entries_ops

    def spy(session_id: str, batch: Any, **options: Any) -> Any:
        drafts.extend((journal, d) for d in batch)
        return entries_ops(session_id, batch, **options)

    journal.entries_ops = spy  # type: ignore[method-assign]
    return sessions, artifacts, drafts


@settings(max_examples=examples(100), deadline=None)
@given(sid=_SESSION_IDS, name=_NAMES, kind=_TYPES, mime=_MIMES, other=st.booleans(),
       patterns=st.sampled_from(((), (r"\bACME-\d{6}\b",), (r"[0-9a-f]{64}",))))
def test_a_stored_entry_is_what_the_journals_full_check_gives(
        sid: str, name: str, kind: str, mime: str, other: bool,
        patterns: tuple[str, ...]) -> None:
    sessions, artifacts, drafts = _manager(patterns)
    owner = sessions.create("owner")
    asker: Any = owner
    if other:
        asker = sessions.create("asker")
        artifacts.grant(owner, asker, "write")
    for _ in range(2):  # the second store's judgement comes from the writer's memo
        artifacts.store(owner, name, "content", artifact_type=kind, mime_type=mime,
                        as_session=asker)
    stored = [(j, d) for j, d in drafts if d.kind == "artifact.stored"]
    assert len(stored) == 2
    for journal, draft in stored:
        assert journal.encode(7, 1.5, draft) == journal.encode(
            7, 1.5, Draft(draft.kind, draft.data, draft.correlation_id))
    # Session ids are made by llmspell here; any id the pattern allows (a restored one)
    # goes into the entry's id the same way.
    journal, draft = stored[-1]
    writer = artifacts.writer
    nkey, version = draft.data["id"].split("/")[-2:]
    request = StoreRequest(sid, name, draft.data["artifact_type"], mime,
                           by_session=draft.data.get("by_session"))
    data = {**draft.data, "id": f"{sid}/{nkey}/{version}"}
    for _ in range(2):
        judged = Draft(draft.kind, data, None, writer._own_fields(sid, nkey, request))
        assert journal.encode(7, 1.5, judged) == journal.encode(7, 1.5, Draft(draft.kind, data))


@pytest.mark.parametrize("name", ["report", "sk-abcdefghijklmnopqrstuvwxyz0123"])
def test_a_secret_looking_name_is_redacted_in_the_entry_and_a_plain_one_kept(
        name: str) -> None:
    sessions, artifacts, drafts = _manager(())
    owner = sessions.create("owner")
    artifacts.store(owner, name, "content")
    [entry] = sessions.journal.read(owner.id, kinds="artifact")
    assert entry.data["name"] == (name if name == "report" else "[REDACTED]")
    [(_, draft)] = [(j, d) for j, d in drafts if d.kind == "artifact.stored"]
    assert bool(draft.redacted) == (name == "report")  # only a plain entry skips the check
