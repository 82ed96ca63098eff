"""Deleting a session: its record and indexes first, then everything that hangs off it.

A mixin of the SessionManager. ``delete`` removes the record, its index entries and (for an
active session) a slot of the active count in one batch that also writes a tombstone
``sessdel/<id>``; then the ``session:<id>`` state scope, the journal and (through
``on_delete`` callbacks) artifact references go, and the tombstone last. A crash in between
leaves the tombstone, and ``sweep()`` finishes the job.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.errors import SessionNotFound, ValidationError
from llmspell.sessions import index
from llmspell.sessions.model import ACTIVE, Session, session_ref_id
from llmspell.storage.base import Delete, Op, Put
from llmspell.storage.retry import Planned, retry_batch

if TYPE_CHECKING:
    from contextvars import ContextVar

    from llmspell.journal import Journal, Position
    from llmspell.sessions.active import ActiveCounter
    from llmspell.storage.base import Store

logger = logging.getLogger("llmspell.sessions")

SessionRef = Session | str


class Deletion:
    """delete / on_delete, and the purge that finishes a delete (module docstring)."""

    store: Store
    journal: Journal
    active: ActiveCounter
    clear_state: Callable[[str], Any] | None
    _on_delete: list[Callable[[str], Any]]
    _cache: dict[str, tuple[bytes, Position]]
    _decoded: dict[str, tuple[bytes, Session]]
    _activity: dict[str, float]
    _current: ContextVar[str | None]

    if TYPE_CHECKING:
        def _check_enabled(self) -> None: ...
        def _publish(self, kind: str, session: Session, cid: str, *,
                     reason: str | None = None) -> None: ...

    def delete(self, session: SessionRef) -> bool:
        """Delete the session: its record and indexes, its ``session:<id>`` state scope, its
        journal, and (through :meth:`on_delete` callbacks) its artifact references.

        The record goes first, in one batch with a tombstone; the rest follows and the
        tombstone goes last, so an interrupted delete is finished by :meth:`sweep`.

        Raises:
            SessionNotFound: no session has that id.
        """
        self._check_enabled()
        sid = session_ref_id(session)

        def build(attempt: int) -> Planned[tuple[Session, bytes | None]]:
            raw = self.store.get(index.record_key(sid))
            if raw is None:
                raise SessionNotFound(f"no session has id {sid!r}")
            found = Session.decode(raw, index.record_key(sid))
            ops: list[Op] = [Delete(index.record_key(sid)), *index.index_ops(found, None),
                             Put(index.TOMBSTONE_PREFIX + sid, b"")]
            expect: dict[str, bytes | None] = {index.record_key(sid): raw}
            active = self.active.add(-1, ops, expect, "") if found.status == ACTIVE else None
            return ops, expect, (found, active)

        found, active = retry_batch(self.store, build, what=f"delete session {sid}",
                                    lost=self.active.invalidate)
        self.active.committed(active)
        self._cache.pop(sid, None)
        self._decoded.pop(sid, None)
        self._activity.pop(sid, None)
        if self._current.get() == sid:
            self._current.set(None)
        self._purge(sid)
        self._publish("session.deleted", found, os.urandom(8).hex())
        return True

    def on_delete(self, callback: Callable[[str], Any]) -> Callable[[str], Any]:
        """Call ``callback(session_id)`` when a session is deleted (artifact references).

        Returns ``callback``. A callback that raises is logged and the delete goes on.
        """
        if not callable(callback):
            raise ValidationError("callback", "must be callable", got=callback)
        self._on_delete.append(callback)
        return callback

    def _purge(self, sid: str) -> None:
        """Everything of a deleted session but its record (gone already), then the tombstone."""
        if self.clear_state is not None:
            self.clear_state(f"session:{sid}")
        self.journal.delete(sid)
        for callback in self._on_delete:
            try:
                callback(sid)
            except Exception:
                logger.exception("on_delete callback %r failed for session %s", callback, sid)
        self.store.delete(index.TOMBSTONE_PREFIX + sid)
