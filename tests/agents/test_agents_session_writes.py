"""What an agent call in a session writes: its llm.call entry in the same batch as the usage
counters, no batch that fails on a stale read of this process's own writes, and no re-read
of the session record or journal position between the call's writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime


class Recorder:
    """Wraps a store's batch and read methods to list what a call does."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.batches: list[tuple[list[str], bool]] = []
        self.reads: list[str] = []
        for name in ("batch", "batch_unchecked"):
            original = getattr(store, name)

            def batch(ops: Any, *args: Any, _original: Any = original, **kwargs: Any) -> bool:
                ops = list(ops)
                done = bool(_original(ops, *args, **kwargs))
                self.batches.append(([op[0] for op in ops], done))
                return done

            monkeypatch.setattr(store, name, batch)
        for name in ("get", "get_unchecked"):
            original = getattr(store, name)

            def get(key: str, _original: Any = original) -> Any:
                self.reads.append(key)
                return _original(key)

            monkeypatch.setattr(store, name, get)
        scan = store.scan

        def scanning(prefix: str, *args: Any, **kwargs: Any) -> Any:
            if prefix.startswith("journal/"):
                self.reads.append(prefix)
            return scan(prefix, *args, **kwargs)

        monkeypatch.setattr(store, "scan", scanning)


@pytest.fixture
def setup(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime, Any, Recorder, str]]:
    """A session made current, one call made in it, then the store watched."""
    with Runtime.memory() as rt:
        rt.providers.add("scripted", ScriptedProvider("scripted", ["one", "two", "three"]))
        agent = rt.agents.create("a", "scripted/demo")
        session = rt.sessions.create("s")
        with rt.sessions.current(session):
            agent.invoke("warm up")  # the first artifact of a name reads more
            yield rt, agent, Recorder(rt.store, monkeypatch), session.id


def test_no_batch_of_a_call_fails_and_nothing_is_read_twice(
        setup: tuple[Runtime, Any, Recorder, str]) -> None:
    _rt, agent, seen, sid = setup
    agent.invoke("hello")
    assert seen.batches and all(done for _, done in seen.batches), seen.batches
    assert not [k for k in seen.reads if k.startswith("journal/")], seen.reads
    # admit, settle, the journal entries, the collector's auto_collect setting and the
    # artifact's counters all use what the last write left: the record is never read
    record = f"session/{sid}"
    assert seen.reads.count(record) == 0, seen.reads


def test_the_llm_call_entry_is_written_with_the_usage_counters(
        setup: tuple[Runtime, Any, Recorder, str]) -> None:
    rt, agent, seen, sid = setup
    agent.invoke("hello")
    entries = {e.seq: e.kind for e in rt.sessions.journal.read(sid)}
    llm_seq = max(seq for seq, kind in entries.items() if kind == "llm.call")
    llm_key = f"journal/{sid}/{llm_seq:012d}"
    together = next(keys for keys, _ in seen.batches if llm_key in keys)
    assert any(k.startswith("session") and sid in k and not k.startswith("session_")
               for k in together if not k.startswith("journal/")), together
    found = rt.sessions.get(sid)
    assert found.counters.operations == 2 and found.counters.tokens > 0


def test_a_failed_call_is_journaled_and_its_reservation_given_back(
        setup: tuple[Runtime, Any, Recorder, str]) -> None:
    rt, agent, _seen, sid = setup
    agent.provider.add_replies([{"error": "unavailable", "message": "down"}])
    agent.provider._next = agent.provider._next + 2  # skip the unused canned replies
    before = rt.sessions.get(sid).counters.tokens
    with pytest.raises(Exception, match="down"):
        agent.invoke("hello")
    failed = rt.sessions.journal.read(sid, kinds="llm")[-1]
    assert failed.data["error_type"] == "ProviderUnavailable"
    assert rt.sessions.get(sid).counters.tokens == before
