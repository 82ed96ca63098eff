"""The home thread of a workflow run: where code that must not leave its thread runs.

A Lua state is used by one thread at a time, and the thread that started a workflow from a
script holds it (lupa locks the state for the whole script call). A parallel branch that calls
a Lua function (a function step, a condition, a Lua hook at ``tool:before_execution``) from a
pool thread would wait for that lock forever. So a run has a *home*: the thread that called
``execute``. Work submitted through :meth:`Home.submit` runs on pool threads that know their
home (a context variable), and :func:`route` sends a call made on such a thread to the home,
which runs it while it waits for the pool (:meth:`Home.wait`). The Lua engine calls every Lua
function through :func:`route`: Lua code therefore always runs on the home thread, one call at
a time, under the Lua state's lock.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import contextmanager
from typing import Any

from llmspell.errors import WorkflowError

_HOME: contextvars.ContextVar[Home | None] = contextvars.ContextVar("llmspell_home",
                                                                     default=None)
_TICKET: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar("llmspell_home_ticket",
                                                                         default=None)
_WAKE = object()


class Ticket:
    """The calls one piece of submitted work sent home: so that, when the work is given up
    (a step past its timeout), the calls still queued are dropped and later ones refused."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.abandoned = False
        self.calls: set[Future[Any]] = set()

    def enqueue(self, done: Future[Any]) -> bool:
        """Note a call sent home; False when the work was already given up."""
        with self.lock:
            if self.abandoned:
                return False
            self.calls.add(done)
            done.add_done_callback(self._forget)
            return True

    def _forget(self, done: Future[Any]) -> None:
        with self.lock:
            self.calls.discard(done)

    def abandon(self) -> tuple[int, list[Future[Any]]]:
        """Give the work up: cancel its queued calls; returns how many were cancelled and the
        calls already running at home (Lua code cannot be stopped midway)."""
        with self.lock:
            self.abandoned = True
            calls = list(self.calls)
        cancelled = sum(1 for done in calls if done.cancel())
        return cancelled, [done for done in calls if not done.cancelled()]


class Home:
    """The home of one run (see the module docstring)."""

    def __init__(self) -> None:
        self.owner = threading.get_ident()
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.closed = False

    def at_home(self) -> bool:
        return threading.get_ident() == self.owner

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the home thread (directly when already there)."""
        if self.at_home():
            return fn(*args)
        if self.closed:
            raise WorkflowError("a call reached the home thread of a workflow run that is over "
                                "(an abandoned step still running after its timeout?)")
        done: Future[Any] = Future()
        ticket = _TICKET.get()
        if ticket is not None and not ticket.enqueue(done):
            raise WorkflowError("a call reached the home thread from a workflow step that was "
                                "given up after its timeout; it is not run")
        self._jobs.put((done, fn, args))
        return done.result()

    def submit(self, pool: ThreadPoolExecutor | None, fn: Callable[..., Any],
               *args: Any, ticket: Ticket | None = None) -> Future[Any]:
        """Run ``fn(*args)`` on ``pool`` (a new daemon thread when None), knowing this home;
        the home wakes when it finishes. The calls it sends home are noted on ``ticket``
        (see :meth:`Ticket.abandon`)."""
        context = contextvars.copy_context()
        context.run(_HOME.set, self)
        if ticket is not None:
            context.run(_TICKET.set, ticket)
        if pool is not None:
            future = pool.submit(context.run, fn, *args)
        else:
            future = Future()

            def work() -> None:
                if not future.set_running_or_notify_cancel():
                    return
                try:
                    future.set_result(context.run(fn, *args))
                except BaseException as exc:  # handed to the waiter
                    future.set_exception(exc)

            threading.Thread(target=work, name="llmspell-workflow-step", daemon=True).start()
        future.add_done_callback(lambda _: self._jobs.put(_WAKE))
        return future

    def wait(self, futures: Iterable[Future[Any]], timeout: float | None = None, *,
             first: bool = False) -> bool:
        """Wait for ``futures`` (all of them, or the first when ``first``), running calls
        routed home meanwhile. Returns False when ``timeout`` passed first."""
        pending = [f for f in futures]
        if not self.at_home():
            done, _ = wait_futures(pending, timeout,
                                   return_when=FIRST_COMPLETED if first else "ALL_COMPLETED")
            return bool(done) if first else len(done) == len(pending)
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            finished = [f for f in pending if f.done()]
            if (first and finished) or len(finished) == len(pending):
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            try:
                job = self._jobs.get(timeout=left)
            except queue.Empty:
                return False
            if job is not _WAKE:
                self._run(job)

    @staticmethod
    def _run(job: tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]) -> None:
        done, fn, args = job
        if not done.set_running_or_notify_cancel():
            return
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # handed to the caller's thread
            done.set_exception(exc)


@contextmanager
def home() -> Iterator[Home]:
    """The home of the run starting here: the enclosing run's when nested in one."""
    current = _HOME.get()
    if current is not None:
        yield current
        return
    made = Home()
    token = _HOME.set(made)
    try:
        yield made
    finally:
        made.closed = True
        _HOME.reset(token)


def route(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn(*args)`` on the home thread of the run this thread works for, if any."""
    current = _HOME.get()
    if current is None:
        return fn(*args)
    return current.call(fn, *args)
