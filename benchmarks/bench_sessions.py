"""Sessions: create, create + save, metadata load and filtered list, next to Google ADK.

Budgets (DESIGN.md section 17, issue 18): create <= 25 us on memory (and faster than ADK's in-
memory create); a persisted create and a create + save <= 150 us and metadata load <= 15 us on
sqlite (<= 3.4 us on memory). Ours and ADK's database service both run WAL with
synchronous=NORMAL; the raw sqlite3 floor inserts the same rows in one transaction. Peers
measured in the same run, when the ``bench`` extra is installed (``pip install
'llmspell[bench]'``): ADK's InMemorySessionService and DatabaseSessionService on a SQLite file.
A filtered list over 100,000 sessions (10,000 with ``--quick``) is timed next to the full scan
an index-less store would need, and the number of keys it read is printed. Lists sorted by
updated_at or created_at with a limit are timed at 100 and at 10,000 sessions (budget: 2x the
figure at 100).

Every store here is fresh per round and already holds 1,000 sessions, so no figure is of an
empty store or of one that keeps growing round after round.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import Bench, timed_async
from llmspell.sessions import SessionManager, SessionSettings
from llmspell.storage import open_store
from llmspell.testing import CountingStore

SETTINGS = SessionSettings(max_active_sessions=10**9)
SEED = {"max_duration": 3600, "tags": ["research", "analysis"]}  # the seed's create
PRELOAD = 1000


def run(bench: Bench) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="llmspell-bench-sessions-"))
    try:
        _ours(bench, tmp)
        _list(bench, tmp)
        _sorted(bench, tmp)
        _adk(bench, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- llmspell -----------------------------------------------------------------------------------


def _manager(url: str) -> SessionManager:
    manager = SessionManager(open_store(url), settings=SETTINGS)
    for i in range(PRELOAD):
        manager.create(f"pre{i}")
    return manager


def _rounds(bench: Bench, name: str, make: Callable[[int], SessionManager],
            step: Callable[[SessionManager], Any], number: int, rounds: int,
            **record: Any) -> None:
    """Record the per-call microseconds of ``step`` over ``rounds`` fresh managers (made
    untimed), wall clock and CPU (this machine is shared: CPU time is the steadier figure)."""
    if bench.quick:
        number, rounds = max(10, number // 10), min(rounds, 3)
    wall, cpu = [], []
    for r in range(rounds):
        manager = make(r)
        step(manager)  # warm up
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(number):
            step(manager)
        wall.append((time.perf_counter() - start) / number * 1e6)
        cpu.append((time.process_time() - cpu_start) / number * 1e6)
        manager.store.close()
    bench.record(name, wall, **record).cpu_us = statistics.median(cpu)


def _ours(bench: Bench, tmp: Path) -> None:
    def memory(_: int) -> SessionManager:
        return _manager("memory://")

    def sqlite(r: int) -> SessionManager:
        return _manager(f"sqlite:///{tmp}/ours-{r}-{time.time_ns()}.db")

    def create(m: SessionManager) -> Any:
        return m.create("research_session", **SEED)

    def create_save(m: SessionManager) -> Any:
        return m.create("research_session", save=True, **SEED)

    _rounds(bench, "create (memory)", memory, create, 2000, 7, budget_us=25,
            peer="ADK InMemorySessionService.create_session",
            note="the seed's create (max_duration, 2 tags): the record, 4 index keys, the "
            "active count and a session.created journal entry, one batch of 7 keys")
    _rounds(bench, "create + save (sqlite, normal)", sqlite, create_save, 500, 5,
            budget_us=150, peer=(RAW_CREATE, ADK_DB),
            note="create(save=True): one batch of 8 keys (the saved entry with the create's)")
    _rounds(bench, "create, then save (sqlite, normal)", sqlite, lambda m: m.save(create(m)),
            500, 5, note="two calls: 2 atomic batches (save: its entry, expect on the record)")
    _rounds(bench, "create (sqlite, normal)", sqlite, create, 500, 5, budget_us=150,
            peer=(RAW_CREATE, ADK_DB), note="persisted: one batch of 7 keys, one commit")
    _raw_create(bench, tmp)

    def getter(url_of: Callable[[int], str]) -> Callable[[int], SessionManager]:
        def make(r: int) -> SessionManager:
            manager = _manager(url_of(r))
            manager.target = manager.create("research_session", **SEED)  # type: ignore[attr-defined]
            return manager
        return make

    def get(m: SessionManager) -> Any:
        return m.get(m.target.id)  # type: ignore[attr-defined]

    _rounds(bench, "get, metadata (memory)", getter(lambda r: "memory://"), get, 20000, 7,
            budget_us=3.4, peer="ADK InMemorySessionService.get_session")
    _rounds(bench, "get, metadata (sqlite)", getter(lambda r: f"sqlite:///{tmp}/get-{r}.db"),
            get, 20000, 5, budget_us=15,
            peer="ADK DatabaseSessionService.get_session (sqlite)")


RAW_CREATE = "raw sqlite3: the same 7 rows in one transaction, synchronous=NORMAL"
ADK_DB = "ADK DatabaseSessionService.create_session (sqlite, WAL, synchronous=NORMAL)"


def _raw_create(bench: Bench, tmp: Path) -> None:
    """The floor under a persisted create: plain sqlite3 inserting rows of the same sizes
    (record, status, updated and 2 tag index keys, active count, journal entry) in one
    transaction,
    into a table of 1,000 sessions' worth of rows, WAL, synchronous=NORMAL."""
    import sqlite3
    import uuid

    db = sqlite3.connect(str(tmp / "raw-create.db"), isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID")
        record = b"r" * 700

        def create() -> None:
            sid = str(uuid.uuid4())
            us = f"{time.time_ns() // 1000:016d}"
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)", [
                (f"session/{sid}", record), (f"sessidx/status/active/{us}/{sid}", b""),
                (f"sessidx/tag/research/{us}/{sid}", b""),
                (f"sessidx/tag/analysis/{us}/{sid}", b""),
                (f"sessidx/updated/active/{us}/{sid}", b""),
                ("sessmeta/active_count", b"%d" % len(sid)),
                (f"journal/{sid}/00000000000000000001", record[:300])])
            db.execute("COMMIT")

        for _ in range(PRELOAD):
            create()
        bench.measure(RAW_CREATE, create, number=500, rounds=5,
                      note="no llmspell code: the storage cost a create cannot go below")
    finally:
        db.close()


def _list(bench: Bench, tmp: Path) -> None:
    total = 10_000 if bench.quick else 100_000
    url = f"sqlite:///{tmp}/list.db"
    manager = SessionManager(open_store(url), settings=SETTINGS)
    started = time.perf_counter()
    for i in range(total):
        made = manager.create(f"job {i}", tags=["rare"] if i % 1000 == 0 else ["common"])
        if i % 100 == 0:
            manager.suspend(made)
    filled = time.perf_counter() - started
    label = f"{total // 1000}k"

    def listed() -> Any:
        return manager.list(status="suspended", limit=50)

    def tagged() -> Any:
        return manager.list(tags=["rare"])

    def full_scan() -> Any:  # what a store without indexes has to do
        found = []
        for _, raw in manager.store.scan("session/"):
            if b'"status":"suspended"' in raw:
                found.append(raw)
                if len(found) == 50:
                    break
        return found

    counting = SessionManager(CountingStore(open_store(url)), settings=SETTINGS)
    assert len(counting.list(status="suspended", limit=50)) == 50
    status_keys = counting.store.scanned  # type: ignore[attr-defined]
    counting.store.scanned = 0  # type: ignore[attr-defined]
    assert len(counting.list(tags=["rare"])) == total // 1000
    tag_keys = counting.store.scanned  # type: ignore[attr-defined]
    counting.store.close()
    bench.measure(f"list status=suspended limit=50 of {label} (sqlite)", listed, number=50,
                  rounds=5, peer=f"full scan for the same 50 of {label} (sqlite)",
                  note=f"read {status_keys} index keys; {total:,} sessions made in "
                  f"{filled:.0f} s")
    bench.measure(f"list tags=[rare] of {label} (sqlite)", tagged, number=20, rounds=5,
                  note=f"{total // 1000} matches; read {tag_keys} index keys")
    bench.measure(f"full scan for the same 50 of {label} (sqlite)", full_scan, number=3,
                  rounds=3, note="the peer: scanning records, no index")
    manager.store.close()


def _sorted(bench: Bench, tmp: Path) -> None:
    """Sorted lists with a limit in a store of 100 sessions and one of 10,000 (2,000 with
    ``--quick``): each reads the entries it returns from an index, so the budget is 2x the
    figure at 100. A tenth of the sessions are updated after all were created (so the updated
    order is not the created order) and a tenth suspended."""
    big = 2000 if bench.quick else 10_000
    for count in (100, big):
        manager = SessionManager(open_store(f"sqlite:///{tmp}/sorted-{count}.db"),
                                 settings=SETTINGS)
        made = [manager.create(f"job {i}") for i in range(count)]
        for i, session in enumerate(made):
            if i % 10 == 3:
                manager.add_usage(session, tokens=10)
            elif i % 10 == 7:
                manager.suspend(session)
        label = f"{count:,}" if count < 1000 else f"{count // 1000}k"
        for what, kwargs in (("sort=updated_at limit=10", {"sort": "updated_at"}),
                             ("sort=-updated_at limit=10", {"sort": "-updated_at"}),
                             ("status=active sort=-updated_at limit=10",
                              {"sort": "-updated_at", "status": "active"}),
                             ("sort=-created_at limit=10", {"sort": "-created_at"})):
            small = count == 100
            bench.measure(f"list {what}, {label} sessions (sqlite)",
                          lambda k=kwargs, m=manager: m.list(limit=10, **k), number=200,
                          rounds=5,
                          peer=None if small else f"list {what}, 100 sessions (sqlite)",
                          budget_ratio=None if small else 2.0,
                          note="the budget: 2x the figure at 100")
        manager.store.close()


# -- Google ADK, the peer -----------------------------------------------------------------------


def _adk(bench: Bench, tmp: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from google.adk.sessions import InMemorySessionService
    except ImportError as exc:
        print(f"  (peer missing: Google ADK is not installed ({exc}); "
              "pip install 'llmspell[bench]')")
        return
    loop = asyncio.new_event_loop()
    try:
        _adk_memory(bench, loop, InMemorySessionService)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from google.adk.sessions import DatabaseSessionService
        except ImportError as exc:
            print(f"  (peer missing: ADK DatabaseSessionService cannot be imported: {exc})")
            return
        _adk_database(bench, loop, DatabaseSessionService, tmp)
    finally:
        loop.close()


def _timed(loop: asyncio.AbstractEventLoop, call: Callable[[], Any], number: int,
           cpu: list[float]) -> float:
    """:func:`timed_async`, with the CPU microseconds per call appended to ``cpu``."""
    start = time.process_time()
    wall = timed_async(loop, call, number)
    cpu.append((time.process_time() - start) / (number + 1) * 1e6)  # + its warm-up call
    return wall


def _adk_memory(bench: Bench, loop: asyncio.AbstractEventLoop, service_class: Any) -> None:
    number, rounds = (200, 3) if bench.quick else (2000, 7)
    creates, gets = [], []
    create_cpu: list[float] = []
    get_cpu: list[float] = []
    for _ in range(rounds):
        service = service_class()
        for _ in range(PRELOAD):
            loop.run_until_complete(service.create_session(app_name="bench", user_id="u"))
        creates.append(_timed(loop, lambda s=service: s.create_session(
            app_name="bench", user_id="u", state={"tags": ["research", "analysis"]}), number,
            create_cpu))
        target = loop.run_until_complete(service.create_session(app_name="bench", user_id="u"))
        gets.append(_timed(loop, lambda s=service, t=target: s.get_session(
            app_name="bench", user_id="u", session_id=t.id), number, get_cpu))
    bench.record("ADK InMemorySessionService.create_session", creates,
                 note="awaited in one running loop; state {tags: 2}: the session and its "
                 "state dicts, no event, no index, no count").cpu_us = statistics.median(
                     create_cpu)
    bench.record("ADK InMemorySessionService.get_session", gets,
                 note="awaited in one running loop").cpu_us = statistics.median(get_cpu)


def _adk_database(bench: Bench, loop: asyncio.AbstractEventLoop, service_class: Any,
                  tmp: Path) -> None:
    number, rounds = (10, 2) if bench.quick else (50, 3)
    creates, gets = [], []
    cpu: list[float] = []
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import create_async_engine

    def pragmas(connection: Any, _record: Any) -> None:  # the same durability as ours
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    for r in range(rounds):
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp}/adk-{r}.db")
        event.listen(engine.sync_engine, "connect", pragmas)
        service = service_class(db_engine=engine)
        for _ in range(100):  # a preload of 1,000 would take most of a minute
            loop.run_until_complete(service.create_session(app_name="bench", user_id="u"))
        creates.append(_timed(loop, lambda s=service: s.create_session(
            app_name="bench", user_id="u", state={"tags": ["research", "analysis"]}), number,
            cpu))
        target = loop.run_until_complete(service.create_session(app_name="bench", user_id="u"))
        gets.append(_timed(loop, lambda s=service, t=target: s.get_session(
            app_name="bench", user_id="u", session_id=t.id), number * 4, []))
        close = getattr(service, "close", None)
        if close is not None:
            loop.run_until_complete(close())
        loop.run_until_complete(engine.dispose())
    bench.record(ADK_DB, creates, note="asyncio + aiosqlite; its engine set to WAL + NORMAL"
                 ).cpu_us = statistics.median(cpu)
    bench.record("ADK DatabaseSessionService.get_session (sqlite)", gets,
                 note="asyncio + aiosqlite")
