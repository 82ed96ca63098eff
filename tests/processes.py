"""Child processes that start together: each waits for a line on stdin after opening its
store, so the work of all of them overlaps (what the multi-process acceptance tests need)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable


def start_together(procs: list[subprocess.Popen[str]]) -> None:
    """Send every process (waiting on ``sys.stdin.readline()``) the line that starts it."""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def finish(procs: list[subprocess.Popen[str]], timeout: float = 120) -> list[str]:
    """Each process's stdout once it exited 0 (else the assertion shows its stderr)."""
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        outputs.append(out or "")
    return outputs


def kill_when(proc: subprocess.Popen[str], ready: Callable[[], bool], what: str,
              timeout: float = 60) -> None:
    """SIGKILL ``proc`` once ``ready()`` (polled every 5 ms); fails naming ``what`` when the
    process exits first or ``timeout`` passes, and when it did not die by the signal."""
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"the child never reached {what}"
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (out, err)
