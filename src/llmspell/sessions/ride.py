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

The collection itself may wait too (``later``: ``Agent.invoke`` decides, when the session
recorder is the first code to see the call's ``agent.execution_completed`` event): the
collector leaves the store to the ride (:meth:`Ride.defer`), and the next journal append of
the session in the thread (that event's entry) has it run with its entries written after
``artifact.stored`` in the same batch (:func:`write_waiting`). Anything else that writes the
session first, and the end of the call, run it on its own. Nothing of the user's runs in
between: no hook (the ride's condition) and no subscriber before the recorder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from llmspell.journal import Draft

logger = logging.getLogger("llmspell.sessions")


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
    #: Whether the collection may wait for the next journal append (module docstring).
    later: bool = False
    #: The collection left to the ride (:meth:`defer`), not run yet.
    collect: Callable[[], Any] | None = None
    #: Entries the collection's batch writes after its own (:meth:`flush`), and whether it did.
    trailing: tuple[Draft, ...] = ()
    carried: bool = False

    def wait(self, operations: int, tokens: int, cost: float, drafts: list[Draft],
             write: Callable[[Ride], Any]) -> None:
        """Hold a settlement for the artifact's batch."""
        self.operations, self.tokens, self.cost = operations, tokens, cost
        self.drafts, self.write, self.waiting = drafts, write, True

    def taken(self) -> None:
        """A batch wrote the settlement (and :attr:`trailing`)."""
        self.waiting = False
        self.carried = bool(self.trailing)

    def defer(self, collect: Callable[[], Any]) -> None:
        """Leave the collection of the call's answer to :meth:`flush`."""
        self.collect = collect

    def flush(self, trailing: tuple[Draft, ...] = ()) -> bool:
        """Run a deferred collection (nothing when none waits), ``trailing`` written after
        its entries in its batch; whether they were (False: the caller writes them). A
        failure the collector does not handle itself is logged: the settlement and the
        entries are written all the same."""
        collect, self.collect = self.collect, None
        if collect is None:
            return False
        self.trailing, self.carried = trailing, False
        try:
            collect()
        except Exception:
            logger.exception("could not collect the answer of a call in session %s",
                             self.session_id)
        finally:
            self.trailing = ()
        return self.carried

    def settle(self, trailing: tuple[Draft, ...] = ()) -> None:
        """Run a deferred collection, then write a settlement still waiting on its own,
        ``trailing`` after its entries in its batch."""
        if self.collect is not None:
            self.flush()
        if self.waiting and self.write is not None:
            self.waiting = False
            self.trailing = trailing
            try:
                self.write(self)
            finally:
                self.trailing = ()


_CURRENT: ContextVar[Ride | None] = ContextVar("llmspell_ride", default=None)


@contextmanager
def offered(session_id: str, *, later: bool = False) -> Iterator[Ride]:
    """Within the block (this thread or task), a settlement of ``session_id`` may wait for
    its artifact's batch, and with ``later`` the collection for the next journal append; at
    the end, what still waits is written on its own. What waits in an enclosing block (a
    call made by a subscriber meanwhile) is written first."""
    outer = _CURRENT.get()
    if outer is not None:
        outer.settle()
    ride = Ride(session_id, later=later)
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


def collect_later(session_id: str) -> Ride | None:
    """The ride a collection into ``session_id`` may leave its store to (:meth:`Ride.defer`),
    or None: the collection runs now."""
    ride = _CURRENT.get()
    if (ride is None or not ride.later or not ride.waiting or ride.collect is not None
            or ride.session_id != session_id):
        return None
    return ride


def write_waiting(session_id: str, drafts: tuple[Draft, ...] = ()) -> bool:
    """Before another write of ``session_id``: what waits for it (a deferred collection, a
    settlement) is written first, so the journal keeps its order. ``drafts``: the entries of
    a journal append, which a deferred collection writes in its batch; whether it did (the
    caller has nothing left to write)."""
    ride = _CURRENT.get()
    if ride is None or ride.session_id != session_id or not (
            ride.waiting or ride.collect is not None):
        return False
    if drafts:
        if ride.flush(drafts):
            return True
        if ride.waiting and ride.later:  # no collection took it: the entries go with it
            ride.settle(drafts)
            return True
    ride.settle()
    return False
