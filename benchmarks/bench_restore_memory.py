"""Peak memory of a whole-store restore (issue 18: a 100 MB store under 150 MB peak RSS).

A SQLite store of about 100 MB (10 MB with ``--quick``): half state values of 10 KB, half
artifacts of 1 MB in one session. It is backed up (json+zstd), then restored in a child
process (so nothing of the build counts) twice: into an empty SQLite store, and into the
same store after its session was deleted and its blobs collected (a safety backup first).
The figure is the time per entry; the note gives the child's peak RSS (``VmHWM``, which an
``exec`` resets, unlike ``ru_maxrss``). A restore holds the backup's records once in memory
(it is one atomic batch), so its peak grows with the store's size.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Bench
from llmspell import Runtime


def run(bench: Bench) -> None:
    scale = 10 if bench.quick else 100  # MB
    tmp = Path(tempfile.mkdtemp(prefix="llmspell-bench-restore-"))
    try:
        url = f"sqlite:///{tmp}/store.db"
        backups = str(tmp / "backups")
        with Runtime.memory(storage__url=url, state__backup_dir=backups) as rt:
            with rt.state.transaction():
                for i in range(scale * 50):
                    rt.state.save(f"agent:a{i % 50}", f"k{i}", {"text": os.urandom(5000).hex()})
            session = rt.sessions.create(name="big")
            for i in range(scale // 2):
                rt.artifacts.store(session.id, f"file{i}", os.urandom(1_000_000))
            size = sum(len(k) + len(v) for k, v in rt.store.scan(""))
            info = rt.backups.backup()
            rt.sessions.delete(session.id)
            rt.artifacts.gc(grace=0)
        for label, target in (("into an empty sqlite store", f"sqlite:///{tmp}/empty.db"),
                              ("after its session was deleted", url)):
            seconds, peak = _child(target, backups, info.id)
            bench.record(f"restore a {size / 1e6:.0f} MB store {label} (per entry)",
                         [seconds / info.entries * 1e6],
                         note=f"peak RSS {peak / 1024:.0f} MB; {info.entries} entries, "
                              f"file {info.file_bytes / 1e6:.0f} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


CHILD = """
import sys, time
from llmspell import Runtime

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

url, backups, backup_id = sys.argv[1:]
with Runtime.memory(storage__url=url, state__backup_dir=backups) as rt:
    started = time.perf_counter()
    rt.backups.restore(backup_id)
    print(time.perf_counter() - started, hwm())
"""


def _child(url: str, backups: str, backup_id: str) -> tuple[float, int]:
    """(seconds, peak RSS in KiB) of a restore in a fresh process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, url, backups, backup_id],
                          capture_output=True, text=True, check=True)
    seconds, peak = done.stdout.split()
    assert time.perf_counter() - started >= float(seconds)
    return float(seconds), int(peak)
