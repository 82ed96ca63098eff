"""The ``session.created`` entry's fields judged once (``Draft.redacted`` from the session's
name, tags and parent id, plain to the journal's redactor: ``Redactor.plain_texts``): the
entry's bytes are those of the journal's whole check, with and without extra patterns, for
texts seen before or not, secrets among them or not."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.journal import Draft, Journal
from llmspell.redact import Redactor
from llmspell.sessions.manager import _created_redacted
from llmspell.sessions.model import ACTIVE, Limits, Session
from llmspell.sessions.transitions import created_entry
from llmspell.storage.memory import MemoryStore
from strategies import examples, text

SECRETS = ["sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3", "token=hunter2hunter2", "password: x",
           "AKIAABCDEFGHIJKLMNOP", "Bearer abcdef123456", "https://u:pw@host/", "acme-42"]
_texts = st.sampled_from(SECRETS) | text(12)
JOURNALS = [Journal(MemoryStore()), Journal(MemoryStore(), redact_patterns=["acme-[0-9]+"])]


def _entry(journal: Journal, session: Session, redacted: tuple[str, ...]) -> bytes:
    return journal.encode(1, 1.5, Draft("session.created", created_entry(session), "c",
                                        redacted))


@settings(max_examples=examples(300))
@given(name=_texts, tags=st.lists(_texts, max_size=3, unique=True),
       parent=st.none() | st.sampled_from(["0190a1b2-c3d4-7e5f-8a9b-000000000001",
                                           "token-abcdefghijklmnopqrstuvwxyz"]),
       description=st.sampled_from(["", "notes", "password: hunter2"]),
       metadata=st.sampled_from([{}, {"k": 1}, {"api_key": "x"}]),
       limits=st.sampled_from([Limits(), Limits(tokens=5)]), twice=st.booleans())
def test_the_created_entry_is_written_as_the_whole_check_writes_it(
        name: str, tags: list[str], parent: str | None, description: str,
        metadata: dict[str, Any], limits: Limits, twice: bool) -> None:
    session = Session("0190a1b2-c3d4-7e5f-8a9b-00000000000a", name, ACTIVE, 1.5, 1.5,
                      description, tags, metadata, parent, 1.5, None, 30.0, None, limits)
    for journal in JOURNALS:
        for _ in range(1 + twice):  # the second time, what was judged plain is remembered
            redacted = _created_redacted(journal.redactor, session)
            assert _entry(journal, session, redacted) == _entry(journal, session, ())


@settings(max_examples=examples(300))
@given(texts=st.lists(_texts, max_size=4))
def test_plain_texts_are_those_redaction_keeps(texts: list[str]) -> None:
    for redactor in (Redactor(), Redactor(["acme-[0-9]+"])):
        if redactor.plain_texts(texts):
            assert redactor.redact({"name": texts}) == {"name": texts}
            assert redactor.plain_texts(texts)  # remembered: judged the same again


def test_plain_texts_spare_the_check_and_a_secret_does_not() -> None:
    redactor = Redactor()
    plain = Session("i", "research", ACTIVE, 1.0, 1.0, tags=["a", "b"])
    assert _created_redacted(redactor, plain) == tuple(created_entry(plain))
    leaked = Session("i", "research", ACTIVE, 1.0, 1.0, tags=["token=hunter2hunter2"])
    assert _created_redacted(redactor, leaked) == ()
