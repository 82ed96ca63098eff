"""Tool calls with a timeout run on worker threads that are reused; a call past its timeout
is abandoned and its worker is never given another call."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from llmspell import Runtime
from llmspell.errors import ToolError, ValidationError
from llmspell.tools import Tool
from llmspell.tools.workers import MAX_IDLE, CallTimedOut, idle_workers, run_bounded


def _thread(params: dict[str, Any], ctx: Any) -> int:
    return threading.get_ident()


def test_calls_run_off_the_callers_thread_on_a_reused_worker(rt: Runtime) -> None:
    rt.tools.register(Tool("where", "w", fn=_thread, timeout=5))
    first = rt.tools.invoke("where").result
    second = rt.tools.invoke("where").result
    assert first == second != threading.get_ident()


def test_an_inline_tool_runs_on_the_callers_thread(rt: Runtime) -> None:
    rt.tools.register(Tool("here", "h", fn=_thread, inline=True))
    assert rt.tools.invoke("here").result == threading.get_ident()


def test_a_timed_out_call_is_abandoned_and_later_calls_do_not_wait(rt: Runtime) -> None:
    release = threading.Event()
    stuck_on: list[threading.Thread] = []

    def stuck(params: dict[str, Any], ctx: Any) -> str:
        stuck_on.append(threading.current_thread())
        release.wait(30)
        return "late"

    rt.tools.register(Tool("stuck", "s", fn=stuck, timeout=0.05))
    rt.tools.register(Tool("where", "w", fn=_thread, timeout=5))
    try:
        with pytest.raises(ToolError, match="'stuck' did not finish within its timeout"):
            rt.tools.invoke("stuck")
        # The stuck call still holds its worker; another call gets another thread at once.
        assert rt.tools.invoke("where").result != stuck_on[0].ident
    finally:
        release.set()
    stuck_on[0].join(5)
    assert not stuck_on[0].is_alive()  # its result dropped, the abandoned worker ended
    assert rt.tools.invoke("where").result != stuck_on[0].ident


def test_errors_and_context_cross_to_the_caller(rt: Runtime) -> None:
    def fails(params: dict[str, Any], ctx: Any) -> None:
        raise ValidationError("params", "refused by the tool", path="$.x")

    rt.tools.register(Tool("fails", "f", fn=fails, timeout=5))
    with pytest.raises(ValidationError, match="refused by the tool"):
        rt.tools.invoke("fails")
    session = rt.sessions.create("s")
    rt.tools.register(Tool("sid", "s", fn=lambda p, c: rt.sessions.current_id(), timeout=5))
    with rt.sessions.current(session):
        assert rt.tools.invoke("sid").result == session.id


def test_idle_workers_are_bounded() -> None:
    gate = threading.Barrier(MAX_IDLE + 3)
    results: list[Any] = []

    def call() -> None:
        results.append(run_bounded(gate.wait, 5, timeout=10))

    callers = [threading.Thread(target=call) for _ in range(MAX_IDLE + 2)]
    for thread in callers:
        thread.start()
    gate.wait(5)  # every call runs at once: MAX_IDLE + 2 workers
    for thread in callers:
        thread.join(5)
    assert len(results) == MAX_IDLE + 2
    assert idle_workers() <= MAX_IDLE


def test_run_bounded_raises_call_timed_out() -> None:
    release = threading.Event()
    try:
        with pytest.raises(CallTimedOut, match=r"within 0\.01 s"):
            run_bounded(release.wait, 10, timeout=0.01)
    finally:
        release.set()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_starts_its_own_workers() -> None:
    run_bounded(threading.get_ident, timeout=5)  # at least one idle worker in this process
    assert idle_workers() >= 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's idle worker does not exist here
        try:
            ok = idle_workers() == 0 and run_bounded(lambda: 42, timeout=5) == 42
        except BaseException:
            ok = False
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 1) == b"1"
    finally:
        os.close(read)
        os.waitpid(pid, 0)
