"""``ARGS``: the script's arguments (also as ``arg``, the name plain Lua uses).

``ARGS[0]`` is the script name, ``ARGS[1..n]`` every argument as given, and each ``--key=value``
argument also sets ``ARGS.key = "value"`` (a bare ``--flag`` sets ``ARGS.flag = true``).
``ARGS`` mixes indices and names, so pass ``ARGS.key`` values to llmspell functions, not the
whole table.

The Lua half is ``llmspell/lua/scripts/args.lua``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

def named_arguments(args: Sequence[str]) -> dict[str, str | bool]:
    """``--key=value`` -> {"key": "value"}; ``--flag`` -> {"flag": True}."""
    named: dict[str, str | bool] = {}
    for arg in args:
        if not arg.startswith("--") or len(arg) == 2:
            continue
        key, equals, value = arg[2:].partition("=")
        if key:
            named[key] = value if equals else True
    return named


def install(engine: LuaEngine) -> None:
    table = engine.run_bundled("args.lua", engine.to_lua(engine.script_name),
                               engine.to_lua(list(engine.args)),
                               engine.to_lua(named_arguments(engine.args)))
    engine.set_global("ARGS", table)
    engine.set_global("arg", table)
