"""The input tape: every nondeterministic input a script run takes, recorded or served.

A recorded run reads the clock (``os.time``, ``os.clock``, ``os.date`` without a time,
``Utils.now``), the environment (``os.getenv``), randomness (the seed of ``math.random``,
drawn at the start and by ``math.randomseed()`` without arguments) and fresh ids
(``Utils.uuid``) through :meth:`InputTape.take` (``llmspell/lua/scripts/tape.lua`` wraps them).
Recording keeps the values in a buffer and writes them as one ``script.inputs`` entry
``{"inputs": [[kind, value], ...]}``: before the next model or tool call, when
:data:`BATCH` values are waiting, and when the script ends. So ``os.time()`` costs a list
append, not a commit.

Durability: values still in the buffer when the process dies are lost with it. The journal
then holds every input up to the last call or batch; a replay of that session stops, at the
first input it lacks, with a :class:`~llmspell.errors.ReplayDivergence` naming it.

Serving (a replay) hands back the recorded values of each kind in order, from the entries of
the run being replayed, read lazily; a replay also records what it served into its own
session, so a replay can be replayed.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from llmspell.errors import ReplayDivergence

if TYPE_CHECKING:
    from llmspell.journal import JournalEntry
    from llmspell.lua.engine import LuaEngine

INPUTS = "script.inputs"
BATCH = 256
KINDS = ("os.time", "os.clock", "os.getenv:NAME", "math.randomseed", "Utils.now",
         "Utils.uuid")

Sink = Callable[[list[list[Any]]], None]


class InputTape:
    """Records inputs into ``sink`` (a batch at a time) and, given ``recorded`` (the
    ``script.inputs`` entries of a recorded run, in order), serves them instead of the live
    values. ``on_served(entry)`` is told each time a recorded entry is opened."""

    def __init__(self, sink: Sink, *, recorded: Iterator[JournalEntry] | None = None,
                 on_served: Callable[[JournalEntry], None] | None = None) -> None:
        self.sink = sink
        self.recorded = recorded
        self.on_served = on_served
        self.buffer: list[list[Any]] = []
        self.served = 0
        self.failure: BaseException | None = None
        self._queues: dict[str, deque[Any]] = {}
        self._lock = threading.Lock()

    def take(self, kind: Any, live: Any) -> Any:
        """The value of input ``kind`` to use: ``live`` when recording, else the recorded
        one. Raises ReplayDivergence when a replay's journal has no value of ``kind`` left."""
        if self.failure is not None:
            raise self.failure
        value = live if self.recorded is None else self._served(str(kind))
        with self._lock:
            self.buffer.append([kind, value])
            full = len(self.buffer) >= BATCH
        if full:
            self.flush()
        return value

    def note(self, kind: str, value: Any) -> None:
        """Record a fact about the run (not an input: a replay never serves it)."""
        with self._lock:
            self.buffer.append([kind, value])

    def flush(self) -> None:
        """Write the waiting values as one entry (nothing when none wait)."""
        with self._lock:
            batch, self.buffer = self.buffer, []
        if batch:
            self.sink(batch)

    def _served(self, kind: str) -> Any:
        queue = self._queues.get(kind)
        while not queue:
            entry = next(self.recorded, None) if self.recorded is not None else None
            if entry is None:
                self.failure = ReplayDivergence(
                    f"replay diverged: the script read {kind} but the journal has no "
                    f"recorded {kind} value left", seq=None,
                    expected=None, actual={"kind": "input", "input": kind})
                raise self.failure
            if self.on_served is not None:
                self.on_served(entry)
            for k, v in entry.data.get("inputs") or ():
                self._queues.setdefault(k, deque()).append(v)
            queue = self._queues.get(kind)
        self.served += 1
        return queue.popleft()


def fresh_seed() -> int:
    """A random seed for ``math.randomseed`` (63 bits, so Lua keeps it an integer)."""
    return int.from_bytes(os.urandom(8), "big") >> 1


def iso(seconds: Any) -> str:
    """``Utils.now("iso")`` of ``seconds``."""
    return datetime.fromtimestamp(float(seconds), UTC).isoformat()


def install(engine: LuaEngine, tape: InputTape) -> None:
    """Route the engine's clock, environment, random and id reads through ``tape``."""
    engine.run_bundled("tape.lua", engine.function(tape.take, "input"),
                       engine.function(iso, "Utils.now"),
                       engine.function(fresh_seed, "math.randomseed"))
