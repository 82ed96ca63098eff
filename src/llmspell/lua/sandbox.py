"""Sandbox levels for the Lua standard library.

``safe`` (the default) keeps what a script needs to compute, read and write its own files, and
refuses the rest with a clear ``SecurityViolation`` error instead of ``attempt to call a nil
value``:

- refused: ``os.execute``, ``os.tmpname``, ``os.setlocale`` (process-wide), ``io.popen``,
  ``io.tmpfile`` (a file outside the roots), ``string.dump``, ``require`` and ``package``
  (``package.loadlib`` loads native code), the ``debug`` library except ``debug.traceback``,
  ``collectgarbage`` options other than collect/count/step/isrunning, ``__gc`` metamethods
  (finalizers run with hooks off, so outside the limits), and binary chunks in ``load``.
- confined to ``[runtime] allowed_paths`` (symlinks and ``..`` resolved first): ``io.open``,
  ``io.lines``, ``io.input``/``io.output`` with a file name, ``os.remove``, ``os.rename``,
  ``loadfile`` and ``dofile`` (text chunks only; never standard input).
- ``os.getenv`` works except for names that look like secrets (``*KEY*``, ``*TOKEN*``,
  ``*SECRET*``, ``*PASSWORD*``, ...), which are refused so a script cannot read credentials.

``full`` leaves the standard library as it is. In both levels ``os.exit`` ends the script
cleanly (the engine raises :class:`~llmspell.lua.engine.ScriptExit`) instead of killing the
process, and the ``python`` module lupa adds is removed.

The path check resolves the real path and opens that, so a symlink swapped in between the check
and the open is the one window left (documented in docs/lua.md).

The Lua code is ``llmspell/lua/scripts/sandbox.lua`` and ``scripts/exit.lua``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspell.errors import SecurityViolation, ValidationError
from llmspell.lua.convert import describe_lua

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

LEVELS = ("safe", "full")

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|PRIVATE|SESSION|COOKIE",
                         re.IGNORECASE)

class PathGuard:
    """Confines file names to the allowed roots (real paths, symlinks resolved)."""

    def __init__(self, roots: Iterable[Path]) -> None:
        self.roots = [os.path.realpath(os.fsencode(root)) for root in roots]

    def confine(self, path: Any, what: str) -> bytes:
        """The real path of ``path`` if it lies under a root; else raise SecurityViolation."""
        if isinstance(path, str):
            path = os.fsencode(path)
        if not isinstance(path, bytes):
            raise ValidationError("path", f"{what} needs a file name string (got "
                                  f"{describe_lua(path)})")
        shown = os.fsdecode(path)
        if b"\0" in path:
            raise SecurityViolation(f"{what}: the path {shown!r} contains a NUL byte")
        real = os.path.realpath(os.path.abspath(path))
        for root in self.roots:
            if real == root or real.startswith(root.rstrip(b"/") + b"/"):
                return real
        roots = ", ".join(os.fsdecode(root) for root in self.roots) or "(none)"
        raise SecurityViolation(
            f"{what}: {shown!r} resolves to {os.fsdecode(real)}, outside the allowed roots "
            f"{roots} (add a root to [runtime] allowed_paths to allow it)")


def check_getenv(name: Any) -> str | None:
    """``os.getenv`` in the safe sandbox: refuses names that look like secrets."""
    if not isinstance(name, str):
        raise ValidationError("name", f"os.getenv needs a variable name string (got "
                              f"{describe_lua(name)})")
    if SECRET_NAME.search(name):
        raise SecurityViolation(
            f"os.getenv({name!r}) is not allowed in the 'safe' sandbox: the name looks like a "
            "secret (set [engines.lua] sandbox = \"full\" to allow it, or pass the value "
            "through configuration)")
    return os.environ.get(name)


def apply_sandbox(engine: LuaEngine, level: str) -> None:
    """Apply ``level`` ("safe" or "full") to the engine's fresh Lua state."""
    if level not in LEVELS:
        raise ValidationError("sandbox", f"must be one of {', '.join(LEVELS)}", got=level)
    engine.run_bundled("exit.lua", engine.function(engine.request_exit, "os.exit"))
    if level == "full":
        return
    paths = PathGuard(engine.config.runtime.allowed_paths)
    engine.run_bundled("sandbox.lua", engine.core, engine.function(paths.confine, "confine"),
                       engine.function(check_getenv, "os.getenv"))
