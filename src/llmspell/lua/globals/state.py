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
``list_keys()``. Errors are Lua errors starting with the class name
(``InvalidScope: argument 'scope': unknown scope kind 'agnet' ...``), catchable with ``pcall``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.errors import LLMSpellError, ValidationError
from llmspell.lua.bridge import Values

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

STATE_LUA = rb"""
local py, check, save_half = ...
local select, error, type, pack, unpack = select, error, type, table.pack, table.unpack
local GLOBAL = "global"
local load, delete, exists = py.load, py.delete, py.exists
local list_keys, clear, cas, run = py.list_keys, py.clear, py.compare_and_set, py.run

local function usage(name, forms)
  error("ValidationError: State." .. name .. " takes " .. forms, 3)
end

local State = {}
function State.save(...)
  local n = select("#", ...)
  -- The hot path: the Python half straight away, not through its wrapper.
  if n == 3 then check(save_half(...)) return end
  if n == 2 then check(save_half(GLOBAL, ...)) return end
  usage("save", "(scope, key, value), or (key, value) for the global scope (got "
        .. n .. " arguments)")
end
function State.load(...)
  if select("#", ...) == 1 then return load(GLOBAL, ...) end
  return load(...)
end
function State.delete(...)
  if select("#", ...) == 1 then return delete(GLOBAL, ...) end
  return delete(...)
end
function State.exists(...)
  if select("#", ...) == 1 then return exists(GLOBAL, ...) end
  return exists(...)
end
function State.list_keys(...)
  if select("#", ...) == 0 then return list_keys(GLOBAL) end
  return list_keys(...)
end
function State.clear(...)
  if select("#", ...) ~= 1 then
    usage("clear", "a scope, such as State.clear(\"global\")")
  end
  return clear(...)
end
State.compare_and_set = cas
function State.transaction(fn)
  if type(fn) ~= "function" then
    usage("transaction", "a function (got " .. type(fn) .. ")")
  end
  local results = pack(run(fn))
  if results[1] then return unpack(results, 2, results.n) end
  error(results[2], 0)  -- the function's own error, unchanged
end
State.set, State.get, State.list = State.save, State.load, State.list_keys
return State
"""


class _Failed(Exception):
    def __init__(self, outcome: tuple[Any, ...]) -> None:
        self.outcome = outcome


def install(engine: LuaEngine) -> None:
    runtime = engine.runtime
    try:
        manager: Any = runtime.state
    except LLMSpellError as exc:  # [state] enabled = false: every call says so
        reason = exc

        def disabled(*args: Any) -> None:
            raise reason

        py = dict.fromkeys(("save", "load", "delete", "exists", "list_keys", "clear",
                            "compare_and_set", "run"), disabled)
    else:
        py = _functions(manager, engine)
    table = engine.execute_internal(
        STATE_LUA, engine.to_lua({name: engine.function(fn, f"State.{name}",
                                                        functions=name == "run")
                                  for name, fn in py.items()}, "State"),
        engine.core.check, engine.python_half(py["save"], "State.save"))
    engine.lua.globals()[b"State"] = table


def _functions(manager: Any, engine: LuaEngine) -> dict[str, Any]:
    pcall = engine.core.pcall

    def load(scope: Any, key: Any, default: Any = None) -> Any:
        return manager.load(scope, key, default)

    def list_keys(scope: Any, prefix: Any = None) -> list[str]:
        keys: list[str] = manager.list_keys(scope, prefix)
        return keys

    def run(fn: Any) -> Values:
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

    return {"save": manager.save, "load": load, "delete": manager.delete,
            "exists": manager.exists, "list_keys": list_keys, "clear": manager.clear_scope,
            "compare_and_set": manager.compare_and_set, "run": run}
