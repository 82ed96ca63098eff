"""Lua's ``print`` and ``io.write`` through Python's ``sys.stdout``.

Writing through the same stream as Python keeps script output in order with Python's (the CLI's
messages, a REPL's results) and lets pytest's ``capsys`` see it. ``print`` keeps Lua's rules
(``tostring`` of each argument, tab-separated, newline); ``io.write`` does too while the default
output is standard output. ``io.stdout:write`` still goes to C's stdout, which is flushed after
every run.

The Lua code is ``llmspell/lua/scripts/console.lua``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

def write_stdout(data: bytes | str) -> None:
    """Write Lua output to the current ``sys.stdout`` (raw bytes if it is not UTF-8)."""
    if isinstance(data, str):
        sys.stdout.write(data)
        return
    try:
        sys.stdout.write(data.decode("utf-8"))
    except UnicodeDecodeError:
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:
            sys.stdout.write(data.decode("utf-8", "replace"))
        else:
            sys.stdout.flush()
            buffer.write(data)
            buffer.flush()


def install_console(engine: LuaEngine) -> None:
    """Replace ``print`` and ``io.write`` in the engine's Lua state."""
    engine.run_bundled("console.lua", engine.core, engine.function(write_stdout, "print"))
