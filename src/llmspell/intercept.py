"""The one interception point for calls whose results come from outside the process.

Model calls of agents and tool calls (of agents and of ``rt.tools.invoke``) run through
:func:`through`. Normally that is one context-variable read and the call itself. A replay
(:mod:`llmspell.replay`) installs a :class:`CallSource` for the code it runs
(:func:`installed`); the source then decides: serve the recorded result without calling
(``exact`` replay), or call and compare (``live``). Callers describe the call once, in the
form the journal records it, so the source can match it against the journal and show a
precise difference; they never test for a replay themselves.

The source is a context variable: it applies to the thread (or asyncio task) running the
replay and to the worker threads that copy its context (tool timeouts, ``ainvoke``), and to
nothing else the same runtime does meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call:
    """A call about to be made, as the journal records it.

    ``kind``: the journal kind (``llm.call`` or ``tool.call``); ``fingerprint``: the SHA-256
    the journal entry carries (what decides the result); ``describe()``: the fields a
    divergence shows (agent, tool, arguments, model, messages...); ``restore(data)``: the
    caller's result rebuilt from a recorded entry's data.
    """

    kind: str
    fingerprint: str
    describe: Callable[[], dict[str, Any]]
    restore: Callable[[dict[str, Any]], Any]


class CallSource(Protocol):
    """Where results come from while a replay runs (``llmspell.replay.source`` implements
    it): ``serve(call, perform)`` returns the result, calling ``perform()`` or not.
    ``serves`` is False for a source that always calls ``perform()`` (a recording): callers
    may then keep a form of the call the seam cannot wrap (a stream, chunk by chunk)."""

    serves: bool

    def serve(self, call: Call, perform: Callable[[], Any]) -> Any: ...


_SOURCE: ContextVar[CallSource | None] = ContextVar("llmspell_call_source", default=None)


def active() -> bool:
    """True while a call source that may serve results is installed (a replay runs in this
    context); a recording source does not count."""
    source = _SOURCE.get()
    return source is not None and source.serves


def through(kind: str, fingerprint: str, perform: Callable[[], T], *,
            describe: Callable[[], dict[str, Any]],
            restore: Callable[[dict[str, Any]], T]) -> T:
    """``perform()``, unless the installed call source serves the result (module doc)."""
    source = _SOURCE.get()
    if source is None:
        return perform()
    result: T = source.serve(Call(kind, fingerprint, describe, restore), perform)
    return result


@contextmanager
def installed(source: CallSource) -> Iterator[CallSource]:
    """Install ``source`` for the code run inside the block (this context only)."""
    token = _SOURCE.set(source)
    try:
        yield source
    finally:
        _SOURCE.reset(token)


@dataclass(slots=True)
class ContextChanges:
    """rs-llmspell's replay modifications of hook contexts, for the Lua hooks a replay's
    script runs: ``data`` keys set in each context's data table, ``metadata`` keys (strings)
    in its metadata. ``applied`` counts the hook calls changed, ``skipped`` those whose data is
    not a table (nothing to set a key in)."""

    data: dict[str, Any]
    metadata: dict[str, str]
    applied: int = 0
    skipped: int = 0

    def apply(self, table: dict[str, Any]) -> None:
        """Change a hook context given as a table (``HookContext.to_dict()``) in place."""
        data = table.get("data")
        if self.data and not isinstance(data, dict):
            self.skipped += 1
            return
        if self.data:
            table["data"] = {**data, **self.data}  # type: ignore[dict-item]
        if self.metadata:
            table["metadata"] = {**(table.get("metadata") or {}), **self.metadata}
        self.applied += 1


_CHANGES: ContextVar[ContextChanges | None] = ContextVar("llmspell_context_changes",
                                                         default=None)


def context_changes() -> ContextChanges | None:
    """The hook context changes of the replay running in this context, if any."""
    return _CHANGES.get()


@contextmanager
def changing_contexts(changes: ContextChanges | None) -> Iterator[None]:
    """Apply ``changes`` to the Lua hooks run inside the block (this context only)."""
    token = _CHANGES.set(changes)
    try:
        yield
    finally:
        _CHANGES.reset(token)
