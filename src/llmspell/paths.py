"""Path confinement: which files scripts (and, later, file tools) may read and write.

One :class:`Confinement` decides, and everything that touches a file for a script calls it:
the Lua sandbox's ``io``/``os``/``loadfile`` functions and ``Artifact.storeFile`` (which, under
the ``full`` sandbox, reads any path the script's ``io`` could). The rules,
each refusal a :class:`~llmspell.errors.SecurityViolation` that names the operation, the
argument, the path and the rule:

- **access**: with ``[runtime.security] allow_file_access = false`` every file access is
  refused;
- **resolution**: a path is resolved the way the operating system resolves it: relative to the
  current directory, each symlink followed where it appears and ``..`` applied to the resolved
  directory before it (``os.path.realpath``). The caller then opens the resolved path, so the
  file checked is the file used;
- **roots**: the resolved path must lie under the real path of one of the allowed roots
  (``[runtime] allowed_paths``). So ``sub/../f.txt`` is fine when it lands inside, while an
  absolute path outside, a ``..`` that climbs out, or a symlink (the file, or a directory on
  the way) that leads out is refused;
- **protected paths**: a write (create, truncate, append, remove, rename) may not touch a
  protected path, anything under it, or a directory holding it. The runtime protects its
  configuration file (``llmspell.toml``) and its data directory (``.llmspell/``: the store,
  blobs, backups), so a script cannot rewrite its own limits or corrupt the store;
- **sealed paths**: no access at all, reads included, may touch a sealed path or anything under
  it. The runtime seals the store (an sqlite file with its ``-wal``/``-shm``/``-journal``
  companions, an lmdb or rocksdb directory) and the backup directory, whatever the roots: a
  script reads state through ``State``, never the raw records of other scopes and sessions.
  The configuration file stays readable;
- a NUL byte in a path is refused; a path that is not a string is a ValidationError.

A directory on the way swapped for a symlink between the check and the open is the one window
left (documented in docs/lua.md and docs/artifacts.md).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from typing import Any

from llmspell.config import Config, file_store_path
from llmspell.errors import SecurityViolation, ValidationError

#: The setting that turns every file access off.
ACCESS_SETTING = "[runtime.security] allow_file_access"
#: The setting that lists the roots.
ROOTS_SETTING = "[runtime] allowed_paths"

StrPath = str | bytes | os.PathLike[str] | os.PathLike[bytes]


class Confinement:
    """Confines file names to ``roots`` (their real paths, taken once). Thread-safe.

    Args:
        roots: the directories files may be under.
        protected: files or directories no write may touch (see the module docstring).
        sealed: files or directories no access, read or write, may touch.
        allow_access: False refuses every access (``[runtime.security] allow_file_access``).
    """

    def __init__(self, roots: Iterable[StrPath], *, protected: Iterable[StrPath] = (),
                 sealed: Iterable[StrPath] = (), allow_access: bool = True) -> None:
        self.roots = tuple(_real(root) for root in roots)
        self.sealed = tuple(_real(path) for path in sealed)
        self.protected = tuple(_real(path) for path in protected) + self.sealed
        self.allow_access = allow_access

    @classmethod
    def for_scripts(cls, config: Config) -> Confinement:
        """The confinement scripts run under: ``[runtime] allowed_paths`` as roots (and,
        under ``[engines.lua] sandbox = "full"``, rs-llmspell's ``sandbox_mode = false``, the
        system temp directory too, which rs-llmspell's file tools may always use), the
        configuration file and the data, backup and blob directories protected, the store
        and the backups sealed, and ``[runtime.security] allow_file_access``."""
        roots: tuple[StrPath, ...] = config.runtime.allowed_paths
        if config.setting("engines.lua.sandbox") == "full":
            roots = (*roots, tempfile.gettempdir())
        return cls(roots, protected=protected_paths(config), sealed=sealed_paths(config),
                   allow_access=bool(config.setting("runtime.security.allow_file_access")))

    @classmethod
    def for_stored_files(cls, config: Config) -> Confinement:
        """What ``Artifact.storeFile`` may read: what the script's own ``io.open`` may. Under
        ``[engines.lua] sandbox = "safe"`` (the default) that is :meth:`for_scripts`; under
        ``"full"`` (rs-llmspell's ``sandbox_mode = false``, whose examples store files from
        the system temp directory) any readable path, the sealed store and backups and
        ``allow_file_access = false`` still refusing."""
        if config.setting("engines.lua.sandbox") != "full":
            return cls.for_scripts(config)
        return cls([os.sep], protected=protected_paths(config), sealed=sealed_paths(config),
                   allow_access=bool(config.setting("runtime.security.allow_file_access")))

    def check_access(self, what: str) -> None:
        """Raise SecurityViolation naming ``what`` when file access is turned off."""
        if not self.allow_access:
            raise SecurityViolation(f"{what}: file access is disabled by {ACCESS_SETTING} = "
                                    "false (set it to true to allow scripts to use files)")

    def resolve(self, path: Any, *, what: str, write: bool = False,
                argument: str = "path") -> str:
        """The real path of ``path`` if ``what`` (e.g. ``"io.open"``) may use it.

        Args:
            path: a ``str``, ``bytes`` or path-like file name.
            what: the operation, named first in error messages.
            write: the operation may create, change or remove the file.
            argument: the argument's name in error messages.

        Raises:
            ValidationError: ``path`` is not a non-empty file name.
            SecurityViolation: file access is off, the path contains a NUL byte, resolves
                outside the roots, lies in a sealed path, or (``write``) touches a protected
                path.
        """
        return os.fsdecode(self.resolve_bytes(path, what=what, write=write, argument=argument))

    def resolve_bytes(self, path: Any, *, what: str, write: bool = False,
                      argument: str = "path") -> bytes:
        """:meth:`resolve` as bytes (for file names that are not valid UTF-8)."""
        self.check_access(what)
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if isinstance(path, str):
            path = os.fsencode(path)
        if not isinstance(path, bytes) or not path:
            raise ValidationError(argument, f"{what} needs a non-empty file name string",
                                  got=path)
        shown = os.fsdecode(path)
        if b"\0" in path:
            raise SecurityViolation(f"{what}: argument '{argument}': the path {shown!r} "
                                    "contains a NUL byte")
        real = os.path.realpath(path)
        if not any(_under(real, root) for root in self.roots):
            roots = ", ".join(os.fsdecode(root) for root in self.roots) or "(none)"
            raise SecurityViolation(
                f"{what}: argument '{argument}': {shown!r} resolves to {os.fsdecode(real)}, "
                f"outside the allowed roots {roots} (symlinks and '..' are followed; add a "
                f"root to {ROOTS_SETTING} to allow it)")
        for sealed in self.sealed:
            if _under(real, sealed):
                raise SecurityViolation(
                    f"{what}: argument '{argument}': {shown!r} resolves to "
                    f"{os.fsdecode(real)}, inside {os.fsdecode(sealed)}, protected from scripts, "
                    "reads included (the store and the backups are neither readable nor "
                    "writable by scripts; use the State, Session and Artifact globals)")
        if write:
            for guarded in self.protected:
                if _under(real, guarded) or _under(guarded, real):
                    raise SecurityViolation(
                        f"{what}: argument '{argument}': {shown!r} resolves to "
                        f"{os.fsdecode(real)}, which is or holds {os.fsdecode(guarded)}, "
                        "protected from scripts (the configuration file and the data "
                        "directory may only be changed by llmspell itself)")
        return real

    def __repr__(self) -> str:
        roots = ", ".join(os.fsdecode(root) for root in self.roots)
        return f"<Confinement roots=[{roots}] access={'on' if self.allow_access else 'off'}>"


def protected_paths(config: Config) -> tuple[str, ...]:
    """What scripts may never write: the configuration file (when there is one), the data,
    backup and blob directories of ``config``, and the store's files when they live elsewhere
    (an sqlite file with its ``-wal``/``-shm``/``-journal`` companions, an lmdb or rocksdb
    directory)."""
    paths = [os.fspath(path) for path in (config.runtime.data_dir, config.session.blob_dir)]
    if config.source is not None:
        paths.append(os.fspath(config.source))
    return (*paths, *sealed_paths(config))


def sealed_paths(config: Config) -> tuple[str, ...]:
    """What scripts may neither read nor write: the backup directory of ``config`` and its
    store's files (an sqlite file with its ``-wal``/``-shm``/``-journal`` companions, an lmdb
    or rocksdb directory; none for memory and postgres)."""
    paths = [os.fspath(config.state.backup_dir)]
    store = file_store_path(config.storage.url)
    if store is not None:
        paths.append(store)
        if config.storage.url.startswith("sqlite:"):
            paths.extend(store + suffix for suffix in ("-wal", "-shm", "-journal"))
    return tuple(paths)


def writes(mode: Any) -> bool:
    """Whether an ``fopen``-style ``mode`` (``"r"``, ``"w+b"``, ...; None is ``"r"``) may
    change the file."""
    if isinstance(mode, bytes):
        mode = mode.decode("latin-1")
    if mode is None:
        return False
    if not isinstance(mode, str):
        raise ValidationError("mode", "must be a file mode string such as 'r' or 'w'",
                              got=mode)
    return any(flag in mode for flag in "wa+")


def _real(path: StrPath) -> bytes:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str | bytes):
        raise ValidationError("path", "must be a file path", got=path)
    return os.path.realpath(os.fsencode(path))


def _under(path: bytes, root: bytes) -> bool:
    """Whether ``path`` is ``root`` or lies below it (both real paths)."""
    return path == root or path.startswith(root.rstrip(b"/") + b"/")


__all__ = ["ACCESS_SETTING", "ROOTS_SETTING", "Confinement", "protected_paths", "sealed_paths",
           "writes"]
