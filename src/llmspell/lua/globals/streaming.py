"""``Streaming``: rs-llmspell's generic stream of values made by a Lua coroutine.

``Streaming.create(fn)`` returns a stream; inside ``fn``, ``Streaming.yield(value)`` gives
one item; ``stream:next()``, ``stream:isDone()``, ``stream:collect()`` read it. An agent's
answer as such a stream is ``agent:stream(input)`` (``llmspell.lua.globals.agent``). All of
it is Lua: ``llmspell/lua/scripts/streaming.lua``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine


def install(engine: LuaEngine) -> None:
    engine.install_global("Streaming", {}, "streaming.lua")
