"""The bridge's own Lua code: the ``.lua`` files in ``llmspell/lua/scripts/`` (package data).

Each file is read once per process (:func:`source` is cached) and run in a Lua state as a chunk
named ``@llmspell/lua/scripts/<file>``, so an error raised in it names the file and the line.
The engine tells these chunks from a script's own code by :data:`CHUNK_PREFIX`: it skips them
when it looks for the script line an error belongs to, and in tracebacks.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

#: The chunk name of every bundled file starts with this (``@`` means "a file" to Lua).
CHUNK_PREFIX = "@llmspell/lua/scripts/"
#: How Lua shows such a chunk in messages and tracebacks (the name without the ``@``).
SHOWN_PREFIX = CHUNK_PREFIX[1:]


@cache
def source(file: str) -> bytes:
    """The text of ``llmspell/lua/scripts/<file>``, read once per process."""
    return files("llmspell.lua").joinpath("scripts", file).read_bytes()


def chunk_name(file: str) -> bytes:
    return (CHUNK_PREFIX + file).encode("utf-8")


def run_chunk(lua: Any, file: str, *args: Any) -> Any:
    """Run the bundled file in ``lua`` (a ``lupa.lua54.LuaRuntime``) with ``args`` as ``...``;
    return what the chunk returns. Text chunks only."""
    return lua.execute(source(file), *args, name=chunk_name(file), mode="t")


def is_bundled(shown_name: str) -> bool:
    """Whether a chunk name as Lua shows it (``llmspell/lua/scripts/state.lua``) is ours."""
    return shown_name.startswith(SHOWN_PREFIX)
