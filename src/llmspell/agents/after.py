"""One commit for what a call writes after its model or tool answered.

An agent call in a session writes three batches once the provider has answered: the settlement
(counters and the ``llm.call`` entry), the collected artifact (``agent:after_execution``'s
collector) and the session recorder's entry of the ``agent.execution_completed`` event. A tool
call writes the ``tool.call`` entry with its event's entry, and the collected artifact.
:class:`AfterAnswer` puts them under one :meth:`Store.one_commit
<llmspell.storage.base.Store.one_commit>`: on SQLite one commit instead of three (each ~65 us
CPU). Each batch still applies on its own with its conditions; a failure leaves the others.

The group is opened only once the answer is in (never across the provider's HTTP request or
the tool's own execution) and only when no hook of the user's is registered at the points
the call fires while it is open (the after point, the error point, ``resource:limit_exceeded``
for a limit the answer passed: :func:`user_hooks_at`): such a hook could take any time while
the store's lock is held. What runs inside is llmspell's own code and what it fires: the
collector, the ``artifact:*`` hooks and events of its store, and the event's synchronous
subscribers (docs/agents.md, "What a call costs").
The group is opened and closed on the same thread, within one synchronous call.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from llmspell.storage.base import Store


def user_hooks_at(hooks: Any, points: tuple[str, ...]) -> bool:
    """Whether firing one of ``points`` of ``hooks`` (a HookRegistry, or None) runs a hook
    that is not llmspell's own artifact collector."""
    if hooks is None:
        return False
    return any(hooks.user_names_at(point) for point in points if hooks.has(point))


class AfterAnswer:
    """The commit group of one call's writes after its answer (see the module docstring).

    ``store``: the store the session writes go to, or None (no session: nothing to group).
    ``open()`` enters the group (once); ``close()`` leaves it, committing; used as a ``with``
    block, the exit closes it whatever happened.
    """

    __slots__ = ("_group", "_store")

    def __init__(self, store: Store | None) -> None:
        self._store = store
        self._group: AbstractContextManager[None] | None = None

    @classmethod
    def for_call(cls, store: Store | None, sid: str | None, hooks: Any,
                 points: tuple[str, ...]) -> AfterAnswer:
        """The group of a call in session ``sid`` whose writes go to ``store``: one that groups
        nothing without a session or a store, or when a hook of the user's runs at one of
        ``points``, those the call may fire while the group is open
        (:func:`user_hooks_at`)."""
        if (store is None or sid is None or type(store).one_commit is Store.one_commit
                or user_hooks_at(hooks, points)):
            return cls(None)  # nothing to group (the backend commits each batch anyway)
        return cls(store)

    def open(self) -> None:
        if self._group is None and self._store is not None:
            group = self._store.one_commit()
            group.__enter__()
            self._group = group

    def close(self) -> None:
        group, self._group = self._group, None
        if group is not None:
            group.__exit__(None, None, None)

    def __enter__(self) -> AfterAnswer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
