-- Session (llmspell/lua/globals/session.py). Called by engine.install_global with the
-- Python functions through the bridge (py), the prelude's table (core) and the bare Python
-- halves (raw); returns the global's table.
local py = ...
local rawget, rawset, pairs, next, type, setmetatable, error =
  rawget, rawset, pairs, next, type, setmetatable, error

local handles = setmetatable({}, {__mode = "v"})   -- id -> handle
local is_handle = setmetatable({}, {__mode = "k"})
local methods = {}
local function unwrap(x) if is_handle[x] then return rawget(x, "id") end return x end
local MT = {
  __name = "Session", __metatable = "Session", __index = methods,
  __tostring = function(h) return rawget(h, "id") end,
  __concat = function(a, b) return unwrap(a) .. unwrap(b) end,
}

local function handle(record)
  if record == nil then return nil end
  local h = handles[record.id]
  if h == nil then
    h = setmetatable({}, MT)
    handles[record.id] = h
    is_handle[h] = true
  else
    for k in pairs(h) do rawset(h, k, nil) end
  end
  for k, v in pairs(record) do rawset(h, k, v) end
  return h
end

local function sid(s)
  if type(s) == "table" then return rawget(s, "id") or s end
  return s
end

local Session = {}
function Session.create(opts) return handle(py.create(opts)) end
function Session.get(s) return handle(py.get(sid(s))) end
function Session.list(filter)
  local found = py.list(filter)
  for i = 1, #found do found[i] = handle(found[i]) end
  return found
end
for _, name in ipairs({"suspend", "resume", "complete", "archive", "save", "load"}) do
  local f = py[name]
  Session[name] = function(s) return handle(f(sid(s))) end
end
function Session.fail(s, reason) return handle(py.fail(sid(s), reason)) end
function Session.delete(s) return py.delete(sid(s)) end
function Session.setCurrent(s) return handle(py.setCurrent(sid(s))) end
function Session.getCurrent() return handle(py.getCurrent()) end
function Session.timeline(s, filter) return py.timeline(sid(s), filter) end
function Session.acquire(s, opts) return py.acquire(sid(s), opts) end
function Session.renew(s, opts) return py.renew(sid(s), opts) end
function Session.release(s) return py.release(sid(s)) end
function Session.lease(s) return py.lease(sid(s)) end
Session.set_current, Session.get_current = Session.setCurrent, Session.getCurrent

for _, name in ipairs({"suspend", "resume", "complete", "fail", "archive", "save", "load",
                       "delete", "timeline", "get", "acquire", "renew", "release",
                       "lease"}) do
  methods[name] = Session[name]
end
function methods.setCurrent(s) return Session.setCurrent(s) end
return Session
