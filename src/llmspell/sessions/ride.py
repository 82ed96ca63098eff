"""A call's settlement written in the batch of the artifact that collects its answer.

An agent call in a session writes its settlement (usage counters and the ``llm.call`` entry)
and then, through the collector, its answer as an artifact: two batches, each rewriting the
session record (~180k instructions for the first on memory, ~300k on SQLite). When nothing
of the user's runs between the two (``Agent.invoke`` decides), the settlement waits in a
:class:`Ride` of the calling thread instead, and the artifact's batch takes it: its counts
are added to the artifact's and its entries written just before ``artifact.stored``, so the
journal reads as before.

Any other write of the session in the same thread writes a waiting settlement first, on its
own (:func:`write_waiting`: the session manager's record updates and journal appends do), as
does the end of the call when no artifact took it (collection off, skipped or failed). So the
journal's order and every count stay what they were; only the number of batches changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from llmspell.journal import Draft


@dataclass(slots=True)
class Ride:
    """The settlement a call of session ``session_id`` may leave to its artifact's batch:
    ``operations``, ``tokens`` and ``cost`` to count and ``drafts`` to journal, and
    ``write`` to write them on their own. ``waiting`` while nothing has written them."""

    session_id: str
    operations: int = 0
    tokens: int = 0
    cost: float = 0.0
    drafts: list[Draft] = field(default_factory=list)
    write: Callable[[Ride], Any] | None = None
    waiting: bool = False

    def wait(self, operations: int, tokens: int, cost: float, drafts: list[Draft],
             write: Callable[[Ride], Any]) -> None:
        """Hold a settlement for the artifact's batch."""
        self.operations, self.tokens, self.cost = operations, tokens, cost
        self.drafts, self.write, self.waiting = drafts, write, True

    def taken(self) -> None:
        """A batch wrote the settlement."""
        self.waiting = False

    def settle(self) -> None:
        """Write a waiting settlement on its own (nothing when none waits)."""
        if self.waiting and self.write is not None:
            self.waiting = False
            self.write(self)


_CURRENT: ContextVar[Ride | None] = ContextVar("llmspell_ride", default=None)


@contextmanager
def offered(session_id: str) -> Iterator[Ride]:
    """Within the block (this thread or task), a settlement of ``session_id`` may wait for
    its artifact's batch; at the end, one still waiting is written on its own. A settlement
    waiting in an enclosing block (a call made by a subscriber meanwhile) is written first."""
    outer = _CURRENT.get()
    if outer is not None:
        outer.settle()
    ride = Ride(session_id)
    token = _CURRENT.set(ride)
    try:
        yield ride
    finally:
        _CURRENT.reset(token)
        ride.settle()


def waiting(session_id: str) -> Ride | None:
    """The settlement of ``session_id`` waiting in this thread or task, or None."""
    ride = _CURRENT.get()
    if ride is None or not ride.waiting or ride.session_id != session_id:
        return None
    return ride


def write_waiting(session_id: str) -> None:
    """Before another write of ``session_id``: a settlement waiting for it is written first,
    so the journal keeps its order."""
    ride = _CURRENT.get()
    if ride is not None and ride.waiting and ride.session_id == session_id:
        ride.settle()
