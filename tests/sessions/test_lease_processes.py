"""Leases across real processes: a second process is refused, and a stale holder (SIGSTOPed
past its lease, then SIGCONTed) cannot write. Also: 4 processes writing separate sessions
lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from backends import MULTI_PROCESS, Backend

pytestmark = pytest.mark.slow

CHILD = textwrap.dedent("""
    import sys
    from llmspell import Runtime
    from llmspell.config import Config
    url, base, sid, mode = sys.argv[1:5]
    rt = Runtime(Config.defaults(storage__url=url, runtime__data_dir=base,
                                 session__lease_seconds=1.0))
    if mode == "hold":
        rt.sessions.acquire(sid, keep=True)
        rt.state.save("session:" + sid, "owner", "child")
        print("held", flush=True)
        sys.stdin.readline()  # the parent stops us here, takes the lease, continues us
        try:
            rt.state.save("session:" + sid, "owner", "stale child")
            print("wrote", flush=True)
        except Exception as exc:
            print(type(exc).__name__, flush=True)
    elif mode == "resume":
        try:
            rt.sessions.resume(sid)
            print("resumed", flush=True)
        except Exception as exc:
            print(type(exc).__name__, str(exc), flush=True)
    elif mode == "many":
        for i in range(int(sid)):
            s = rt.sessions.create("w%d" % i)
            rt.state.save("session:" + s.id, "n", i)
            rt.sessions.complete(s)
        print("done", flush=True)
    rt.close()
""")


def child(backend: Backend, sid: str, mode: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, backend.url, str(backend.directory / "data"), sid, mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env)


@pytest.mark.parametrize("backend", MULTI_PROCESS, indirect=True)
def test_a_stale_holder_cannot_write(backend: Backend, tmp_path: Path) -> None:
    rt = backend.runtime(session__lease_seconds=1.0)
    s = rt.sessions.create("contended")
    holder = child(backend, s.id, "hold")
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "held"
        holder.send_signal(signal.SIGSTOP)
        deadline = time.time() + 10
        while True:  # its keep-alive thread is stopped too: the lease runs out
            lease = rt.sessions.lease(s)
            assert lease is not None
            if lease.expires_at < time.time():
                break
            assert time.time() < deadline, "the stopped holder's lease never expired"
            time.sleep(0.1)
        taken = rt.sessions.acquire(s)
        assert taken.token == 2
        rt.state.save(f"session:{s.id}", "owner", "parent")
        holder.send_signal(signal.SIGCONT)
        holder.stdin.write("go\n")
        holder.stdin.flush()
        out, err = holder.communicate(timeout=30)
        # LeaseLost when its write came first; SessionLeased when its keep-alive thread had
        # already found the lease taken over and dropped it. Either way: nothing written.
        assert out.strip() in ("LeaseLost", "SessionLeased"), err
        assert rt.state.load(f"session:{s.id}", "owner") == "parent"
    finally:
        if holder.poll() is None:
            holder.send_signal(signal.SIGCONT)
            holder.kill()
            holder.wait()


@pytest.mark.parametrize("backend", MULTI_PROCESS, indirect=True)
def test_a_second_process_resuming_a_leased_session_is_refused(backend: Backend) -> None:
    rt = backend.runtime()
    s = rt.sessions.create("mine")
    rt.sessions.suspend(s)
    rt.sessions.acquire(s)
    out, err = child(backend, s.id, "resume").communicate(timeout=30)
    assert out.startswith("SessionLeased"), err
    assert rt.sessions.lease(s).holder in out  # type: ignore[union-attr]
    assert rt.sessions.get(s).status == "suspended"
    rt.sessions.release(s)
    out, err = child(backend, s.id, "resume").communicate(timeout=30)
    assert out.strip() == "resumed", err


@pytest.mark.parametrize("backend", MULTI_PROCESS, indirect=True)
def test_four_processes_writing_separate_sessions_lose_nothing(backend: Backend) -> None:
    rt = backend.runtime()
    rt.sessions  # noqa: B018 (the store exists before the children open it)
    children = [child(backend, "50", "many") for _ in range(4)]
    for proc in children:
        out, err = proc.communicate(timeout=60)
        assert out.strip() == "done", err
    done = rt.sessions.list(status="completed", limit=1000)
    assert len(done) == 200
    for s in done:
        assert rt.state.load(f"session:{s.id}", "n") == int(s.name[1:])
        assert len(rt.sessions.journal.read(s.id)) >= 3  # created, state write, completed
