"""Lua's ``print`` and ``io.write`` through Python's ``sys.stdout``.

Writing through the same stream as Python keeps script output in order with Python's (the CLI's
messages, a REPL's results) and lets pytest's ``capsys`` see it. ``print`` keeps Lua's rules
(``tostring`` of each argument, tab-separated, newline); ``io.write`` does too while the default
output is standard output. ``io.stdout:write`` still goes to C's stdout, which is flushed after
every run.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

CONSOLE_LUA = rb"""
local core, write = ...
local select, tostring, type, error, format = select, core.tostring, type, error, string.format
local concat, io_output, io_write, stdout = core.concat, core.io_output, core.io_write,
  core.io_stdout
local mtype = math.type

print = function(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  write(concat(parts, "\t", 1, n) .. "\n")
end

io.write = function(...)
  if io_output() ~= stdout then return io_write(...) end
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    local value = select(i, ...)
    local kind = type(value)
    if kind == "number" then
      parts[i] = mtype(value) == "integer" and format("%d", value) or format("%.14g", value)
    elseif kind == "string" then
      parts[i] = value
    else
      error(format("bad argument #%d to 'write' (string expected, got %s)", i, kind), 2)
    end
  end
  write(concat(parts))
  return stdout
end
"""


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
    engine.lua.execute(CONSOLE_LUA, engine.core, engine.function(write_stdout, "print"),
                       name=b"=[llmspell]", mode="t")
