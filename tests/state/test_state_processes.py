"""Several processes on one store: compare_and_set loses no update, sequences stay unique."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from backends import MULTI_PROCESS, Backend, slow_on

WORKER = Path(__file__).with_name("state_worker.py")


@pytest.mark.parametrize("backend", slow_on(MULTI_PROCESS, "postgres"), indirect=True)
def test_two_processes_counting_with_compare_and_set_end_at_1000(backend: Backend,
                                                                tmp_path: Path) -> None:
    _count_in_two_processes(backend, tmp_path)


def _count_in_two_processes(backend: Backend, tmp_path: Path) -> None:
    sync = tmp_path / "sync"
    sync.mkdir()
    children = [subprocess.Popen([sys.executable, str(WORKER), backend.url, tag, "500",
                                  str(sync)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for tag in ("a", "b")]
    deadline = time.monotonic() + 60
    while not all((sync / f"ready-{t}").exists() for t in "ab"):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(c.poll() is None for c in children), [c.communicate() for c in children]
        time.sleep(0.01)
    (sync / "go").touch()
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    state = backend.state_manager()
    assert state.load("global", "counter") == 1000
    # Every increment is one change with its own number: none reused, none skipped.
    log = [orjson.loads(v) for _, v in state.store.scan("chg/")]
    assert len(log) == 1000 == state.seq
    assert all(entry == {"s": "global", "k": "counter", "o": "put"} for entry in log)
    assert state.get_record("global", "counter").seq == 1000  # type: ignore[union-attr]
