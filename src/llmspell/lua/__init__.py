"""The Lua bridge: run Lua 5.4 scripts (lupa) against a Runtime.

:class:`LuaEngine` is the entry point; :mod:`.sandbox`, :mod:`.limits`, :mod:`.convert` and
:mod:`.bridge` hold the rules, :mod:`.globals` the script API. docs/lua.md is the user guide.
"""

from llmspell.lua.bridge import Values
from llmspell.lua.convert import LuaFunction
from llmspell.lua.engine import LuaEngine, ScriptExit

__all__ = ["LuaEngine", "LuaFunction", "ScriptExit", "Values"]
