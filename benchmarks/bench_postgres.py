"""PostgreSQL at 1, 2 and 4 client processes: state write and read, session create and queued
runs, as operations per second over all processes, next to sqlite doing the same work on the
same machine and LangGraph's PostgresSaver ``put`` at the same settings.

Each figure starts N real processes on one store; each opens its Runtime, says it is ready,
and on "go" does its share of the work; the figure is all operations / the wall time from "go"
to the last one done (process start-up is not counted). Both stores at their default
durability: sqlite WAL + synchronous=NORMAL, postgres ``synchronous_commit = off`` (llmspell's
``normal``); the PostgresSaver's connections get ``synchronous_commit = off`` too. Queued runs:
N ``llmspell worker`` loops (one per process) drain a queue of trivial Lua scripts (one state
write each); sqlite has no job queue (workers need postgres), so that row has no sqlite peer.

Skipped with the reason when no PostgreSQL answers (``LLMSPELL_BENCH_POSTGRES`` /
``LLMSPELL_TEST_POSTGRES`` / the local default).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from harness import Bench, postgres_server

CLIENTS = (1, 2, 4)

CHILD = textwrap.dedent("""
    import os, sys, time, uuid
    url, op, count, base = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    me = uuid.uuid4().hex[:8]
    if op == "langgraph_put":
        import itertools
        from langgraph.checkpoint.base import create_checkpoint, empty_checkpoint
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import connect
        from psycopg.rows import dict_row
        conn = connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
        conn.execute("SET synchronous_commit = off")
        saver = PostgresSaver(conn)
        config = {"configurable": {"thread_id": me, "checkpoint_ns": ""}}
        cp = empty_checkpoint()
        cp["channel_values"] = {"history": "a reply of about a hundred bytes " * 3}
        steps = itertools.count(1)
        def work(i):
            step = next(steps)
            saver.put(config, create_checkpoint(cp, None, step), {"source": "update",
                      "step": step}, {})
    else:
        from llmspell import Runtime
        from llmspell.config import Config
        rt = Runtime(Config.defaults(storage__url=url, runtime__data_dir=base,
                                     runtime__events__cross_process=False,
                                     session__max_active_sessions=1_000_000))
        rt.state.save("global", "shared", {"n": 1})
        if op == "state_write":
            def work(i): rt.state.save("global", f"k-{me}-{i}", {"n": i})
        elif op == "state_read":
            def work(i): rt.state.load("global", "shared")
        elif op == "session_create":
            sessions = rt.sessions
            def work(i): sessions.create(f"s{i}")
        elif op == "queued_run":
            from llmspell.workers import Worker
            worker = Worker(rt, queues=["bench"], poll_seconds=0.05)
            def work(i): pass
    print("ready", flush=True)
    sys.stdin.readline()
    if op == "queued_run":
        taken = worker.run(idle_exit=0.5)
        print(f"done {taken}", flush=True)
    else:
        for i in range(count):
            work(i)
        print(f"done {count}", flush=True)
""")


def clients(url: str, op: str, n: int, count: int, base: Path) -> float:
    """Run ``n`` processes doing ``op``; operations per second over all of them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, url, op, str(count), str(base)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(n)]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"benchmark client failed to start ({op})")
        started = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        done = 0
        for proc in procs:
            assert proc.stdout is not None
            done += int(proc.stdout.readline().split()[1])
        elapsed = time.perf_counter() - started
        if op == "queued_run":
            elapsed -= 0.5  # each worker waits idle_exit after the queue is empty
    finally:
        for proc in procs:
            proc.communicate(timeout=60)
    return done / elapsed


def record(bench: Bench, name: str, ops_per_s: float, peers: tuple[str, ...] = (),
           note: str = "") -> None:
    result = bench.record(name, [1e6 / ops_per_s], peer=peers or None, note=note)
    result.unit, result.value = "ops/s", ops_per_s


def fresh_pg(url: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}table=llmspell_bench_{uuid.uuid4().hex[:12]}.llmspell_kv"


def drop(url: str, store_url: str) -> None:
    import psycopg

    schema = store_url.rpartition("table=")[2].partition(".")[0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def run(bench: Bench) -> None:
    url = postgres_server()
    if url is None:
        bench.record("postgres", [float("nan")], note="no PostgreSQL server reachable: skipped")
        return
    count = 40 if bench.quick else 300
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for op, label in (("state_write", "state write"), ("state_read", "state read"),
                          ("session_create", "session create")):
            for n in CLIENTS:
                peer = f"sqlite {label}, {n} process(es)"
                db = base / f"{op}-{n}.db"
                record(bench, peer, clients(f"sqlite:///{db}", op, n, count, base))
                store = fresh_pg(url)
                try:
                    ops = clients(store, op, n, count, base)
                finally:
                    drop(url, store)
                record(bench, f"postgres {label}, {n} process(es)", ops, (peer,))
        import importlib.util

        try:
            have_langgraph = importlib.util.find_spec("langgraph.checkpoint.postgres") is not None
        except ImportError:
            have_langgraph = False
        if have_langgraph:
            import psycopg
            from langgraph.checkpoint.postgres import PostgresSaver

            with psycopg.connect(url, autocommit=True) as conn:
                PostgresSaver(conn).setup()  # type: ignore[arg-type]
        for n in CLIENTS:
            peer = f"LangGraph PostgresSaver put, {n} process(es)"
            if have_langgraph:
                record(bench, peer, clients(url, "langgraph_put", n, count, base),
                       note="synchronous_commit=off, a new checkpoint per put")
            else:
                bench.record(peer, [float("nan")],
                             note="pip install 'llmspell[bench]' to measure it")
            # our state write at the same process count, for the ratio
            store = fresh_pg(url)
            try:
                ops = clients(store, "state_write", n, count, base)
            finally:
                drop(url, store)
            record(bench, f"postgres state write vs PostgresSaver, {n} process(es)", ops,
                   (peer,))
        jobs = count * 2
        for n in CLIENTS:
            store = fresh_pg(url)
            try:
                queue_jobs(store, jobs, base)
                ops = clients(store, "queued_run", n, 0, base)
            finally:
                drop(url, store)
            record(bench, f"postgres queued runs, {n} worker process(es)", ops,
                   note=f"{jobs} one-write Lua scripts; no sqlite peer (workers need postgres)")


def queue_jobs(store_url: str, jobs: int, base: Path) -> None:
    from llmspell import Runtime
    from llmspell.config import Config
    from llmspell.workers import JobQueue

    with Runtime(Config.defaults(storage__url=store_url, runtime__data_dir=str(base),
                                 runtime__events__cross_process=False)) as rt:
        queue = JobQueue(rt.store)
        source = 'State.save("global", "run:" .. ARGS[1], true)\nreturn ARGS[1]\n'
        for i in range(jobs):
            queue.enqueue("script", {"name": "bench.lua", "source": source, "args": [str(i)]},
                          queue="bench")
        queue.close()
