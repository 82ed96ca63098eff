"""SQLite WAL checkpoints off the write path: a background thread per store does them.

In WAL mode every commit appends pages to ``<file>-wal``; a checkpoint copies them back into
the database file and syncs it. SQLite's automatic checkpoint runs inside the commit that
crosses 1,000 WAL pages, so one user write in a few hundred paid an fsync (measured on this
machine class: +10% on a state write, +32% on a session create, +64% on an artifact store,
and most of the run-to-run spread).

Here writers only count their commits. Every :data:`NOTIFY_EVERY` commits they wake the
store's :class:`Checkpointer`, which checks the WAL's size and, over :data:`WAL_BYTES`, runs
``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of its own. A passive checkpoint never
waits for and never blocks a writer or a reader; it copies what it can. The thread starts
on the first wake-up, so short-lived and read-only stores never start one.

A checkpoint that runs beside a busy writer never catches up: the writer appends while it
copies, and SQLite only starts the WAL again from its beginning once every frame is copied
(a writer that pauses, as one waiting for a model does, lets it catch up). Under a steady
writer the WAL grows to the safety net below. At durability "full" that is costly: a commit
that extends the file costs about twice one that overwrites it (its fsync also journals the
new size). So at "full", once the long pass has seen :data:`WAL_BYTES` of WAL, the thread
takes the store's write lock and runs a second passive checkpoint for the few frames written
meanwhile (this process's writers wait for that short pass: one fsync of the database file
per :data:`WAL_BYTES`, beside the fsync each of their commits makes); the next commit then
writes from the start of the WAL. Writers in other processes are never blocked: if they
append meanwhile, the WAL starts over at a later round. At "normal" the wait would cost more
than it saves (an appending commit costs about what an overwriting one does without an
fsync, while the locked pass's fsync would stall writers 16 times as often as the safety
net's checkpoint, which also only copies what the thread left), so there is no locked pass.

SQLite's own automatic checkpoint stays on as a safety net, at :data:`SAFETY_PAGES` (64 MB
of WAL at the default page size): it only runs in a write when the thread falls far behind
(a reader holding an old snapshot for a long time, say).

Durability is unchanged: a commit is durable (or not) by the time it returns, by the
``synchronous`` setting alone (docs/storage.md); a checkpoint only moves committed pages from
the WAL into the main file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

logger = logging.getLogger("llmspell.storage")

#: Writers wake the checkpointer after this many commits.
NOTIFY_EVERY = 64
#: The checkpointer checkpoints once the WAL is this large (SQLite's own default is 1,000
#: pages, 4 MB at the default page size).
WAL_BYTES = 4 << 20
#: SQLite's automatic checkpoint, in pages, kept as a safety net (see the module docstring).
SAFETY_PAGES = 16384


class Checkpointer:
    """Checkpoints the WAL of the SQLite file at ``path`` in a daemon thread."""

    def __init__(self, path: str, timeout: float, lock: threading.RLock | None) -> None:
        self.path = path
        #: The store's write lock, for the short locked pass; None: no such pass (durability
        #: "normal", see the module docstring).
        self.lock = lock
        self.wal = path + "-wal"
        self.timeout = timeout
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._guard = threading.Lock()

    def notify(self) -> None:
        """Ask for a check of the WAL's size (called by writers every NOTIFY_EVERY commits)."""
        if self._thread is None or self._pid != os.getpid():  # first time, or after fork()
            with self._guard:
                if self._stop:
                    return
                if self._thread is None or self._pid != os.getpid():
                    self._pid = os.getpid()
                    self._thread = threading.Thread(
                        target=self._run, name=f"llmspell-checkpoint {self.path}", daemon=True)
                    self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread (waiting for a checkpoint under way to finish)."""
        with self._guard:
            self._stop = True
            thread = self._thread if self._pid == os.getpid() else None
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _locked(self) -> threading.RLock | None:
        """The store's write lock, taken; None when there is none or the store is closing
        (its closer may hold the lock while it waits for this thread to stop)."""
        lock = self.lock
        if lock is None:
            return None
        while not lock.acquire(timeout=0.05):
            if self._stop:
                return None
        if self._stop:
            lock.release()
            return None
        return lock

    def _run(self) -> None:
        db: sqlite3.Connection | None = None
        page = 4096
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stop:
                    return
                try:
                    if os.path.getsize(self.wal) < WAL_BYTES:
                        continue
                except OSError:
                    continue  # no WAL file (yet, or any more)
                if db is None:
                    db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                         check_same_thread=False)
                    page = db.execute("PRAGMA page_size").fetchone()[0]
                _, frames, _ = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if frames * page >= WAL_BYTES and (lock := self._locked()) is not None:
                    try:
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    finally:
                        lock.release()
        except sqlite3.Error as exc:  # the store works on; SQLite's own checkpoint takes over
            logger.warning("sqlite store %s: background checkpoints stopped: %s; SQLite's "
                           "own checkpoint (in a write, past %d WAL pages) takes over",
                           self.path, exc, SAFETY_PAGES)
        finally:
            if db is not None:
                db.close()
