-- State (llmspell/lua/globals/state.py). Called by engine.install_global with the
-- Python functions through the bridge (py), the prelude's table (core) and the bare Python
-- halves (raw); returns the global's table.
local py, core, raw = ...
local check, save_half = core.check, raw.save
local select, error, type, pairs, ipairs, pack, unpack = select, error, type, pairs, ipairs,
  table.pack, table.unpack
local GLOBAL = "global"
local list_keys, clear, run = py.list_keys, py.clear, py.transaction

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
-- (scope, key, ...) or, with one argument, (key) in the global scope.
for _, name in ipairs({"load", "delete", "exists"}) do
  local f = py[name]
  State[name] = function(...)
    if select("#", ...) == 1 then return f(GLOBAL, ...) end
    return f(...)
  end
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
function State.transaction(fn)
  if type(fn) ~= "function" then
    usage("transaction", "a function (got " .. type(fn) .. ")")
  end
  local results = pack(run(fn))
  if results[1] then return unpack(results, 2, results.n) end
  error(results[2], 0)  -- the function's own error, unchanged
end
State.set, State.get, State.list = State.save, State.load, State.list_keys
-- The functions with no Lua half (compare_and_set, migrations and backups from
-- llmspell/lua/globals/state_admin.py and state_rs.py) as they are; names starting with
-- "_" are halves used here only.
for name, f in pairs(py) do
  if State[name] == nil and name:sub(1, 1) ~= "_" then State[name] = f end
end
-- State.migrate{plan} (ours) or State.migrate("2.1.0") (rs-llmspell: to that version).
local migrate_plan, migrate_to = py.migrate, py._migrate_to
function State.migrate(plan, ...)
  local kind = type(plan)
  if kind == "string" or kind == "number" then return migrate_to(plan, ...) end
  return migrate_plan(plan, ...)
end
State.get_migration_status, State.list_schema_versions = State.migration_status,
  State.schema_versions
return State
