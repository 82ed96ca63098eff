"""The journal: dense sequence numbers, entries written in the caller's batch, filters,
paging, redaction, and many writers (threads and processes) never sharing a number."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from llmspell.errors import StorageError, ValidationError
from llmspell.journal import START, Draft, Journal, entry_key
from llmspell.storage import Put, open_store


@pytest.fixture
def journal() -> Journal:
    times = iter(range(1000, 100000))
    return Journal(open_store("memory://"), clock=lambda: float(next(times)))


def test_append_numbers_entries_one_two_three(journal: Journal) -> None:
    for i in range(3):
        entry = journal.append("s1", "note", {"i": i}, correlation_id=f"c{i}")
        assert entry.seq == i + 1
    entries = journal.read("s1")
    assert [(e.seq, e.kind, e.data, e.correlation_id) for e in entries] == [
        (1, "note", {"i": 0}, "c0"), (2, "note", {"i": 1}, "c1"), (3, "note", {"i": 2}, "c2")]
    assert journal.last_seq("s1") == 3 and journal.count("s1") == 3
    assert journal.last_seq("other") == 0
    assert entries[0].to_dict()["time"].endswith("Z")


def test_entry_commits_with_the_change_it_records_or_not_at_all(journal: Journal) -> None:
    store = journal.store
    store.put("thing", b"old")
    ops, expect = journal.entry_ops("s1", "thing.changed", {"to": "new"})
    # The caller's own condition fails: neither the change nor the entry is written.
    assert not store.batch([Put("thing", b"new"), *ops], expect={**expect, "thing": b"other"})
    assert store.get("thing") == b"old" and journal.read("s1") == []
    assert store.batch([Put("thing", b"new"), *ops], expect={**expect, "thing": b"old"})
    assert store.get("thing") == b"new"
    assert [e.kind for e in journal.read("s1")] == ["thing.changed"]


def test_a_second_writer_with_the_same_number_fails_and_retries(journal: Journal) -> None:
    first = journal.entry_ops("s1", "a")
    second = journal.entry_ops("s1", "b")  # planned before the first commits: same number
    assert journal.store.batch(first[0], expect=first[1])
    assert not journal.store.batch(second[0], expect=second[1])
    again = journal.entry_ops("s1", "b")  # what a caller does: plan again, retry the batch
    assert journal.store.batch(again[0], expect=again[1])
    assert [(e.seq, e.kind) for e in journal.read("s1")] == [(1, "a"), (2, "b")]


def test_a_stale_position_only_makes_the_batch_fail(journal: Journal) -> None:
    journal.append("s1", "a")
    ops, expect = journal.entry_ops("s1", "b", after=START)  # claims the journal is empty
    assert not journal.store.batch(ops, expect=expect)
    position = journal.position("s1")
    ops, expect = journal.entry_ops("s1", "b", after=position)
    assert journal.store.batch(ops, expect=expect)
    assert journal.last_seq("s1") == 2


def test_several_entries_in_one_batch_are_consecutive(journal: Journal) -> None:
    journal.append("s1", "first")
    ops, expect = journal.entries_ops("s1", [Draft("x", 1), Draft("y", 2, "cid")])
    assert [op.key for op in ops] == [entry_key("s1", 2), entry_key("s1", 3)]
    assert journal.store.batch(ops, expect=expect)
    assert [e.kind for e in journal.read("s1")] == ["first", "x", "y"]


def test_threads_never_share_a_number() -> None:
    journal = Journal(open_store("memory://"))
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(50):
                journal.append("s1", "w", {"writer": n, "i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    entries = journal.read("s1")
    assert [e.seq for e in entries] == list(range(1, 201))
    for n in range(4):  # each writer's entries are in its own order
        mine = [e.data["i"] for e in entries if e.data["writer"] == n]
        assert mine == list(range(50))


WRITER = """
import sys
from llmspell.journal import Journal
from llmspell.storage import open_store
store = open_store(sys.argv[1])
journal = Journal(store)
for i in range(40):
    journal.append("shared", "w", {"pid": sys.argv[2], "i": i})
store.close()
"""


def test_processes_never_share_a_number(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/j.db"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(n)]) for n in range(3)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    store = open_store(url)
    entries = Journal(store).read("shared")
    assert [e.seq for e in entries] == list(range(1, 121))
    for n in range(3):
        assert [e.data["i"] for e in entries if e.data["pid"] == str(n)] == list(range(40))
    store.close()


def test_filters_and_paging(journal: Journal) -> None:
    kinds = ["session.created", "state.write", "state.delete", "hook", "state.write",
             "session.suspended"]
    for i, kind in enumerate(kinds):
        journal.append("s1", kind, {"i": i}, correlation_id="op" if i in (1, 2) else None)
    seqs = lambda **kw: [e.seq for e in journal.read("s1", **kw)]  # noqa: E731
    assert seqs(kinds="state") == [2, 3, 5]
    assert seqs(kinds=["session", "hook"]) == [1, 4, 6]
    assert seqs(kinds="state.write") == [2, 5]
    assert seqs(kinds="stat") == []  # a prefix matches whole dotted segments only
    assert seqs(correlation_id="op") == [2, 3]
    assert seqs(since=1001, until=1004) == [2, 3, 4]  # entry i was written at 1000 + i
    assert seqs(since="1970-01-01T00:16:43Z") == [4, 5, 6]  # 1003 s after the epoch
    assert seqs(after_seq=2, limit=2) == [3, 4]
    assert seqs(after_seq=4) == [5, 6]
    assert seqs(reverse=True, limit=2) == [6, 5]
    assert seqs(reverse=True, before_seq=5, limit=2) == [4, 3]
    assert seqs(after_seq=2, before_seq=5) == [3, 4]
    assert seqs(limit=0) == seqs()  # 0 means no limit, as in the CLI
    assert [e.seq for e in journal.iter("s1", kinds="hook")] == [4]


def test_secrets_are_redacted(journal: Journal) -> None:
    journal.append("s1", "call", {"api_key": "abc", "note": "key sk-abcdefghijklmnopqrstuv",
                                  "nested": [{"password": "hunter2"}], "tokens": 12,
                                  "text": "login password=hunter2 ok"})
    data = journal.read("s1")[0].data
    assert data == {"api_key": "[REDACTED]", "note": "key [REDACTED]",
                    "nested": [{"password": "[REDACTED]"}], "tokens": 12,
                    "text": "login password=[REDACTED] ok"}
    raw = journal.store.get(entry_key("s1", 1))
    assert raw is not None and b"hunter2" not in raw and b"sk-abc" not in raw


def _write(journal: Journal, draft: Draft) -> None:
    ops, expect = journal.entries_ops("s1", [draft])
    assert journal.store.batch(ops, expect=expect)


def test_fields_redacted_already_are_not_checked_again_but_the_rest_is(
        journal: Journal) -> None:
    # The caller vouches for "data" (redacted with the same rules): written as given.
    _write(journal, Draft("event", {"type": "t", "data": {"note": "done"}}, None, ("data",)))
    # Another field with a secret: the whole entry is redacted, the vouched field too.
    _write(journal, Draft("event", {"token": "abc", "data": {"password": "x"}}, None,
                          ("data",)))
    # A secret the caller did not vouch for is hidden as ever.
    _write(journal, Draft("event", {"type": "t", "data": {"api_key": "abc"}}))
    assert [e.data for e in journal.read("s1")] == [
        {"type": "t", "data": {"note": "done"}},
        {"token": "[REDACTED]", "data": {"password": "[REDACTED]"}},
        {"type": "t", "data": {"api_key": "[REDACTED]"}}]


def test_events_redacted_by_the_bus_are_journaled_redacted_once() -> None:
    from llmspell import Runtime

    with Runtime.memory() as rt:
        session = rt.sessions.create("s")
        rt.events.publish("custom.thing", {"api_key": "sk-abcdefghijklmnopqrstuvwx"},
                          session_id=session.id, source="app", redact=True)
        rt.events.publish("custom.thing", {"api_key": "sk-abcdefghijklmnopqrstuvwx"},
                          session_id=session.id, source="app")  # not redacted by the bus
        entries = rt.sessions.journal.read(session.id, kinds="event")
        assert [e.data["data"] for e in entries] == [{"api_key": "[REDACTED]"}] * 2


def test_extra_secret_patterns() -> None:
    journal = Journal(open_store("memory://"), redact_patterns=[r"\bACME-\d{6}\b"])
    journal.append("s1", "x", {"license": "ACME-123456"})
    assert journal.read("s1")[0].data == {"license": "[REDACTED]"}


def test_values_json_has_no_form_for_are_described(journal: Journal) -> None:
    journal.append("s1", "x", {"blob": b"\x00\x01", "tags": {"a"}, "n": 1, 2: "two"})
    assert journal.read("s1")[0].data == {"blob": "<2 bytes>", "tags": ["a"], "n": 1,
                                          "2": "two"}


def test_delete_removes_entries_and_values(journal: Journal) -> None:
    for _ in range(1500):
        journal.append("s1", "x")
    journal.append("s2", "x")
    journal.store.batch([journal.value_op("s1", "h1", b'{"v":1}')])
    assert journal.value("s1", "h1") == b'{"v":1}'
    assert journal.delete("s1") == 1501
    assert journal.read("s1") == [] and journal.value("s1", "h1") is None
    assert journal.last_seq("s2") == 1


@pytest.mark.parametrize(("call", "argument"), [
    (lambda j: j.append("bad/id", "x"), "session_id"),
    (lambda j: j.append("", "x"), "session_id"),
    (lambda j: j.append("s1", "has space"), "kind"),
    (lambda j: j.read("s1", limit=-1), "limit"),
    (lambda j: j.read("s1", after_seq="3"), "after_seq"),
    (lambda j: j.read("s1", kinds=[""]), "kinds"),
    (lambda j: j.read("s1", since="yesterday"), "since"),
])
def test_bad_arguments_are_named(journal: Journal, call: object, argument: str) -> None:
    with pytest.raises(ValidationError) as caught:
        call(journal)  # type: ignore[operator]
    assert caught.value.argument == argument


def test_append_gives_up_when_it_never_wins(monkeypatch: pytest.MonkeyPatch,
                                            journal: Journal) -> None:
    import llmspell.storage.retry as module

    monkeypatch.setattr(module, "MAX_ATTEMPTS", 3)
    monkeypatch.setattr(journal.store, "batch", lambda ops, expect=None: False)
    with pytest.raises(StorageError, match="3 attempts lost to other writers"):
        journal.append("s1", "x")


def test_a_guarded_batch_checks_only_the_next_number(journal: Journal) -> None:
    journal.append("s1", "a")
    position = journal.position("s1")
    _, expect = journal.entries_ops("s1", [Draft("b")], after=position)
    assert set(expect) == {entry_key("s1", 1), entry_key("s1", 2)}
    ops, expect = journal.entries_ops("s1", [Draft("b")], after=position, guarded=True)
    assert expect == {entry_key("s1", 2): None}
    assert journal.store.batch(ops, expect=expect)


def test_an_entry_s_stored_bytes_are_the_documented_json() -> None:
    journal = Journal(open_store("memory://"))
    assert journal.encode(3, 1.5, Draft("x.y", {"a": [1, None]}, "c1")) == (
        b'{"seq":3,"ts":1.5,"kind":"x.y","cid":"c1","data":{"a":[1,null]}}')
    assert journal.encode(1, 2.0, Draft("x.y")) == (
        b'{"seq":1,"ts":2.0,"kind":"x.y","cid":null,"data":null}')
    hidden = journal.encode(1, 2.0, Draft("x.y", {"api_key": "sk-" + "a" * 40}))
    assert b"sk-" not in hidden and b'"kind":"x.y"' in hidden
