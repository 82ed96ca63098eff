"""State: write and read on sqlite next to LangGraph's SqliteSaver, hook cost, the sequence
strategies, other backends, and Lua ``State.save``.

Budgets (DESIGN.md section 17): state write <= 30 us and read <= 15 us on sqlite at the default
durability; 5 no-op hooks add <= 10% to a write; Lua ``State.save(scope, key, scalar)`` <= 4 us
(memory backend). The peer needs ``pip install 'llmspell[bench]'``
(``langgraph-checkpoint-sqlite``); without it the peer rows say so.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness import Bench
from llmspell.events import EventBus
from llmspell.hooks import HookRegistry
from llmspell.state import StateManager
from llmspell.storage import open_store

VALUE = {"role": "assistant", "content": "The answer is 42.", "tokens": 7}
PEER_MISSING = ("peer missing: pip install 'llmspell[bench]' (langgraph-checkpoint-sqlite) "
                "to measure LangGraph's SqliteSaver")


@contextmanager
def tempdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="llmspell-bench-state-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def manager(url: str, **options: Any) -> Iterator[StateManager]:
    store = open_store(url)
    try:
        yield StateManager(store, **options)
    finally:
        store.close()


def run(bench: Bench) -> None:
    with tempdir() as tmp:
        sqlite_figures(bench, tmp)
        peer_figures(bench, tmp)
        hook_figures(bench, tmp)
        backend_figures(bench, tmp)
        lua_figures(bench)


def sqlite_figures(bench: Bench, tmp: Path) -> None:
    from llmspell.storage import Put

    with manager(f"sqlite:///{tmp}/state.db", hooks=HookRegistry(), events=EventBus()) as state:
        state.save("agent:gpt-4", "history", VALUE)
        store, counter = state.store, itertools.count(10**9)

        def floor() -> None:  # what a state write asks of the store, with no state code
            n = next(counter)
            store.batch([Put("state/agent:gpt-4/floor", b'{"v":1}'),
                         Put(f"chg/{n:020d}", b'{"s":"agent:gpt-4","k":"floor","o":"put"}'),
                         Put("meta/floor_seq", b"%d" % n)])

        bench.measure("sqlite store floor: batch of the same 3 rows", floor, number=2000,
                      note="no state code: the storage cost a state write cannot go below")
        bench.measure("sqlite store floor: get", lambda: store.get("state/agent:gpt-4/history"),
                      number=5000)
        bench.measure("sqlite write (1 key, default durability)",
                      lambda: state.save("agent:gpt-4", "history", VALUE), number=2000,
                      budget_us=30, peer="LangGraph SqliteSaver put",
                      note="runtime wiring: hook registry + event bus, nothing registered")
        bench.measure("sqlite read", lambda: state.load("agent:gpt-4", "history"),
                      number=5000, budget_us=15, peer="LangGraph SqliteSaver get_tuple")
        keys = itertools.count()
        bench.measure("sqlite write (new key each time)",
                      lambda: state.save("agent:gpt-4", f"k{next(keys)}", VALUE), number=2000,
                      note="includes reading the old record for its creation time")
        bench.measure("sqlite compare_and_set (load + CAS)", lambda: _increment(state),
                      number=1000)

        def transaction() -> None:
            with state.transaction():
                for i in range(10):
                    state.save("workflow:w", f"step{i}", i)

        bench.measure("sqlite transaction of 10 writes (per transaction)", transaction,
                      number=200)
    for shared, name in ((True, "optimistic (CAS on meta/state_seq)"),
                         (False, "in-process counter")):
        with manager(f"sqlite:///{tmp}/seq-{shared}.db", shared_sequence=shared) as state:
            bench.measure(f"sqlite write, sequence: {name}",
                          lambda s=state: s.save("global", "k", 42), number=2000,
                          note="the default for sqlite is optimistic (several processes)")


def _increment(state: StateManager) -> None:
    while True:
        current = state.load("global", "counter")
        if state.compare_and_set("global", "counter", current, (current or 0) + 1):
            return


def peer_figures(bench: Bench, tmp: Path) -> None:
    try:
        from langgraph.checkpoint.base import empty_checkpoint
        from langgraph.checkpoint.sqlite import SqliteSaver
    except ImportError:
        bench.record("LangGraph SqliteSaver put", [float("nan")], note=PEER_MISSING)
        bench.record("LangGraph SqliteSaver get_tuple", [float("nan")], note=PEER_MISSING)
        return
    from langgraph.checkpoint.base import create_checkpoint

    conn = sqlite3.connect(str(tmp / "langgraph.db"), check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        config: Any = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"history": VALUE}
        steps = itertools.count(1)

        def put() -> None:
            step = next(steps)
            saver.put(config, create_checkpoint(checkpoint, None, step),
                      {"source": "update", "step": step}, {})

        bench.measure("LangGraph SqliteSaver put", put, number=300,
                      note="its defaults: WAL, synchronous=FULL, a new checkpoint per put")
        bench.measure("LangGraph SqliteSaver get_tuple", lambda: saver.get_tuple(config),
                      number=2000, note="latest checkpoint of a thread")
    finally:
        conn.close()


def hook_figures(bench: Bench, tmp: Path) -> None:
    hooks = HookRegistry()
    with manager(f"sqlite:///{tmp}/hooks.db", hooks=hooks) as state:
        state.save("global", "k", 1)
        base = bench.measure("sqlite write, no hooks", lambda: state.save("global", "k", 1),
                             number=2000)
        for i in range(5):
            hooks.register("state:before_write", _noop, name=f"noop{i}")
        bench.measure("sqlite write, 5 no-op before_write hooks",
                      lambda: state.save("global", "k", 1), number=2000,
                      budget_us=round(base.median_us * 1.10, 2), peer="sqlite write, no hooks",
                      note="budget: no-hook figure + 10%")
    hooks = HookRegistry()
    with manager("memory://", hooks=hooks) as plain, manager("memory://", hooks=hooks) as hooked:
        base = bench.measure("memory write, no hooks", lambda: plain.save("global", "k", 1),
                             number=20000)
        for i in range(5):
            hooks.register("state:before_write", _noop, name=f"noop{i}")
        bench.measure("memory write, 5 no-op before_write hooks",
                      lambda: hooked.save("global", "k", 1), number=20000,
                      peer="memory write, no hooks", note="the hooks' own cost, undiluted")
    del base


def _noop(ctx: Any) -> None:
    return None


def backend_figures(bench: Bench, tmp: Path) -> None:
    from llmspell.storage import backend_status

    status = backend_status()
    for name, url, number in (("memory", "memory://", 20000),
                              ("lmdb", f"lmdb:///{tmp}/lmdb", 300),
                              ("rocksdb", f"rocksdb:///{tmp}/rocks", 2000)):
        if status[name] != "available":
            bench.record(f"{name} write", [float("nan")], note=status[name])
            continue
        with manager(url) as state:
            state.save("agent:gpt-4", "history", VALUE)
            bench.measure(f"{name} write", lambda s=state: s.save("agent:gpt-4", "history",
                                                                  VALUE), number=number)
            bench.measure(f"{name} read", lambda s=state: s.load("agent:gpt-4", "history"),
                          number=max(number, 5000))


def lua_figures(bench: Bench) -> None:
    try:
        from llmspell.lua.engine import LuaEngine
        from llmspell.runtime import Runtime
    except ImportError as exc:
        bench.record("Lua State.save(scope, key, scalar)", [float("nan")],
                     note=f"the Lua layer is unavailable: {exc}")
        return
    with Runtime.memory() as rt:
        engine = LuaEngine(rt, script_name="bench")
        try:
            if not engine.run_string("return State ~= nil", "probe"):
                bench.record("Lua State.save(scope, key, scalar)", [float("nan")],
                             note="the State global is not installed")
                return
            engine.set_global("Bench", {"noop": engine.function(_noop3, "Bench.noop")})
            floor = _lua_loop(engine, "Bench.noop('agent:gpt-4', 'n', i)")
            save = _lua_loop(engine, "State.save('agent:gpt-4', 'n', i)")
            python = rt.state.save
            bench.record("Lua -> Python call floor (3 args, no-op)", _lua_rounds(bench, floor),
                         note="the bridge's own cost per call")
            bench.measure("Python runtime.state.save (memory)",
                          lambda: python("agent:gpt-4", "n", 1), number=20000)
            bench.record("Lua State.save(scope, key, scalar)", _lua_rounds(bench, save),
                         budget_us=4, peer="Lua -> Python call floor (3 args, no-op)",
                         note="memory backend, runtime wiring, loop in Lua")
        finally:
            engine.close()


def _noop3(a: Any, b: Any, c: Any) -> None:
    return None


def _lua_loop(engine: Any, call: str) -> Callable[[], Any]:
    loop: Callable[[], Any] = engine.run_string(
        f"return function() for i = 1, 1000 do {call} end end", "bench")
    return loop


def _lua_rounds(bench: Bench, loop: Callable[[], Any]) -> list[float]:
    import time

    loop()
    per_call = []
    for _ in range(3 if bench.quick else 7):
        start = time.perf_counter()
        loop()
        per_call.append((time.perf_counter() - start) / 1000 * 1e6)
    return per_call
