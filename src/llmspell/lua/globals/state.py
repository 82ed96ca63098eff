"""``State``: persistent, scoped values from Lua, exactly as in the seed (DESIGN.md 4, 13).

::

    State.save("agent:gpt-4", "conversation_history", messages)
    local history = State.load("agent:gpt-4", "conversation_history") or {}
    State.delete("global", "temp_data")
    local keys = State.list_keys("workflow:processing")

``State.save(scope, key, value)``, ``State.load(scope, key[, default])``,
``State.delete(scope, key)`` (true if it was there), ``State.exists(scope, key)``,
``State.list_keys([scope[, prefix]])``, ``State.clear(scope)`` (how many were removed),
``State.compare_and_set(scope, key, expected, new)`` (true if stored; ``expected`` nil means
absent), ``State.transaction(fn)`` (runs ``fn``; its writes commit together when it returns, and
none do when it raises: the error is raised again, unchanged; returns what ``fn`` returned).
Aliases: ``set`` = save, ``get`` = load, ``list`` = list_keys. The forms without a scope use
the ``global`` scope: ``save(key, value)``, ``load(key)``, ``delete(key)``, ``exists(key)``,
``list_keys()``. A scope string that names no scope kind (rs-llmspell's ``"system"``,
``"cache"``, ``"agent_1"``) is the custom scope ``custom:<string>``, as in rs-llmspell;
near misses of a kind (``"agnet:x"``, ``"globl"``) are refused. Errors are Lua errors
starting with the class name
(``InvalidScope: argument 'scope': unknown scope kind 'agnet' ...``), catchable with ``pcall``.

The Lua half is ``llmspell/lua/scripts/state.lua``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.errors import ValidationError
from llmspell.lua.bridge import Values
from llmspell.lua.globals import state_admin, state_rs
from llmspell.state.scopes import script_scope

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine


class _Failed(Exception):
    def __init__(self, outcome: tuple[Any, ...]) -> None:
        self.outcome = outcome


def install(engine: LuaEngine) -> None:
    """``State``, with the migration and backup functions of :mod:`.state_admin` and
    rs-llmspell's shapes of them (:mod:`.state_rs`)."""
    runtime = engine.runtime
    unavailable = runtime.unavailable("state")
    manager = None if unavailable is not None else runtime.state
    admin = state_admin.functions(runtime)
    engine.install_global(
        "State", {**_functions(manager, engine), **admin, **state_rs.functions(runtime, admin)},
        "state.lua", takes_functions=("transaction", *state_admin.TAKES_FUNCTIONS),
        unavailable=unavailable)


def _functions(manager: Any, engine: LuaEngine) -> dict[str, Any]:
    """The Python halves; ``manager`` is None when state is off (then none is called)."""
    pcall = engine.core.pcall

    def save(scope: Any, key: Any, value: Any) -> None:
        manager.save(script_scope(scope), key, value)

    def load(scope: Any, key: Any, default: Any = None) -> Any:
        return manager.load(script_scope(scope), key, default)

    def delete(scope: Any, key: Any) -> bool:
        return manager.delete(script_scope(scope), key)

    def exists(scope: Any, key: Any) -> bool:
        return manager.exists(script_scope(scope), key)

    def list_keys(scope: Any, prefix: Any = None) -> list[str]:
        keys: list[str] = manager.list_keys(script_scope(scope), prefix)
        return keys

    def clear(scope: Any) -> int:
        return manager.clear_scope(script_scope(scope))

    def compare_and_set(scope: Any, key: Any, expected: Any, new: Any) -> bool:
        return manager.compare_and_set(script_scope(scope), key, expected, new)

    def transaction(fn: Any) -> Values:
        """Call ``fn`` (protected, in Lua) inside a transaction; roll back if it failed."""
        target = getattr(fn, "lua_function", None)
        if target is None:
            raise ValidationError("fn", "State.transaction takes a function", got=fn)
        try:
            with manager.transaction():
                outcome = pcall(target)
                if not isinstance(outcome, tuple):
                    outcome = (outcome,)
                if not outcome[0]:
                    raise _Failed(outcome)
        except _Failed as failed:
            return Values(failed.outcome[:2])
        return Values(outcome)

    return {"save": save, "load": load, "delete": delete, "exists": exists,
            "list_keys": list_keys, "clear": clear, "compare_and_set": compare_and_set,
            "transaction": transaction}
