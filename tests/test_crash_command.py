"""The crash command: a short run per backend, and checks that catch every kind of damage."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmspell import Runtime
from llmspell.storage import Put
from llmspell.testing import backend_unavailable
from llmspell.testing.crash import main, run_crash_test
from llmspell.testing.crash_checks import Checker, Intent, Tally, read_log
from llmspell.testing.crash_workload import CAS_KEY, CAS_SCOPE, AckLog, Workload, open_runtime


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "lmdb", "rocksdb", "postgres"])
def test_the_command_kills_the_workload_and_finds_nothing_lost(backend: str,
                                                               tmp_path: Path) -> None:
    if reason := backend_unavailable(backend):
        pytest.skip(reason)
    done = subprocess.run(
        [sys.executable, "-m", "llmspell.testing.crash", "--backend", backend, "--kills", "5",
         "--seed", "11", "--max-delay", "0.5", "--scan-every", "2", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(rf"^{backend} \(durability normal\): 5 kills, (\d+) acknowledged "
                      r"writes, 0 lost, 0 integrity failures$", done.stdout, re.MULTILINE)
    assert found, done.stdout
    assert int(found[1]) > 0
    assert len(list(tmp_path.glob("round-*.err"))) == 5  # one child per kill


@pytest.mark.slow
def test_a_full_durability_run_on_sqlite_finds_nothing_lost(tmp_path: Path) -> None:
    tally = run_crash_test("sqlite", 3, tmp_path, seed=5, durability="full", max_delay=0.4,
                           scan_every=1)
    assert tally.summary() == {"kills": 3, "acknowledged_writes": tally.acknowledged,
                               "lost": 0, "integrity_failures": 0, "child_errors": 0}


def test_the_command_refuses_a_backend_that_keeps_nothing(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--backend", "memory", "--kills", "1", "--dir", str(tmp_path)])
    assert exited.value.code == 2
    assert "invalid choice: 'memory'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--backend", "sqlite", "--kills", "0", "--dir", str(tmp_path)])
    assert "--kills must be at least 1" in capsys.readouterr().err


# -- the checks, on a workload run to completion in this process --------------------------------


@pytest.fixture
def worked(tmp_path: Path) -> Iterator[tuple[Runtime, list[Intent]]]:
    """A sqlite store after 60 operations of the workload, and their log."""
    url = f"sqlite:///{tmp_path}/store.db"
    log = tmp_path / "round.log"
    with open_runtime(url, str(tmp_path / "backups"), "normal") as rt:
        Workload(rt, AckLog(str(log)), 0, seed=3).run(steps=60)
        yield rt, read_log(log)


def check(rt: Runtime, intents: list[Intent]) -> Tally:
    tally = Tally()
    checker = Checker(rt, tally)
    checker.check_round(0, intents, latest=True)
    checker.scan_everything()
    return tally


def test_a_whole_store_passes_every_check(worked: tuple[Runtime, list[Intent]]) -> None:
    rt, intents = worked
    kinds = {i.kind for i in intents}
    assert kinds == {"state", "cas", "session", "artifact", "backup"}
    assert {i.details.get("phase") for i in intents} >= {"save", "tx", "before", "after",
                                                         "restore", "seed", "migrate"}
    assert all(i.ack is not None for i in intents)
    tally = check(rt, intents)
    assert (tally.lost, tally.failures) == ({}, {})


def test_an_acknowledged_save_that_is_gone_counts_as_lost(
        worked: tuple[Runtime, list[Intent]]) -> None:
    rt, intents = worked
    save = next(i for i in intents if i.details.get("phase") == "save")
    rt.state.delete(save.details["scope"], save.details["group"])
    tally = check(rt, intents)
    assert list(tally.lost) == [f"round 0 group {save.details['group']}"]
    assert tally.failures == {}


def test_a_torn_transaction_is_an_integrity_failure(
        worked: tuple[Runtime, list[Intent]]) -> None:
    rt, intents = worked
    tx = next(i for i in intents if i.details.get("phase") == "tx")
    tx.ack = None  # as if the kill came before the commit returned: all or nothing
    tx.in_flight = True
    first = sorted(tx.details["values"])[0]
    rt.state.delete(tx.details["scope"], first)
    tally = check(rt, intents)
    assert tally.lost == {}
    assert list(tally.failures) == [f"round 0 group {tx.details['group']}"]
    assert "neither before nor after" in tally.failures[f"round 0 group {tx.details['group']}"]


def test_a_counter_behind_its_acks_is_lost_and_ahead_of_every_write_is_damage(
        worked: tuple[Runtime, list[Intent]]) -> None:
    rt, intents = worked
    top = max(i.details["new"] for i in intents if i.kind == "cas")
    rt.state.save(CAS_SCOPE, CAS_KEY, top - 1)
    assert list(check(rt, intents).lost) == ["round 0 counter"]
    rt.state.save(CAS_SCOPE, CAS_KEY, top + 1)
    assert list(check(rt, intents).failures) == ["round 0 counter"]


def test_artifact_content_that_no_longer_matches_its_hash_is_an_integrity_failure(
        worked: tuple[Runtime, list[Intent]]) -> None:
    rt, intents = worked
    artifact = next(i for i in intents if i.kind == "artifact"
                    and 0 < i.details["size"] < 10_000)
    stored = rt.artifacts.get(artifact.ack["id"])  # type: ignore[index]
    key = f"blob/d/{stored.content_hash}"  # small content is inline, after a 10-byte header
    value = rt.store.get(key)
    assert value is not None and len(value) > 10
    rt.store.batch([Put(key, value[:-1] + bytes([value[-1] ^ 1]))])
    tally = check(rt, intents)
    assert f"round 0 write {artifact.n} (artifact)" in tally.failures
    assert "IntegrityError" in tally.failures[f"round 0 write {artifact.n} (artifact)"]
    assert tally.lost == {}


def test_a_half_written_log_line_is_ignored_and_the_last_write_is_under_way(
        tmp_path: Path) -> None:
    log = AckLog(str(tmp_path / "log"))
    first = log.intent("cas", new=1)
    log.ack(first)
    log.intent("cas", new=2)
    with (tmp_path / "log").open("ab") as f:
        f.write(b'{"t":"ack","n":1')  # the kill cut this line short
    intents = read_log(tmp_path / "log")
    assert [(i.n, i.ack is not None, i.in_flight) for i in intents] == [(0, True, False),
                                                                         (1, False, True)]
    tally = Tally()
    tally.count_interrupted(intents)
    tally.count_interrupted([])
    assert tally.interrupted == {"cas": 1, "before the first write": 1}
