"""The integrations next to the peers they replace, in the same run and at the same durability.

- LangGraph checkpointer: ``put`` (a checkpoint with a 10-message channel, one channel changed,
  as a graph step writes it) and ``get_tuple`` (the thread's latest, of 20) of LLMSpellSaver
  next to LangGraph's SqliteSaver (WAL; its connection set to the same ``synchronous`` as ours)
  at ``normal`` and at ``full``, and next to PostgresSaver on the same server as our postgres
  backend (both commit each put synchronously).
- ADK: ``create_session``, ``append_event`` and ``get_session`` (10 events) of
  LLMSpellSessionService on sqlite at ``durability = "full"`` next to ADK's
  DatabaseSessionService on a SQLite file (aiosqlite; SQLite's defaults: rollback journal,
  ``synchronous=FULL``), both through their async API on one event loop.

A peer or backend that is not installed or not reachable prints why.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from harness import Bench, timed_async
from llmspell import Runtime
from llmspell.testing import backend_unavailable, discard_store, fresh_store_url

PEER_MISSING = "peer missing: pip install 'llmspell[bench,langgraph,adk]' ({})"
MESSAGES = [{"role": "user" if i % 2 else "assistant", "content": f"message {i} " * 20}
            for i in range(10)]


def run(bench: Bench) -> None:
    bench.group = "integrations"
    try:
        from langgraph.checkpoint.sqlite import SqliteSaver

        from llmspell.integrations.langgraph import LLMSpellSaver
    except Exception as exc:
        print(f"  ({PEER_MISSING.format(exc)})")
    else:
        with tempfile.TemporaryDirectory(prefix="llmspell-bench-int-") as tmp:
            for durability in ("normal", "full"):
                _checkpointers(bench, Path(tmp), durability, LLMSpellSaver, SqliteSaver)
            _postgres_checkpointers(bench, Path(tmp), LLMSpellSaver)
    with tempfile.TemporaryDirectory(prefix="llmspell-bench-adk-") as tmp:
        _adk(bench, Path(tmp))


# -- LangGraph -------------------------------------------------------------------------------


class _Thread:
    """Puts checkpoints on one thread, each the child of the last, as a graph run does."""

    def __init__(self, saver: Any, thread_id: str) -> None:
        from langgraph.checkpoint.base import empty_checkpoint

        self.saver = saver
        self.config: dict[str, Any] = {"configurable": {"thread_id": thread_id,
                                                        "checkpoint_ns": ""}}
        self.template = empty_checkpoint()
        self.step = 0

    def put(self) -> None:
        from langgraph.checkpoint.base.id import uuid6

        self.step += 1
        checkpoint = {**self.template, "id": str(uuid6(clock_seq=self.step)),
                      "channel_values": {"messages": MESSAGES, "step": self.step},
                      "channel_versions": {"messages": 1, "step": self.step}}
        self.config = self.saver.put(self.config, checkpoint,
                                     {"source": "loop", "step": self.step, "parents": {}},
                                     {"step": self.step})

    def get(self) -> None:
        found = self.saver.get_tuple({"configurable": {"thread_id": self.config[
            "configurable"]["thread_id"], "checkpoint_ns": ""}})
        assert found is not None and found.checkpoint["channel_values"]["step"] == self.step


def _measure_saver(bench: Bench, label: str, saver: Any, peer: str | None) -> None:
    threads = iter(range(10**9))
    current = _Thread(saver, f"put-{next(threads)}")
    bench.measure(f"checkpoint put, {label}", current.put, number=200, rounds=5,
                  peer=None if peer is None else f"checkpoint put, {peer}")
    reader = _Thread(saver, "get")
    for _ in range(20):
        reader.put()
    bench.measure(f"checkpoint get_tuple, {label}", reader.get, number=500, rounds=5,
                  peer=None if peer is None else f"checkpoint get_tuple, {peer}")


def _checkpointers(bench: Bench, tmp: Path, durability: str, ours: Any, sqlite_saver: Any) -> None:
    sync = durability.upper()
    peer = f"LangGraph SqliteSaver, WAL, synchronous={sync}"
    conn = sqlite3.connect(str(tmp / f"langgraph-{durability}.db"), check_same_thread=False)
    conn.execute(f"PRAGMA synchronous={sync}")
    try:
        saver = sqlite_saver(conn)
        saver.setup()
        _measure_saver(bench, peer, saver, None)
    finally:
        conn.close()
    url = f"sqlite:///{tmp / f'ours-{durability}.db'}"
    with Runtime.memory(storage__url=url, storage__durability=durability) as rt:
        _measure_saver(bench, f"LLMSpellSaver, sqlite, durability={durability}", ours(rt), peer)


def _postgres_checkpointers(bench: Bench, tmp: Path, ours: Any) -> None:
    reason = backend_unavailable("postgres")
    if reason:
        print(f"  (postgres: {reason})")
        return
    try:
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
    except ImportError as exc:
        print(f"  ({PEER_MISSING.format(exc)})")
        return
    url = fresh_store_url("postgres", tmp, label="bench_lg")
    schema = f"llmspell_bench_lg_{os.getpid()}"
    server = url.split("?")[0]
    peer = "LangGraph PostgresSaver"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    try:
        with psycopg.connect(server, autocommit=True, prepare_threshold=0,
                             options=f"-c search_path={schema}") as conn:
            saver = PostgresSaver(conn)  # type: ignore[arg-type]
            saver.setup()
            _measure_saver(bench, peer, saver, None)
        with Runtime.memory(storage__url=url) as rt:
            _measure_saver(bench, "LLMSpellSaver, postgres", ours(rt), peer)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        discard_store(url)


# -- ADK -------------------------------------------------------------------------------------


def _adk(bench: Bench, tmp: Path) -> None:
    try:  # ADK's import warnings are its own business here (nothing is asserted)
        from google.adk.events.event import Event
        from google.adk.sessions import DatabaseSessionService
        from google.genai import types

        from llmspell.integrations.adk import LLMSpellSessionService
    except Exception as exc:
        print(f"  ({PEER_MISSING.format(exc)})")
        return

    def event(text: str) -> Any:
        return Event(invocation_id="bench", author="user", content=types.Content(
            role="user", parts=[types.Part.from_text(text=text)]))

    loop = asyncio.new_event_loop()
    number, rounds = (20, 2) if bench.quick else (100, 3)
    peer = "ADK DatabaseSessionService (sqlite, synchronous=FULL)"
    try:
        peer_service = DatabaseSessionService(db_url=f"sqlite+aiosqlite:///{tmp}/adk.db")
        with Runtime.memory(storage__url=f"sqlite:///{tmp}/ours.db",
                            storage__durability="full",
                            session__max_active_sessions=10**9) as rt:
            ours = LLMSpellSessionService(rt)
            for label, service, against in ((peer, peer_service, None),
                                             ("LLMSpellSessionService (sqlite, full)", ours,
                                              peer)):
                def create(s: Any = service) -> Coroutine[Any, Any, Any]:
                    return s.create_session(app_name="bench", user_id="u",
                                            state={"topic": "research"})

                target = loop.run_until_complete(create())
                holder = {"session": target}

                async def append(s: Any = service, h: dict[str, Any] = holder) -> None:
                    await s.append_event(h["session"], event("a user turn"))

                for _ in range(10):
                    loop.run_until_complete(append())

                def get(s: Any = service, t: Any = target) -> Coroutine[Any, Any, Any]:
                    return s.get_session(app_name="bench", user_id="u", session_id=t.id)

                for op, call in (("create_session", create), ("append_event", append),
                                 ("get_session, 10+ events", get)):
                    bench.record(f"ADK {op}: {label}",
                                 [timed_async(loop, call, number) for _ in range(rounds)],
                                 peer=None if against is None else f"ADK {op}: {against}",
                                 note="asyncio")
        loop.run_until_complete(peer_service.close())
    finally:
        loop.close()

