-- Hook (llmspell/lua/globals/hook.py). Called by engine.install_global with the
-- Python functions through the bridge (py), the prelude's table (core) and the bare Python
-- halves (raw); returns the global's table.
local py = ...
local setmetatable, rawget, type = setmetatable, rawget, type
local ids = setmetatable({}, {__mode = "k"})   -- handle -> hook id
local methods = {}
local MT = {__name = "HookHandle", __metatable = "HookHandle", __index = methods,
            __tostring = function(h) return "HookHandle(" .. ids[h] .. ")" end}
function methods.unregister(h) return py.unregister(ids[h]) end
function methods.id(h) return ids[h] end
function methods.hook_point(h) return rawget(h, "point") end
function methods.enable(h) return py.enable(ids[h]) end
function methods.disable(h) return py.disable(ids[h]) end

local function hid(h)
  if type(h) == "table" then return ids[h] or rawget(h, "id") end
  return h
end

local Hook = {}
function Hook.register(point, fn, priority)
  local info = py.register(point, fn, priority)
  local handle = setmetatable({point = info.point, name = info.name,
                               priority = info.priority}, MT)
  ids[handle] = info.id
  return handle
end
function Hook.unregister(h) return py.unregister(hid(h)) end
function Hook.list(filter) return py.list(filter) end
function Hook.fire(point, data) return py.fire(point, data) end
function Hook.enable(h) return py.enable(hid(h)) end
function Hook.disable(h) return py.disable(hid(h)) end
return Hook
