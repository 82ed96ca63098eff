"""Where a restore keeps the records of a backup chain: a temporary SQLite file, not memory.

A chain's result (the full backup, then each incremental's puts and deletions over it) is
written into a private table on disk as the files are read, so a restore holds one page of
records at a time whatever the backup's size, and reads them back in key order to compare
them with the store (:mod:`.restore`). The file lives beside the backups (``[state]
backup_dir``; the system's temporary directory when that cannot be written), is written
without a journal or syncs (it is thrown away, never trusted after a crash) and is deleted on
:meth:`Staged.close`. A restore killed meanwhile leaves its ``.restore-*.staging`` file
behind; the next restore staging in the same directory deletes it. A staging file in use is
held under an exclusive ``flock`` by its restore for as long as it is open (the lock goes
with the process, however it ends), so a file that can be locked belongs to no live restore.
Files younger than :data:`STALE_AFTER` seconds are left alone: one is locked just after it
is made.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from llmspell.errors import BackupError
from llmspell.state.scopes import STATE_PREFIX
from llmspell.storage._support import prefix_end

#: The key just past every state key.
_STATE_END = prefix_end(STATE_PREFIX)
#: A staging file is swept only when older than this (seconds), and not locked.
STALE_AFTER = 60.0


def sweep(folder: Path) -> list[str]:
    """Delete the staging files in ``folder`` that no live restore holds (module doc); the
    paths deleted."""
    gone: list[str] = []
    with contextlib.suppress(OSError):
        for path in folder.glob(".restore-*.staging"):
            try:
                if time.time() - path.stat().st_mtime < STALE_AFTER:
                    continue
                fd = os.open(path, os.O_RDWR)
            except OSError:
                continue  # gone meanwhile, or not ours to open
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live restore's
            finally:
                os.close(fd)  # (releases a lock taken)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                gone.append(str(path))
    return gone


class Staged:
    """The records of a backup chain, keyed and ordered as in the store."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        name = ""
        for folder in (Path(directory), Path(tempfile.gettempdir())):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                sweep(folder)
                fd, name = tempfile.mkstemp(prefix=".restore-", suffix=".staging", dir=folder)
                fcntl.flock(fd, fcntl.LOCK_EX)  # held until close (see the module doc)
                break
            except OSError as exc:  # a read-only backup directory: the system's temp dir
                problem = f"{folder}: {exc.strerror or exc}"
        else:
            raise BackupError(f"cannot stage a restore in {directory} or the temporary "
                              f"directory ({problem})")
        self.path = name
        self._lock_fd = fd
        try:
            self._db = db = sqlite3.connect(name, isolation_level=None,
                                            check_same_thread=False)
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute("PRAGMA cache_size = -4096")  # KiB: a few MB, whatever the chain's size
            # A rowid table: backups hold values of any size (blob chunks of 1 MB), which a
            # WITHOUT ROWID table would spill into overflow pages read during every search.
            db.execute("CREATE TABLE r (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
            db.execute("BEGIN")
        except sqlite3.Error as exc:
            with contextlib.suppress(OSError):
                os.unlink(name)
            os.close(fd)
            raise BackupError(f"cannot stage a restore in {name}: {exc}") from exc

    def put(self, key: str, value: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO r (key, value) VALUES (?, ?)", (key, value))

    def delete(self, key: str) -> None:
        self._db.execute("DELETE FROM r WHERE key = ?", (key,))

    def drop_data(self) -> None:
        """Forget every key that is not state (a whole-store incremental replaces them)."""
        self._db.execute("DELETE FROM r WHERE key < ? OR key >= ?", (STATE_PREFIX, _STATE_END))

    def get(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM r WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def __contains__(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM r WHERE key = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM r").fetchone()[0])

    def scan(self, prefix: str) -> Iterator[tuple[str, bytes]]:
        """The ``(key, value)`` pairs whose key starts with ``prefix``, in key order, one row
        at a time (the table is not written while a restore walks it)."""
        end = prefix_end(prefix) if prefix else None
        if end is None:
            rows = self._db.execute("SELECT key, value FROM r WHERE key >= ? ORDER BY key",
                                    (prefix,))
        else:
            rows = self._db.execute("SELECT key, value FROM r WHERE key >= ? AND key < ? "
                                    "ORDER BY key", (prefix, end))
        for key, value in rows:
            yield key, bytes(value)

    def close(self) -> None:
        """Delete the file. Calling it again does nothing."""
        db, self._db = self._db, None  # type: ignore[assignment]
        if db is None:
            return
        db.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._lock_fd)

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
