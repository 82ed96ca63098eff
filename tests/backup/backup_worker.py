"""Run as a child process by test_backup_crash.py; not a test module.

``backup_worker.py URL BACKUP_DIR SYNC_DIR BACKUP_ID``: restore the backup; once the restore's
single batch has started writing (a SQLite progress handler, installed when the restore
reports its ``apply`` phase, sees the transaction under way), touch SYNC_DIR/mid and sleep, so
the test can kill the process in the middle of the apply.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from llmspell import Runtime


def main(url: str, backup_dir: str, sync_dir: Path, backup_id: str) -> None:
    rt = Runtime.memory(storage__url=url, state__backup_dir=backup_dir)
    calls = [0]

    def inside_the_batch() -> int:
        calls[0] += 1
        if calls[0] == 200:  # well into the batch: many rows written, none committed
            (sync_dir / "mid").touch()
            time.sleep(120)
        return 0

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "apply" and done == 0:
            rt.store._db.set_progress_handler(inside_the_batch, 100)  # type: ignore[attr-defined]

    rt.backups.restore(backup_id, progress=progress)
    print("the restore finished: the test meant to kill it first", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4])
