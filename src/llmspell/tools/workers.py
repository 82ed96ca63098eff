"""Worker threads that run tool calls under a time limit, kept from one call to the next.

A tool with a ``timeout`` (and not ``inline``) runs on a worker thread while the caller waits
at most that long. Starting a thread per call cost more than most tools' own work, so finished
workers wait for the next call instead of ending: :func:`run_bounded` takes an idle worker
(or starts one when none is idle), hands it the call and waits.

A call that passes its time limit is **abandoned**: :class:`CallTimedOut` is raised in the
caller at once; the tool's code keeps running on its worker (Python cannot stop a thread)
until it returns, then its result or error is dropped and that worker ends. It is never given
another call, so a stuck tool holds one thread and never delays a later call. At most
:data:`MAX_IDLE` workers wait idle; the ones beyond that end when their call is done. Workers
are daemon threads: a process does not wait for them to exit. A child made by ``os.fork``
(multiprocessing's default on Linux) starts with no workers.
"""

from __future__ import annotations

import contextvars
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

#: How many idle workers are kept for later calls (the process's, shared by its runtimes).
MAX_IDLE = 4


class CallTimedOut(Exception):
    """The call did not finish within its time limit and was abandoned (module doc)."""


class _Worker:
    """One thread and the call it runs; owned by one caller at a time."""

    def __init__(self, name: str) -> None:
        self.jobs: queue.SimpleQueue[tuple[contextvars.Context, Callable[..., Any],
                                           tuple[Any, ...]] | None] = queue.SimpleQueue()
        self.done = threading.Lock()
        self.done.acquire()  # released by the worker when a call ends
        self.state = threading.Lock()  # guards finished / abandoned
        self.finished = False
        self.abandoned = False
        self.outcome: tuple[bool, Any] = (True, None)
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            context, fn, args = job
            try:
                self.outcome = (True, context.run(fn, *args))
            except BaseException as exc:  # handed to the caller's thread
                self.outcome = (False, exc)
            with self.state:
                self.finished = True
                abandoned = self.abandoned
            if abandoned:
                self.outcome = (True, None)
                return  # nobody waits: drop the outcome, end the thread
            self.done.release()


_idle: list[_Worker] = []
_idle_lock = threading.Lock()
_count = 0


def _take() -> _Worker:
    global _count
    with _idle_lock:
        if _idle:
            return _idle.pop()
        _count += 1
        number = _count
    return _Worker(f"llmspell-tool-{number}")


def _give_back(worker: _Worker) -> None:
    with _idle_lock:
        if len(_idle) < MAX_IDLE:
            _idle.append(worker)
            return
    worker.jobs.put(None)


def run_bounded(fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
    """``fn(*args)`` on a worker thread, in a copy of the caller's context (the current
    session and other context variables); its result, or the exception it raised.

    Raises:
        CallTimedOut: it did not return within ``timeout`` seconds (it was abandoned).
    """
    worker = _take()
    worker.finished = False
    worker.jobs.put((contextvars.copy_context(), fn, args))
    if not worker.done.acquire(timeout=timeout):
        with worker.state:
            late = worker.finished
            if not late:
                worker.abandoned = True
        if not late:
            raise CallTimedOut(f"did not finish within {timeout} s")
        worker.done.acquire()  # it finished as the time ran out: released just after
    ok, value = worker.outcome
    worker.outcome = (True, None)
    _give_back(worker)
    if not ok:
        raise value
    return value


def _forget_workers() -> None:
    """In a child made by ``os.fork`` the parent's workers do not exist: start afresh."""
    global _idle_lock
    _idle.clear()
    _idle_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_workers)


def idle_workers() -> int:
    """How many workers wait for a call now."""
    with _idle_lock:
        return len(_idle)


__all__ = ["MAX_IDLE", "CallTimedOut", "idle_workers", "run_bounded"]
