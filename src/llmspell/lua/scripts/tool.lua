-- Tool (llmspell/lua/globals/tool.py). Called by engine.install_global with the
-- Python functions through the bridge (py), the prelude's table (core) and the bare Python
-- halves (raw); returns the global's table.
local py = ...
local setmetatable, type = setmetatable, type

local Tool = {list = py.list, exists = py.exists, categories = py.categories,
              discover = py.discover, invoke = py.invoke, register = py.register,
              unregister = py.unregister}

-- The tool as a table: callable (Tool.calculator{...}), with :execute and getSchema.
local INSTANCE_MT = {__name = "Tool", __call = function(t, params)
  return py.invoke(t.name, params)
end}
local function instance(info)
  local name = info.name
  info.execute = function(_, params) return py.invoke(name, params) end
  info.getSchema = function() return info.schema end
  return setmetatable(info, INSTANCE_MT)
end

function Tool.get(name)
  local info = py.get(name)
  if info == nil then return nil end
  return instance(info)
end

return setmetatable(Tool, {__index = function(_, key)
  if type(key) ~= "string" then return nil end
  local info = py.get(key)
  if info == nil then return nil end
  return instance(info)
end})
