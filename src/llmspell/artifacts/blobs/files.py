"""The on-disk half of the blob store: content-addressed files under a fan-out directory.

Layout under ``root``::

    tmp/put-*.tmp              files being written
    ab/cd/<hash>.<gen>         one stored blob: its payload, compressed or raw, no header

``<hash>`` is the BLAKE3 hex digest of the content (``ab``/``cd`` its first four digits) and
``<gen>`` a random 16-hex-digit generation picked when the file is published. The generation
is what makes garbage collection safe: a file name is named by at most one store record
during its whole life, so gc, having deleted that record, can unlink the file without ever
hitting a file that a concurrent put of the same content has just published (that put picks a
new generation).

A file is written to ``tmp/`` (same filesystem), fsynced, renamed into place and the
directory fsynced, so a crash leaves either no file or a complete one. From its creation
until its writer is done with it (its record committed, or the write abandoned) the file is
a :class:`PendingFile`, held open with an exclusive ``flock``: gc skips locked files, so it
never removes a file still being written or waiting for its record, however slow the writer.
A crash releases the lock; what it left behind is removed by gc once older than its grace.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from llmspell.errors import StorageError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: gc then goes by file age alone
    fcntl = None  # type: ignore[assignment]

FILE_NAME = re.compile(r"^([0-9a-f]{64})\.([0-9a-f]{16})$")
_FAN = re.compile(r"^[0-9a-f]{2}$")
TEMP_DIR = "tmp"


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A file met while walking the blob directory."""

    path: Path
    mtime: float
    size: int
    blob_hash: str = ""  # "" for temp files
    name: str = ""


class PendingFile:
    """A blob file this process is writing or has published but not yet recorded.

    ``out`` is open for writing and holds an exclusive flock until :meth:`close`.
    ``name`` is set once published.
    """

    def __init__(self, out: BinaryIO, path: Path) -> None:
        self.out = out
        self.path = path
        self.name: str | None = None

    def close(self) -> None:
        """Release the lock (the file stays)."""
        self.out.close()

    def discard(self) -> None:
        """Remove the file and release the lock."""
        _unlink(self.path)
        self.out.close()


class BlobFiles:
    """Blob files under ``root`` (created on first write). ``fsync``: make writes durable."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = root
        self.fsync = fsync

    def path(self, blob_hash: str, name: str) -> Path:
        """Where the file ``name`` of blob ``blob_hash`` lives."""
        return self.root / blob_hash[:2] / blob_hash[2:4] / name

    def create(self) -> PendingFile:
        """A new, locked temp file; the caller writes ``out`` then calls :meth:`finish`."""
        tmp_dir = self.root / TEMP_DIR
        try:
            tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="put-", suffix=".tmp", dir=tmp_dir)
        except OSError as exc:
            raise StorageError(f"blob directory {self.root}: cannot create a temp file: "
                               f"{exc}") from exc
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits only while a gc holds it to remove it
            if os.fstat(fd).st_nlink == 0:  # gc removed it between mkstemp and flock
                os.close(fd)
                return self.create()
        return PendingFile(os.fdopen(fd, "wb"), Path(name))

    def finish(self, pending: PendingFile) -> None:
        """Flush (and fsync) a written temp file; StorageError if that fails."""
        try:
            pending.out.flush()
            if self.fsync:
                os.fsync(pending.out.fileno())
        except OSError as exc:
            raise StorageError(f"blob directory {self.root}: cannot write {pending.path}: "
                               f"{exc}") from exc

    def publish(self, pending: PendingFile, blob_hash: str) -> str:
        """Rename a finished temp file to a new name of ``blob_hash``; return that name.

        The file stays locked until the pending file is closed.
        """
        name = f"{blob_hash}.{secrets.token_hex(8)}"
        target = self.path(blob_hash, name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(pending.path, target)
            if self.fsync:
                _fsync_dir(target.parent)
        except OSError as exc:
            raise StorageError(f"blob {blob_hash}: cannot publish {pending.path} as "
                               f"{target}: {exc}") from exc
        pending.path, pending.name = target, name
        return name

    def write(self, blob_hash: str, payload: bytes) -> PendingFile:
        """Write ``payload`` atomically as a new file of ``blob_hash``, still locked."""
        pending = self.create()
        try:
            try:
                pending.out.write(payload)
            except OSError as exc:
                raise StorageError(f"blob {blob_hash}: cannot write {pending.path}: "
                                   f"{exc}") from exc
            self.finish(pending)
            self.publish(pending, blob_hash)
        except BaseException:
            pending.discard()
            raise
        return pending

    def remove(self, blob_hash: str, name: str) -> bool:
        """Unlink one blob file; False when it was already gone."""
        return _unlink(self.path(blob_hash, name), strict=True)

    def temp_files(self) -> Iterator[FoundFile]:
        """The files in ``tmp/`` (complete or still being written)."""
        for entry in _entries(self.root / TEMP_DIR):
            if entry.is_file(follow_symlinks=False):
                yield FoundFile(Path(entry.path), *_stat(entry))

    def blob_files(self) -> Iterator[tuple[str, list[FoundFile]]]:
        """Per fan-out directory (``ab/cd``), the files in it named like blob files.

        Files with other names are not ours and are left out (and never removed).
        """
        for top in sorted(_entries(self.root), key=lambda e: e.name):
            if not (_FAN.match(top.name) and top.is_dir(follow_symlinks=False)):
                continue
            for sub in sorted(_entries(Path(top.path)), key=lambda e: e.name):
                if not (_FAN.match(sub.name) and sub.is_dir(follow_symlinks=False)):
                    continue
                found = []
                for entry in _entries(Path(sub.path)):
                    match = FILE_NAME.match(entry.name)
                    if match and entry.is_file(follow_symlinks=False):
                        found.append(FoundFile(Path(entry.path), *_stat(entry),
                                               match.group(1), entry.name))
                if found:
                    yield f"{top.name}/{sub.name}", found

    def unlink_stray(self, path: Path, still_stray: Callable[[], bool], *,
                     dry_run: bool = False) -> bool:
        """Remove a file that no record names, unless a writer still holds it.

        ``still_stray`` is asked again once the file's lock is held (a writer releases the
        lock only after its record is committed, or its write abandoned). True if removed
        (or, with ``dry_run``, if it would have been).
        """
        if fcntl is None:
            return still_stray() and (dry_run or _unlink(path, strict=True))
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"blob directory: cannot open {path}: {exc}") from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a live writer's: leave it
            return still_stray() and (dry_run or _unlink(path, strict=True))
        finally:
            os.close(fd)


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as it:
            return list(it)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StorageError(f"blob directory: cannot list {directory}: {exc}") from exc


def _stat(entry: os.DirEntry[str]) -> tuple[float, int]:
    """(mtime, size); a file removed meanwhile counts as too new to touch."""
    try:
        st = entry.stat(follow_symlinks=False)
    except FileNotFoundError:
        return float("inf"), 0
    return st.st_mtime, st.st_size


def _unlink(path: Path, *, strict: bool = False) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        if strict:
            raise StorageError(f"blob directory: cannot remove {path}: {exc}") from exc
        return False
    return True


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
