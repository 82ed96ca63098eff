-- Instruction, time and memory limits (llmspell/lua/limits.py). Called with the prelude's
-- table, the hook step and Python's tick function.
local core, step, tick = ...
local sethook, running, status, getinfo = core.sethook, core.running, core.status, core.getinfo
local BUNDLED = core.BUNDLED
local sub = string.sub
local create, wrap, raw_pcall, raw_xpcall, raw_resume = core.create, core.co_wrap, core.pcall,
  core.xpcall, core.resume
local type, error, pairs, setmetatable = type, error, pairs, setmetatable
local main = running()
local threads = setmetatable({}, {__mode = "k"})
local count, max_count = 0, 0
-- Python stops the script with a short code (pushing it allocates nothing); the messages are
-- made at reset, when there is memory to spare.
local messages = {instructions = false, memory = false, time = false, interrupt = false,
  exit = false}
local tripped = nil
local hook

local function arm_all(n)
  sethook(main, hook, "", n)
  for co in pairs(threads) do
    if status(co) ~= "dead" then sethook(co, hook, "", n) end
  end
end

-- Remember the message and raise it at the next instruction, and at every one after it.
local function trip(message)
  message = messages[message] or message
  if not tripped then tripped = message end
  arm_all(1)
end

-- Once tripped, the hook stays armed until the run has fully stopped: the error unwinds
-- through to-be-closed variables (whose __close may loop) and user message handlers. Only
-- the bridge's own code (the message handler that records the error, the pcall wrappers)
-- runs on; the next instruction of the script's code raises again.
hook = function()
  if tripped then
    if sub(getinfo(2, "S").source, 1, #BUNDLED) == BUNDLED then return end
    error(tripped, 0)
  end
  count = count + step
  if max_count > 0 and count > max_count then
    trip("instructions")
    error(tripped, 0)
  end
  local stop = tick()
  if stop then
    trip(stop)
    error(tripped, 0)
  end
end

local limits = {}

function limits.reset(max, texts)
  count, max_count = 0, max
  for code in pairs(messages) do messages[code] = texts[code] or false end
  tripped = nil
  arm_all(step)
end

function limits.tripped() return tripped end

local function arm_current()
  threads[running()] = true
  sethook(hook, "", tripped and 1 or step)
end

coroutine.create = function(f)
  if type(f) ~= "function" then return create(f) end
  return create(function(...) arm_current(); return f(...) end)
end

coroutine.wrap = function(f)
  if type(f) ~= "function" then return wrap(f) end
  return wrap(function(...) arm_current(); return f(...) end)
end

local function after(ok, ...)
  if not ok and messages.memory and (...) == "not enough memory" then trip("memory") end
  return ok, ...
end

pcall = function(f, ...) return after(raw_pcall(f, ...)) end

xpcall = function(f, handler, ...)
  if type(handler) ~= "function" then return raw_xpcall(f, handler, ...) end
  return after(raw_xpcall(f, function(e)
    if tripped then return e end
    return handler(e)
  end, ...))
end

coroutine.resume = function(co, ...) return after(raw_resume(co, ...)) end

core.set_stop(trip)
return limits
