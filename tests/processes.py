"""Child processes that start together: each waits for a line on stdin after opening its
store, so the work of all of them overlaps (what the multi-process acceptance tests need)."""

from __future__ import annotations

import subprocess


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
