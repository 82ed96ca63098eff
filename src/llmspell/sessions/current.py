"""The current session: a context variable, so each thread and each asyncio task has its own.

A new thread starts with no current session; an asyncio task starts with its creator's and
changes it for itself only. ``Session.setCurrent`` in Lua and the state journaling (writes
while a session is current go to its journal) read it. A mixin of the SessionManager.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from llmspell.errors import SessionNotFound
from llmspell.sessions.model import Session

SessionRef = Session | str


def new_current_var(owner: object) -> ContextVar[str | None]:
    """A context variable private to one manager (two runtimes never share a current)."""
    return ContextVar(f"llmspell_current_session_{id(owner):x}", default=None)


class CurrentSession:
    """set_current / get_current / current_id / current (a context manager)."""

    _current: ContextVar[str | None]

    if TYPE_CHECKING:
        def get(self, session: SessionRef) -> Session: ...

    def set_current(self, session: SessionRef | None) -> Session | None:
        """Make ``session`` current in this thread / asyncio task (None: no session)."""
        if session is None:
            self._current.set(None)
            return None
        found = self.get(session)
        self._current.set(found.id)
        return found

    def get_current(self) -> Session | None:
        """The current session of this thread / task, or None."""
        sid = self._current.get()
        if sid is None:
            return None
        try:
            return self.get(sid)
        except SessionNotFound:
            self._current.set(None)
            return None

    def current_id(self) -> str | None:
        """The current session's id without reading it (cheap)."""
        return self._current.get()

    @contextmanager
    def current(self, session: SessionRef | None) -> Iterator[Session | None]:
        """``with manager.current(s):`` makes ``s`` current for the block, then restores."""
        sid = None if session is None else self.get(session).id
        token = self._current.set(sid)
        try:
            yield None if sid is None else self.get(sid)
        finally:
            self._current.reset(token)
