"""Cross-process events on postgres (events.pgrelay): two runtimes on one store stand for two
processes; the acceptance test uses real publisher processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from backends import Backend, backend_fixture
from llmspell import Runtime
from llmspell.events import Event
from processes import finish, start_together

backend = backend_fixture(["postgres"])


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def test_an_event_reaches_another_process_with_the_same_patterns(backend: Backend) -> None:
    one, two = backend.runtime(), backend.runtime()
    got: list[Event] = []
    two.events.subscribe("job.*", got.append)
    two.events.subscribe("other.**", got.append)
    queued = two.events.subscribe("job.**", max_queue=2, overflow="drop_oldest")
    mine: list[Event] = []
    one.events.subscribe("job.*", mine.append)
    big = "x" * 20_000  # over NOTIFY's 8000 bytes: sent by reference through the store
    first = one.events.publish("job.done", {"n": 1, "blob": b"\x00\x01"}, session_id="s-1")
    one.events.publish("job.big", {"text": big})
    one.events.publish("unrelated.thing", 1)
    one.events.publish("job.last", None, correlation_id="c-9")
    wait_for(lambda: len(got) == 3)
    assert [e.type for e in got] == ["job.done", "job.big", "job.last"]
    assert got[0].remote and got[0].id == first.id and got[0].session_id == "s-1"
    assert got[0].data == {"n": 1, "blob": b"\x00\x01"}
    assert got[1].data == {"text": big}
    assert got[2].correlation_id == "c-9"
    assert [e.type for e in mine] == ["job.done", "job.big", "job.last"]  # once each, locally
    # the receiving subscription's own bound and overflow rule apply
    assert [queued.receive(0).type, queued.receive(0).type] == ["job.big", "job.last"]
    assert two.events.subscription_stats(queued)["dropped"] == 1
    one.relay.flush()
    assert one.relay.stats()["sent"] == 4
    assert two.relay.stats()["received"] == 4 and two.relay.stats()["missing"] == 0


def test_remote_events_of_a_session_are_journaled_once(backend: Backend) -> None:
    one, two = backend.runtime(), backend.runtime()
    seen: list[Event] = []
    two.events.subscribe("note.*", seen.append)
    s = one.sessions.create()
    two.sessions  # noqa: B018 (its recorder subscribes to every event)
    one.events.publish("note.added", {"x": 1}, session_id=s.id)
    wait_for(lambda: len(seen) == 1)
    kinds = [e.kind for e in one.sessions.journal.read(s.id)]
    assert kinds.count("event") == 1


def test_off_when_configured(backend: Backend) -> None:
    rt = backend.runtime(runtime__events__cross_process=False)
    assert rt.relay is None and rt.events.relay is None


PUBLISHER = textwrap.dedent("""
    import sys
    from llmspell import Runtime
    from llmspell.config import Config
    url, base, name, count = sys.argv[1:5]
    rt = Runtime(Config.defaults(storage__url=url, runtime__data_dir=base))
    sys.stdin.readline()
    for i in range(int(count)):
        rt.events.publish("feed." + name, {"i": i, "pad": "y" * (9000 if i % 50 == 0 else 10)})
    rt.close()  # sends what is queued first
""")


@pytest.mark.slow
def test_a_subscriber_gets_every_event_of_three_publishers_in_order(
        backend: Backend, tmp_path: Path) -> None:
    rt: Runtime = backend.runtime(runtime__events__event_buffer_size=100_000)
    received: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    rt.events.subscribe("feed.*", lambda e: received[e.type[5:]].append(e.data["i"]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    count = 500
    procs = [subprocess.Popen([sys.executable, "-c", PUBLISHER, backend.url,
                               str(tmp_path / "data"), name, str(count)],
                              stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for name in received]
    time.sleep(1.0)  # let them start listening and connect
    start_together(procs)
    finish(procs, timeout=60)
    wait_for(lambda: sum(map(len, received.values())) == 3 * count, timeout=30)
    for name, numbers in received.items():
        assert numbers == list(range(count)), name
    assert rt.relay.stats()["gaps"] == 0
