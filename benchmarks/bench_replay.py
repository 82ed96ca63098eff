"""Replay: exact replay of a 10,000-entry recorded session (journal entries per second), and
paging its timeline without loading it whole (peak memory printed).

Budget (DESIGN.md section 17): exact replay >= 20k journal entries/s. The session is recorded
once per store (untimed): a script whose loop saves state, reads the clock and calls a tool,
until the journal holds about 10,000 entries (1,000 with ``--quick``). Each round replays it
exactly into a new session (every tool call served from the journal, every state write done
again and journaled again). The timeline figure is the time per page of 100 entries read
with ``after_seq`` paging, and its note compares the peak memory of paging through the whole
journal with reading it in one list.

A replay re-runs the script (its state writes are made and journaled again), so its pace is
that of the script's own writes: the original recorded run is printed beside it. It stays
under the 20k/s budget, which re-execution on this state layer cannot reach (a journaled
state write costs about 0.3 ms on memory and several on sqlite, where each is a commit).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from harness import Bench
from llmspell.replay import record_run, replay_session
from llmspell.runtime import Runtime
from llmspell.tools import tool

SCRIPT = """
local scope = "session:" .. Session.getCurrent().id
for i = 1, tonumber(ARGS[1]) do
  State.save(scope, "k" .. (i % 50), {i = i, at = os.time()})
  if i % 4 == 0 then Tool.invoke("echo", {text = "n" .. i}) end
end
"""
PAGE = 100


def run(bench: Bench) -> None:
    bench.group = "replay"
    tmp = Path(tempfile.mkdtemp(prefix="llmspell-bench-replay-"))
    try:
        for label, url in (("memory", "memory://"), ("sqlite", f"sqlite:///{tmp}/r.db")):
            with Runtime.memory(storage__url=url, session__artifact_auto_collect=False) as rt:
                _replay(bench, rt, label)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _recorded(rt: Runtime, entries: int) -> tuple[str, float]:
    """The recorded session's id and how long recording it took (seconds)."""
    @tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    rt.tools.register(echo, replace=True)
    # Each loop step writes one state entry; every 4th adds a tool call and its two events.
    loops = entries * 4 // 7
    start = time.perf_counter()
    done = record_run(rt, SCRIPT, name="bench.lua", args=[str(loops)])
    took = time.perf_counter() - start
    assert done.error is None, done.error
    return str(done.session.id), took


def _replay(bench: Bench, rt: Runtime, label: str) -> None:
    target = 1_000 if bench.quick else 10_000
    rounds = 2 if bench.quick else 3
    recorded = [_recorded(rt, target) for _ in range(rounds)]
    sid = recorded[-1][0]
    journal = rt.sessions.journal
    entries = journal.last_seq(sid)
    bench.record(f"recorded run, {entries} entries ({label})",
                 [took / entries * 1e6 for _, took in recorded], min_ops_per_s=0,
                 note="the original run, for comparison")
    per_entry: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        report = replay_session(rt, sid)
        elapsed = time.perf_counter() - start
        assert report.identical, report.to_dict()
        per_entry.append(elapsed / report.entries * 1e6)
        rt.sessions.delete(str(report.session_id))  # untimed: cleaning up, not replaying
    bench.record(f"exact replay, {entries} entries ({label})", per_entry,
                 min_ops_per_s=20_000, peer=f"recorded run, {entries} entries ({label})",
                 note=f"{report.calls_served} tool calls served, "
                      f"{report.inputs_served} inputs served")
    pages, paged_peak = _page(journal, sid)
    tracemalloc.start()
    everything = journal.read(sid)
    whole_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(everything) == entries
    per_page = []
    for _ in range(rounds):
        start = time.perf_counter()
        count, _ = _page(journal, sid, measure=False)
        per_page.append((time.perf_counter() - start) / count * 1e6)
    bench.record(f"timeline page of {PAGE} ({label})", per_page,
                 note=f"{pages} pages; peak memory paging {paged_peak / 1024:.0f} KiB, "
                      f"reading all at once {whole_peak / 1024:.0f} KiB")


def _page(journal: Any, sid: str, *, measure: bool = True) -> tuple[int, int]:
    """Page through the whole timeline; (pages, peak traced bytes)."""
    if measure:
        tracemalloc.start()
    after, pages = 0, 0
    while True:
        page = journal.read(sid, after_seq=after, limit=PAGE)
        if not page:
            break
        after = page[-1].seq
        pages += 1
    peak = 0
    if measure:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return pages, peak
