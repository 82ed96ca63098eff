"""Migrations and rollbacks written in chunks inside one transaction (issue 18): the result is
the same as one batch, a failure in a late chunk (after earlier chunks were written) or a
killed process leaves every byte as it was, and progress comes as the values are read."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from backends import snapshot
from llmspell import Runtime
from llmspell.errors import MigrationError
from llmspell.state import bulk
from llmspell.state.migration import ledger
from processes import kill_when

WORKER = Path(__file__).with_name("migration_worker.py")
SEED = {"from_version": 1, "to_version": 2, "transformations": [
    {"field": "old_field", "transform": "copy", "to": "new_field"}]}


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "CHUNK_RECORDS", 100)


def fill(rt: Runtime, n: int) -> None:
    with rt.state.transaction():
        for i in range(n):
            rt.state.save(f"agent:a{i % 3}", f"k{i:05d}", {"old_field": i, "i": i})


def everything(rt: Runtime) -> dict[str, bytes]:
    return dict(rt.store.scan(""))


def test_a_migration_in_many_chunks_is_one_migration(rt: Runtime) -> None:
    fill(rt, 1050)
    before = snapshot(rt)
    changes_before = rt.store.count("chg/")
    seen: list[tuple[int, int]] = []
    report = rt.migrations.apply(SEED, batch_size=250,
                                 progress=lambda done, total: seen.append((done, total)))
    assert report.applied and report.examined == report.changed == 1050
    assert seen == [(250, 1050), (500, 1050), (750, 1050), (1000, 1050), (1050, 1050)]
    assert rt.state.load("agent:a1", "k01000") == {"old_field": 1000, "i": 1000,
                                                   "new_field": 1000}
    # one change-log entry per value, numbered without a gap, and the sequence at the last
    assert rt.store.count("chg/") == changes_before + 1050
    assert report.seq_last - report.seq_first + 1 == 1050  # type: ignore[operator]
    assert rt.state.seq == report.seq_last
    seqs = sorted(orjson.loads(v)["q"] for _, v in rt.store.scan("state/"))
    assert seqs == list(range(report.seq_first, report.seq_last + 1))  # type: ignore[arg-type]
    # undo chunks numbered on across the write's chunks, every replaced record kept once
    entry = ledger.last_applied(rt.store)
    assert entry is not None and entry["items"] == 1050
    keys = list(rt.store.keys(ledger.undo_prefix(entry["n"])))
    assert [int(k.rsplit("/", 1)[1]) for k in keys] == list(range(entry["undo_chunks"]))
    assert dict(ledger.read_undo(rt.store, entry["n"])) == before
    done = rt.migrations.rollback()
    assert done["restored"] == 1050 and done["conflicts"] == 0
    assert snapshot(rt) == before and rt.store.count("mig/undo/") == 0


def test_a_failure_in_a_late_chunk_leaves_every_byte(rt: Runtime) -> None:
    fill(rt, 1000)
    before = everything(rt)

    def bump(value: Any, ctx: dict[str, Any]) -> Any:
        if value == 950:  # the 984th in store order: 9 chunks are written by now
            raise RuntimeError("cannot handle 950")
        return value + 1

    with pytest.raises(MigrationError, match=r"agent:a2/k00950 \(#984.*cannot handle 950.*"
                                             "nothing was changed"):
        rt.migrations.apply({**SEED, "transformations": [
            {"field": "i", "transform": "custom", "fn": bump, "name": "bump"}]})
    assert everything(rt) == before  # records, change log, sequence, no ledger entry
    assert rt.migrations.apply(SEED).examined == 1000  # and the store is whole


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_earlier_chunks_are_written_before_the_failure(rt: Runtime) -> None:
    """On SQLite the migrating thread reads its own uncommitted chunks: the first value is
    already at version 2 when the 950th fails, and still at version 1 afterwards."""
    fill(rt, 1000)
    seen: list[int] = []

    def bump(value: Any, ctx: dict[str, Any]) -> Any:
        if value == 950:
            seen.append(orjson.loads(rt.store.get("state/agent:a0/k00000") or b"")["s"])
            raise RuntimeError("cannot handle 950")
        return value

    with pytest.raises(MigrationError):
        rt.migrations.apply({**SEED, "transformations": [
            {"field": "i", "transform": "custom", "fn": bump, "name": "bump"}]})
    assert seen == [2]
    assert rt.state.get_record("agent:a0", "k00000").schema_version == 1  # type: ignore[union-attr]


def test_a_rollback_conflict_in_a_late_chunk_writes_nothing(rt: Runtime) -> None:
    fill(rt, 1000)
    original = snapshot(rt)
    rt.migrations.apply(SEED)
    rt.state.save("agent:a2", "k00998", "edited after the migration")
    migrated = everything(rt)
    with pytest.raises(MigrationError, match=r"1 value\(s\) changed .* agent:a2/k00998; "
                                             "nothing was changed"):
        rt.migrations.rollback()
    assert everything(rt) == migrated
    done = rt.migrations.rollback(force=True)
    assert done["conflicts"] == 1 and done["restored"] == 1000
    assert snapshot(rt) == original


def test_hooks_and_events_hear_every_value_of_a_chunked_migration(mem: Runtime) -> None:
    fill(mem, 250)
    mem.state.save("global", "other", 1)
    heard: list[tuple[str, int, Any]] = []
    mem.events.subscribe("state.changed", lambda e: heard.append(
        (f"{e.data['scope']}/{e.data['key']}", e.data["seq"], e.data["schema_version"])))
    report = mem.migrations.apply(SEED)
    deadline = time.monotonic() + 5
    while len(heard) < 251 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(heard) == 251
    assert [seq for _, seq, _ in heard] == list(range(report.seq_first,  # type: ignore[arg-type]
                                                      report.seq_last + 1))  # type: ignore[operator]
    assert {version for _, _, version in heard} == {2}


def test_a_migration_killed_mid_write_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    with Runtime.memory(storage__url=url) as rt:
        fill(rt, 3000)
        expected = everything(rt)
    sync = tmp_path / "sync"
    sync.mkdir()
    child = subprocess.Popen([sys.executable, str(WORKER), url, str(sync)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mid = sync / "mid"
    kill_when(child, lambda: mid.exists() and bool(mid.read_text()), "its 1,500th value")
    assert (sync / "mid").read_text() == "2"  # 14 chunks were written, not committed
    with Runtime.memory(storage__url=url) as rt:
        assert everything(rt) == expected  # every record, change-log entry, the sequence
        report = rt.migrations.apply(SEED)  # the store is whole: the migration applies
        assert report.applied and report.examined == 3000
        assert rt.state.get_record("agent:a0", "k00000").schema_version == 2  # type: ignore[union-attr]
