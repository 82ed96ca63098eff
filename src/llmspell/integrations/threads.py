"""Another framework's conversation ids (a LangGraph thread, an ADK session) as llmspell
sessions.

An id maps to one llmspell session, created on first use, tagged with the framework's name
and holding the foreign id in its metadata. The map is kept in state under
``custom:<framework>`` (key ``id/<encoded id>``), written with compare-and-set, so two
processes that meet a new id at once end with one session: the loser deletes its own.
Everything the framework stores for that id goes in the session's state scope
(``session:<id>``), so backups, ``llmspell session`` inspection and session deletion cover it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from llmspell.errors import SessionNotFound, ValidationError
from llmspell.validation import MAX_NAME

if TYPE_CHECKING:
    from llmspell.runtime import Runtime

#: A key segment longer than this is replaced by its hash (state keys have a length limit).
_LONGEST_SEGMENT = 160


def encode_segment(text: str) -> str:
    """``text`` as one ``/``-free part of a state key: percent-encoded (``.`` too, so no key
    holds ``..``); a long one is its SHA-256 prefixed with ``#``."""
    encoded = _quote(text)
    if len(encoded) > _LONGEST_SEGMENT:
        return "#" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return encoded


def _quote(text: str) -> str:
    return quote(text, safe="").replace(".", "%2E")


def decode_segment(segment: str) -> str:
    """The text of a segment :func:`encode_segment` made (not of a hashed one)."""
    return unquote(segment)


def check_foreign_id(value: object, argument: str) -> str:
    """A framework's id: a non-empty str."""
    if not isinstance(value, str) or not value:
        raise ValidationError(argument, "must be a non-empty string", got=value)
    return value


class ForeignSessions:
    """Maps a framework's ids to llmspell sessions of ``runtime``.

    Args:
        runtime: the Runtime whose sessions and state hold the data.
        framework: a short lowercase name (``langgraph``, ``adk``): the session tag and the
            index scope ``custom:<framework>``.
    """

    def __init__(self, runtime: Runtime, framework: str) -> None:
        self.runtime = runtime
        self.framework = framework
        self.index_scope = f"custom:{framework}"

    def find(self, foreign_id: str) -> str | None:
        """The llmspell session id of ``foreign_id``, or None when it has none."""
        entry = self.runtime.state.load(self.index_scope, _index_key(foreign_id))
        return None if entry is None else str(entry["session"])

    def ensure(self, foreign_id: str, *, metadata: Mapping[str, object] | None = None) -> str:
        """The session id of ``foreign_id``, creating its session on first use."""
        sid = self.find(foreign_id)
        if sid is not None:
            return sid
        return self.claim(foreign_id, metadata=metadata) or self._winner(foreign_id)

    def claim(self, foreign_id: str, *, metadata: Mapping[str, object] | None = None) -> str | None:
        """Create the session of ``foreign_id`` and return its id; None when it has one
        already (made here or by another process)."""
        fields = {f"{self.framework}_id": foreign_id, **(metadata or {})}
        session = self.runtime.sessions.create(
            _session_name(self.framework, foreign_id), tags=[self.framework], metadata=fields)
        won = self.runtime.state.compare_and_set(
            self.index_scope, _index_key(foreign_id), None,
            {"session": session.id, "id": foreign_id})
        if not won:  # another process created one first: drop ours
            self.runtime.sessions.delete(session.id)
            return None
        return session.id

    def _winner(self, foreign_id: str) -> str:
        sid = self.find(foreign_id)
        if sid is None:
            raise SessionNotFound(f"{self.framework} id {foreign_id!r}: its session was "
                                  "deleted while this process was creating it")
        return sid

    def forget(self, foreign_id: str) -> bool:
        """Delete ``foreign_id``'s session (its state scope and journal go with it) and its
        map entry. False when it had none."""
        sid = self.find(foreign_id)
        if sid is None:
            return False
        key = _index_key(foreign_id)
        if self.runtime.sessions.exists(sid):
            self.runtime.sessions.delete(sid)
        else:  # its state came back from a backup, which holds no session records
            self.runtime.state.clear_scope(self.scope(sid))
        self.runtime.state.delete(self.index_scope, key)
        return True

    def ids(self, prefix: str = "") -> Iterator[tuple[str, str]]:
        """Every ``(foreign id, session id)`` pair whose foreign id starts with ``prefix``."""
        state = self.runtime.state
        scope = self.index_scope
        hashed = state.list_keys(scope, "id/#")  # long ids: their key says nothing
        for key in state.list_keys(scope, "id/" + _quote(prefix)) + hashed:
            entry = state.load(scope, key)
            if entry is not None and str(entry["id"]).startswith(prefix):
                yield str(entry["id"]), str(entry["session"])

    def scope(self, sid: str) -> str:
        """The state scope holding a session's data."""
        return f"session:{sid}"


def _index_key(foreign_id: str) -> str:
    return "id/" + encode_segment(foreign_id)


def _session_name(framework: str, foreign_id: str) -> str:
    name = f"{framework}:{foreign_id}"
    if len(name) > MAX_NAME or not name.isprintable():
        return f"{framework} thread"
    return name
