"""Event bus throughput: publish to 10 glob subscribers, called back and queued.

Budgets (DESIGN.md section 17): >= 1M events/s synchronous, >= 300k events/s queued, with 10
glob subscribers. Two shapes are measured: every subscriber matching every event (the worst
case: 10 deliveries per publish) and a mixed stream where each event matches 2-4 of the 10.
"""

from __future__ import annotations

import time

from harness import Bench
from llmspell.events import EventBus

#: Ten patterns that all match "agent.writer.done".
ALL_MATCH = [
    "**", "agent.**", "agent.*.done", "*.writer.done", "agent.writer.*", "*.*.done", "**.done",
    "agent.writer.done", "*.*.*", "agent.**.done",
]
#: Ten patterns over a mixed stream; each type below matches 2-4 of them (3 on average).
MIXED = [
    "*.error", "session.*", "agent.*.done", "**", "state.**", "tool.*", "agent.**", "**.done",
    "session.created", "hook.*",
]
MIXED_TYPES = ["agent.writer.done", "tool.error", "session.created", "state.changed"]


def _per_op(loop, n: int, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        loop(n)
        out.append((time.perf_counter() - start) / n * 1e6)
    return out


def run(bench: Bench) -> None:
    n = 2_000 if bench.quick else 20_000
    rounds = 3 if bench.quick else 7
    data = {"id": "s1", "tokens": 12}

    def noop(event: object) -> None:
        pass

    bare = EventBus()
    publish = bare.publish

    def loop_bare(k: int) -> None:
        for _ in range(k):
            publish("agent.writer.done", data)

    bench.record("publish, no subscribers", _per_op(loop_bare, n, rounds))

    sync = EventBus()
    for pattern in ALL_MATCH:
        sync.subscribe(pattern, noop)
    publish_sync = sync.publish

    def loop_sync(k: int) -> None:
        for _ in range(k):
            publish_sync("agent.writer.done", data)

    bench.record("publish, 10 glob callbacks, all match", _per_op(loop_sync, n, rounds),
                 min_ops_per_s=1_000_000, note="10 deliveries per event")

    mixed = EventBus()
    for pattern in MIXED:
        mixed.subscribe(pattern, noop)
    publish_mixed = mixed.publish
    types = MIXED_TYPES * (n // len(MIXED_TYPES))

    def loop_mixed(k: int) -> None:
        for event_type in types[:k]:
            publish_mixed(event_type, data)

    bench.record("publish, 10 glob callbacks, mixed types", _per_op(loop_mixed, n, rounds),
                 min_ops_per_s=1_000_000, note="3 deliveries per event on average")

    queued = EventBus(max_queue=n * rounds + n)
    subs = [queued.subscribe(pattern) for pattern in ALL_MATCH]
    publish_queued = queued.publish

    def loop_queued(k: int) -> None:
        for _ in range(k):
            publish_queued("agent.writer.done", data)

    bench.record("publish, 10 glob queues, all match", _per_op(loop_queued, n, rounds),
                 min_ops_per_s=300_000, note="10 enqueues per event, no overflow")
    pending = subs[0].pending

    def drain(k: int) -> None:
        receive = subs[0].receive
        for _ in range(k):
            receive(0)

    bench.record("receive from a queue (event waiting)",
                 _per_op(drain, min(n, pending // rounds), rounds))

    full = EventBus(max_queue=100)
    for pattern in ALL_MATCH:
        full.subscribe(pattern)
    publish_full = full.publish

    def loop_full(k: int) -> None:
        for _ in range(k):
            publish_full("agent.writer.done", data)

    loop_full(200)
    bench.record("publish, 10 full queues, drop_oldest", _per_op(loop_full, n, rounds),
                 min_ops_per_s=300_000, note="every enqueue drops one")
