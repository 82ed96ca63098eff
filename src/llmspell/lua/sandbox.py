"""Sandbox levels for the Lua standard library.

``safe`` (the default) keeps what a script needs to compute, read and write its own files, and
refuses the rest with a clear ``SecurityViolation`` error instead of ``attempt to call a nil
value``:

- refused: ``os.execute``, ``os.tmpname``, ``os.setlocale`` (process-wide), ``io.popen``,
  ``io.tmpfile`` (a file outside the roots), ``string.dump``, ``require`` and ``package``
  (``package.loadlib`` loads native code), the ``debug`` library except ``debug.traceback``,
  ``collectgarbage`` options other than collect/count/step/isrunning, ``__gc`` metamethods
  (finalizers run with hooks off, so outside the limits), and binary chunks in ``load``.
- confined by :mod:`llmspell.paths` (the allowed roots, symlinks and ``..`` resolved first;
  no writes to the configuration file or the data directory; nothing at all with
  ``[runtime.security] allow_file_access = false``): ``io.open``, ``io.lines``,
  ``io.input``/``io.output`` with a file name, ``os.remove``, ``os.rename``, ``loadfile`` and
  ``dofile`` (text chunks only; never standard input).
- ``os.getenv`` refuses names that look like secrets (``*KEY*``, ``*TOKEN*``, ``*SECRET*``,
  ``*PASSWORD*``, ...: :data:`llmspell.redact.SECRET_ENV_NAME`) so a script cannot read
  credentials, and hides secrets inside other values as ``[REDACTED]``
  (``DATABASE_URL=postgresql://app:[REDACTED]@db/llm``), as ``Config.get`` does.

``full`` leaves the standard library as it is. In both levels ``os.exit`` ends the script
cleanly (the engine raises :class:`~llmspell.lua.engine.ScriptExit`) instead of killing the
process, and the ``python`` module lupa adds is removed.

The path check resolves the real path and opens that, so a symlink swapped in between the check
and the open is the one window left (documented in docs/lua.md).

The Lua code is ``llmspell/lua/scripts/sandbox.lua`` and ``scripts/exit.lua``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.errors import SecurityViolation, ValidationError
from llmspell.lua.convert import describe_lua
from llmspell.paths import Confinement, writes
from llmspell.redact import SECRET_ENV_NAME, Redactor

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

LEVELS = ("safe", "full")

#: The standard library's functions that open, load, remove or rename files by name.
FILE_FUNCTIONS = (("io", "open"), ("io", "lines"), ("io", "input"), ("io", "output"),
                  ("os", "remove"), ("os", "rename"), ("", "loadfile"), ("", "dofile"))
#: The sandbox's file functions that may create, change or remove a file.
WRITING = frozenset({"os.remove", "os.rename", "io.output"})


def confine_for_lua(confinement: Confinement) -> Callable[..., bytes]:
    """``confine(path, what[, mode])`` for the safe sandbox's file functions: the real path
    :class:`~llmspell.paths.Confinement` allows, as bytes (file names need not be UTF-8)."""

    def confine(path: Any, what: str, mode: Any = None) -> bytes:
        if not isinstance(path, str | bytes):
            raise ValidationError("path", f"{what} needs a file name string (got "
                                  f"{describe_lua(path)})")
        write = what in WRITING or writes(mode)
        return confinement.resolve_bytes(path, what=what, write=write)

    return confine


def _refuse_file_functions(engine: LuaEngine, confinement: Confinement) -> None:
    """``full`` with ``[runtime.security] allow_file_access = false``: every function of
    FILE_FUNCTIONS raises the confinement's refusal (``os.execute`` and ``io.popen`` stay:
    ``full`` trusts the script as a shell script)."""
    env = engine.lua.globals()
    for library, name in FILE_FUNCTIONS:
        what = f"{library}.{name}" if library else name

        def refuse(*_: Any, what: str = what) -> None:
            confinement.check_access(what)

        target = env[library.encode()] if library else env
        target[name.encode()] = engine.function(refuse, what)


def getenv_for_lua(redactor: Redactor) -> Callable[[Any], str | None]:
    """``os.getenv`` for the safe sandbox (see :func:`check_getenv`)."""

    def getenv(name: Any) -> str | None:
        value = check_getenv(name)
        return None if value is None else redactor.redact_text(value)

    return getenv


def check_getenv(name: Any) -> str | None:
    """The variable ``name`` for a safe-sandbox script; names that look like secrets are
    refused (its value is not redacted here: :func:`getenv_for_lua` does that)."""
    if not isinstance(name, str):
        raise ValidationError("name", f"os.getenv needs a variable name string (got "
                              f"{describe_lua(name)})")
    if SECRET_ENV_NAME.search(name):
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
    confinement = Confinement.for_scripts(engine.config)
    if level == "full":
        if not confinement.allow_access:
            _refuse_file_functions(engine, confinement)
        return
    confine = confine_for_lua(confinement)
    getenv = getenv_for_lua(Redactor(engine.config.state.redact_patterns))
    engine.run_bundled("sandbox.lua", engine.core, engine.function(confine, "confine"),
                       engine.function(getenv, "os.getenv"))
