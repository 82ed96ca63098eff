-- Session (llmspell/lua/globals/session.py). Called by engine.install_global with the
-- Python functions through the bridge (py), the prelude's table (core) and the bare Python
-- halves (raw); returns the global's table.
local py, core = ...
local rawget, rawset, type = rawget, rawset, type

-- A handle's methods: the lifecycle functions below, then the string library's, acting on
-- the id (rs-llmspell hands out the id string itself: `s:sub(1, 8)`).
local methods = {}
local handle, _, _, existing = core.id_kind("Session", methods)

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
function Session.delete(s)
  local id = sid(s)
  local done = py.delete(id)
  local h = type(id) == "string" and existing(id) or nil
  if done and h ~= nil then rawset(h, "status", "deleted") end   -- the handle says so
  return done
end
function Session.footprint(s) return py.footprint(sid(s)) end
function Session.setCurrent(s) return handle(py.setCurrent(sid(s))) end
function Session.getCurrent() return handle(py.getCurrent()) end
function Session.timeline(s, filter) return py.timeline(sid(s), filter) end
function Session.acquire(s, opts) return py.acquire(sid(s), opts) end
function Session.renew(s, opts) return py.renew(sid(s), opts) end
function Session.release(s) return py.release(sid(s)) end
function Session.lease(s) return py.lease(sid(s)) end
Session.set_current, Session.get_current = Session.setCurrent, Session.getCurrent
function Session.canReplay(s) return py.canReplay(sid(s)) end
function Session.replay(s, opts) return py.replay(sid(s), opts) end
function Session.getReplayMetadata(s) return py.getReplayMetadata(sid(s)) end
function Session.listReplayable() return py.listReplayable() end
function Session.stateAt(s, seq) return py.stateAt(sid(s), seq) end
function Session.diff(s, a, b) return py.diff(sid(s), a, b) end
function Session.fork(s, seq, opts) return handle(py.fork(sid(s), seq, opts)) end

for _, name in ipairs({"suspend", "resume", "complete", "fail", "archive", "save", "load",
                       "delete", "timeline", "get", "replay", "fork", "stateAt", "diff",
                       "canReplay", "getReplayMetadata", "footprint", "acquire", "renew",
                       "release", "lease"}) do
  methods[name] = Session[name]
end
function methods.setCurrent(s) return Session.setCurrent(s) end
return Session
