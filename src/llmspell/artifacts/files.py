"""``storeFile``'s file access: only regular files the path confinement allows are read.

Whether a path may be read is decided by :mod:`llmspell.paths` (the allowed roots, ``..`` and
symlinks resolved the way the operating system resolves them, ``[runtime.security]
allow_file_access``), exactly as for the Lua sandbox's ``io.open``; a refusal is a
SecurityViolation that names the path. This module then opens the file by its real path with
``O_NOFOLLOW``, so a symlink swapped in for the file after the check is not followed, and
requires a regular file (not a directory, device or FIFO).

A directory on the way swapped for a symlink between the check and the open is the one
window left; the Lua sandbox has the same one (docs/artifacts.md).
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from llmspell.errors import SecurityViolation, StorageError, ValidationError
from llmspell.paths import Confinement


class FileGuard:
    """Opens the files ``confinement`` lets ``storeFile`` read."""

    def __init__(self, confinement: Confinement) -> None:
        self.confinement = confinement

    def resolve(self, path: object) -> str:
        """The real path of ``path`` if it may be read; SecurityViolation otherwise."""
        return self.confinement.resolve(path, what="storeFile")

    def open(self, path: object) -> tuple[BinaryIO, str, int]:
        """``(file, real path, size)`` of a regular file under the roots, open for reading.

        Raises SecurityViolation (outside the roots, traversal), ValidationError (not a
        regular file), StorageError (cannot be opened).
        """
        real = self.resolve(path)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(real, flags | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            raise ValidationError("path", f"no such file: {path!r}") from None
        except OSError as exc:
            if exc.errno == getattr(os, "ELOOP", -1):
                raise SecurityViolation(f"storeFile: {path!r} became a symlink after it was "
                                        "checked; refused") from None
            raise StorageError(f"storeFile: cannot open {path!r}: {exc.strerror or exc}") from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
                raise ValidationError("path", f"must name a regular file; {path!r} is {what}")
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb"), real, info.st_size
        except BaseException:
            os.close(fd)
            raise
