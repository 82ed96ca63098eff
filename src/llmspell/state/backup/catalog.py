"""The backup directory: one ``<id>.llsb`` file per backup, read by its header and trailer.

:class:`BackupInfo` is a backup's manifest as read from its file (no payload is read to list
backups). Files are written atomically: a temporary file in the same directory, fsync, rename,
fsync of the directory; a crash leaves either no backup or a whole one (and perhaps a
``.tmp`` file, removed by the next backup).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from llmspell.errors import BackupCorrupt, BackupError, BackupNotFound, ValidationError
from llmspell.state.backup.fileformat import Damaged, read_manifest

SUFFIX = ".llsb"
_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzTZ-")


@dataclass
class BackupInfo:
    """One backup's manifest (header and trailer fields) and its file."""

    id: str
    path: Path
    kind: str = "full"
    parent: str | None = None
    base: str | None = None
    created_at: float = 0.0
    description: str = ""
    store: dict[str, Any] = field(default_factory=dict)
    include: list[str] | None = None
    exclude: list[str] = field(default_factory=list)
    entry_format: str = "json"
    compression: str = "zstd"
    seq_from: int = 0
    seq_to: int = 0
    safety: bool = False
    coverage: str = "state"  # "store": the whole store; "state": state records only
    entries: int = 0
    puts: int = 0
    deletions: int = 0
    payload_bytes: int = 0
    stored_bytes: int = 0
    payload_sha256: str = ""
    consistent: bool = True
    file_bytes: int = 0
    problem: str | None = None  # set when the file's manifest could not be read

    @property
    def incremental(self) -> bool:
        return self.kind == "incremental"

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "path"}
        out["path"] = str(self.path)
        return out


def new_id(now: float | None = None) -> str:
    """``20250729T120000123456Z-1a2b``: sortable by creation time, unique in practice."""
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    return f"{stamp}{int(now % 1 * 1e6):06d}Z-{secrets.token_hex(2)}"


def check_id(backup_id: Any) -> str:
    if not isinstance(backup_id, str) or not backup_id or len(backup_id) > 80 or not set(
            backup_id) <= _ID_CHARS:
        raise ValidationError("id", "must be a backup id such as 20250729T120000123456Z-1a2b "
                              "(see list_backups)", got=backup_id)
    return backup_id


def read_info(path: Path) -> BackupInfo:
    """The manifest of the backup file at ``path``.

    Raises:
        BackupCorrupt: the header or trailer is damaged (the message says which).
    """
    try:
        with open(path, "rb") as f:
            header, trailer, _, _ = read_manifest(f)
            size = f.seek(0, os.SEEK_END)
    except Damaged as exc:
        raise BackupCorrupt(f"backup file {path}: {exc.part}: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot read backup file {path}: {exc.strerror or exc}") from exc
    return info_from(path, header, trailer, size)


def info_from(path: Path, header: dict[str, Any], trailer: dict[str, Any],
              size: int) -> BackupInfo:
    known = BackupInfo.__dataclass_fields__
    values = {k: v for k, v in {**header, **trailer}.items() if k in known and k != "path"}
    return BackupInfo(path=path, file_bytes=size, **values)


def scan_dir(directory: Path) -> Iterator[BackupInfo]:
    """Every backup in ``directory``; a file whose manifest is damaged is listed with its
    ``problem`` set (its id from the file name)."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            yield read_info(path)
        except BackupError as exc:
            yield BackupInfo(id=path.name[:-len(SUFFIX)], path=path, problem=str(exc),
                             file_bytes=path.stat().st_size if path.exists() else 0)


@contextmanager
def atomic_file(directory: Path, name: str) -> Iterator[BinaryIO]:
    """A file written under a temporary name and renamed to ``name`` once complete and on
    disk; on an exception the temporary file is removed and ``name`` is untouched."""
    directory.mkdir(parents=True, exist_ok=True)
    temp = directory / f".{name}.{os.getpid()}.tmp"
    # Owner-only: a backup is a data copy, secrets included.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    f = os.fdopen(fd, "wb")
    try:
        yield f
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(temp, directory / name)
        sync_dir(directory)
    except BaseException:
        f.close()
        temp.unlink(missing_ok=True)
        raise


def sync_dir(directory: Path) -> None:
    """fsync a directory so a rename or unlink in it is durable (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def stray_temps(directory: Path, older_than: float = 3600.0) -> list[Path]:
    """Temporary files left by a backup (or restore safety copy) that was killed: the
    process named in the file name (``.<name>.<pid>.tmp``) is gone, or the file has not
    changed for ``older_than`` seconds (a writer on another machine sharing the directory)."""
    if not directory.is_dir():
        return []
    limit = time.time() - older_than
    found = []
    for temp in sorted(directory.glob(".*.tmp")):
        try:
            if not _writer_alive(temp) or temp.stat().st_mtime < limit:
                found.append(temp)
        except OSError:
            pass
    return found


def _writer_alive(temp: Path) -> bool:
    pid = temp.name.rsplit(".", 2)[-2]
    if not pid.isdigit() or int(pid) == os.getpid():
        return True  # our own temp is in use; a name without a pid is judged by its age
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temps(directory: Path, older_than: float = 3600.0) -> list[Path]:
    """Remove the :func:`stray_temps` of ``directory``; returns the files removed."""
    removed = []
    for temp in stray_temps(directory, older_than):
        try:
            temp.unlink()
            removed.append(temp)
        except OSError:
            pass
    return removed


def chain_of(info: BackupInfo, find: Callable[[str], BackupInfo]) -> list[BackupInfo]:
    """``[full base, ..., info]``: the backups a restore of ``info`` applies, in order.

    Raises:
        BackupNotFound: a parent is missing. BackupCorrupt: the chain loops.
    """
    chain = [info]
    seen = {info.id}
    while chain[0].parent:
        parent_id = chain[0].parent
        if parent_id in seen:
            raise BackupCorrupt(f"backup {info.id}: its chain of parents loops at {parent_id}")
        try:
            parent = find(parent_id)
        except BackupNotFound:
            raise BackupNotFound(f"backup {info.id} is incremental and needs backup "
                                 f"{parent_id}, which is missing") from None
        chain.insert(0, parent)
        seen.add(parent_id)
    if chain[0].incremental:
        raise BackupCorrupt(f"backup {info.id}: the base of its chain, {chain[0].id}, is not a "
                            "full backup")
    return chain
