"""A writer killed mid-batch leaves a store whose batches are whole and whose commits survived."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends import ON_DISK, Backend

WORKER = Path(__file__).with_name("storage_worker.py")


@pytest.mark.parametrize("backend", ON_DISK, indirect=True)
def test_a_killed_writer_leaves_whole_batches(backend: Backend, tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, str(WORKER), "batches", backend.url,
                              str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ready").exists():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the writer never got going"
            time.sleep(0.005)
        time.sleep(0.15)
    finally:
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=60)
    returned = [int(line) for line in out.split()]
    assert returned, "the writer reported no batch"
    store = backend.open()
    last = int(store.get("last") or b"-1")
    # Every batch that returned survived the crash of its process (durability "normal"); at
    # most one more may have committed without being reported.
    assert last in (returned[-1], returned[-1] + 1)
    assert store.count("b/") == 10 * (last + 1)
    for i in range(last + 1):
        assert store.count(f"b/{i:06}/") == 10, i
