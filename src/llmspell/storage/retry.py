"""Optimistic writes: read, build a batch guarded by ``expect``, apply it, and when another
writer got there first, read and build again.

Every read-modify-write in llmspell (a session moving, a state commit taking the next sequence
number, an artifact taking the next version, a journal entry taking the next number) is this
loop, and :func:`retry_batch` is its one copy: it owns the attempt limit, the back-off once a
writer keeps losing, and the error when it loses every time::

    def build(attempt: int) -> tuple[list[Op], dict[str, bytes | None], Session]:
        raw = store.get(key)                      # read afresh on every attempt
        new = change(raw)
        return [Put(key, new.encode())], {key: raw}, new

    session = retry_batch(store, build, what=f"write session {sid}")

``build`` must only read and plan: it may run many times, and only the batch of the attempt
that wins is applied. An exception from ``build`` (a refusal decided on fresh reads) ends the
loop and propagates; nothing is written then.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from llmspell.errors import WriteContention
from llmspell.storage.base import Chunk, Op, Store

T = TypeVar("T")

#: How many times a write is built and tried before :class:`WriteContention` is raised. With
#: the back-off below, a writer gives up after losing continuously for about 50 seconds.
MAX_ATTEMPTS = 1000
#: Attempts made back to back; after that a lost race waits BACKOFF_STEP * attempt seconds
#: (at most BACKOFF_MAX) so that the winners can finish instead of being raced again.
BACKOFF_AFTER = 8
BACKOFF_STEP = 0.001
BACKOFF_MAX = 0.05

#: What ``build(attempt)`` returns: the ops, the conditions they are applied under (key ->
#: exact bytes, ``None`` for absent) and the value :func:`retry_batch` returns once applied.
Planned = tuple[list[Op], dict[str, bytes | None], T]


def retry_batch(store: Store, build: Callable[[int], Planned[T]], *, what: str,
                checked: bool = True, lost: Callable[[], object] | None = None,
                attempts: int | None = None) -> T:
    """Apply the batch ``build(attempt)`` plans, building it again after each lost race.

    Arguments:
        store: where the batch goes.
        build: called with the attempt number (0 first; above 0 the previous batch lost its
            race), returns ``(ops, expect, result)``. Empty ``ops`` and ``expect`` mean there
            is nothing to write: ``result`` is returned at once, the store untouched.
        what: what is being written, for the error ("append to the journal of session x").
        checked: False applies the batch with :meth:`Store.batch_unchecked`, for ops built
            from parts already checked (its docstring says when that is safe).
        lost: called after each lost race, before the next attempt: drop what was cached
            from the reads that turned out stale.
        attempts: the limit for a build too costly to repeat :data:`MAX_ATTEMPTS` times
            (a bulk rewrite plans thousands of records); the default is MAX_ATTEMPTS.

    Returns:
        The ``result`` of the attempt whose batch was applied.

    Raises:
        WriteContention: every attempt lost its race (naming ``what`` and the attempts).
        Whatever ``build`` or ``lost`` raised, and the store's errors; nothing is written
        by the attempt that raised.
    """
    # The first attempt, which nearly always wins, is spelled out: state and session writes
    # run through here, and the loop's bookkeeping would be a tenth of a memory-store write.
    ops, expect, result = build(0)
    if (not ops and not expect) or (store.batch_unchecked(ops, expect) if not checked
                                    else store.batch(ops, expect=expect)):
        return result
    return _again(lambda attempt: _apply(store, build(attempt), checked), what=what, lost=lost,
                  attempts=attempts)


def retry_stream(store: Store, build: Callable[[int], tuple[Iterable[Chunk], T]], *,
                 what: str, lost: Callable[[], object] | None = None,
                 attempts: int | None = None) -> T:
    """:func:`retry_batch` for a stream (:meth:`Store.batch_stream`): ``build(attempt)``
    returns ``(chunks, result)``; a stream whose condition failed is built again. The chunks
    must be built from checked parts (applied with ``batch_stream_unchecked``)."""
    def attempt(n: int) -> tuple[bool, T]:
        chunks, result = build(n)
        return store.batch_stream_unchecked(chunks), result
    return _again(attempt, what=what, lost=lost, attempts=attempts, first=0)


def _apply(store: Store, planned: Planned[T], checked: bool) -> tuple[bool, T]:
    ops, expect, result = planned
    done = (not ops and not expect) or (store.batch_unchecked(ops, expect) if not checked
                                        else store.batch(ops, expect=expect))
    return done, result


def _again(attempt: Callable[[int], tuple[bool, T]], *, what: str,
           lost: Callable[[], object] | None, attempts: int | None, first: int = 1) -> T:
    """The loop of lost races: attempts ``first``.. (the back-off, ``lost``, the limit)."""
    limit = MAX_ATTEMPTS if attempts is None else attempts
    for n in range(first, limit):
        if n and lost is not None:
            lost()
        if n > BACKOFF_AFTER:
            time.sleep(min(BACKOFF_STEP * (n - 1), BACKOFF_MAX))
        done, result = attempt(n)
        if done:
            return result
    if lost is not None:
        lost()
    raise WriteContention(what, limit)
