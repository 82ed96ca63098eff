"""The engine's private Lua helpers, loaded before anything else touches the Lua state.

They capture the standard functions the bridge relies on (``debug.sethook``, ``load``,
``setmetatable``, ...) before the sandbox removes or replaces them, and hold the shared
``JSON.array`` metatable, the ``JSON.null`` sentinel, the wrapper that turns a Python callable
into a Lua function that raises proper Lua errors, and the protected runner that captures an
error's location and traceback. The code is ``scripts/prelude.lua``; it gets the chunk-name
prefix of the bridge's own files (:mod:`.chunks`) so error locations can skip them.
"""

from __future__ import annotations

from typing import Any

from llmspell.lua.chunks import CHUNK_PREFIX, run_chunk


def load_core(lua: Any) -> Any:
    """Run the prelude in ``lua`` (a fresh ``lupa.lua54.LuaRuntime``) and return its table."""
    return run_chunk(lua, "prelude.lua", CHUNK_PREFIX.encode("utf-8"))
