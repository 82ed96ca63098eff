"""Run as a child process by test_storage_concurrency.py; not a test module.
(Kills of a writer are the crash command's, ``python -m llmspell.testing.crash``, run by
tests/test_crash_command.py.)

``storage_worker.py cas URL TAG N DIR``: wait for DIR/go, then do N compare-and-set increments
of the key ``counter`` (sometimes pausing between the read and the write), each in one batch
that also writes ``w/TAG/i`` = the value it set.
``storage_worker.py open URL``: try to open the store and print the outcome on one line.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from llmspell.errors import LLMSpellError
from llmspell.storage import Put, open_store


def cas_increments(url: str, tag: str, n: int, sync_dir: Path) -> None:
    store = open_store(url)
    try:
        (sync_dir / f"ready-{tag}").touch()
        deadline = time.monotonic() + 60
        while not (sync_dir / "go").exists():
            if time.monotonic() > deadline:
                raise SystemExit("timed out waiting for the go file")
            time.sleep(0.001)
        retries = 0
        for i in range(n):
            while True:
                current = store.get("counter")
                new = str(int(current or b"0") + 1).encode()
                if i % 3 == 0:
                    time.sleep(0.0001)  # widen the window between read and write
                if store.batch([Put("counter", new), Put(f"w/{tag}/{i:05}", new)],
                               expect={"counter": current}):
                    break
                retries += 1
        print(f"done {tag} retries={retries}")
    finally:
        store.close()


def try_open(url: str) -> None:
    try:
        store = open_store(url)
    except LLMSpellError as exc:
        print(f"{type(exc).__name__}: {exc}")
    else:
        store.close()
        print("opened")


if __name__ == "__main__":
    if sys.argv[1] == "cas":
        cas_increments(sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5]))
    elif sys.argv[1] == "open":
        try_open(sys.argv[2])
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]!r}")
