"""Artifacts: store 1 KB / 100 KB and load 1 KB on sqlite, next to Google ADK's artifact
services in the same run.

``runtime.artifacts`` on a sqlite store (default durability) stores content that is new on
every call under a new name, in one active session: each store is the whole artifact write
(session and version lookups, the blob created, the metadata record, its type index, the
session's counters and its journal entry, all in ONE atomic batch), plus the
``artifact.stored`` event. 100 KB comes as log-like text (compressed to an inline blob) and as
random bytes (chunk keys, in the same batch). Load reads a 1 KB artifact by id and verifies
its hash.

Peers (``pip install 'llmspell[bench]'``, ``google-adk``): ADK's ``InMemoryArtifactService``
and ``FileArtifactService`` (``save_artifact``/``load_artifact``, asyncio), with the same bytes.
Budgets (DESIGN.md section 17): store 1 KB <= 150 us, 100 KB <= 1 ms, load 1 KB <= 25 us.
Durability: ours at "normal" (WAL, synchronous=NORMAL: safe from a crash of the process);
ADK's FileArtifactService writes its files without fsync, which is the same promise (or less:
its writes are not atomic). At 100 and 10,000 artifacts in a session (2,000 with ``--quick``),
a list with a limit, the newest 10 and an exact name are timed; the budget is 2x the figure at
100.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import Bench
from payloads import log_text, unique

KB = 1024
BUDGET_STORE_1K, BUDGET_STORE_100K, BUDGET_LOAD_1K = 150.0, 1000.0, 25.0
ADK_FILE = "ADK FileArtifactService.save {} (files, no fsync)"
PEER_MISSING = "peer missing: pip install 'llmspell[bench]' (google-adk) to measure ADK"


def run(bench: Bench) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-artifacts-"))
    try:
        payloads = {"1 KB": os.urandom(KB), "100 KB text": log_text(100 * KB),
                    "100 KB random": os.urandom(100 * KB)}
        ours(bench, tmp, payloads)
        scaling(bench, tmp)
        adk(bench, tmp, payloads)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ours(bench: Bench, tmp: Path, payloads: dict[str, bytes]) -> None:
    from llmspell.config import Config
    from llmspell.runtime import Runtime
    from llmspell.storage import Put

    config = Config.defaults(base_dir=tmp, storage__url=f"sqlite:///{tmp}/llmspell.db",
                             runtime__data_dir=str(tmp / "data"),
                             session__max_artifacts_per_session=10_000_000)
    with Runtime(config) as rt:
        arts = rt.artifacts
        session = rt.sessions.create("bench")
        names = (f"artifact-{i}.bin" for i in itertools.count())

        def storing(payload: bytes) -> Callable[[], Any]:
            contents = unique(payload)
            return lambda: arts.store(session, next(names), next(contents))

        store = rt.store
        record = b"x" * 420  # an artifact record's size; the session record is ~700 bytes

        def floor() -> None:
            key = os.urandom(32).hex()  # random, like a content hash and a name key
            ops = [Put(f"blob/d/{key}", payloads["1 KB"]), Put(f"blob/m/{key}", record[:90]),
                   Put(f"art/{session.id}-floor/{key[:16]}/0000000001", record),
                   Put(f"artt/user_input/{time.time_ns() // 1000:016d}/{key}", b""),
                   Put(f"session/{session.id}-floor", record + record[:280]),
                   Put(f"journal/{session.id}-floor/{time.time_ns():020d}", record[:300])]
            store.batch(ops, expect={f"blob/m/{key}": None, f"art/x/{key}": None})

        bench.measure("sqlite alone: the same 6 keys in one batch", floor,
                      note="the floor under a new 1 KB artifact store")
        bench.measure("store 1 KB (sqlite)", storing(payloads["1 KB"]),
                      budget_us=BUDGET_STORE_1K,
                      peer="sqlite alone: the same 6 keys in one batch",
                      note="new content and name; blob + record + index + counters + "
                      "journal in one batch")
        versions = unique(payloads["1 KB"])
        bench.measure("store 1 KB, same name (new version)",
                      lambda: arts.store(session, "versioned.bin", next(versions)),
                      budget_us=BUDGET_STORE_1K, peer=ADK_FILE.format("1 KB"))
        shared = payloads["1 KB"]
        bench.measure("store 1 KB, content already stored (dedup)",
                      lambda: arts.store(session, next(names), shared),
                      budget_us=BUDGET_STORE_1K, peer=ADK_FILE.format("1 KB"))
        bench.measure("store 100 KB text (sqlite, zstd, inline)",
                      storing(payloads["100 KB text"]), number=300,
                      budget_us=BUDGET_STORE_100K, peer=ADK_FILE.format("100 KB"))
        bench.measure("store 100 KB random (sqlite, chunks)",
                      storing(payloads["100 KB random"]), number=100,
                      budget_us=BUDGET_STORE_100K, peer=ADK_FILE.format("100 KB"))
        one = arts.store(session, "load-me.bin", payloads["1 KB"])
        bench.measure("load 1 KB by id (sqlite, verified)", lambda: arts.read(one.id),
                      budget_us=BUDGET_LOAD_1K, peer="ADK FileArtifactService.load 1 KB")
        bench.measure("get 1 KB metadata by id (sqlite)", lambda: arts.get(one.id),
                      peer="ADK FileArtifactService.load 1 KB")
        big = arts.store(session, "load-me-100k.txt", payloads["100 KB text"])
        bench.measure("load 100 KB text by id (sqlite)", lambda: arts.read(big.id),
                      number=300, peer="ADK FileArtifactService.load 100 KB")
        for i in range(200):
            arts.store(session, f"typed-{i}", b"x%d" % i, artifact_type="tool_result",
                       tags=["bench"])
        bench.measure("list 200 tool_result of ~2,600 (type index)",
                      lambda: arts.query(artifact_type="tool_result"), number=20,
                      note="across sessions, driven by the type index")


def scaling(bench: Bench, tmp: Path) -> None:
    """Queries with a limit or an exact name, in a session of 100 and one of 10,000."""
    from llmspell.config import Config
    from llmspell.runtime import Runtime

    big = 2000 if bench.quick else 10_000
    config = Config.defaults(base_dir=tmp, storage__url=f"sqlite:///{tmp}/scaling.db",
                             runtime__data_dir=str(tmp / "scaling"),
                             session__max_artifacts_per_session=10_000_000)
    with Runtime(config) as rt:
        arts = rt.artifacts
        for count in (100, big):
            session = rt.sessions.create(f"s{count}")
            for i in range(count):
                arts.store(session, f"item-{i}", b"x%d" % i)
            label = f"{count:,}" if count < 1000 else f"{count // 1000}k"
            for what, query in (
                    ("list limit=10", lambda s=session: arts.list(s, limit=10)),
                    ("list newest 10", lambda s=session: arts.list(s, limit=10,
                                                                    descending=True)),
                    ("query name=exact", lambda s=session: arts.query(session=s,
                                                                      name="item-42"))):
                small = count == 100
                bench.measure(f"{what}, session of {label}", query, number=100, rounds=5,
                              peer=None if small else f"{what}, session of 100",
                              budget_ratio=None if small else 2.0,
                              note="sqlite; the budget: 2x the figure at 100")


# -- Google ADK, the peer -----------------------------------------------------------------------


def adk(bench: Bench, tmp: Path, payloads: dict[str, bytes]) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from google.adk.artifacts import (  # type: ignore[attr-defined]
                FileArtifactService,
                InMemoryArtifactService,
            )
            from google.genai import types
    except ImportError as exc:
        print(f"  ({PEER_MISSING}: {exc})")
        return
    loop = asyncio.new_event_loop()
    try:
        services = {"InMemoryArtifactService": InMemoryArtifactService(),
                    "FileArtifactService": FileArtifactService(root_dir=tmp / "adk")}
        number, rounds = (20, 3) if bench.quick else (200, 5)
        for label, service in services.items():
            for size in ("1 KB", "100 KB"):
                payload = payloads["1 KB" if size == "1 KB" else "100 KB text"]
                saves, loads = _adk_rounds(loop, service, types, payload, number, rounds)
                saved = (ADK_FILE.format(size) if label == "FileArtifactService"
                         else f"ADK {label}.save {size}")
                bench.record(saved, saves, note="asyncio")
                bench.record(f"ADK {label}.load {size}", loads, note="asyncio")
    finally:
        loop.close()


def _adk_rounds(loop: asyncio.AbstractEventLoop, service: Any, types: Any, payload: bytes,
                number: int, rounds: int) -> tuple[list[float], list[float]]:
    contents = unique(payload)
    counter = itertools.count()
    where = {"app_name": "bench", "user_id": "u", "session_id": "s"}

    async def save() -> None:
        part = types.Part.from_bytes(data=next(contents), mime_type="application/octet-stream")
        await service.save_artifact(filename=f"a-{next(counter)}.bin", artifact=part, **where)

    async def load() -> None:
        await service.load_artifact(filename="load-me.bin", **where)

    async def body() -> tuple[list[float], list[float]]:
        part = types.Part.from_bytes(data=payload, mime_type="application/octet-stream")
        await service.save_artifact(filename="load-me.bin", artifact=part, **where)
        saves, loads = [], []
        for _ in range(rounds):
            for timed, out in ((save, saves), (load, loads)):
                await timed()
                start = time.perf_counter()
                for _ in range(number):
                    await timed()
                out.append((time.perf_counter() - start) / number * 1e6)
        return saves, loads

    return loop.run_until_complete(body())
