-- JSON (llmspell/lua/globals/json.py). Called by engine.install_global with the
-- Python functions through the bridge (py), the prelude's table (core) and the bare Python
-- halves (raw); returns the global's table.
local py, core = ...
local ARRAY_MT, getmetatable_raw, setmetatable = core.ARRAY_MT, core.getmetatable_raw,
  core.setmetatable
local type, next, rawget, error, format, tostring = type, next, rawget, error, string.format,
  tostring
local mtype = math.type
local PREFIX = "ValidationError: argument 't': "

local NULL, parse, find = core.NULL, py.parse, string.find
local JSON = {stringify = py.stringify, null = NULL}

-- JSON.null -> nil through a parsed value (rs-llmspell's reading of null). A key set to nil
-- while next walks the table is allowed.
local function drop_nulls(t)
  for k, v in next, t do
    if v == NULL then t[k] = nil
    elseif type(v) == "table" then drop_nulls(v) end
  end
  return t
end
function JSON.parse(text, options)
  local value = parse(text, options)
  if type(value) ~= "table" or (options ~= nil and options.keep_nulls)
      or not find(text, "null", 1, true) then
    return value
  end
  return drop_nulls(value)
end

function JSON.array(t)
  if t == nil then return setmetatable({}, ARRAY_MT) end
  if type(t) ~= "table" then
    error(PREFIX .. "JSON.array takes a table or nothing (got " .. type(t) .. ")", 0)
  end
  local mt = getmetatable_raw(t)
  if mt == ARRAY_MT then return t end
  if mt ~= nil then error(PREFIX .. "the table already has a metatable", 0) end
  local count = 0
  for key in next, t do
    if mtype(key) ~= "integer" or key < 1 then
      error(format("%sa JSON.array may only have keys 1..n; it has key %s", PREFIX,
        type(key) == "string" and format("%q", key) or tostring(key)), 0)
    end
    count = count + 1
  end
  for i = 1, count do
    if rawget(t, i) == nil then
      error(format("%sa JSON.array needs every index 1..n; index %d is missing", PREFIX, i), 0)
    end
  end
  return setmetatable(t, ARRAY_MT)
end
return JSON
