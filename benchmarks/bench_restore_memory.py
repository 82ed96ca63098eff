"""Peak memory of a whole-store restore (issue 18: a 100 MB store under 150 MB peak RSS).

A SQLite store of about 100 MB (10 MB with ``--quick``): half state values of 10 KB, half
artifacts of 1 MB in one session. It is backed up (json+zstd), then restored in a child
process (so nothing of the build counts) twice: into an empty SQLite store, and into the
same store after its session was deleted and its blobs collected (a safety backup first).
The figure is the time per entry; the note gives the child's peak RSS (:mod:`rss`). A restore
stages the chain in a temporary file and writes in chunks inside one transaction, so its peak
does not grow with the store's size.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from harness import Bench
from llmspell import Runtime
from rss import in_child

SETUP = """
from llmspell import Runtime
rt = Runtime.memory(storage__url=args[0], state__backup_dir=args[1])
rt.backups  # built before the measure
"""


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
            peak = in_child(SETUP, "rt.backups.restore(args[2])", target, backups,
                            info.id)
            result = bench.record(f"restore a {size / 1e6:.0f} MB store {label} (per entry)",
                                  [peak.seconds / info.entries * 1e6],
                                  note=f"{peak.note()}; {info.entries} entries, "
                                       f"file {info.file_bytes / 1e6:.0f} MB")
            result.cpu_us = peak.cpu_seconds / info.entries * 1e6
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


