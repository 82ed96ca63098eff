-- The input tape of a recorded or replayed run (llmspell/replay/tape.py). Called with
-- take(kind, live value) -> the value to use (recorded and returned, or served from the
-- journal), iso(seconds) -> ISO 8601 text, and a fresh seed. Replaces the functions that read
-- the clock, the environment or randomness; everything else stays as it was.
local take, iso, fresh_seed = ...
local raw_time, raw_clock, raw_date, raw_getenv = os.time, os.clock, os.date, os.getenv
local raw_randomseed = math.randomseed
local type, select = type, select

os.time = function(t)
  if t ~= nil then return raw_time(t) end        -- a date table: no clock read
  return take("os.time", raw_time())
end
os.clock = function() return take("os.clock", raw_clock()) end
os.date = function(format, t)
  if t == nil then t = take("os.time", raw_time()) end
  return raw_date(format or "%c", t)
end
os.getenv = function(name)
  local value = raw_getenv(name)                  -- the sandbox's checks run first
  return take("os.getenv:" .. name, value)        -- each variable's reads in order
end
math.randomseed = function(...)
  if select("#", ...) > 0 then return raw_randomseed(...) end
  local seed = take("math.randomseed", fresh_seed())
  raw_randomseed(seed)
  return seed
end
raw_randomseed(take("math.randomseed", fresh_seed()))

if type(Utils) == "table" then
  local raw_now, raw_uuid = Utils.now, Utils.uuid
  Utils.now = function(form)
    if form ~= nil and form ~= "iso" then return raw_now(form) end  -- its own error
    local t = take("Utils.now", raw_now())
    if form == "iso" then return iso(t) end
    return t
  end
  Utils.uuid = function() return take("Utils.uuid", raw_uuid()) end
end
