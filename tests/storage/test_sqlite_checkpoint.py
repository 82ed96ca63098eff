"""SQLite: WAL checkpoints run in the store's background thread, not in writes
(llmspell/storage/_checkpoint.py).

The main database file only grows when a checkpoint copies WAL pages into it. With SQLite's
own checkpoint moved out to 64 MB of WAL, a file that grows while 12 MB are written proves
the background thread checkpointed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from llmspell.storage import Put, open_store
from llmspell.storage._checkpoint import NOTIFY_EVERY, SAFETY_PAGES, WAL_BYTES

VALUE = os.urandom(8 * 1024)


def _threads(path: Path) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"llmspell-checkpoint {path}"]


def test_writes_leave_the_checkpoint_to_the_background_thread(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = open_store(f"sqlite:///{path}")
    try:
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == SAFETY_PAGES  # type: ignore[attr-defined]
        for i in range(1500):  # 12 MB of WAL frames, 3x the checkpointer's threshold
            store.batch([Put(f"k/{i:05d}", VALUE)])
        assert len(_threads(path)) == 1
        deadline = time.monotonic() + 20
        while os.path.getsize(path) < WAL_BYTES and time.monotonic() < deadline:
            store.put("k/tick", b"x")  # keep waking it, as a working program would
            time.sleep(0.05)
        assert os.path.getsize(path) >= WAL_BYTES, "no checkpoint copied the WAL into the file"
        assert store.get("k/01499") == VALUE
    finally:
        store.close()
    assert _threads(path) == []
    with sqlite3.connect(path) as db:  # everything is in the file once closed
        found = db.execute("SELECT count(*) FROM kv WHERE key < 'k/t'").fetchone()[0]
        assert found == 1500


def test_a_store_with_few_writes_starts_no_thread(tmp_path: Path) -> None:
    path = tmp_path / "small.db"
    with open_store(f"sqlite:///{path}") as store:
        for i in range(NOTIFY_EVERY - 1):
            store.put(f"k/{i}", b"v")
        assert _threads(path) == []


def test_an_unclosed_store_stops_its_thread_when_dropped(tmp_path: Path) -> None:
    import gc

    path = tmp_path / "dropped.db"
    store = open_store(f"sqlite:///{path}")
    for i in range(NOTIFY_EVERY):
        store.put(f"k/{i}", b"v")
    assert len(_threads(path)) == 1
    del store
    gc.collect()
    deadline = time.monotonic() + 5
    while _threads(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _threads(path) == []


def _largest_wal(path: Path, durability: str, writes: int) -> int:
    """The WAL's largest size while one writer makes ``writes`` 8 KB puts without pause."""
    wal = f"{path}-wal"
    largest = 0
    with open_store(f"sqlite:///{path}", durability=durability) as store:
        for i in range(writes):
            store.batch([Put(f"k/{i % 500:05d}", VALUE)])
            if i % 50 == 0:
                largest = max(largest, os.path.getsize(wal))
        assert store.get("k/00499") == VALUE
    return largest


def test_a_busy_writer_at_full_does_not_grow_the_wal(tmp_path: Path) -> None:
    # A passive checkpoint beside a writer that never pauses never copies the last frames,
    # so the WAL would never start over and grow to SAFETY_PAGES (at "full" each commit
    # then extends the file, about twice the cost); the checkpointer's short pass under the
    # store's lock lets the next commit write from the WAL's beginning.
    largest = _largest_wal(tmp_path / "busy.db", "full", 2500)  # ~30 MB of frames
    assert largest <= 3 * WAL_BYTES, f"the WAL grew to {largest:,} bytes"


def test_at_normal_writers_never_wait_for_a_checkpoint(tmp_path: Path) -> None:
    # No locked pass at "normal" (its fsync would stall writers; the safety net bounds the
    # WAL); at "full" the pass takes the store's own write lock.
    from llmspell.storage.sqlite import SqliteStore

    normal, full = SqliteStore(tmp_path / "n.db"), SqliteStore(tmp_path / "f.db",
                                                              durability="full")
    try:
        assert normal._checkpointer.lock is None
        assert full._checkpointer.lock is full._lock
    finally:
        normal.close()
        full.close()
