"""Run as a child process by test_state_processes.py; not a test module.

``state_worker.py URL TAG N DIR``: wait for DIR/go, then add one to ``global/counter`` N times
with load + compare_and_set, and print how many compare_and_set calls lost a race.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from llmspell.state import StateManager
from llmspell.storage import open_store


def main(url: str, tag: str, n: int, sync_dir: Path) -> None:
    store = open_store(url)
    try:
        state = StateManager(store)
        (sync_dir / f"ready-{tag}").touch()
        deadline = time.monotonic() + 60
        while not (sync_dir / "go").exists():
            if time.monotonic() > deadline:
                raise SystemExit("timed out waiting for the go file")
            time.sleep(0.001)
        lost = 0
        for _ in range(n):
            while True:
                current = state.load("global", "counter")  # None before the first increment
                if state.compare_and_set("global", "counter", current, (current or 0) + 1):
                    break
                lost += 1
        print(lost)
    finally:
        store.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
