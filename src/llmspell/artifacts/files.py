"""``storeFile``'s path confinement: only regular files under the allowed roots are read.

The rules, each refusal a SecurityViolation that names the path:

- a path with a ``..`` component is refused as written (no traversal, even one that would
  land back inside a root);
- the path (relative paths are taken from the current directory, as ``io.open`` does) is
  resolved with every symlink followed, and the real path must lie under the real path of
  one of ``[runtime] allowed_paths``: an absolute path outside, or a symlink (anywhere on the
  way) that leads out, is refused;
- the file is opened by its real path with ``O_NOFOLLOW``, so a symlink swapped in for the
  file after the check is not followed; it must be a regular file (not a directory, device
  or FIFO).

A directory on the way swapped for a symlink between the check and the open is the one
window left; the Lua sandbox has the same one (docs/artifacts.md).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from llmspell.errors import SecurityViolation, StorageError, ValidationError


class FileGuard:
    """Confines file reads to ``roots`` (their real paths, taken once)."""

    def __init__(self, roots: Iterable[str | os.PathLike[str]]) -> None:
        self.roots = [os.path.realpath(os.fspath(root)) for root in roots]

    def resolve(self, path: object) -> str:
        """The real path of ``path`` if it may be read; SecurityViolation otherwise."""
        if isinstance(path, Path):
            path = os.fspath(path)
        if not isinstance(path, str) or not path:
            raise ValidationError("path", "must be a non-empty file path string", got=path)
        if "\x00" in path:
            raise SecurityViolation(f"storeFile: the path {path!r} contains a NUL byte")
        if ".." in Path(path).parts:
            raise SecurityViolation(f"storeFile: the path {path!r} has a '..' component; "
                                    "path traversal is not allowed (name the file directly)")
        real = os.path.realpath(os.path.abspath(path))
        for root in self.roots:
            if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
                return real
        roots = ", ".join(self.roots) or "(none)"
        shown = "" if real == os.path.abspath(path) else f" (it resolves to {real})"
        raise SecurityViolation(f"storeFile: {path!r} is outside the allowed roots{shown}; "
                                f"allowed: {roots} (add a root to [runtime] allowed_paths to "
                                "allow it)")

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
