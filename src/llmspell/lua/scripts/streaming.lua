-- Streaming (llmspell/lua/globals/streaming.py): rs-llmspell's Streaming global, in Lua.
-- Streaming.create(fn) runs fn as a coroutine: each Streaming.yield(value) (or
-- coroutine.yield) inside it is one item. The stream's next() gives the next item (nil at
-- the end), isDone() says whether fn has returned, collect() gives every item left as a list.
local coroutine, error, tostring = coroutine, error, tostring

local Streaming = {}

function Streaming.create(fn)
  if type(fn) ~= "function" then
    error("ValidationError: argument 'fn': must be a function (got " .. type(fn) .. ")", 2)
  end
  local co = coroutine.create(fn)
  local stream = {_done = false}
  function stream.next(s)
    if s._done then return nil end
    local ok, value = coroutine.resume(co)
    if not ok then
      s._done = true
      error(value, 0)
    end
    if coroutine.status(co) == "dead" then s._done = true end
    return value
  end
  function stream.isDone(s) return s._done end
  function stream.collect(s)
    local out = {}
    while not s._done do
      local value = s:next()
      if value ~= nil then out[#out + 1] = value end
    end
    return out
  end
  return stream
end

function Streaming.yield(value)
  if not coroutine.isyieldable() then
    error("ValidationError: Streaming.yield(" .. tostring(value) .. ") must be called in a "
      .. "function run by Streaming.create", 2)
  end
  return coroutine.yield(value)
end

return Streaming
